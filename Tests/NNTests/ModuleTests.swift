import NN
import TestSupport
import XCTest

private final class Block: Module, UnaryLayer {
    @Child var fc1: Linear
    @Child var projection: Linear
    let plain: Linear

    init(_ rng: inout RandomGenerator) {
        fc1 = Linear(4, 6, generator: &rng)
        _projection = Child(wrappedValue: Linear(6, 4, bias: false, generator: &rng), key: "out_proj")
        plain = Linear(4, 4, generator: &rng)
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { projection(fc1(x)) + plain(x) }
}

private final class Net: Module {
    @ChildList var blocks: [Block]
    @Child var head: Sequential
    @Buffer var steps = Tensor(indices: [0], shape: [])

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        blocks = [Block(&rng), Block(&rng)]
        head = Sequential(Linear(4, 3, generator: &rng))
        super.init()
    }
}

/// A Linear subclass, standing in for an adapted layer that replaces a base layer.
private final class ScaledLinear: Linear {
    override func callAsFunction(_ x: Tensor) -> Tensor { super.callAsFunction(x) * 2 }
}

final class ModuleTests: XCTestCase {
    func testKeysFollowPropertyNamesRenamesListsAndSequential() {
        let keys = Net(seed: 1).stateDict().keys.sorted()
        XCTAssertEqual(keys, [
            "blocks.0.fc1.bias", "blocks.0.fc1.weight", "blocks.0.out_proj.weight",
            "blocks.0.plain.bias", "blocks.0.plain.weight",
            "blocks.1.fc1.bias", "blocks.1.fc1.weight", "blocks.1.out_proj.weight",
            "blocks.1.plain.bias", "blocks.1.plain.weight",
            "head.0.bias", "head.0.weight", "steps",
        ])
    }

    func testParameterCounts() {
        let net = Net(seed: 1)
        let perBlock = (4 * 6 + 6) + 6 * 4 + (4 * 4 + 4)
        XCTAssertEqual(net.parameterCount, 2 * perBlock + 4 * 3 + 3)
        net.freeze()
        net.unfreeze(keys: ["head."])
        XCTAssertEqual(net.trainableParameterCount, 15)
        net.unfreeze(keys: ["blocks.*.fc1.weight"])
        XCTAssertEqual(net.trainableParameterCount, 15 + 2 * 24)
    }

    func testFrozenParametersGetNoGradient() {
        let net = Net(seed: 2)
        net.freeze(keys: ["blocks.*"])
        let x = randomTensor([5, 4], seed: 3)
        var h = x
        for b in net.blocks { h = b(h) }
        net.head(h).sum().backward()
        for (key, slot) in net.namedParameterSlots() {
            if key.hasPrefix("head") { XCTAssertNotNil(slot.tensor?.grad, key) } else { XCTAssertNil(slot.tensor?.grad, key) }
        }
    }

    func testLoadRoundTripsAndRejectsBadStateDicts() throws {
        let a = Net(seed: 1), b = Net(seed: 2)
        try b.load(a.stateDict())
        for (k, v) in a.stateDict() { XCTAssertEqual(b.stateDict()[k]?.scalars, v.scalars, k) }

        var bad = a.stateDict()
        bad["head.0.weight"] = Tensor.zeros([3, 5])
        XCTAssertThrowsError(try b.load(bad)) { error in
            XCTAssertEqual(error as? ModuleError, .shapeMismatch(key: "head.0.weight", expected: [3, 4], got: [3, 5]))
        }
        var missing = a.stateDict()
        missing["blocks.1.fc1.bias"] = nil
        XCTAssertThrowsError(try b.load(missing)) { error in
            XCTAssertEqual(error as? ModuleError, .missingKeys(["blocks.1.fc1.bias"]))
        }
        XCTAssertNoThrow(try b.load(missing, strict: false))
        var extra = a.stateDict()
        extra["fc.weight"] = Tensor.zeros([1])
        XCTAssertThrowsError(try b.load(extra)) { error in
            XCTAssertEqual(error as? ModuleError, .unexpectedKeys(["fc.weight"]))
        }
    }

    func testFailedLoadChangesNothing() {
        let a = Net(seed: 1), b = Net(seed: 2)
        let before = b.stateDict()["blocks.0.fc1.weight"]!.scalars
        var bad = a.stateDict()
        bad["head.0.bias"] = Tensor.zeros([7])
        XCTAssertThrowsError(try b.load(bad))
        XCTAssertEqual(b.stateDict()["blocks.0.fc1.weight"]!.scalars, before)
    }

    func testReplaceModuleThroughChildAndListSlots() throws {
        let net = Net(seed: 4)
        let x = randomTensor([2, 4], seed: 5)
        let old = net.blocks[1].fc1
        let before = old(x).scalars
        try net.replaceModule(at: "blocks.1.fc1", with: ScaledLinear(weight: old.weight, bias: old.bias))
        XCTAssertTrue(net.blocks[1].fc1 is ScaledLinear)
        XCTAssertEqual(net.blocks[1].fc1(x).scalars, before.map { $0 * 2 })

        var rng = RandomGenerator(seed: 6)
        XCTAssertThrowsError(try net.replaceModule(at: "blocks.0.plain", with: Linear(4, 4, generator: &rng))) { error in
            guard case .cannotReplace(key: "blocks.0.plain", reason: _)? = error as? ModuleError else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertThrowsError(try net.replaceModule(at: "blocks.0.fc1", with: Sequential()))
        XCTAssertThrowsError(try net.replaceModule(at: "blocks.7.fc1", with: Linear(4, 6, generator: &rng)))
        try net.replaceModule(at: "head.0", with: Linear(4, 3, generator: &rng))
    }

    func testTrainEvalModePropagates() {
        let net = Net(seed: 1)
        net.eval()
        XCTAssertTrue(net.namedModules().allSatisfy { !$0.module.isTraining })
        net.train()
        XCTAssertTrue(net.blocks[0].fc1.isTraining)
    }

    func testGlobPatterns() {
        XCTAssertTrue(KeyPattern.matches("layer*.conv?", "layer1.0.conv1"))
        XCTAssertTrue(KeyPattern.matches("encoder.", "encoder.layer.0"))
        XCTAssertFalse(KeyPattern.matches("encoder", "encoder.layer.0"))
        XCTAssertFalse(KeyPattern.matches("*.query", "q.query.bias"))
    }
}
