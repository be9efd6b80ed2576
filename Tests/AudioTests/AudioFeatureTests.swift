@testable import Audio
import Foundation
import Tensor
import XCTest

/// Features against the reference implementations (Fixtures/features.json from
/// scripts/make_audio_goldens.py): Whisper's log-mel spectrogram (as `whisper.audio` computes it,
/// equal to transformers' extractor), and `torchaudio.compliance.kaldi`'s fbank and MFCC with their
/// defaults and with other options, on a synthetic signal and on real speech (Debian's
/// pocketsphinx-testdata, installed by scripts/setup).
final class AudioFeatureTests: XCTestCase {
    struct Golden: Decodable { let shape: [Int]; let values: [Float] }
    struct Signal: Decodable {
        let whisper: Golden, whisper_padded_head: Golden, fbank80: Golden, mfcc: Golden, fbank_variant: Golden, mfcc_variant: Golden
    }
    struct Goldens: Decodable { let speech_file: String; let speech_frames: Int; let synthetic: Signal; let speech: Signal }

    static func goldens() throws -> Goldens {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("features.json")
        return try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: url))
    }

    func signals() throws -> [(String, [Float], Signal)] {
        let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let synthetic = try AudioFile.read(fixtures.appendingPathComponent("synthetic.wav").path).samples
        let g = try Self.goldens()
        guard FileManager.default.fileExists(atPath: g.speech_file) else {
            XCTFail("\(g.speech_file) is missing: install Debian's pocketsphinx-testdata (scripts/setup does)")
            return [("synthetic", synthetic, g.synthetic)]
        }
        let speech = try AudioFile.read(g.speech_file, frames: g.speech_frames).samples
        return [("synthetic", synthetic, g.synthetic), ("speech", speech, g.speech)]
    }

    func assertMatches(_ t: Tensor, _ golden: Golden, tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(t.shape, golden.shape, what, file: file, line: line)
        guard t.shape == golden.shape else { return }
        let worst = zip(t.scalars, golden.values).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, "\(what): worst difference \(worst)", file: file, line: line)
    }

    func testWhisperLogMelMatchesWhisper() throws {
        for (name, x, g) in try signals() {
            assertMatches(try WhisperFeatures.logMel(x), g.whisper, tolerance: 1e-4, "\(name) whisper")
            let padded = try WhisperFeatures.logMel(x, padTo: WhisperFeatures.chunkSamples)
            XCTAssertEqual(padded.shape, [80, 3000])
            assertMatches(padded.slice(axis: 1, start: 0, end: 20), g.whisper_padded_head, tolerance: 1e-4, "\(name) whisper 30 s")
        }
        XCTAssertThrowsError(try WhisperFeatures.logMel([Float](repeating: 0, count: 150))) { XCTAssertTrue("\($0)".contains("150"), "\($0)") }
    }

    func testKaldiFbankAndMFCCMatchTorchaudio() throws {
        var variant = KaldiFeatureOptions()
        variant.melBins = 40
        variant.snipEdges = false
        variant.useEnergy = true
        variant.window = .hamming
        variant.rawEnergy = false
        variant.lowHz = 60
        variant.highHz = -400
        var mfccVariant = KaldiFeatureOptions()
        mfccVariant.melBins = 40
        mfccVariant.useEnergy = true
        for (name, samples, g) in try signals() {
            let x = samples.map { $0 * 32768 }          // Kaldi's scale, as the goldens
            var o = KaldiFeatureOptions()
            o.melBins = 80
            assertMatches(try KaldiFeatures.fbank(x, options: o), g.fbank80, tolerance: 1e-4, "\(name) fbank")
            assertMatches(try KaldiFeatures.mfcc(x), g.mfcc, tolerance: 1e-4, "\(name) mfcc")
            assertMatches(try KaldiFeatures.fbank(x, options: variant), g.fbank_variant, tolerance: 1e-4, "\(name) fbank variant")
            assertMatches(try KaldiFeatures.mfcc(x, options: mfccVariant, ceps: 20, lifter: 0), g.mfcc_variant, tolerance: 1e-4,
                          "\(name) mfcc variant")
        }
        var bad = KaldiFeatureOptions()
        bad.highHz = 9000
        XCTAssertThrowsError(try KaldiFeatures.fbank([Float](repeating: 0, count: 1000), options: bad)) {
            XCTAssertTrue("\($0)".contains("9000"), "\($0)")
        }
        XCTAssertEqual(try KaldiFeatures.fbank([Float](repeating: 0, count: 100)).shape, [0, 23], "shorter than a frame: no frames")
    }
}
