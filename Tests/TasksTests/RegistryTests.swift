import Demos
import Recipes
import Tasks
import Training
import XCTest

private enum ClashingPlugin: LoRAKitPlugin {
    static let name = "clash"
    static func register(into registry: inout Registry) throws {
        try registry.register(Classifiers.self, "tiny_convnet", ClassifierArchitecture(input: .image, summary: "") { _ in
            throw RegistryError.mismatch("never built")
        })
    }
}

private enum FailingPlugin: LoRAKitPlugin {
    struct Broken: Error, CustomStringConvertible { var description: String { "weights file missing" } }
    static let name = "failing"
    static func register(into registry: inout Registry) throws {
        try registry.registerMetric("half_registered") { Accuracy() }
        throw Broken()
    }
}

/// A kind a plugin defines for itself, to show the registry takes any.
private enum Greetings: RegistryKind {
    typealias Entry = String
    static let noun = "greeting"
}

final class RegistryTests: XCTestCase {
    func demoRegistry(plugins: [LoRAKitPlugin.Type] = []) throws -> Registry {
        var registry = Registry()
        try registry.install(DemosPlugin.self)
        try registry.makeAvailable(plugins)
        return registry
    }

    func testPluginErrorsNameThePlugin() throws {
        var registry = try demoRegistry(plugins: [ClashingPlugin.self, FailingPlugin.self])
        XCTAssertThrowsError(try registry.load(plugins: ["clash"])) { error in
            XCTAssertEqual(error as? RegistryError, .duplicate(kind: "classifier architecture", name: "tiny_convnet", plugin: "clash"))
            XCTAssertTrue("\(error)".contains("plugin clash registers classifier architecture 'tiny_convnet', which is already registered"))
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
        XCTAssertThrowsError(try demoRegistry(plugins: [ClashingPlugin.self, ClashingPlugin.self]), "two plugins with one name")
    }

    /// A plugin that fails halfway leaves nothing behind: what it registered before failing is gone.
    func testAFailingPluginRegistersNothing() throws {
        var registry = try demoRegistry(plugins: [FailingPlugin.self])
        XCTAssertThrowsError(try registry.load(plugins: ["failing"]))
        XCTAssertFalse(registry.metrics.contains("half_registered"))
        XCTAssertEqual(registry.loadedPlugins, ["demos"])
    }

    func testRegistriesAreValuesNotGlobals() throws {
        var a = try demoRegistry()
        let b = try demoRegistry()
        try a.registerMetric("my_metric") { Accuracy() }
        XCTAssertTrue(a.metrics.contains("my_metric"))
        XCTAssertFalse(b.metrics.contains("my_metric"))
    }

    func testKindsAreSeparateTablesWithTypedEntries() throws {
        var registry = try demoRegistry()
        try registry.register(Greetings.self, "tiny_convnet", "hello")     // same name, another kind
        XCTAssertEqual(try registry.lookup(Greetings.self, "tiny_convnet"), "hello")
        XCTAssertEqual(try registry.lookup(Classifiers.self, "tiny_convnet").input, .image)
        XCTAssertEqual(registry.owner(of: "tiny_convnet", in: Classifiers.self), "demos")
        XCTAssertEqual(registry.names(Greetings.self), ["tiny_convnet"])
        XCTAssertThrowsError(try registry.lookup(Greetings.self, "nope")) { error in
            XCTAssertEqual(error as? RegistryError, .unknown(kind: "greeting", name: "nope", known: ["tiny_convnet"]))
        }
    }
}
