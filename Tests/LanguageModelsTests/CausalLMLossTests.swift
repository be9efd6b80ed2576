import Foundation
@testable import LanguageModels
import LoRA
import NN
import TestSupport
import XCTest

/// The causal-LM loss on the quantised-or-float decoder: equal to transformers + PEFT's loss and
/// every LoRA gradient (Fixtures/causal_lm from scripts/make_causal_lm_fixtures.py), unchanged by
/// masked tokens nothing learned depends on, by padding, and by how many rows of logits are
/// computed at once; and the recomputing operation it rests on against finite differences.
final class CausalLMLossTests: XCTestCase {
    struct Goldens: Decodable {
        let ids: [[Int]]
        let labels: [[Int]]
        let loss: Double
        let grads: [String: [Double]]
    }

    /// The tiny Llama with the PEFT adapter of the fixture loaded.
    func tinyWithAdapter() throws -> (LlamaForCausalLM, LoRAModel) {
        let model = try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny"))
        let lora = LoRAModel(wrapping: model)
        _ = try PEFTAdapterFile.load(into: lora, from: LlamaFixtures.url("causal_lm/adapter").path)
        return (model, lora)
    }

    /// transformers' rows of ids and labels (−100: not learned) as examples, padding dropped.
    static func examples(_ goldens: Goldens) -> [CausalLMExample] {
        zip(goldens.ids, goldens.labels).map { ids, labels in
            let length = labels.lastIndex { $0 != -100 }.map { $0 + 1 } ?? ids.count
            return CausalLMExample(ids: Array(ids.prefix(length)), targets: labels.prefix(length).map { $0 != -100 })
        }
    }

