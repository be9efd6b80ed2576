@testable import Audio
import Foundation
import Tensor
import XCTest

/// Augmentations do what they say, measured: the SNR asked for, equal-energy babble, a band-pass
/// that keeps the band and removes the rest, gain in dB, speed perturbation's length and pitch,
/// and SpecAugment's seeded masks within their limits.
final class AudioAugmentationTests: XCTestCase {
    func tone(_ hz: Double, amplitude: Double = 0.5, count: Int = 16_000, rate: Int = 16_000) -> [Float] {
        (0..<count).map { Float(amplitude * sin(2 * .pi * hz * Double($0) / Double(rate))) }
    }

    func testNoiseIsAddedAtTheAskedSNR() throws {
        var rng = RandomGenerator(seed: 1)
        let signal = tone(440), noise = (0..<7000).map { _ in rng.nextNormal() }
        for snr in [-5.0, 0, 10, 20] {
            let mixed = try AudioAugmentation.addNoise(signal, noise: noise, snr: snr, offset: 123)
            let added = zip(mixed, signal).map { $0 - $1 }
            let measured = 10 * log10(AudioAugmentation.power(signal) / AudioAugmentation.power(added))
            XCTAssertEqual(measured, snr, accuracy: 1e-3)
        }
        XCTAssertThrowsError(try AudioAugmentation.addNoise(signal, noise: [0, 0, 0], snr: 5)) { XCTAssertTrue("\($0)".contains("noise is silent"), "\($0)") }
    }

    func testBabbleTalkersHaveEqualEnergy() {
        let a = tone(200, amplitude: 0.1, count: 1000), b = tone(300, amplitude: 0.4, count: 1200)
        let mix = AudioAugmentation.babble([a, b])
        XCTAssertEqual(mix.count, 1000)
        // b is scaled to a's energy: the sum's energy is about twice a's (the tones are uncorrelated).
        XCTAssertEqual(AudioAugmentation.power(mix) / AudioAugmentation.power(a), 2, accuracy: 0.05)
    }

    func testTelephoneBandKeepsTheBandAndRemovesTheRest() throws {
        let low = tone(100), inside = tone(1000), high = tone(5000)
        let clip = AudioClip(samples: zip(zip(low, inside), high).map { $0.0 + $0.1 + $1 }, sampleRate: 16_000)
        let filtered = try AudioAugmentation.telephone(clip).samples
        // Each tone completes whole periods in the second, so its bin is exact: 1 kHz stays, the others go.
        func amplitude(_ x: [Float], _ hz: Double) -> Double {
            var re = 0.0, im = 0.0
            for (i, v) in x.enumerated() { let w = 2 * Double.pi * hz * Double(i) / 16_000; re += Double(v) * cos(w); im += Double(v) * sin(w) }
            return 2 * (re * re + im * im).squareRoot() / Double(x.count)
        }
        XCTAssertEqual(amplitude(filtered, 1000), 0.5, accuracy: 1e-3)
        XCTAssertLessThan(amplitude(filtered, 100), 1e-3)
        XCTAssertLessThan(amplitude(filtered, 5000), 1e-3)
        XCTAssertThrowsError(try AudioAugmentation.bandPass(clip, low: 300, high: 9000)) { XCTAssertTrue("\($0)".contains("Nyquist"), "\($0)") }
    }

    func testGainAndSpeed() throws {
        let x = tone(1000)
        XCTAssertEqual(AudioAugmentation.gain(x, decibels: 20 * log10(2))[4], 2 * x[4], accuracy: 1e-6)
        let fast = try AudioAugmentation.speed(AudioClip(samples: x, sampleRate: 16_000), factor: 1.1)
        XCTAssertEqual(fast.sampleRate, 16_000)
        XCTAssertEqual(Double(fast.frames), 16_000 / 1.1, accuracy: 2)
        // Played at the nominal rate, the 1 kHz tone is now 1.1 kHz: count zero crossings away from the edges.
        let middle = Array(fast.samples[1000..<13_000])
        let crossings = zip(middle, middle.dropFirst()).filter { $0 < 0 && $1 >= 0 }.count
        XCTAssertEqual(Double(crossings) / (12_000 / 16_000), 1100, accuracy: 3)
    }

    func testSpecAugmentMasksAreSeededAndBounded() {
        let features = Tensor((0..<(80 * 300)).map { Float($0 % 97) + 1 }, shape: [80, 300])
        var a = RandomGenerator(seed: 4), b = RandomGenerator(seed: 4), c = RandomGenerator(seed: 5)
        let x = AudioAugmentation.specAugment(features, generator: &a)
        XCTAssertEqual(x.scalars, AudioAugmentation.specAugment(features, generator: &b).scalars)
        XCTAssertNotEqual(x.scalars, AudioAugmentation.specAugment(features, generator: &c).scalars)
        let v = x.scalars
        // Fully masked rows (frequency masks) and columns (time masks) within the limits: ≤ 2·27 rows, ≤ 2·40 columns.
        let rows = (0..<80).filter { b in (0..<300).allSatisfy { v[b * 300 + $0] == 0 } }.count
        let columns = (0..<300).filter { t in (0..<80).allSatisfy { v[$0 * 300 + t] == 0 } }.count
        XCTAssertLessThanOrEqual(rows, 54)
        XCTAssertLessThanOrEqual(columns, 80)
        XCTAssertGreaterThan(rows + columns, 0)
        // Everything not in a mask is untouched.
        for (i, value) in v.enumerated() where value != 0 { XCTAssertEqual(value, features.scalars[i]) }
    }
}
