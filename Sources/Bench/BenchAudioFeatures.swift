import ArgumentParser
import Audio
import Foundation
import Tensor

/// `lorakit bench audio-features`: feature extraction of `--seconds` of 16 kHz audio (a seeded mix
/// of tones and noise): Whisper's log-mel spectrogram (80 bins, kissfft), Kaldi filterbanks (80
/// bins) and MFCCs (13 of 23 bins; both on kissfft too). `scripts/reference/audio_features.py`
/// times the same with torch (Whisper's recipe) and `torchaudio.compliance.kaldi`, alternating
/// with this command round by round.
struct BenchAudioFeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audio-features",
        abstract: "Time Whisper log-mel, Kaldi fbank and MFCC extraction of an hour (--seconds) of 16 kHz audio."
    )

    @Option(help: "Seconds of audio.") var seconds = 3600.0
    @Option(help: "Rounds (medians are reported).") var rounds = 3
    @Option(help: "Threads.") var threads = 2
    @Flag(help: "Print one JSON object.") var json = false

    struct Result: Codable {
        var implementation = "lorakit"
        var seconds_of_audio: Double
        var threads: Int
        /// Seconds per extraction, median over rounds, by feature.
        var whisper_s: Double
        var fbank_s: Double
        var mfcc_s: Double
    }

    func run() throws {
        Threads.set(threads)
        let n = Int(seconds * 16_000)
        var rng = RandomGenerator(seed: 1)
        var x = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let t = Double(i) / 16_000
            x[i] = Float(0.3 * sin(2 * .pi * 440 * t) + 0.1 * sin(2 * .pi * 3100 * t)) + (rng.nextUniform() - 0.5) * 0.1
        }
        let scaled = x.map { $0 * 32768 }
        var mfcc = KaldiFeatureOptions()
        mfcc.melBins = 23
        var fbank = KaldiFeatureOptions()
        fbank.melBins = 80
        var times: [String: [Double]] = [:]
        for _ in 0..<rounds {
            for (name, body) in [("whisper", { _ = try WhisperFeatures.logMel(x) }),
                                 ("fbank", { _ = try KaldiFeatures.fbank(scaled, options: fbank) }),
                                 ("mfcc", { _ = try KaldiFeatures.mfcc(scaled, options: mfcc) })] as [(String, () throws -> Void)] {
                let start = DispatchTime.now()
                try body()
                times[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            }
        }
        let result = Result(seconds_of_audio: seconds, threads: threads, whisper_s: BenchProcess.median(times["whisper"]!),
                            fbank_s: BenchProcess.median(times["fbank"]!), mfcc_s: BenchProcess.median(times["mfcc"]!))
        if json { print(try BenchProcess.json(result)); return }
        print(String(format: "%.0f s of 16 kHz audio, %d threads, median of %d rounds:", seconds, threads, rounds))
        for (name, s) in [("Whisper log-mel (80)", result.whisper_s), ("Kaldi fbank (80)", result.fbank_s), ("Kaldi MFCC (13 of 23)", result.mfcc_s)] {
            print("  " + name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%7.2f s  (%.0f× real time)", s, seconds / s))
        }
    }
}

