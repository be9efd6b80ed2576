import Foundation
import Tensor

/// Whisper's log-mel spectrogram (`whisper.audio.log_mel_spectrogram`), computed the same way:
///
///     X = STFT(x), 400-point periodic Hann window, hop 160, centred (reflect padding of 200)
///     P = |X|², the last frame dropped                         [201, ⌊N / 160⌋]
///     M = log₁₀ max(F · P, 10⁻¹⁰)                              F: 80 (or 128) Slaney mel filters
///     M = max(M, max(M) − 8);  out = (M + 4) / 4               [mels, frames]
///
/// for 16 kHz mono samples. Whisper itself first pads or trims audio to 30 s (`padTo`: 480,000
/// samples), which changes the global maximum and so every value.
public enum WhisperFeatures {
    public static let sampleRate = 16_000
    public static let fftSize = 400
    public static let hop = 160
    /// Whisper's 30-second input.
    public static let chunkSamples = 480_000

    /// The features [mels, frames] of `samples` (16 kHz mono), zero-padded (or trimmed) to
    /// `padTo` samples first when given.
    /// - Throws: `AudioError.invalid` when there are too few samples to reflect-pad (≤ 200).
    public static func logMel(_ samples: [Float], mels: Int = 80, padTo: Int? = nil) throws -> Tensor {
        var x = samples
        if let padTo {
            if x.count > padTo { x.removeLast(x.count - padTo) } else { x += [Float](repeating: 0, count: padTo - x.count) }
        }
        let half = fftSize / 2
        guard x.count > half else {
            throw AudioError.invalid("Whisper features need more than \(half) samples (reflect padding), got \(x.count)")
        }
        let frames = x.count / hop
        let bins = fftSize / 2 + 1
        let window = (0..<fftSize).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(fftSize))) }
        var power = [Float](repeating: 0, count: frames * bins)
        x.withUnsafeBufferPointer { s in
            power.withUnsafeMutableBufferPointer { out in
                let outBase = out.baseAddress!
                parallelFor(frames, grain: 512) { lo, hi in
                    let spectrum = PowerSpectrum(fftSize: fftSize)
                    var frame = [Float](repeating: 0, count: fftSize)
                    for f in lo..<hi {
                        // Frame f covers padded samples f·hop ..< f·hop + 400, i.e. x[f·hop − 200 ...], reflected at the edges.
                        for j in 0..<fftSize {
                            var i = f * hop - half + j
                            if i < 0 { i = -i } else if i >= s.count { i = 2 * (s.count - 1) - i }
                            frame[j] = s[i] * window[j]
                        }
                        frame.withUnsafeBufferPointer { spectrum($0.baseAddress!, into: outBase + f * bins) }
                    }
                }
            }
        }
        let filters = Tensor(MelFilterBank.slaney(sampleRate: sampleRate, fftSize: fftSize, mels: mels), shape: [mels, bins])
        var m = filters.matmul(Tensor(power, shape: [frames, bins]), transposeB: true).scalars     // [mels, frames]
        var top = -Float.infinity
        for i in m.indices {
            m[i] = log10(max(m[i], 1e-10))
            top = max(top, m[i])
        }
        for i in m.indices { m[i] = (max(m[i], top - 8) + 4) / 4 }
        return Tensor(m, shape: [mels, frames])
    }
}
