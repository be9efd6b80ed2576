import Audio
@testable import AudioModels
import Foundation
import LoRA
import NN
import Tensor
import TestSupport
import XCTest

/// Silero VAD from the package's own safetensors (scripts/fetch_silero_vad): its speech
/// probabilities, chunk by chunk with the streaming state, equal the package's reference for that
/// file (Fixtures/silero_goldens.json from scripts/make_silero_goldens.py) on two real recordings
/// and a synthetic signal; batched windows equal streamed ones; LoRA on its convolutions.
final class SileroVADTests: XCTestCase {
    struct Goldens: Decodable {
        struct Signal: Decodable { let name: String; let probabilities: [Float]; let samples: [Float]? }
        let signals: [Signal]
    }

    static func goldens() throws -> Goldens {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("silero_goldens.json")
        return try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: url))
    }

    func testProbabilitiesMatchThePackageChunkByChunk() throws {
        let model = try SileroVAD.load(from: try RealModels.sileroVAD().path)
        XCTAssertEqual(model.parameterCount, 309_633)
        for signal in try Self.goldens().signals {
            let samples: [Float]
            if let s = signal.samples { samples = s } else {
                guard FileManager.default.fileExists(atPath: signal.name) else {
                    XCTFail("\(signal.name) is missing: install Debian's pocketsphinx-testdata (scripts/setup does)")
                    continue
                }
                let clip = try AudioFile.read(signal.name)
                XCTAssertEqual(clip.sampleRate, 16_000)
                samples = clip.mono().samples
            }
            let probabilities = try model.stream(samples)
            XCTAssertEqual(probabilities.count, signal.probabilities.count, signal.name)
            let worst = zip(probabilities, signal.probabilities).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(signal.name): worst per-chunk difference \(worst)")
        }
        // The control: speech is detected in the LibriVox clip and not in the noise.
        let speech = try XCTUnwrap(try Self.goldens().signals.first { $0.name.contains("librivox") })
        XCTAssertGreaterThan(speech.probabilities.filter { $0 > 0.5 }.count, speech.probabilities.count / 2)
    }

    func testBatchedWindowsEqualTheStream() throws {
        let model = try SileroVAD.load(from: try RealModels.sileroVAD().path)
        let samples = try XCTUnwrap(try Self.goldens().signals.first { $0.samples != nil }?.samples)
        let streamed = try model.stream(samples)
        // Without state (zeros for each window): the first chunk's probability equals the stream's.
        let first = Tensor([Float](repeating: 0, count: 64) + Array(samples[0..<512]), shape: [1, 576])
        XCTAssertEqual(try withNoGrad { try model(first).probability.item }, streamed[0], accuracy: 1e-6)
        // A batch of 3 windows carried through the state by hand equals 3 streamed chunks of 3 copies.
        var state: (h: Tensor, c: Tensor)?
        var batched: [Float] = []
        for k in 0..<3 {
            let context = k == 0 ? [Float](repeating: 0, count: 64) : Array(samples[(k * 512 - 64)..<(k * 512)])
            let w = context + Array(samples[(k * 512)..<((k + 1) * 512)])
            let (p, s) = try withNoGrad { try model(Tensor(w + w + w, shape: [3, 576]), state: state) }
            batched.append(p.scalars[2])
            XCTAssertEqual(p.scalars[0], p.scalars[1])
            state = s
        }
        for k in 0..<3 { XCTAssertEqual(batched[k], streamed[k], accuracy: 1e-5) }
    }

    func testLoRAOnTheConvolutionsTrainsOnlyAdapters() throws {
        let model = try SileroVAD.load(from: try RealModels.sileroVAD().path)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        let report = try lora.addAdapter(config: LoRAConfig(rank: 4, alpha: 8, targetModules: ["conv1", "conv2", "conv3", "conv4", "final_conv"]),
                                         generator: &rng)
        XCTAssertEqual(report.layers.count, 5)
        XCTAssertTrue(model.trainableParameters().allSatisfy { $0.key.contains(".adapters.") })
        // B starts at zero: the adapted model computes the base's probabilities.
        let x = Tensor((0..<(2 * 576)).map { Float(sin(Double($0) * 0.05)) * 0.3 }, shape: [2, 576])
        let reference = try SileroVAD.load(from: try RealModels.sileroVAD().path)
        let base = try withNoGrad { try reference(x).probability.scalars }
        XCTAssertEqual(try withNoGrad { try model(x).probability.scalars }, base)
        XCTAssertThrowsError(try model(Tensor.zeros([1, 512]))) { XCTAssertTrue("\($0)".contains("[N, 576]"), "\($0)") }
        // Gradients reach the adapters through the LSTM.
        model.train()
        let (p, _) = try model(x)
        (p - Tensor([1, 0])).pow(2).sum().backward()
        XCTAssertTrue(model.trainableParameters().allSatisfy { $0.slot.tensor?.grad != nil })
    }
}
