@testable import LoRA
import NN
import TestSupport
import XCTest

/// Injection is all or nothing: a failure on any layer, in planning or while layers are swapped,
/// leaves the model as it was (values, module types, trainable flags, training modes, adapters)
/// and the caller's generator as it was, and the same call succeeds once the cause is fixed.
final class LoRAModelInjectionTests: XCTestCase {
    /// Layers in declaration order: two that can take PiSSA, a grouped conv, a small head, and a
    /// layer held in a plain property, which its parent cannot swap for its LoRA form.
    final class Net: Module {
        @Child var first: Linear        // 6 → 8
        @Child var conv: Conv2d         // 2 → 4, 3×3
        @Child var grouped: Conv2d      // 4 → 4, groups 2
        @Child var last: Linear         // 8 → 3
        let plain: Linear               // 3 → 3, not replaceable

        override init() {
            var rng = RandomGenerator(seed: 21)
            first = Linear(6, 8, generator: &rng)
            conv = Conv2d(2, 4, kernelSize: 3, padding: 1, generator: &rng)
            grouped = Conv2d(4, 4, kernelSize: 3, padding: 1, groups: 2, generator: &rng)
            last = Linear(8, 3, generator: &rng)
            plain = Linear(3, 3, generator: &rng)
            super.init()
        }

        func callAsFunction(_ x: Tensor, _ image: Tensor) -> Tensor {   // x [N, 6], image [N, 2, 4, 4]
            let pic = grouped(conv(image).tanh()).mean(axes: [2, 3])     // [N, 4]
            let h = first(x).tanh()                                      // [N, 8]
            let joined = Tensor.concat([pic, h.slice(axis: 1, start: 4, end: 8)], axis: 1)   // [N, 8]
            return plain(last(joined))
        }
    }

    let x = randomTensor([3, 6], seed: 1)
    let image = randomTensor([3, 2, 4, 4], seed: 2)

