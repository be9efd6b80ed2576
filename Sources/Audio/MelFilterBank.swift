import Foundation

/// Triangular mel filter banks as the reference feature extractors build them, row-major
/// [mels, bins] over the `fftSize / 2 + 1` bins of a real FFT.
public enum MelFilterBank {
    /// Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa's `mel(htk=False)`.
    public static func slaneyMel(_ hz: Double) -> Double {
        let (fSp, minLogHz) = (200.0 / 3, 1000.0)
        let minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
        return hz >= minLogHz ? minLogMel + log(hz / minLogHz) / logStep : hz / fSp
    }

    public static func slaneyHz(_ mel: Double) -> Double {
        let (fSp, minLogHz) = (200.0 / 3, 1000.0)
        let minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
        return mel >= minLogMel ? minLogHz * exp(logStep * (mel - minLogMel)) : fSp * mel
    }

    /// librosa's `filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm="slaney")`
    /// (Whisper's filters): triangles between mel-spaced edges in Hz, each scaled by
    /// 2 / (upper − lower edge) so that it has unit area.
    public static func slaney(sampleRate: Int, fftSize: Int, mels: Int, minHz: Double = 0, maxHz: Double? = nil) -> [Float] {
        let bins = fftSize / 2 + 1
        let maxHz = maxHz ?? Double(sampleRate) / 2
        let fftHz = (0..<bins).map { Double($0) * Double(sampleRate) / Double(fftSize) }
        let (lo, hi) = (slaneyMel(minHz), slaneyMel(maxHz))
        let edges = (0..<(mels + 2)).map { slaneyHz(lo + (hi - lo) * Double($0) / Double(mels + 1)) }
        var weights = [Float](repeating: 0, count: mels * bins)
        for m in 0..<mels {
            let (left, center, right) = (edges[m], edges[m + 1], edges[m + 2])
            let norm = 2 / (right - left)
            for (k, f) in fftHz.enumerated() {
                let rising = (f - left) / (center - left), falling = (right - f) / (right - center)
                weights[m * bins + k] = Float(max(0, min(rising, falling)) * norm)
            }
        }
        return weights
    }

    /// Kaldi's mel scale, 1127 ln(1 + f / 700).
    public static func kaldiMel(_ hz: Double) -> Double { 1127 * log(1 + hz / 700) }

    /// Kaldi's (and `torchaudio.compliance.kaldi`'s) banks without vocal-tract warping: triangles
    /// with edges evenly spaced in Kaldi's mel scale between `lowHz` and `highHz`, computed in the
    /// mel domain, over `fftSize / 2 + 1` bins (the last, Nyquist's, always 0). Computed in
    /// Float64 (Kaldi and torchaudio use Float32; the slopes near a triangle's feet are differences
    /// of mel values near 2,800, where that rounding alone moves liftered MFCCs by ~1e-4).
    public static func kaldi(sampleRate: Int, fftSize: Int, mels: Int, lowHz: Double, highHz: Double) -> [Float] {
        let bins = fftSize / 2 + 1
        let binWidth = Double(sampleRate) / Double(fftSize)
        let (lo, hi) = (kaldiMel(lowHz), kaldiMel(highHz))
        let delta = (hi - lo) / Double(mels + 1)
        var weights = [Float](repeating: 0, count: mels * bins)
        for m in 0..<mels {
            let left = lo + Double(m) * delta, center = lo + Double(m + 1) * delta, right = lo + Double(m + 2) * delta
            for k in 0..<(bins - 1) {
                let mel = kaldiMel(binWidth * Double(k))
                let up = (mel - left) / (center - left), down = (right - mel) / (right - center)
                weights[m * bins + k] = Float(max(0, min(up, down)))
            }
        }
        return weights
    }
}
