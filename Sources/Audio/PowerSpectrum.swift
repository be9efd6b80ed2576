import CKissFFT
import Foundation

/// |FFT|² of real frames through kissfft's real transform (Debian's `libkissfft-dev`, float):
/// `fftSize` samples in, `fftSize / 2 + 1` bins out. One instance per thread: kissfft's plan
/// holds scratch space.
final class PowerSpectrum {
    let fftSize: Int
    var bins: Int { fftSize / 2 + 1 }
    private let plan: kiss_fftr_cfg
    private var spectrum: [kiss_fft_cpx]

    init(fftSize: Int) {
        precondition(fftSize >= 2 && fftSize % 2 == 0, "PowerSpectrum: kissfft's real transform needs an even size, got \(fftSize)")
        self.fftSize = fftSize
        guard let plan = kiss_fftr_alloc(Int32(fftSize), 0, nil, nil) else {
            fatalError("kissfft could not allocate a plan of \(fftSize) points")     // only when out of memory
        }
        self.plan = plan
        spectrum = [kiss_fft_cpx](repeating: kiss_fft_cpx(), count: fftSize / 2 + 1)
    }

    deinit { free(UnsafeMutableRawPointer(plan)) }

    /// `frame[0..<fftSize]` → `out[0..<bins]` = re² + im² (`magnitude` true: √ of it).
    func callAsFunction(_ frame: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, magnitude: Bool = false) {
        spectrum.withUnsafeMutableBufferPointer { s in
            kiss_fftr(plan, frame, s.baseAddress)
            for k in 0..<bins {
                let p = s[k].r * s[k].r + s[k].i * s[k].i
                out[k] = magnitude ? p.squareRoot() : p
            }
        }
    }
}
