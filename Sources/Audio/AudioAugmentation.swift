import CKissFFT
import Foundation
import Tensor

/// Seeded augmentations of sound and of features, each a function of its input and a
/// `RandomGenerator` (so a run that saves its generators resumes with the same draws, as the image
/// transforms do):
///
/// - `addNoise(_:noise:snr:)`: noise (white, babble — a sum of other speech — or any recording)
///   scaled to a signal-to-noise ratio in dB, over the clip's whole energy.
/// - `babble(_:)`: several talkers summed, each normalised to the same energy.
/// - `bandPass(_:low:high:)`: a brick-wall band-pass through the FFT (kissfft), e.g. the telephone
///   band 300–3,400 Hz.
/// - `gain(_:decibels:)`, `speed(_:factor:)` (Kaldi's speed perturbation: resampled by the factor,
///   played at the nominal rate, so pitch and tempo change together; libsamplerate).
/// - `specAugment(_:…)`: SpecAugment's frequency and time masks on features [bins, frames].
public enum AudioAugmentation {
    /// Mean square of `x` (0 for an empty array).
    public static func power(_ x: [Float]) -> Double {
        x.isEmpty ? 0 : x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)
    }

    /// `signal + k·noise` with k chosen so that 10·log₁₀(P_signal / P_k·noise) = `snr`; the noise
    /// is looped or cut to the signal's length, starting at `offset`.
    /// - Throws: `AudioError.invalid` for silent noise, or a silent signal (no SNR is defined).
    public static func addNoise(_ signal: [Float], noise: [Float], snr: Double, offset: Int = 0) throws -> [Float] {
        guard !noise.isEmpty, !signal.isEmpty else { throw AudioError.invalid("adding noise: the signal or the noise is empty") }
        let n = (0..<signal.count).map { noise[(offset + $0) % noise.count] }
        let (ps, pn) = (power(signal), power(n))
        guard pn > 0, ps > 0 else { throw AudioError.invalid("adding noise at \(snr) dB: the \(ps > 0 ? "noise" : "signal") is silent") }
        let k = Float((ps / (pn * pow(10, snr / 10))).squareRoot())
        return zip(signal, n).map { $0 + k * $1 }
    }

    /// Talkers summed at equal energy (each scaled to the first's mean square), as long as the
    /// shortest; the sum is what babble noise is.
    public static func babble(_ talkers: [[Float]]) -> [Float] {
        guard let shortest = talkers.map(\.count).min(), shortest > 0 else { return [] }
        let reference = power(Array(talkers[0].prefix(shortest)))
        var out = [Float](repeating: 0, count: shortest)
        for t in talkers {
            let p = power(Array(t.prefix(shortest)))
            guard p > 0 else { continue }
            let k = Float((reference / p).squareRoot())
            for i in 0..<shortest { out[i] += k * t[i] }
        }
        return out
    }

    /// Frequencies outside `low ... high` Hz removed: the whole clip's real FFT (kissfft, zero-padded
    /// to an even length), the bins outside the band zeroed, the inverse transform.
    public static func bandPass(_ clip: AudioClip, low: Double, high: Double) throws -> AudioClip {
        guard low >= 0, high > low, high <= Double(clip.sampleRate) / 2 else {
            throw AudioError.invalid("band-pass \(low)–\(high) Hz does not fit below Nyquist (\(clip.sampleRate / 2) Hz)")
        }
        var channels: [[Float]] = []
        for c in 0..<clip.channels {
            var x = clip.channel(c)
            let n = x.count + x.count % 2
            guard n >= 2 else { channels.append(x); continue }
            x += [Float](repeating: 0, count: n - x.count)
            guard let forward = kiss_fftr_alloc(Int32(n), 0, nil, nil), let inverse = kiss_fftr_alloc(Int32(n), 1, nil, nil) else {
                throw AudioError.invalid("kissfft could not plan \(n) points")
            }
            defer { free(UnsafeMutableRawPointer(forward)); free(UnsafeMutableRawPointer(inverse)) }
            var spectrum = [kiss_fft_cpx](repeating: kiss_fft_cpx(), count: n / 2 + 1)
            kiss_fftr(forward, x, &spectrum)
            for k in spectrum.indices {
                let f = Double(k) * Double(clip.sampleRate) / Double(n)
                if f < low || f > high { spectrum[k] = kiss_fft_cpx() }
            }
            var y = [Float](repeating: 0, count: n)
            kiss_fftri(inverse, spectrum, &y)
            channels.append(y.prefix(clip.frames).map { $0 / Float(n) })      // kissfft's inverse is unscaled
        }
        var samples = [Float](repeating: 0, count: clip.samples.count)
        for (c, channel) in channels.enumerated() { for (f, v) in channel.enumerated() { samples[f * clip.channels + c] = v } }
        return AudioClip(samples: samples, channels: clip.channels, sampleRate: clip.sampleRate)
    }

    /// The telephone band, 300–3,400 Hz.
    public static func telephone(_ clip: AudioClip) throws -> AudioClip { try bandPass(clip, low: 300, high: 3400) }

    public static func gain(_ x: [Float], decibels: Double) -> [Float] {
        let k = Float(pow(10, decibels / 20))
        return x.map { $0 * k }
    }

    /// Speed perturbation: the clip resampled to `rate / factor` and labelled `rate` again, so it
    /// plays `factor` times faster (Kaldi's 0.9 / 1.1).
    public static func speed(_ clip: AudioClip, factor: Double) throws -> AudioClip {
        guard factor > 0 else { throw AudioError.invalid("speed factor must be positive, got \(factor)") }
        let resampled = try clip.resampled(to: Int((Double(clip.sampleRate) / factor).rounded()))
        return AudioClip(samples: resampled.samples, channels: clip.channels, sampleRate: clip.sampleRate)
    }

    /// SpecAugment (Park et al. 2019) on features [bins, frames]: `frequencyMasks` bands of
    /// ⌊U(0, maxFrequencyWidth + 1)⌋ bins and `timeMasks` spans of ⌊U(0, maxTimeWidth + 1)⌋ frames
    /// (at most `maxTimeRatio` of the frames) set to `value` (0, as ESPnet: the mean of
    /// normalised features). Defaults as ESPnet's `specaug` for 80 bins: 2 frequency masks up to
    /// 27 bins, 2 time masks up to 40 frames.
    public static func specAugment(_ features: Tensor, frequencyMasks: Int = 2, maxFrequencyWidth: Int = 27, timeMasks: Int = 2,
                                   maxTimeWidth: Int = 40, maxTimeRatio: Double = 0.2, value: Float = 0,
                                   generator: inout RandomGenerator) -> Tensor {
        precondition(features.rank == 2, "specAugment: features must be [bins, frames], got \(features.shape)")
        let (bins, frames) = (features.shape[0], features.shape[1])
        var x = features.scalars
        let fill = value
        func draw(_ upTo: Int) -> Int { upTo <= 0 ? 0 : min(upTo, Int(generator.nextUniform() * Float(upTo + 1))) }
        for _ in 0..<frequencyMasks {
            let width = draw(min(maxFrequencyWidth, bins))
            let start = draw(bins - width)
            for b in start..<(start + width) { for t in 0..<frames { x[b * frames + t] = fill } }
        }
        let limit = min(maxTimeWidth, Int(Double(frames) * maxTimeRatio))
        for _ in 0..<timeMasks {
            let width = draw(limit)
            let start = draw(frames - width)
            for b in 0..<bins { for t in start..<(start + width) { x[b * frames + t] = fill } }
        }
        return Tensor(x, shape: [bins, frames])
    }
}
