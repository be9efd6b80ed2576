import Foundation
import Tensor

/// Kaldi's filterbank and MFCC features as `torchaudio.compliance.kaldi.fbank` and `.mfcc` compute
/// them (their defaults are these defaults; dithering is not offered, so features are
/// deterministic). Per frame of `frameLength` ms every `frameShift` ms:
///
///     remove the DC offset → log energy (raw) → pre-emphasis x[i] − 0.97·x[i−1] (x[−1] = x[0])
///     → window (Povey: Hann^0.85) → zero-pad to a power of two → |FFT|² → mel banks (Kaldi's
///     scale, triangles in the mel domain) → ln max(·, ε)   (MFCC: → DCT-II (orthonormal, c₀ with
///     weight √(1/bins)) → lifter 1 + Q/2·sin(πi/Q))
///
/// Samples are used as given: Kaldi's recipes feed 16-bit integer values (scale [−1, 1] by
/// 32768 for the same features), which shifts log energies but not their shape.
///
/// Precision: frames are prepared, and logarithms, the DCT and the lifter computed, in Float64;
/// the FFT is kissfft's Float32 and the banks a Float32 product. Against torchaudio's algorithm
/// run entirely in Float64, fbank and MFCC values differ by at most 5e-5 and 8e-5 of
/// max(1, |value|) on real speech — closer than torchaudio's own Float32 output (5e-5, 3e-4).
public struct KaldiFeatureOptions: Equatable, Sendable {
    public enum Window: String, Sendable { case povey, hanning, hamming, rectangular, blackman }

    public var sampleRate = 16_000.0
    public var frameLength = 25.0
    public var frameShift = 10.0
    public var preemphasis = 0.97
    public var removeDCOffset = true
    public var window = Window.povey
    public var blackmanCoefficient = 0.42
    public var roundToPowerOfTwo = true
    /// Only frames that fit whole (true), or frames centred every shift with the ends reflected.
    public var snipEdges = true
    /// Log energy before pre-emphasis and window (true) or after.
    public var rawEnergy = true
    /// Floor of the log energy (as an energy; 0: none).
    public var energyFloor = 1.0
    public var lowHz = 20.0
    /// Upper edge of the banks; ≤ 0 counts down from Nyquist.
    public var highHz = 0.0
    public var melBins = 23
    /// Prepend the log energy as column 0 (fbank) / replace c₀ with it (MFCC).
    public var useEnergy = false
    public var useLogFbank = true
    public var usePower = true

    public init() {}

    var windowSize: Int { Int(sampleRate * frameLength * 0.001) }
    var windowShift: Int { Int(sampleRate * frameShift * 0.001) }
    var paddedSize: Int {
        guard roundToPowerOfTwo else { return windowSize }
        var n = 1
        while n < windowSize { n *= 2 }
        return n
    }
}

public enum KaldiFeatures {
    /// Filterbank features [frames, melBins] (+1 leading energy column with `useEnergy`).
    /// - Throws: `AudioError.invalid` for options outside Kaldi's ranges.
    public static func fbank(_ samples: [Float], options o: KaldiFeatureOptions = KaldiFeatureOptions()) throws -> Tensor {
        let (mel, energy, frames) = try melEnergies(samples, o)
        guard o.useEnergy else { return Tensor(mel, shape: [frames, o.melBins]) }
        var out = [Float](repeating: 0, count: frames * (o.melBins + 1))
        for f in 0..<frames {
            out[f * (o.melBins + 1)] = energy[f]
            for b in 0..<o.melBins { out[f * (o.melBins + 1) + 1 + b] = mel[f * o.melBins + b] }
        }
        return Tensor(out, shape: [frames, o.melBins + 1])
    }

    /// MFCCs [frames, ceps]: the log filterbank (power, logarithm forced on) through an
    /// orthonormal DCT-II, liftered (`lifter` 0: not), c₀ replaced by the log energy with `useEnergy`.
    /// The logarithm, the DCT and the lifter run in Float64: the lifter multiplies the high
    /// cepstra's rounding error by up to 1 + Q/2, which in Float32 alone reaches 1e-4.
    public static func mfcc(_ samples: [Float], options: KaldiFeatureOptions = KaldiFeatureOptions(), ceps: Int = 13,
                            lifter: Double = 22) throws -> Tensor {
        var o = options
        o.useLogFbank = false
        o.usePower = true
        guard ceps >= 1, ceps <= o.melBins else { throw AudioError.invalid("MFCC: \(ceps) cepstra from \(o.melBins) mel bins (1 ≤ ceps ≤ bins)") }
        let (mel, energy, frames) = try melEnergies(samples, o)
        let n = o.melBins
        // torchaudio's create_dct(n, n, "ortho") [bins, ceps], first column √(1/n).
        var dct = [Double](repeating: 0, count: n * ceps)
        for b in 0..<n {
            for k in 0..<ceps {
                dct[b * ceps + k] = k == 0 ? (1 / Double(n)).squareRoot()
                    : cos(Double.pi / Double(n) * (Double(b) + 0.5) * Double(k)) * (2 / Double(n)).squareRoot()
            }
        }
        let lift = (0..<ceps).map { lifter != 0 ? 1 + 0.5 * lifter * sin(Double.pi * Double($0) / lifter) : 1 }
        let epsilon = Double(Float.ulpOfOne)
        var c = [Float](repeating: 0, count: frames * ceps)
        var logs = [Double](repeating: 0, count: n)
        for f in 0..<frames {
            for b in 0..<n { logs[b] = log(max(Double(mel[f * n + b]), epsilon)) }
            for k in 0..<ceps {
                var sum = 0.0
                for b in 0..<n { sum += logs[b] * dct[b * ceps + k] }
                c[f * ceps + k] = Float(sum * lift[k])
            }
            if o.useEnergy { c[f * ceps] = energy[f] }
        }
        return Tensor(c, shape: [frames, ceps])
    }