    /// A model with an adapter already in place, so that there is bookkeeping to disturb.
    func makeAdapted() throws -> (Net, LoRAModel) {
        let net = Net()
        net.eval()
        let lora = LoRAModel(wrapping: net)
        var rng = RandomGenerator(seed: 3)
        try lora.addAdapter("old", config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["first", "last"],
                                                      modulesToSave: ["plain"]), generator: &rng)
        return (net, lora)
    }

    /// Runs a failing `addAdapter` and checks that nothing changed; returns the error.
    func assertAllOrNothing(_ lora: LoRAModel, _ config: LoRAConfig, name: String = "new",
                            file: StaticString = #filePath, line: UInt = #line) -> Error? {
        let before = ModelSnapshot(lora.model)
        let names = lora.adapterNames, active = lora.activeAdapters
        var rng = RandomGenerator(seed: 9)
        var thrown: Error?
        XCTAssertThrowsError(try lora.addAdapter(name, config: config, generator: &rng), file: file, line: line) { thrown = $0 }
        assertUnchanged(lora.model, since: before, file: file, line: line)
        XCTAssertEqual(lora.adapterNames, names, file: file, line: line)
        XCTAssertEqual(lora.activeAdapters, active, file: file, line: line)
        XCTAssertEqual(rng, RandomGenerator(seed: 9), "the generator advanced", file: file, line: line)
        return thrown
    }

    func testRankThatDoesNotDivideGroupsMidwayChangesNothingAndARetryWorks() throws {
        let (net, lora) = try makeAdapted()
        let targets = ["first", "conv", "grouped", "last"]
        // first and conv come before grouped: their LoRA forms exist by the time grouped refuses r = 3.
        let error = assertAllOrNothing(lora, LoRAConfig(rank: 2, rankPattern: ["grouped": 3], targetModules: targets))
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("grouped"), "the error names the layer: \(String(describing: error))")
        XCTAssertTrue(net.first is LoRALinear && !(net.conv is LoRAConv2d), "the tree is the one from before")

        var rng = RandomGenerator(seed: 9)
        let report = try lora.addAdapter("new", config: LoRAConfig(rank: 2, targetModules: targets), generator: &rng)
        XCTAssertEqual(report.layers.map(\.key), targets)
        XCTAssertEqual(lora.activeAdapters, ["new"])
        XCTAssertEqual((net.first as? LoRALinear)?.adapters.names, ["old", "new"])
        XCTAssertEqual((net.grouped as? LoRAConv2d)?.adapters["new"]?.b.shape, [4, 1, 1, 1])
    }

    /// PiSSA rewrites base weights; the layer that fails comes after two that it would have rewritten.
    func testPiSSARankTooLargeOnALaterLayerKeepsEveryBaseWeight() throws {
        let (net, lora) = try makeAdapted()
        let output = withNoGrad { net(x, image) }
        let firstWeight = net.first.weight.scalars
        // last is 8 → 3, so rank 4 exceeds min(out, in) = 3; first (8 × 6) and conv (4 × 18) allow it.
        let config = LoRAConfig(rank: 4, initialization: .pissa, targetModules: ["first", "conv", "last"])
        let error = assertAllOrNothing(lora, config)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("last: PiSSA rank 4"), "\(String(describing: error))")
        XCTAssertEqual(net.first.weight.scalars, firstWeight)

        var fixed = config
        fixed.rankPattern = ["last": 2]
        var rng = RandomGenerator(seed: 9)
        try lora.addAdapter("new", config: fixed, generator: &rng)
        XCTAssertNotEqual(net.first.weight.scalars, firstWeight, "PiSSA left the residual in the base weight")
        assertClose(withNoGrad { net(x, image) }, output, atol: 1e-5, "a PiSSA adapter starts as the identity")
    }

    func testDryRunReportsThePiSSARankErrorWithoutAnSVD() {
        let lora = LoRAModel(wrapping: Net())
        XCTAssertThrowsError(try lora.dryRun(LoRAConfig(rank: 4, initialization: .pissa, targetModules: ["last"]))) { e in
            XCTAssertTrue("\(e)".contains("PiSSA rank 4 exceeds min(out, in) = 3"), "\(e)")
        }
    }

    func testDuplicateAdapterNameOnOneLayerChangesNothing() throws {
        let (net, lora) = try makeAdapted()
        // An adapter added to the last host directly, which the LoRAModel does not know by name;
        // first and conv are prepared before last refuses.
        var rng = RandomGenerator(seed: 4)
        try XCTUnwrap(net.last as? LoRALinear).addAdapter("new", settings: AdapterSettings(rank: 1, alpha: 1),
                                                           seed: 1, generator: &rng)
        let error = assertAllOrNothing(lora, LoRAConfig(rank: 2, targetModules: ["first", "conv", "last"]))
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("last already has an adapter named 'new'"),
                      "\(String(describing: error))")
        XCTAssertNil(lora.addAdapterAsRetry(named: "newer", targets: ["first", "conv", "last"]))
    }

    /// The one failure planning cannot see: a parent that will not take the LoRA form. conv is
    /// swapped before plain refuses; it is swapped back.
    func testLayerThatCannotBeSwappedRollsBackTheLayersSwappedBeforeIt() throws {
        let (net, lora) = try makeAdapted()
        let error = assertAllOrNothing(lora, LoRAConfig(rank: 2, initialization: .pissa,
                                                        targetModules: ["conv", "last", "plain"]))
        guard case .cannotReplace(key: "plain", reason: _)? = error as? ModuleError else {
            return XCTFail("\(String(describing: error))")
        }
        XCTAssertFalse(net.conv is LoRAConv2d)
        XCTAssertNil(lora.addAdapterAsRetry(named: "new", targets: ["conv", "last"]))
        XCTAssertTrue(net.conv is LoRAConv2d && net.last is LoRALinear)
    }

    /// A step after the adapters are installed fails (for `PEFTAdapterFile.load`, loading the
    /// saved modules): the installed adapters, PiSSA's residual weights on hosts that existed and
    /// the trainable flags are all undone.
    func testFailureAfterInstallingUndoesInstallsAndResidualWeights() throws {
        let (_, lora) = try makeAdapted()
        let before = ModelSnapshot(lora.model)
        let plan = try lora.planInjection("new", config: LoRAConfig(rank: 2, initialization: .pissa,
                                                                    targetModules: ["first", "conv", "last"]),
                                          generator: RandomGenerator(seed: 9))
        struct Late: Error {}
        var reached = false
        XCTAssertThrowsError(try lora.commit(plan) {
            reached = true
            XCTAssertNotEqual(ModelSnapshot(lora.model).differences(from: before), [], "the commit applied something")
            throw Late()
        }) { XCTAssertTrue($0 is Late) }
        XCTAssertTrue(reached)
        assertUnchanged(lora.model, since: before)
        XCTAssertEqual(lora.adapterNames, ["old"])
    }
}

private extension LoRAModel {
    /// Adds an adapter on `targets`; the error, if any.
    func addAdapterAsRetry(named name: String, targets: [String]) -> Error? {
        var rng = RandomGenerator(seed: 9)
        do { try addAdapter(name, config: LoRAConfig(rank: 2, targetModules: targets), generator: &rng) } catch { return error }
        return nil
    }
}
