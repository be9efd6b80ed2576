import LoRA
import NN
import Tensor
import TestSupport
import XCTest

/// `Module.storeFrozenWeightsInBF16` on a LoRA model: only frozen convolution and linear weights
/// become BF16; adapters, biases and norms stay F32 and train; merging onto a BF16-held base
/// weight gives the F32 sum of its bf16 values and the update.
final class BF16BaseWeightTests: XCTestCase {
    func testOnlyFrozenLayerWeightsAreHeldInBF16AndMergeDecodes() throws {
        var rng = RandomGenerator(seed: 3)
        let model = Sequential([Linear(6, 8, generator: &rng), Linear(8, 4, generator: &rng)])
        let lora = LoRAModel(wrapping: model)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["0"]), generator: &rng)
        let before = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.key, $0.tensor) })
        let converted = model.storeFrozenWeightsInBF16()
        let after = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.key, $0.tensor) })
        XCTAssertEqual(converted, 6 * 8 + 8 * 4, "both frozen weights (the second layer is frozen too, untargeted)")
        for (key, t) in after {
            let trainable = model.trainableParameters().contains { $0.key == key }
            let expected: DType = key.hasSuffix("weight") && !key.contains("lora") ? .bfloat16 : .float32
            XCTAssertEqual(t.dtype, expected, key)
            if trainable { XCTAssertEqual(t.dtype, .float32, "\(key) trains in F32") }
        }
        XCTAssertEqual(model.namedParameters().count, before.count)

        // The adapter still trains, and the layers run on the held weights.
        let x = randomTensor([5, 6], seed: 4)
        let loss = model(x).sum()
        loss.backward()
        for (key, slot) in model.trainableParameters() { XCTAssertNotNil(slot.tensor?.grad, key) }

        // Give B values, then merge: the base becomes F32, bf16 values + delta.
        for (key, slot) in model.trainableParameters() where key.contains("lora_B") {
            slot.tensor = randomTensor(slot.tensor!.shape, seed: 5)
        }
        let heldBase = try XCTUnwrap(after["0.weight"]).toFloat32()
        let yUnmerged = withNoGrad { model(x) }
        try lora.merge()
        let merged = try XCTUnwrap(model.namedParameters().first { $0.key == "0.weight" }?.tensor)
        XCTAssertEqual(merged.dtype, .float32)
        XCTAssertGreaterThan(abs((merged - heldBase).scalars.map(abs).max() ?? 0), 0, "the delta was added")
        assertClose(withNoGrad { model(x) }, yUnmerged, atol: 1e-2, rtol: 1e-2)
    }

    /// The F32 weights' memory goes back to the system rather than into the pool's cache, where a
    /// training step would carve its activations out of it (and keep it resident).
    func testConvertedWeightsMemoryIsReturned() {
        var rng = RandomGenerator(seed: 4)
        let model = Sequential([Linear(512, 512, generator: &rng)])
        model.freeze()
        let weightBytes = 512 * 512 * 4
        let cachedBefore = MemoryPool.cachedBytes
        XCTAssertEqual(model.storeFrozenWeightsInBF16(), 512 * 512)
        XCTAssertLessThan(MemoryPool.cachedBytes, cachedBefore + weightBytes / 2,
                          "the F32 weight (\(weightBytes) bytes) stays cached")
    }
}
