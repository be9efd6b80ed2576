@testable import AudioVisualModels
import Foundation
import NN
import SafeTensors
import Tensor
import TestSupport
import XCTest

/// The sync model against PyTorch (Fixtures/sync_model.safetensors from scripts/make_av_goldens.py,
/// av_peft.py's SyncNet in float64): window embeddings, the multi-way matching loss and its
/// gradients; SyncNet's clip score against syncnet_python's own calc_pdist and evaluate code.
final class SyncNetTests: XCTestCase {
    static let tiny = SyncNetConfig(mels: 6, width: 8, embedding: 5, frameSize: 16)

    private func golden() throws -> [String: Tensor] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "sync_model", withExtension: "safetensors", subdirectory: "Fixtures"))
        return try SafeTensorsFile(contentsOf: url).tensors()
    }

    func testEmbeddingsLossAndGradientsMatchPyTorch() throws {
        let g = try golden()
        var rng = RandomGenerator(seed: 3)
        let model = SyncNet(config: Self.tiny, generator: &rng)
        var weights: [String: Tensor] = [:]
        for (k, v) in g where k.hasPrefix("model.") { weights[String(k.dropFirst(6))] = v }
        XCTAssertEqual(Set(model.stateDict().keys), Set(weights.keys), "the state-dict keys are the PyTorch model's")
        try model.load(weights)
        let audio = g["audio"]!.requiringGrad(), video = g["video"]!.requiringGrad()
        let (a, v) = try model(audio: audio, video: video)
        assertClose(a, g["emb_audio"]!, atol: 1e-5, rtol: 1e-4, "audio embeddings")
        assertClose(v, g["emb_video"]!, atol: 1e-5, rtol: 1e-4, "video embeddings")
        let (loss, correct, windows) = try SyncNet.matchingLoss(video: v, audio: a, shifts: 1)
        XCTAssertEqual(loss.item, g["loss"]!.scalars[0], accuracy: 1e-5)
        XCTAssertEqual(windows, 2)
        XCTAssertTrue((0...2).contains(correct))
        loss.backward()
        assertClose(try XCTUnwrap(audio.grad), g["grad_audio"]!, atol: 1e-5, rtol: 1e-4, "grad audio")
        assertClose(try XCTUnwrap(video.grad), g["grad_video"]!, atol: 1e-5, rtol: 1e-4, "grad video")
        for (key, p) in model.namedParameters() {
            assertClose(try XCTUnwrap(p.grad, key), g["grad." + key]!, atol: 1e-5, rtol: 1e-4, "grad \(key)")
        }
    }

    func testClipScoreIsSyncNets() throws {
        let g = try golden()
        let video = g["score_video"]!.scalars, audio = g["score_audio"]!.scalars
        for (vshift, key) in [(4, "score_v4"), (15, "score_v15")] {
            let expected = g[key]!.scalars
            let score = SyncScore(video: video, audio: audio, dimension: 5, vshift: vshift)
            XCTAssertEqual(score.distance, Double(expected[0]), accuracy: 1e-5, "LSE-D, vshift \(vshift)")
            XCTAssertEqual(score.confidence, Double(expected[1]), accuracy: 1e-5, "LSE-C, vshift \(vshift)")
            XCTAssertEqual(score.offset, Int(expected[2]), "offset, vshift \(vshift)")
        }
        // The audio is the video two windows later: the offset says so.
        XCTAssertEqual(SyncScore(video: video, audio: audio, dimension: 5, vshift: 4).offset, 2)
        // In sync, identical features: distance ~0 at offset 0.
        let same = SyncScore(video: video, audio: video, dimension: 5, vshift: 3)
        XCTAssertEqual(same.offset, 0)
        XCTAssertLessThan(same.distance, 1e-4)
        XCTAssertGreaterThan(same.confidence, 0)
    }

    func testShapesAreCheckedAndTheEvaluationSummarises() throws {
        var rng = RandomGenerator(seed: 1)
        let model = SyncNet(config: Self.tiny, generator: &rng)
        XCTAssertThrowsError(try model(audio: Tensor.zeros([1, 6, 16]), video: Tensor.zeros([1, 4, 1, 16, 16]))) {
            XCTAssertEqual("\($0)", "the sync model reads grey frames [N, T ≥ 5, 1, 16, 16]; got [1, 4, 1, 16, 16]")
        }
        XCTAssertThrowsError(try model(audio: Tensor.zeros([1, 6, 16]), video: Tensor.zeros([1, 5, 1, 16, 16]))) {
            XCTAssertTrue("\($0)".contains("log-mel [N, 6, 4 × 5 (+ up to 3)]"), "\($0)")
        }
        let (a, v) = try model(audio: Tensor.zeros([1, 6, 23]), video: Tensor.zeros([1, 5, 1, 16, 16]))
        XCTAssertEqual(a.shape, [1, 1, 5])
        XCTAssertEqual(v.shape, [1, 1, 5])
        XCTAssertThrowsError(try SyncNet.matchingLoss(video: v, audio: a, shifts: 1))

        var e = SyncEvaluation()
        e.add(SyncPredictions(scores: [SyncScore(distance: 6, confidence: 8, offset: 0), SyncScore(distance: 8, confidence: 2, offset: -3)],
                              correct: 3, windows: 4))
        let values = e.values()
        XCTAssertEqual(values["lse_d"], 7)
        XCTAssertEqual(values["lse_c"], 5)
        XCTAssertEqual(values["av_offset"], 1.5)
        XCTAssertEqual(values["offset_accuracy"], 0.5)
        XCTAssertEqual(values["match_accuracy"], 0.75)

        var lips = LipsEvaluation()
        lips.add(LipsPredictions(predicted: [Float](repeating: 1, count: 40), target: [Float](repeating: 1, count: 40),
                                 sync: [SyncScore(distance: 9, confidence: 1, offset: 1)], truthSync: [SyncScore(distance: 7, confidence: 3, offset: 1)]))
        let l = lips.values()
        XCTAssertEqual(l["lse_d"], 9)
        XCTAssertEqual(l["lse_d_truth"], 7)
        XCTAssertEqual(l["offset_agreement"], 1)
    }

    func testStandardisedFrames() {
        let frame = MouthFrames.standardised([0.2, 0.4, 0.6, 0.8])
        XCTAssertEqual(frame.reduce(0, +), 0, accuracy: 1e-6)
        XCTAssertEqual(frame.map { $0 * $0 }.reduce(0, +) / 4, 1, accuracy: 1e-5)
        XCTAssertEqual(MouthFrames.standardised([0.5, 0.5]), [0, 0], "a flat frame stays flat")
    }
}
