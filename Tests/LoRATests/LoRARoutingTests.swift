@testable import LoRA
import NN
import TestSupport
import XCTest

/// Mixed-adapter batches: one pass over rows of different adapters gives each row what a pass
/// with only its adapter (and its saved modules) gives, and rows without one the base's.
final class LoRARoutingTests: XCTestCase {
    final class Net: Module {
        @Child var conv: Conv2d        // 2 → 4, LoRA
        @Child var bn: BatchNorm2d     // saved per adapter
        @Child var hidden: Linear      // 16 → 8, LoRA
        @Child var fc: Linear          // 8 → 3, saved per adapter

        override init() {
            var rng = RandomGenerator(seed: 4)
            conv = Conv2d(2, 4, kernelSize: 3, padding: 1, generator: &rng)
            bn = BatchNorm2d(4)
            hidden = Linear(16, 8, generator: &rng)
            fc = Linear(8, 3, generator: &rng)
            super.init()
        }

        func callAsFunction(_ x: Tensor) -> Tensor {                    // x [N, 2, 2, 2]
            let h = bn(conv(x)).relu()                                   // [N, 4, 2, 2]
            return fc(hidden(h.reshaped([x.shape[0], 16])).tanh())
        }
    }

    /// The saved modules' values, perturbed for an adapter.
    func perturb(_ net: Net, seed: UInt64) throws -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for key in ["bn.weight", "bn.bias", "bn.running_mean", "fc.weight", "fc.bias"] {
            let t = net.stateDict()[key]!
            values[key] = t + randomTensor(t.shape, seed: seed &+ UInt64(key.count)) * 0.3
        }
        values["bn.running_var"] = net.stateDict()["bn.running_var"]! + 0.5
        try net.load(values, strict: false)
        return values
    }

    func testEachRowGetsItsOwnAdapterAndSavedModules() throws {
        let net = Net()
        net.eval()
        let x = randomTensor([5, 2, 2, 2], seed: 7)
        let base = net(x)
        let baseState = net.stateDict()
        let lora = LoRAModel(wrapping: net)
        var rng = RandomGenerator(seed: 5)
        var outputs: [String: Tensor] = [:], saved: [String: [String: Tensor]] = [:]
        for (i, name) in ["a", "b"].enumerated() {
            try lora.addAdapter(name, config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["conv", "hidden"]), generator: &rng)
            try lora.setActiveAdapters([name])
            for (_, host) in lora.hosts {          // non-zero B, so that every adapter changes its layer
                let adapter = try XCTUnwrap(host.adapters[name])
                adapter.b = randomTensor(adapter.b.shape, seed: 40 + UInt64(i))
            }
            try net.load(baseState.filter { $0.key.hasPrefix("bn.") || $0.key.hasPrefix("fc.") }, strict: false)
            saved[name] = try perturb(net, seed: 90 + UInt64(i))
            outputs[name] = net(x)
        }
        XCTAssertGreaterThan((outputs["a"]! - outputs["b"]!).abs().max().item, 0.05, "the adapters differ")
        try net.load(baseState.filter { $0.key.hasPrefix("bn.") || $0.key.hasPrefix("fc.") }, strict: false)
        for name in ["a", "b"] { try lora.routeSavedModules(of: name, values: saved[name]!) }
        XCTAssertTrue(net.bn is RoutedBatchNorm2d && net.fc is RoutedLinear)

        let routes: [String?] = ["a", nil, "b", "a", "b"]
        let mixed = LoRARouting.withRows(routes) { net(x) }
        for (row, route) in routes.enumerated() {
            let expected = route.map { outputs[$0]! } ?? base
            assertClose(mixed.slice(axis: 0, start: row, end: row + 1), expected.slice(axis: 0, start: row, end: row + 1),
                        atol: 1e-5, rtol: 1e-5, "row \(row) (\(route ?? "base"))")
        }
        // Outside a routed batch, with adapters disabled, the model is the base again (saved modules included).
        lora.disableAdapters()
        assertClose(net(x), base, atol: 1e-6, rtol: 1e-6, "unrouted after routed")
        lora.enableAdapters()
        let grouped: [String?] = ["b", "b", "a", "a", nil]       // routes in consecutive rows: slices, no reordering
        let sliced = LoRARouting.withRows(grouped) { net(x) }
        for (row, route) in grouped.enumerated() {
            assertClose(sliced.slice(axis: 0, start: row, end: row + 1), (route.map { outputs[$0]! } ?? base).slice(axis: 0, start: row, end: row + 1),
                        atol: 1e-5, rtol: 1e-5, "grouped row \(row)")
        }
        assertClose(LoRARouting.withRows([String?](repeating: "b", count: 5)) { net(x) }, outputs["b"]!, atol: 1e-5, rtol: 1e-5, "all b")
        lora.unrouteSavedModules(of: "b")
        XCTAssertNil((net.fc as? RoutedLinear)?.variants["b"])
    }

    func testUnroutableSavedModulesAreRefusedWithNothingChanged() throws {
        final class WithEmbedding: Module {
            @Child var embedding: Embedding
            @Child var fc: Linear
            override init() {
                var rng = RandomGenerator(seed: 1)
                embedding = Embedding(4, 3, generator: &rng)
                fc = Linear(3, 2, generator: &rng)
                super.init()
            }
        }
        let net = WithEmbedding()
        let lora = LoRAModel(wrapping: net)
        let values = net.stateDict()
        XCTAssertThrowsError(try lora.routeSavedModules(of: "a", values: values)) {
            XCTAssertTrue("\($0)".contains("embedding"), "\($0)")
        }
        XCTAssertFalse(net.fc is RoutedLinear, "nothing replaced")
        // A value that does not fit its module is refused before anything is replaced.
        XCTAssertThrowsError(try lora.routeSavedModules(of: "a", values: ["fc.weight": Tensor.zeros([3, 3])])) {
            XCTAssertTrue("\($0)".contains("fc.weight"), "\($0)")
        }
        XCTAssertFalse(net.fc is RoutedLinear, "nothing replaced")
    }
}
