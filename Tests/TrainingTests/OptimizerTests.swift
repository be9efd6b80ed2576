import NN
import SafeTensors
import Tensor
import TestSupport
import Training
import XCTest

/// SGD and AdamW against PyTorch (goldens from scripts/make_optimizer_goldens.py), their state
/// round trip, construction checks, grouping by key patterns, and gradient clipping.
final class OptimizerTests: XCTestCase {
    // MARK: - Goldens

    /// Settings of each case; they repeat CASES in scripts/make_optimizer_goldens.py.
    private struct GoldenCase {
        let name: String
        let adapters: (lr: Float, wd: Float)
        let head: (lr: Float, wd: Float)
        let make: ([ParameterGroup]) throws -> Optimizer
    }

    private static let multipliers: [Float] = [1.0, 0.5, 1.0, 0.25, 0.75, 1.0]
    private static let parameterNames = ["a", "b", "w"]

    private func goldens() throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "optim_goldens", withExtension: "safetensors",
                                                  subdirectory: "Fixtures"))
        return try SafeTensorsFile(contentsOf: url).tensors()
    }

    /// Runs one case's six steps and compares every parameter after every step with PyTorch's,
    /// within 1e-6 relative plus 1e-7 absolute (the parameters are of order 0.01–1).
    ///
    /// Why not bit for bit: PyTorch's vectorised CPU kernels fuse `a + α·b` (weight decay, momentum,
    /// the update) into one FMA. A float32 replay of the SGD case with FMA reproduces its goldens
    /// exactly, one without FMA differs by 1.5e-6 relative on one element whose update cancels most
    /// of its value. Swift built for baseline x86-64 cannot emit FMA inline (`addingProduct` becomes
    /// a call to `fmaf`, which would stop the loops vectorising), so the fused loops round twice.
    private func check(_ c: GoldenCase, file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try goldens()
        let slots = try Self.parameterNames.map { try Parameter(wrappedValue: XCTUnwrap(g["\(c.name).init.\($0)"]).copy()) }
        let groups = [
            ParameterGroup(name: "adapters", parameters: [("a", slots[0]), ("b", slots[1])],
                           learningRate: c.adapters.lr, weightDecay: c.adapters.wd),
            ParameterGroup(name: "head", parameters: [("w", slots[2])], learningRate: c.head.lr, weightDecay: c.head.wd),
        ]
        let optimizer = try c.make(groups)
        var gradientsSeen = 0
        for s in 0..<Self.multipliers.count {
            optimizer.learningRateMultiplier = Self.multipliers[s]
            for (name, slot) in zip(Self.parameterNames, slots) {
                let grad = g["\(c.name).grad.\(s).\(name)"]
                if grad != nil { gradientsSeen += 1 }
                slot.wrappedValue.setGrad(grad)
            }
            optimizer.step()
            for (name, slot) in zip(Self.parameterNames, slots) {
                let expected = try XCTUnwrap(g["\(c.name).param.\(s).\(name)"])
                assertClose(slot.wrappedValue, expected, atol: 1e-7, rtol: 1e-6, "\(c.name) step \(s) \(name)",
                            file: file, line: line)
            }
        }
        XCTAssertEqual(gradientsSeen, 16, "the fixture leaves out two gradients", file: file, line: line)
    }

    func testSGDMatchesPyTorch() throws {
        try check(GoldenCase(name: "sgd", adapters: (0.1, 0.01), head: (0.05, 0)) { try SGD(groups: $0) })
    }

    func testSGDWithMomentumAndDampeningMatchesPyTorch() throws {
        try check(GoldenCase(name: "sgd_momentum", adapters: (0.1, 0.01), head: (0.05, 0)) {
            try SGD(groups: $0, momentum: 0.9, dampening: 0.1)
        })
    }

    func testSGDNesterovMatchesPyTorch() throws {
        try check(GoldenCase(name: "sgd_nesterov", adapters: (0.1, 0.01), head: (0.3, 0.02)) {
            try SGD(groups: $0, momentum: 0.9, nesterov: true)
        })
    }

    func testAdamWMatchesPyTorch() throws {
        try check(GoldenCase(name: "adamw", adapters: (1e-2, 0.01), head: (1e-1, 0.1)) { try AdamW(groups: $0) })
    }

    func testAdamWWithOtherBetasAndEpsilonMatchesPyTorch() throws {
        try check(GoldenCase(name: "adamw_custom", adapters: (3e-3, 0), head: (2e-2, 0.05)) {
            try AdamW(groups: $0, beta1: 0.8, beta2: 0.99, epsilon: 1e-6)
        })
    }

    /// The first AdamW step moves every element by about lr (m̂/√v̂ = ±1), whatever the gradient's
    /// scale — a fact of the algorithm, worked by hand, independent of the goldens.
    func testFirstAdamWStepIsLearningRateTimesSign() throws {
        let p = Parameter(wrappedValue: Tensor([1, -2, 3, 0.5]))
        p.wrappedValue.setGrad(Tensor([1e-3, -5, 0.25, -1e2]))
        let opt = try AdamW(parameters: [("p", p)], learningRate: 0.1, weightDecay: 0.5)
        opt.step()
        // p·(1 − 0.1·0.5) − 0.1·sign(g)
        let expected: [Float] = [0.95 - 0.1, -1.9 + 0.1, 2.85 - 0.1, 0.475 + 0.1]
        for (a, e) in zip(p.wrappedValue.scalars, expected) { XCTAssertEqual(a, e, accuracy: 1e-5) }
    }

    /// Large parameters take the parallel path of the fused loops; it must agree with one thread.
    func testParallelUpdateEqualsSerialUpdate() throws {
        let n = 100_003
        let start = randomTensor([n], seed: 3)
        let grads = (0..<3).map { randomTensor([n], seed: 10 + UInt64($0)) }
        func run(threads: Int, _ make: ([(key: String, slot: ParameterSlot)]) throws -> Optimizer) throws -> [Float] {
            let saved = Threads.count
            Threads.set(threads)
            defer { Threads.set(saved) }
            let p = Parameter(wrappedValue: start.copy())
            let opt = try make([("p", p)])
            for g in grads { p.wrappedValue.setGrad(g); opt.step() }
            return p.wrappedValue.scalars
        }
        let adam: ([(key: String, slot: ParameterSlot)]) throws -> Optimizer = { try AdamW(parameters: $0, learningRate: 1e-2) }
        let sgd: ([(key: String, slot: ParameterSlot)]) throws -> Optimizer = {
            try SGD(parameters: $0, learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01)
        }
        XCTAssertEqual(try run(threads: 1, adam), try run(threads: 2, adam))
        XCTAssertEqual(try run(threads: 1, sgd), try run(threads: 2, sgd))
    }

    // MARK: - A model trained end to end

    /// A two-layer model whose parameters the optimizer updates through its slots.
    private func model(seed: UInt64) -> Sequential {
        var generator = RandomGenerator(seed: seed)
        return Sequential(Linear(4, 6, generator: &generator), Linear(6, 2, generator: &generator))
    }

    private func trainStep(_ model: Sequential, _ optimizer: Optimizer, step: Int) {
        let x = randomTensor([3, 4], seed: 100 + UInt64(step))
        let y = randomTensor([3, 2], seed: 200 + UInt64(step))
        optimizer.zeroGrad()
        let d = model(x) - y
        (d * d).mean().backward()
        optimizer.learningRateMultiplier = 1 / Float(step + 1)
        optimizer.step()
    }

    private func values(_ m: Module) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.key, $0.tensor.scalars) })
    }

    /// Saving the state after 3 steps, writing it through safetensors, loading it into a fresh
    /// optimizer over a copy of the model, and running 3 more steps gives exactly the weights of the
    /// run that never stopped — even though that run kept stepping after `state()` was taken.
    private func checkResume(_ make: (Module) throws -> Optimizer) throws {
        let a = model(seed: 1)
        let optA = try make(a)
        for s in 0..<3 { trainStep(a, optA, step: s) }
        let saved = optA.state()
        // A copy: the state dict shares storage with the parameters, which steps update in place.
        let weights = a.stateDict().mapValues { $0.copy() }
        for s in 3..<6 { trainStep(a, optA, step: s) }

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("optim-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(saved.tensors, to: path)
        let restored = OptimizerState(tensors: try SafeTensorsFile(path: path).tensors(), scalars: saved.scalars)

        let b = model(seed: 2)
        try b.load(weights)
        let optB = try make(b)
        try optB.load(restored)
        XCTAssertEqual(optB.state().scalars, saved.scalars)
        for s in 3..<6 { trainStep(b, optB, step: s) }
        XCTAssertEqual(values(b), values(a))
        XCTAssertNotEqual(values(b), values(model(seed: 1)), "training changed the weights")
    }

    func testAdamWResumeEqualsUninterruptedRun() throws {
        try checkResume { try AdamW(parameters: $0.trainableParameters(), learningRate: 1e-2) }
    }

    func testSGDResumeEqualsUninterruptedRun() throws {
        try checkResume { try SGD(parameters: $0.trainableParameters(), learningRate: 0.1, momentum: 0.9,
                                  nesterov: true, weightDecay: 1e-3) }
    }

    func testStateKeys() throws {
        let m = model(seed: 1)
        let adam = try AdamW(parameters: m.trainableParameters(), learningRate: 1e-3)
        XCTAssertEqual(adam.state().tensors.count, 0, "no state before the first gradient")
        trainStep(m, adam, step: 0)
        let state = adam.state()
        XCTAssertEqual(state.scalars["step"], 1)
        XCTAssertEqual(state.scalars["default.0.weight.step"], 1)
        XCTAssertEqual(state.tensors["default.0.weight.exp_avg"]?.shape, [6, 4])
        XCTAssertEqual(state.tensors["default.1.bias.exp_avg_sq"]?.shape, [2])
        XCTAssertEqual(state.tensors.count, 8)

        let sgd = try SGD(parameters: m.trainableParameters(), learningRate: 0.1, momentum: 0.5)
        trainStep(m, sgd, step: 0)
        XCTAssertEqual(Set(sgd.state().tensors.keys),
                       ["default.0.weight.momentum_buffer", "default.0.bias.momentum_buffer",
                        "default.1.weight.momentum_buffer", "default.1.bias.momentum_buffer"])
    }

    // MARK: - State that does not fit

    private func trainedAdam() throws -> (Sequential, AdamW) {
        let m = model(seed: 1)
        let opt = try AdamW(parameters: m.trainableParameters(), learningRate: 1e-3)
        trainStep(m, opt, step: 0)
        return (m, opt)
    }

    private func assertLoadFails(_ opt: Optimizer, _ state: OptimizerState, _ expected: OptimizerError,
                                 file: StaticString = #filePath, line: UInt = #line) {
        let before = opt.state()
        XCTAssertThrowsError(try opt.load(state), file: file, line: line) { error in
            XCTAssertEqual(error as? OptimizerError, expected, file: file, line: line)
        }
        let after = opt.state()
        XCTAssertEqual(after.scalars, before.scalars, "a failed load changes nothing", file: file, line: line)
        XCTAssertEqual(after.tensors.mapValues(\.scalars), before.tensors.mapValues(\.scalars), file: file, line: line)
    }

    func testLoadRejectsWrongShape() throws {
        let (_, opt) = try trainedAdam()
        var state = opt.state()
        state.tensors["default.0.weight.exp_avg"] = Tensor.zeros([4, 6])
        assertLoadFails(opt, state, .stateShapeMismatch(key: "default.0.weight.exp_avg", expected: [6, 4], found: [4, 6]))
    }

    func testLoadRejectsUnknownKeys() throws {
        let (_, opt) = try trainedAdam()
        var state = opt.state()
        state.tensors["default.2.weight.exp_avg"] = Tensor.zeros([1])
        assertLoadFails(opt, state, .unexpectedStateKey("default.2.weight.exp_avg"))
        var renamed = OptimizerState(scalars: ["step": 1])
        for (k, v) in opt.state().tensors { renamed.tensors["adapters" + k.dropFirst("default".count)] = v }
        assertLoadFails(opt, renamed, .unexpectedStateKey("adapters.0.bias.exp_avg"))
    }

    func testLoadRejectsPartialEntries() throws {
        let (_, opt) = try trainedAdam()
        var state = opt.state()
        state.tensors["default.1.bias.exp_avg_sq"] = nil
        assertLoadFails(opt, state, .missingStateKey("default.1.bias.exp_avg_sq"))
        state = opt.state()
        state.scalars["default.1.bias.step"] = nil
        assertLoadFails(opt, state, .missingStateKey("default.1.bias.step"))
        state = opt.state()
        state.scalars["step"] = nil
        assertLoadFails(opt, state, .missingStateKey("step"))
    }

    func testLoadRejectsInvalidStepCounts() throws {
        let (_, opt) = try trainedAdam()
        var state = opt.state()
        state.scalars["default.0.bias.step"] = 2.5
        assertLoadFails(opt, state, .invalidStateValue(key: "default.0.bias.step", value: 2.5))
        state = opt.state()
        state.scalars["default.0.bias.step"] = 0
        assertLoadFails(opt, state, .invalidStateValue(key: "default.0.bias.step", value: 0))
        state = opt.state()
        state.scalars["step"] = -1
        assertLoadFails(opt, state, .invalidStateValue(key: "step", value: -1))
    }

    func testLoadRejectsAnotherOptimizersState() throws {
        let (m, adam) = try trainedAdam()
        let sgd = try SGD(parameters: m.trainableParameters(), learningRate: 0.1, momentum: 0.9)
        trainStep(m, sgd, step: 0)
        assertLoadFails(adam, sgd.state(), .unexpectedStateKey("default.0.bias.momentum_buffer"))
        assertLoadFails(sgd, adam.state(), .unexpectedStateKey("default.0.bias.exp_avg"))
        let plain = try SGD(parameters: m.trainableParameters(), learningRate: 0.1)
        assertLoadFails(plain, sgd.state(), .unexpectedStateKey("default.0.bias.momentum_buffer"))
    }

    // MARK: - Construction

    func testConstructionChecks() throws {
        let p = Parameter(wrappedValue: Tensor([1, 2]))
        let q = Parameter(wrappedValue: Tensor([3]))
        func group(_ name: String, _ slots: [(String, ParameterSlot)], lr: Float = 0.1) -> ParameterGroup {
            ParameterGroup(name: name, parameters: slots.map { (key: $0.0, slot: $0.1) }, learningRate: lr)
        }
        XCTAssertThrowsError(try SGD(groups: [group("g", [("p", p)])], momentum: 0, nesterov: true)) {
            XCTAssertEqual($0 as? OptimizerError, .invalidSetting(name: "momentum", value: 0,
                                                                 reason: "Nesterov momentum needs momentum > 0"))
        }
        XCTAssertThrowsError(try SGD(groups: [group("g", [("p", p)])], momentum: 0.9, nesterov: true, dampening: 0.1))
        XCTAssertThrowsError(try SGD(groups: [group("g", [("p", p)], lr: -1)]))
        XCTAssertThrowsError(try AdamW(groups: [group("g", [("p", p)])], beta1: 1))
        XCTAssertThrowsError(try AdamW(groups: [group("g", [("p", p)])], epsilon: -1))
        XCTAssertThrowsError(try AdamW(groups: [group("g", [("p", p)]), group("g", [("q", q)])])) {
            XCTAssertEqual($0 as? OptimizerError, .duplicateGroup(name: "g"))
        }
        XCTAssertThrowsError(try AdamW(groups: [group("g", [("p", p)]), group("h", [("q", q), ("p2", p)])])) {
            XCTAssertEqual($0 as? OptimizerError, .duplicateParameter(key: "p2", firstGroup: "g", secondGroup: "h"))
        }
        XCTAssertThrowsError(try AdamW(groups: [group("g", [])])) {
            XCTAssertEqual($0 as? OptimizerError, .noParameters)
        }
        // The convenience initialiser keeps a repeated parameter once, as named_parameters() does.
        let opt = try AdamW(parameters: [("p", p), ("q", q), ("again", p)], learningRate: 1)
        XCTAssertEqual(opt.groups.map { $0.parameters.map(\.key) }, [["p", "q"]])
        XCTAssertEqual(opt.groups[0].weightDecay, 0.01, "PyTorch's default")
        // A tied weight (another slot over the same tensor) is one parameter too.
        let tied = Parameter(wrappedValue: p.wrappedValue)
        XCTAssertEqual(try SGD(parameters: [("p", p), ("tied", tied)], learningRate: 1).groups[0].parameters.count, 1)
        XCTAssertThrowsError(try SGD(groups: [group("g", [("p", p)]), group("h", [("tied", tied)])])) {
            XCTAssertEqual($0 as? OptimizerError, .duplicateParameter(key: "tied", firstGroup: "g", secondGroup: "h"))
        }
    }

    /// A parameter without a gradient is skipped and its state untouched; zeroGrad clears gradients.
    func testParameterWithoutGradientIsSkipped() throws {
        let p = Parameter(wrappedValue: Tensor([1, 2]))
        let q = Parameter(wrappedValue: Tensor([3]))
        let opt = try AdamW(parameters: [("p", p), ("q", q)], learningRate: 0.1, weightDecay: 0.5)
        p.wrappedValue.setGrad(Tensor([1, 1]))
        opt.step()
        XCTAssertEqual(q.wrappedValue.scalars, [3], "no gradient, no decay either")
        XCTAssertNil(opt.state().scalars["default.q.step"])
        opt.zeroGrad()
        XCTAssertNil(p.wrappedValue.grad)
        opt.step()
        XCTAssertEqual(opt.state().scalars["default.p.step"], 1)
        XCTAssertEqual(opt.state().scalars["step"], 2)
    }

    // MARK: - Groups by key patterns

    /// A model shaped like LoRA training: adapters in the encoder, a new head.
    private final class Tagged: Module {
        @Parameter var encoderA: Tensor
        @Parameter var encoderB: Tensor
        @Parameter var headWeight: Tensor
        @Parameter var headBias: Tensor
        @Parameter var norm: Tensor
        override init() {
            encoderA = Tensor.zeros([2, 3]); encoderB = Tensor.zeros([3, 2])
            headWeight = Tensor.zeros([1, 3]); headBias = Tensor.zeros([1]); norm = Tensor.zeros([3])
            super.init()
        }
    }

    func testGroupingByKeyPatterns() throws {
        let m = Tagged()
        let groups = try ParameterGroup.grouping(m.trainableParameters(), rules: [
            ParameterGroupRule(name: "head", patterns: ["head*"], learningRate: 1e-3, weightDecay: 0),
            ParameterGroupRule(name: "bias", patterns: ["*Bias", "norm"], learningRate: 5e-4),
        ], learningRate: 1e-4, weightDecay: 0.01)
        XCTAssertEqual(groups.map(\.name), ["head", "bias", "default"])
        XCTAssertEqual(groups.map { $0.parameters.map(\.key) },
                       [["headWeight", "headBias"], ["norm"], ["encoderA", "encoderB"]],
                       "the first matching rule wins: headBias is in head, not bias")
        XCTAssertEqual(groups.map(\.learningRate), [1e-3, 5e-4, 1e-4])
        XCTAssertEqual(groups.map(\.weightDecay), [0, 0.01, 0.01], "a rule without weight decay takes the default")
        let opt = try AdamW(groups: groups)
        XCTAssertEqual(opt.groups.reduce(0) { $0 + $1.parameters.count }, 5, "every trainable parameter in exactly one group")
        opt.learningRateMultiplier = 0.5
        XCTAssertEqual(opt.learningRate(group: 0), 5e-4)

        // Everything claimed by rules: no empty default group.
        let all = try ParameterGroup.grouping(m.trainableParameters(),
                                              rules: [ParameterGroupRule(name: "all", patterns: ["*"], learningRate: 1)],
                                              learningRate: 2)
        XCTAssertEqual(all.map(\.name), ["all"])
    }

    func testGroupingRejectsPatternsThatMatchNothing() throws {
        let m = Tagged()
        XCTAssertThrowsError(try ParameterGroup.grouping(m.trainableParameters(), rules: [
            ParameterGroupRule(name: "head", patterns: ["head*", "classifier."], learningRate: 1e-3),
        ], learningRate: 1e-4)) {
            XCTAssertEqual($0 as? OptimizerError, .patternMatchesNothing(group: "head", pattern: "classifier."))
        }
        XCTAssertThrowsError(try ParameterGroup.grouping(m.trainableParameters(), rules: [
            ParameterGroupRule(name: "default", patterns: ["norm"], learningRate: 1e-3),
        ], learningRate: 1e-4)) {
            XCTAssertEqual($0 as? OptimizerError, .duplicateGroup(name: "default"))
        }
    }

    func testGroupingSkipsFrozenParameters() throws {
        let m = Tagged()
        m.freeze(keys: ["encoder*"])
        let groups = try ParameterGroup.grouping(m.trainableParameters(), rules: [], learningRate: 1)
        XCTAssertEqual(groups.map { $0.parameters.map(\.key) }, [["headWeight", "headBias", "norm"]])
    }

    // MARK: - Gradient clipping

    func testClipGradientNormScalesToMaxNorm() throws {
        let a = Parameter(wrappedValue: Tensor([0, 0]))
        let b = Parameter(wrappedValue: Tensor([0]))
        let params: [(key: String, slot: ParameterSlot)] = [("a", a), ("b", b)]
        a.wrappedValue.setGrad(Tensor([3, 4]))
        b.wrappedValue.setGrad(Tensor([12]))
        // √(9 + 16 + 144) = 13; factor 6.5 / (13 + 1e-6)
        XCTAssertEqual(clipGradientNorm(params, maxNorm: 6.5), 13)
        let c: Float = 6.5 / (13 + 1e-6)   // in float32, as PyTorch
        XCTAssertEqual(try XCTUnwrap(a.wrappedValue.grad).scalars, [3 * c, 4 * c])
        XCTAssertEqual(try XCTUnwrap(b.wrappedValue.grad).scalars, [12 * c])
        XCTAssertEqual(clipGradientNorm(params, maxNorm: 6.5), 6.5, accuracy: 1e-5)
    }

    func testClipGradientNormLeavesSmallGradientsAlone() throws {
        let a = Parameter(wrappedValue: Tensor([0, 0]))
        let b = Parameter(wrappedValue: Tensor([0]))
        a.wrappedValue.setGrad(Tensor([0.3, 0.4]))
        let groups = [ParameterGroup(name: "g", parameters: [("a", a), ("b", b)], learningRate: 1)]
        XCTAssertEqual(clipGradientNorm(groups, maxNorm: 1), 0.5, accuracy: 1e-7)
        XCTAssertEqual(try XCTUnwrap(a.wrappedValue.grad).scalars, [0.3, 0.4])
        XCTAssertNil(b.wrappedValue.grad)
        a.wrappedValue.setGrad(nil)
        XCTAssertEqual(clipGradientNorm(groups, maxNorm: 1), 0, "no gradients")
    }

    func testClipGradientNormReturnsNonFiniteNormAndLeavesGradients() throws {
        let a = Parameter(wrappedValue: Tensor([0, 0]))
        let b = Parameter(wrappedValue: Tensor([0]))
        a.wrappedValue.setGrad(Tensor([.infinity, 1]))
        b.wrappedValue.setGrad(Tensor([100]))
        XCTAssertEqual(clipGradientNorm([("a", a), ("b", b)], maxNorm: 1), .infinity)
        XCTAssertEqual(try XCTUnwrap(b.wrappedValue.grad).scalars, [100])
        a.wrappedValue.setGrad(Tensor([.nan, 1]))
        XCTAssertTrue(clipGradientNorm([("a", a), ("b", b)], maxNorm: 1).isNaN)
        XCTAssertEqual(try XCTUnwrap(b.wrappedValue.grad).scalars, [100])
    }

    /// Gradients that the tape produced for two inputs of one addition, and a tied weight listed
    /// twice: each gradient is scaled once and the tied one counted once.
    func testClipGradientNormWithSharedGradientsAndTiedWeights() throws {
        let a = Parameter(wrappedValue: Tensor([1, 2]))
        let b = Parameter(wrappedValue: Tensor([5, 6]))
        (a.wrappedValue + b.wrappedValue).sum().backward()
        let tied = Parameter(wrappedValue: a.wrappedValue)
        // Gradients are ones: √(1 + 1 + 1 + 1) = 2, the tied slot not counted again.
        XCTAssertEqual(clipGradientNorm([("a", a), ("b", b), ("tied", tied)], maxNorm: 1), 2)
        let c: Float = 1 / (2 + 1e-6)
        XCTAssertEqual(try XCTUnwrap(a.wrappedValue.grad).scalars, [c, c])
        XCTAssertEqual(try XCTUnwrap(b.wrappedValue.grad).scalars, [c, c])
    }

    /// Big enough for the blocked, parallel sum of squares.
    func testClipGradientNormOfLargeGradient() throws {
        let n = 50_000
        let a = Parameter(wrappedValue: Tensor.zeros([n]))
        a.wrappedValue.setGrad(Tensor.full(0.5, shape: [n]))
        XCTAssertEqual(clipGradientNorm([("a", a)], maxNorm: 1e9), 0.5 * Float(n).squareRoot(), accuracy: 1e-3)
    }
}
