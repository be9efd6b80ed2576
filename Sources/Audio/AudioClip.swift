import CSamplerate
import Foundation

/// Sound in memory: Float32 samples in [−1, 1] (as libsndfile normalises any integer format),
/// interleaved frame by frame (`samples[frame · channels + channel]`), at `sampleRate` Hz.
public struct AudioClip: Equatable, Sendable {
    public var samples: [Float]
    public var channels: Int
    public var sampleRate: Int

    public init(samples: [Float], channels: Int = 1, sampleRate: Int) {
        precondition(channels >= 1 && samples.count % channels == 0,
                     "AudioClip: \(samples.count) samples do not make whole frames of \(channels) channels")
        precondition(sampleRate >= 1, "AudioClip: sample rate \(sampleRate)")
        self.samples = samples
        self.channels = channels
        self.sampleRate = sampleRate
    }

    public var frames: Int { samples.count / channels }
    public var seconds: Double { Double(frames) / Double(sampleRate) }

    /// One channel's samples.
    public func channel(_ c: Int) -> [Float] {
        precondition(c >= 0 && c < channels, "AudioClip: channel \(c) of \(channels)")
        return stride(from: c, to: samples.count, by: channels).map { samples[$0] }
    }

    /// The channels averaged into one (the downmix `torchaudio`, `librosa` and `soundfile` users
    /// apply: the mean, so a full-scale signal stays full-scale).
    public func mono() -> AudioClip {
        guard channels > 1 else { return self }
        var out = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(channels)
        samples.withUnsafeBufferPointer { s in
            for f in 0..<frames {
                var sum: Float = 0
                for c in 0..<channels { sum += s[f * channels + c] }
                out[f] = sum * scale
            }
        }
        return AudioClip(samples: out, channels: 1, sampleRate: sampleRate)
    }

    /// Converter quality of `resampled(to:)` (libsamplerate's band-limited sinc converters).
    public enum ResampleQuality: Sendable {
        /// 97 dB signal-to-noise, 97 % bandwidth (`SRC_SINC_BEST_QUALITY`).
        case best
        /// 97 dB, 90 % bandwidth (`SRC_SINC_MEDIUM_QUALITY`): several times faster.
        case medium
        /// 97 dB, 80 % bandwidth (`SRC_SINC_FASTEST`).
        case fastest

        var converter: Int32 {
            switch self {
            case .best: return Int32(SRC_SINC_BEST_QUALITY)
            case .medium: return Int32(SRC_SINC_MEDIUM_QUALITY)
            case .fastest: return Int32(SRC_SINC_FASTEST)
            }
        }
    }

    /// The clip at `rate` Hz, converted by libsamplerate (band-limited sinc interpolation, every
    /// channel). The same rate returns the clip as it is.
    /// - Throws: `AudioError.invalid` for a rate outside 1 Hz … 256× the clip's, or what libsamplerate reports.
    public func resampled(to rate: Int, quality: ResampleQuality = .best) throws -> AudioClip {
        guard rate != sampleRate else { return self }
        let ratio = Double(rate) / Double(sampleRate)
        guard rate >= 1, ratio <= 256, ratio >= 1.0 / 256 else {
            throw AudioError.invalid("cannot resample \(sampleRate) Hz to \(rate) Hz (libsamplerate converts ratios from 1/256 to 256)")
        }
        guard frames > 0 else { return AudioClip(samples: [], channels: channels, sampleRate: rate) }
        let capacity = Int((Double(frames) * ratio).rounded(.up)) + 16
        var out = [Float](repeating: 0, count: capacity * channels)
        var produced = 0
        let status: Int32 = samples.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                var data = SRC_DATA()
                data.data_in = input.baseAddress
                data.input_frames = Int(frames)
                data.data_out = output.baseAddress
                data.output_frames = Int(capacity)
                data.src_ratio = ratio
                data.end_of_input = 1
                let status = src_simple(&data, quality.converter, Int32(channels))
                produced = Int(data.output_frames_gen)
                return status
            }
        }
        guard status == 0 else {
            throw AudioError.invalid("resampling \(sampleRate) Hz to \(rate) Hz failed: \(String(cString: src_strerror(status)))")
        }
        out.removeLast((capacity - produced) * channels)
        return AudioClip(samples: out, channels: channels, sampleRate: rate)
    }
}
