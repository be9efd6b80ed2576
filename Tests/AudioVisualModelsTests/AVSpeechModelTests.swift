@testable import AudioVisualModels
import Foundation
import LoRA
import NN
import SafeTensors
import Tensor
import TestSupport
import XCTest

/// The audio-visual model against PyTorch (Fixtures/av_model.safetensors from
/// scripts/make_av_goldens.py, which uses scripts/reference/av_peft.py's model, in float64): the
/// landmarks from audio alone, the fused logits, and the gradients of the landmark MSE plus the
/// cross-entropy with respect to both inputs and every parameter.
final class AVSpeechModelTests: XCTestCase {
    static let tiny = AVSpeechConfig(mels: 6, width: 8, heads: 2, ffn: 16, audioLayers: 1, videoLayers: 1, fusionLayers: 1, landmarks: 40, frameSize: 16)

    private func golden() throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "av_model", withExtension: "safetensors", subdirectory: "Fixtures"))
        return try SafeTensorsFile(contentsOf: url).tensors()
    }

    private func model(_ g: [String: Tensor]) throws -> AVSpeechModel {
        var rng = RandomGenerator(seed: 5)
        let model = AVSpeechModel(config: Self.tiny, classes: 3, generator: &rng)
        var weights: [String: Tensor] = [:]
        for (k, v) in g where k.hasPrefix("model.") { weights[String(k.dropFirst(6))] = v }
        XCTAssertEqual(Set(model.stateDict().keys), Set(weights.keys), "the state-dict keys are the PyTorch model's")
        try model.load(weights)
        return model
    }

    func testOutputsAndGradientsMatchPyTorch() throws {
        let g = try golden()
        let model = try model(g)
        let audio = g["audio"]!.requiringGrad(), video = g["video"]!.requiringGrad()
        let (landmarks, logits) = try model(audio: audio, video: video)
        assertClose(landmarks, g["landmarks"]!, atol: 1e-5, rtol: 1e-4, "landmarks")
        assertClose(logits, g["logits"]!, atol: 1e-5, rtol: 1e-4, "logits")
        assertClose(try model.landmarks(audio: g["audio"]!), g["lips"]!, atol: 1e-5, rtol: 1e-4, "lips from audio alone")
        let loss = mseLoss(predictions: landmarks, targets: g["landmark_target"]!) + crossEntropy(logits: logits, targets: g["targets"]!)
        loss.backward()
        assertClose(try XCTUnwrap(audio.grad), g["grad_audio"]!, atol: 1e-5, rtol: 1e-4, "grad audio")
        assertClose(try XCTUnwrap(video.grad), g["grad_video"]!, atol: 1e-5, rtol: 1e-4, "grad video")
        var checked = 0
        for (key, p) in model.namedParameters() {
            guard let grad = p.grad else { XCTFail("no gradient for \(key)"); continue }
            assertClose(grad, g["grad." + key]!, atol: 1e-5, rtol: 1e-4, "grad \(key)")
            checked += 1
        }
        XCTAssertEqual(checked, g.keys.filter { $0.hasPrefix("grad.") }.count)
    }

    func testShapesAreCheckedAndLoRAReachesEveryPart() throws {
        var rng = RandomGenerator(seed: 1)
        let model = AVSpeechModel(config: Self.tiny, classes: 3, generator: &rng)
        XCTAssertEqual(AVSpeechModel.videoFrames(audioFrames: 15), 4)
        XCTAssertEqual(AVSpeechModel.videoFrames(audioFrames: 160), 40)
        XCTAssertThrowsError(try model(audio: Tensor.zeros([2, 6, 16]), video: Tensor.zeros([2, 5, 1, 16, 16]))) {
            XCTAssertEqual("\($0)", "the audio-visual model reads grey frames [N, 4, 1, 16, 16] beside audio [2, 6, 16]; got [2, 5, 1, 16, 16]")
        }
        XCTAssertThrowsError(try model.landmarks(audio: Tensor.zeros([2, 7, 16])))
        let lora = LoRAModel(wrapping: model)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2",
                                                                                 "conv1", "conv2", "conv3", "proj", "temporal"],
                                               modulesToSave: ["landmark_head", "classifier"]), generator: &rng)
        // Every Linear, Conv1d and Conv2d of both encoders and the fusion carries an adapter.
        let hosts = Set(lora.hosts.map(\.key))
        for key in ["audio.conv1", "audio.conv3", "audio.layers.0.self_attn.k_proj", "video.conv1", "video.conv3", "video.proj",
                    "video.temporal", "video.layers.0.fc2", "fusion.layers.0.cross_attn.q_proj", "fusion.layers.0.fc1"] {
            XCTAssertTrue(hosts.contains(key), "\(key) not among \(hosts.sorted())")
        }
        let (landmarks, logits) = try model(audio: Tensor.zeros([1, 6, 8]), video: Tensor.zeros([1, 2, 1, 16, 16]))
        XCTAssertEqual(landmarks.shape, [1, 2, 40])
        XCTAssertEqual(logits.shape, [1, 3])
    }
}