    func testLossAndEveryLoRAGradientMatchPEFT() throws {
        let goldens = try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: LlamaFixtures.url("causal_lm/goldens.json")))
        let (model, lora) = try tinyWithAdapter()
        let batch = CausalLMBatch(Self.examples(goldens), padding: 0)
        XCTAssertEqual(batch.labels.count, goldens.labels.joined().filter { $0 != -100 }.count)
        let (loss, _) = try CausalLMObjective.tokenLoss(model, batch, headChunk: 3)
        XCTAssertEqual(Double(loss.item), goldens.loss, accuracy: 1e-4 * goldens.loss)
        loss.backward()
        var compared = 0
        for (key, host) in lora.hosts {
            let adapter = try XCTUnwrap(host.adapters["default"])
            for (name, parameter) in adapter.namedParameters() {
                let golden = try XCTUnwrap(goldens.grads["base_model.model.\(key).\(name)"], "\(key).\(name)")
                let grad = try XCTUnwrap(parameter.grad, "\(key).\(name) has no gradient").scalars
                XCTAssertEqual(grad.count, golden.count)
                let scale = golden.map(abs).max() ?? 1
                let worst = zip(grad, golden).map { abs(Double($0) - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(key).\(name)")
                compared += 1
            }
        }
        XCTAssertEqual(compared, goldens.grads.count)
    }

    /// Loss and LoRA gradients of `examples` on a fresh copy of the fixture (packed into rows of
    /// `packedRows` tokens when given).
    func lossAndGradients(_ examples: [CausalLMExample], headChunk: Int = 256,
                          packedRows: Int? = nil) throws -> (Float, [String: [Float]]) {
        let (model, _) = try tinyWithAdapter()
        let batch = packedRows.map { CausalLMBatch(packing: examples, rowLength: $0, padding: 0) } ?? CausalLMBatch(examples, padding: 0)
        let (loss, _) = try CausalLMObjective.tokenLoss(model, batch, headChunk: headChunk)
        loss.backward()
        var grads: [String: [Float]] = [:]
        for (key, parameter) in model.trainableParameters() { grads[key] = parameter.tensor?.grad?.scalars }
        return (loss.item, grads)
    }

    func testMaskedTokensAfterTheLastTargetChangeNothing() throws {
        // A prompt (masked), a completion (learned), then a masked turn that nothing learned depends on.
        let ids = [5, 17, 33, 8, 41, 62, 7, 19, 88, 3, 44, 45]
        let targets = [false, false, false, false, true, true, true, false, false, false, false, false]
        let base = try lossAndGradients([CausalLMExample(ids: ids, targets: targets)])
        var changed = ids
        changed[8] = 90; changed[9] = 1; changed[11] = 70
        let perturbed = try lossAndGradients([CausalLMExample(ids: changed, targets: targets)])
        XCTAssertEqual(base.0, perturbed.0)
        XCTAssertEqual(base.1, perturbed.1)
        // The control: changing the (masked) prompt changes what the completion is conditioned on.
        var prompt = ids
        prompt[1] = 60
        let conditioned = try lossAndGradients([CausalLMExample(ids: prompt, targets: targets)])
        XCTAssertNotEqual(base.0, conditioned.0)
    }

    func testPaddingAndHeadChunksChangeNothing() throws {
        let short = CausalLMExample(ids: [9, 24, 71, 2, 55], targets: [false, true, true, false, true])
        let long = CausalLMExample(ids: [5, 17, 33, 8, 41, 62, 7, 19, 88, 3], targets: [Bool](repeating: true, count: 10))
        // The two examples' token losses summed: batched together (the short one padded) or alone.
        let (together, _) = try lossAndGradients([short, long])
        let (alone, _) = try lossAndGradients([short])
        let (other, _) = try lossAndGradients([long])
        XCTAssertEqual(Double(together) * 12, Double(alone) * 3 + Double(other) * 9, accuracy: 1e-4)
        let (chunked, chunkedGrads) = try lossAndGradients([short, long], headChunk: 5)
        let (_, wholeGrads) = try lossAndGradients([short, long], headChunk: 100)
        XCTAssertEqual(chunked, together, accuracy: 1e-5)
        for (key, g) in wholeGrads {
            let c = try XCTUnwrap(chunkedGrads[key])
            XCTAssertLessThanOrEqual(zip(g, c).map { abs($0 - $1) }.max() ?? 0, 1e-5, key)
        }
    }

    func testPackedSequencesGiveThePaddedBatchsLossAndGradients() throws {
        let examples = [CausalLMExample(ids: [9, 24, 71, 2, 55], targets: [false, true, true, false, true]),
                        CausalLMExample(ids: [5, 17, 33, 8, 41, 62, 7, 19, 88, 3], targets: [Bool](repeating: true, count: 10)),
                        CausalLMExample(ids: [12, 6, 90], targets: [false, false, true]),
                        CausalLMExample(ids: [30, 31, 32, 33], targets: [false, true, false, true])]
        // Rows of 12: [10-token, padding], [5 + 4 + 3] — first fit, longest first.
        let packed = CausalLMBatch(packing: examples, rowLength: 12, padding: 0)
        XCTAssertEqual(packed.ids.shape, [2, 12])
        XCTAssertEqual(packed.tokenPositions?.indexScalars.suffix(12), [0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2])
        XCTAssertEqual(packed.labels.sorted(), CausalLMBatch(examples, padding: 0).labels.sorted())
        let (padded, paddedGrads) = try lossAndGradients(examples)
        let (together, packedGrads) = try lossAndGradients(examples, packedRows: 12)
        XCTAssertEqual(together, padded, accuracy: 1e-5 * padded)
        XCTAssertEqual(Set(packedGrads.keys), Set(paddedGrads.keys))
        for (key, g) in paddedGrads {
            let p = try XCTUnwrap(packedGrads[key])
            let scale = g.map(abs).max() ?? 1
            XCTAssertLessThanOrEqual(zip(g, p).map { abs($0 - $1) }.max() ?? 0, 1e-5 * max(scale, 1e-3), key)
        }
        // The control: the same rows without document boundaries (one long sequence per row) differ.
        let (model, _) = try tinyWithAdapter()
        var crossing = packed
        crossing.tokenPositions = nil
        let (mixed, _) = try CausalLMObjective.tokenLoss(model, crossing)
        XCTAssertGreaterThan(abs(mixed.item - padded), 1e-3)
    }

    /// Every parameter trainable (the head too, so its chunks are recomputed in backward) against
    /// the direct loss: all logits computed, targets −100 where not learned.
    func testTrainableHeadMatchesTheDirectLossAndGradients() throws {
        let examples = [CausalLMExample(ids: [5, 17, 33, 8, 41, 62], targets: [false, false, true, true, false, true]),
                        CausalLMExample(ids: [9, 24, 71], targets: [false, true, true])]
        let batch = CausalLMBatch(examples, padding: 0)
        func gradients(_ loss: (LlamaForCausalLM) throws -> Tensor) throws -> (Float, [String: [Float]]) {
            let model = try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny"))
            let l = try loss(model)
            l.backward()
            var grads: [String: [Float]] = [:]
            for (key, parameter) in model.trainableParameters() { grads[key] = parameter.tensor?.grad?.scalars }
            return (l.item, grads)
        }
        let (ours, ourGrads) = try gradients { try CausalLMObjective.tokenLoss($0, batch, headChunk: 2).loss }
        let (direct, directGrads) = try gradients { model in
            let logits = try model.logits(batch.ids)                              // [2, 6, V]
            var targets = [Int](repeating: -100, count: 12)
            for (p, label) in zip(batch.positions, batch.labels) { targets[p] = label }
            return crossEntropy(logits: logits.reshaped([12, logits.shape[2]]), targets: Tensor(indices: targets, shape: [12]))
        }
        XCTAssertEqual(ours, direct, accuracy: 1e-5)
        XCTAssertEqual(Set(ourGrads.keys), Set(directGrads.keys))
        XCTAssertNotNil(ourGrads["lm_head.weight"] ?? nil, "the head trains")
        for (key, g) in directGrads {
            let o = try XCTUnwrap(ourGrads[key] ?? nil, key)
            let scale = g.map(abs).max() ?? 1
            XCTAssertLessThanOrEqual(zip(o, g).map { abs($0 - $1) }.max() ?? 0, 1e-5 * max(scale, 1), key)
        }
    }

    func testEagerlyDifferentiatedScalesItsGradientByTheIncomingOne() throws {
        let x = randomTensor([3, 4], seed: 8)
        let w = randomTensor([5, 4], seed: 9)   // a constant (frozen) weight
        checkGradients([x]) { inputs in
            Tensor.eagerlyDifferentiated([inputs[0]]) { xs in xs[0].matmul(w.transposed()).tanh().sum() } * 3
        }
        // Evaluation (no recording) just computes the value.
        let value = withNoGrad { Tensor.eagerlyDifferentiated([x.requiringGrad()]) { $0[0].sum() } }
        XCTAssertFalse(value.requiresGrad)
        XCTAssertEqual(value.item, x.sum().item, accuracy: 1e-6)
    }

    /// Gradient checkpointing per block gives the loss and gradients of the run without it, LoRA
    /// dropout included (its masks are drawn again from the same generator states), and leaves
    /// the dropout generators where the plain run leaves them.
    func testCheckpointedBlocksGiveTheSameLossAndGradients() throws {
        let examples = [CausalLMExample(ids: [5, 17, 33, 8, 41, 62, 7, 19], targets: [false, true, true, true, true, true, true, true]),
                        CausalLMExample(ids: [9, 24, 71, 2, 55], targets: [false, false, true, true, true])]
        func run(checkpointing: Bool, training: Bool = true) throws -> (Float, [String: [Float]], [[UInt64]]) {
            let model = try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny"))
            let lora = LoRAModel(wrapping: model)
            var rng = RandomGenerator(seed: 2)
            try lora.addAdapter(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0.3, initialization: .gaussian,
                                                   targetModules: ["q_proj", "v_proj", "down_proj"]), generator: &rng)
            for (i, (_, host)) in lora.hosts.enumerated() {
                let adapter = try XCTUnwrap(host.adapters["default"])
                adapter.b = randomTensor(adapter.b.shape, seed: UInt64(40 + i)).requiringGrad()
            }
            model.train(training)
            model.model.checkpointsBlocks = checkpointing
            // Three passes (no optimizer step: the same weights each time); the dropout generators
            // must carry on identically from one to the next. The last pass is compared.
            var loss = Tensor(0)
            for _ in 0..<3 {
                for (_, p) in model.trainableParameters() { p.tensor?.setGrad(nil) }
                loss = try CausalLMObjective.tokenLoss(model, CausalLMBatch(examples, padding: 0)).loss
                if training { loss.backward() }
            }
            var grads: [String: [Float]] = [:]
            for (key, p) in model.trainableParameters() { grads[key] = p.tensor?.grad?.scalars }
            let states = lora.hosts.compactMap { $0.host.adapters["default"]?.dropoutGenerator.state }
            return (loss.item, grads, states)
        }
        let plain = try run(checkpointing: false), checkpointed = try run(checkpointing: true)
        XCTAssertEqual(plain.0, checkpointed.0, accuracy: 1e-6)
        XCTAssertEqual(plain.2, checkpointed.2, "the dropout generators end where the plain run leaves them")
        XCTAssertEqual(Set(plain.1.keys), Set(checkpointed.1.keys))
        for (key, g) in plain.1 {
            let c = try XCTUnwrap(checkpointed.1[key] ?? nil, key)
            XCTAssertLessThanOrEqual(zip(g, c).map { abs($0 - $1) }.max() ?? 1, 1e-5, key)
        }
        // The control: dropout is active (without it the loss differs).
        XCTAssertNotEqual(plain.0, try run(checkpointing: false, training: false).0)
    }

    func testABatchWithoutTargetsIsAnError() throws {
        let model = try LlamaForCausalLM.load(from: LlamaFixtures.url("llama_tiny"))
        let batch = CausalLMBatch([CausalLMExample(ids: [1, 2, 3], targets: [false, false, false])], padding: 0)
        XCTAssertThrowsError(try CausalLMObjective.tokenLoss(model, batch)) { error in
            XCTAssertTrue("\(error)".contains("no target tokens"), "\(error)")
        }
    }

    func testRecomputedMatchesFiniteDifferencesAndTheDirectGraph() throws {
        let w = randomTensor([5, 4], seed: 3).requiringGrad()
        let x = randomTensor([3, 4], seed: 4)
        var runs = 0
        checkGradients([x, w]) { inputs in
            Tensor.recomputed([inputs[0]]) { xs, _ in runs += 1; return xs[0].matmul(inputs[1].transposed()).tanh() }.sum()
        }
        XCTAssertGreaterThan(runs, 0)
        // The parameter used inside gets the same gradient as without recomputation.
        let direct = x.requiringGrad().matmul(w.transposed()).tanh().sum()
        direct.backward()
        let expected = try XCTUnwrap(w.grad).scalars
        w.setGrad(nil)
        var again = 0
        let recomputed = Tensor.recomputed([x.requiringGrad()]) { xs, second in
            if second { again += 1 }
            return xs[0].matmul(w.transposed()).tanh()
        }.sum()
        recomputed.backward()
        XCTAssertEqual(again, 1, "backward runs the function a second time")
        let got = try XCTUnwrap(w.grad).scalars
        XCTAssertLessThanOrEqual(zip(got, expected).map { abs($0 - $1) }.max() ?? 1, 1e-6)
    }
}
