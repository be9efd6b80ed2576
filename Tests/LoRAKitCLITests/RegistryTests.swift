@testable import LoRAKitCLI
import Training
import XCTest

private enum ClashingPlugin: LoRAKitPlugin {
    static let name = "clash"
    static func register(into registry: inout Registry) throws {
        try registry.registerArchitecture("tiny_convnet") { _ in throw UsageError("never built") }
    }
}

private enum FailingPlugin: LoRAKitPlugin {
    struct Broken: Error, CustomStringConvertible { var description: String { "weights file missing" } }
    static let name = "failing"
    static func register(into registry: inout Registry) throws { throw Broken() }
}

final class RegistryTests: XCTestCase {
    func testPluginErrorsNameThePlugin() throws {
        var registry = try Registry.builtIn(plugins: [ClashingPlugin.self, FailingPlugin.self])
        XCTAssertThrowsError(try registry.load(plugins: ["clash"])) { error in
            XCTAssertEqual(error as? RegistryError, .duplicate(kind: "architecture", name: "tiny_convnet", plugin: "clash"))
            XCTAssertTrue("\(error)".contains("plugin clash registers architecture 'tiny_convnet', which is already registered"))
        }
        XCTAssertThrowsError(try registry.load(plugins: ["failing"])) { error in
            XCTAssertEqual(error as? RegistryError, .pluginFailed(name: "failing", reason: "weights file missing"))
        }
        XCTAssertThrowsError(try registry.load(plugins: ["absent"])) { error in
            guard case .unknown(kind: "plugin", name: "absent", known: let known)? = error as? RegistryError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(known.sorted(), ["clash", "failing"])
        }
        XCTAssertThrowsError(try Registry.builtIn(plugins: [ClashingPlugin.self, ClashingPlugin.self]), "two plugins with one name")
    }

    func testRegistriesAreValuesNotGlobals() throws {
        var a = try Registry.builtIn()
        let b = try Registry.builtIn()
        try a.registerMetric("my_metric") { Accuracy() }
        XCTAssertTrue(a.metrics.contains("my_metric"))
        XCTAssertFalse(b.metrics.contains("my_metric"))
    }
}