    /// The frames' mel energies [frames, bins] (log unless `useLogFbank` is off) and log energies.
    static func melEnergies(_ x: [Float], _ o: KaldiFeatureOptions) throws -> (mel: [Float], energy: [Float], frames: Int) {
        let (size, shift, padded) = (o.windowSize, o.windowShift, o.paddedSize)
        guard size >= 2, shift >= 1 else {
            throw AudioError.invalid("Kaldi features: a frame of \(o.frameLength) ms every \(o.frameShift) ms at \(o.sampleRate) Hz is \(size) samples every \(shift)")
        }
        guard o.melBins > 3 else { throw AudioError.invalid("Kaldi features: at least 4 mel bins, got \(o.melBins)") }
        let nyquist = o.sampleRate / 2
        let high = o.highHz <= 0 ? o.highHz + nyquist : o.highHz
        guard o.lowHz >= 0, o.lowHz < nyquist, high > 0, high <= nyquist, o.lowHz < high else {
            throw AudioError.invalid("Kaldi features: low frequency \(o.lowHz) Hz and high \(high) Hz do not fit below Nyquist (\(nyquist) Hz)")
        }
        let n = x.count
        let frames: Int, pad: Int
        if o.snipEdges {
            frames = n < size ? 0 : 1 + (n - size) / shift
            pad = 0
        } else {
            frames = (n + shift / 2) / shift
            pad = size / 2 - shift / 2
        }
        guard frames > 0 else { return ([], [], 0) }
        let window = windowFunction(o.window, size: size, blackman: o.blackmanCoefficient)
        var energy = [Float](repeating: 0, count: frames)
        let epsilon = Double(Float.ulpOfOne)
        let floor = o.energyFloor > 0 ? log(o.energyFloor) : -Double.infinity
        // The frames, processed up to the window, in Float64 [frames, size] (the zero padding to
        // `padded` adds nothing to the DFT below).
        var windowed = [Double](repeating: 0, count: frames * size)
        x.withUnsafeBufferPointer { s in
            windowed.withUnsafeMutableBufferPointer { framesBuffer in
                energy.withUnsafeMutableBufferPointer { energyBuffer in
                    let out = framesBuffer.baseAddress!, energies = energyBuffer.baseAddress!
                    parallelFor(frames, grain: 512) { lo, hi in
                        for f in lo..<hi {
                            let frame = out + f * size
                            for j in 0..<size {
                                // Without snipping, the signal is reflected at both ends (torchaudio's _get_strided).
                                var i = f * shift + j - pad
                                if i < 0 { i = -i - 1 } else if i >= n { i = 2 * n - 1 - i }
                                frame[j] = Double(s[i])
                            }
                            if o.removeDCOffset {
                                var mean = 0.0
                                for j in 0..<size { mean += frame[j] }
                                mean /= Double(size)
                                for j in 0..<size { frame[j] -= mean }
                            }
                            func logEnergy() -> Float {
                                var e = 0.0
                                for j in 0..<size { e += frame[j] * frame[j] }
                                return Float(max(log(max(e, epsilon)), floor))
                            }
                            if o.rawEnergy { energies[f] = logEnergy() }
                            if o.preemphasis != 0 {
                                for j in stride(from: size - 1, to: 0, by: -1) { frame[j] -= o.preemphasis * frame[j - 1] }
                                frame[0] -= o.preemphasis * frame[0]
                            }
                            for j in 0..<size { frame[j] *= window[j] }
                            if !o.rawEnergy { energies[f] = logEnergy() }
                        }
                    }
                }
            }
        }
        let banks = MelFilterBank.kaldi(sampleRate: Int(o.sampleRate), fftSize: padded, mels: o.melBins, lowHz: o.lowHz, highHz: high)
        // |FFT|² (kissfft, Float32) of each frame, then the banks as one product.
        let bins = padded / 2 + 1
        var spectra = [Float](repeating: 0, count: frames * bins)
        windowed.withUnsafeBufferPointer { w in
            spectra.withUnsafeMutableBufferPointer { out in
                let (input, output) = (w.baseAddress!, out.baseAddress!)
                parallelFor(frames, grain: 512) { lo, hi in
                    let spectrum = PowerSpectrum(fftSize: padded)
                    var buffer = [Float](repeating: 0, count: padded)
                    for f in lo..<hi {
                        for j in 0..<size { buffer[j] = Float(input[f * size + j]) }
                        buffer.withUnsafeBufferPointer { spectrum($0.baseAddress!, into: output + f * bins, magnitude: !o.usePower) }
                    }
                }
            }
        }
        var mel = Tensor(spectra, shape: [frames, bins]).matmul(Tensor(banks, shape: [o.melBins, bins]), transposeB: true).scalars
        if o.useLogFbank { for i in mel.indices { mel[i] = log(max(mel[i], Float.ulpOfOne)) } }
        return (mel, energy, frames)
    }

    /// Kaldi's windows (symmetric: `periodic=False`).
    static func windowFunction(_ type: KaldiFeatureOptions.Window, size: Int, blackman: Double) -> [Double] {
        let a = 2 * Double.pi / Double(size - 1)
        return (0..<size).map { i in
            let hann = 0.5 - 0.5 * cos(a * Double(i))
            switch type {
            case .hanning: return hann
            case .povey: return pow(hann, 0.85)
            case .hamming: return 0.54 - 0.46 * cos(a * Double(i))
            case .rectangular: return 1
            case .blackman: return blackman - 0.5 * cos(a * Double(i)) + (0.5 - blackman) * cos(2 * a * Double(i))
            }
        }
    }
}
