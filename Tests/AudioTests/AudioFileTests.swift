@testable import Audio
import CSndfile
import Foundation
import XCTest

/// Sound files through libsndfile: WAV read to the exact 16-bit values, WAV/FLAC written and read
/// back, OGG Vorbis, Opus and MP3 decoded, chunked and ranged reads, downmixing and libsamplerate
/// resampling; bad files are errors that name the file and say what is wrong.
final class AudioFileTests: XCTestCase {
    var fixture: String { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("synthetic.wav").path }

    func temporary(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "audio-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir + "/" + name
    }

    /// A stereo test signal: a 440 Hz sine on the left, a 1 kHz one at half amplitude on the right.
    func stereo(rate: Int = 16_000, seconds: Double = 0.5) -> AudioClip {
        let frames = Int(Double(rate) * seconds)
        var samples = [Float](repeating: 0, count: frames * 2)
        for f in 0..<frames {
            let t = Double(f) / Double(rate)
            samples[2 * f] = Float(0.6 * sin(2 * .pi * 440 * t))
            samples[2 * f + 1] = Float(0.3 * sin(2 * .pi * 1000 * t))
        }
        return AudioClip(samples: samples, channels: 2, sampleRate: rate)
    }

    func testWAVIsReadToTheExact16BitValues() throws {
        let clip = try AudioFile.read(fixture)
        XCTAssertEqual(clip.sampleRate, 16_000)
        XCTAssertEqual(clip.channels, 1)
        XCTAssertEqual(clip.frames, 20_000)
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let pcm = data.subdata(in: 44..<data.count).withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        XCTAssertEqual(clip.samples, pcm.map { Float(Int16(littleEndian: $0)) / 32768 })
        let info = try AudioFile.info(fixture)
        XCTAssertEqual(info.frames, 20_000)
        XCTAssertTrue(info.format.contains("WAV") && info.format.contains("16"), info.format)
    }

    func testWritingAndReadingBackEveryWrittenFormat() throws {
        let clip = stereo()
        for format in [AudioFileFormat.wav16, .wavFloat, .flac16, .flac24] {
            let path = temporary("out.\(format == .flac16 || format == .flac24 ? "flac" : "wav")")
            try AudioFile.write(clip, to: path, format: format)
            let back = try AudioFile.read(path)
            XCTAssertEqual(back.channels, 2)
            XCTAssertEqual(back.sampleRate, 16_000)
            XCTAssertEqual(back.frames, clip.frames)
            let worst = zip(back.samples, clip.samples).map { abs($0 - $1) }.max()!
            // libsndfile writes integers as x·(2ᵇ⁻¹ − 1) and reads them as q / 2ᵇ⁻¹: within 1.5 steps.
            let step: Float = format == .wavFloat ? 0 : format == .flac24 ? 1.5 / 8_388_608 : 1.5 / 32768
            XCTAssertLessThanOrEqual(worst, step, "\(format)")
            // Nothing but the file itself is left in the directory (the temporary was renamed).
            let dir = (path as NSString).deletingLastPathComponent
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [(path as NSString).lastPathComponent])
        }
    }

    /// Writes `clip` through libsndfile's C API in a format `AudioFile.write` does not offer.
    func writeRaw(_ clip: AudioClip, to path: String, format: Int32) throws {
        var info = SF_INFO()
        info.samplerate = Int32(clip.sampleRate)
        info.channels = Int32(clip.channels)
        info.format = format
        guard sf_format_check(&info) != 0 else { throw XCTSkip("libsndfile here does not write format \(String(format: "%x", format))") }
        let file = try XCTUnwrap(sf_open(path, Int32(SFM_WRITE), &info), String(cString: sf_strerror(nil)))
        _ = clip.samples.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, sf_count_t(clip.frames)) }
        sf_close(file)
    }

    func testLossyFormatsAreDecoded() throws {
        // 48 kHz (Opus's rate); each decoded signal correlates with what was encoded.
        let clip = stereo(rate: 48_000, seconds: 1)
        let formats: [(String, Int32)] = [("ogg", Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)), ("opus", Int32(SF_FORMAT_OGG | SF_FORMAT_OPUS)),
                                          ("mp3", Int32(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III))]
        for (ext, code) in formats {
            let path = temporary("lossy.\(ext)")
            try writeRaw(clip, to: path, format: code)
            let back = try AudioFile.read(path)
            XCTAssertEqual(back.channels, 2, ext)
            XCTAssertEqual(back.sampleRate, 48_000, ext)
            // Codecs add delay and padding: compare the left channel's energy and its 440 Hz content.
            let left = back.channel(0)
            XCTAssertGreaterThan(left.count, 40_000, ext)
            let rms = (left.reduce(0) { $0 + $1 * $1 } / Float(left.count)).squareRoot()
            XCTAssertEqual(Double(rms), 0.6 / 2.squareRoot(), accuracy: 0.05, ext)
            XCTAssertEqual(dominantFrequency(Array(left[12_000..<28_000]), rate: 48_000), 440, accuracy: 5, ext)
        }
    }

    func testChunkedAndRangedReadsAgreeWithTheWholeFile() throws {
        let whole = try AudioFile.read(fixture)
        let reader = try AudioReader(path: fixture)
        var chunks: [Float] = []
        while let chunk = try reader.read(frames: 3001) { chunks += chunk.samples }
        XCTAssertEqual(chunks, whole.samples)
        XCTAssertNil(try reader.read(frames: 10))
        let middle = try AudioFile.read(fixture, start: 12_345, frames: 1000)
        XCTAssertEqual(middle.samples, Array(whole.samples[12_345..<13_345]))
        XCTAssertThrowsError(try AudioFile.read(fixture, start: 19_500, frames: 1000)) {
            XCTAssertTrue("\($0)".contains("synthetic.wav") && "\($0)".contains("20000 frames"), "\($0)")
        }
    }

    func testDownmixAndResampling() throws {
        let clip = stereo(rate: 44_100, seconds: 1)
        let mono = clip.mono()
        XCTAssertEqual(mono.channels, 1)
        for f in [0, 17, 30_000] { XCTAssertEqual(mono.samples[f], (clip.samples[2 * f] + clip.samples[2 * f + 1]) / 2, accuracy: 1e-7) }
        let down = try clip.resampled(to: 16_000)
        XCTAssertEqual(down.sampleRate, 16_000)
        XCTAssertEqual(down.channels, 2)
        XCTAssertEqual(down.frames, 16_000, accuracy: 1)
        // The tones keep their frequency and amplitude away from the edges.
        let left = Array(down.channel(0)[2000..<14_000]), right = Array(down.channel(1)[2000..<14_000])
        XCTAssertEqual(dominantFrequency(left, rate: 16_000), 440, accuracy: 2)
        XCTAssertEqual(dominantFrequency(right, rate: 16_000), 1000, accuracy: 2)
        XCTAssertEqual(left.map(abs).max()!, 0.6, accuracy: 0.005)
        // Against the exact sine at the new rate (libsamplerate's delay is compensated).
        let exact = (2000..<14_000).map { Float(0.6 * sin(2 * .pi * 440 * Double($0) / 16_000)) }
        XCTAssertLessThan(zip(left, exact).map { abs($0 - $1) }.max()!, 2e-3)
        XCTAssertEqual(try clip.resampled(to: 44_100), clip)
        XCTAssertThrowsError(try clip.resampled(to: 100)) { XCTAssertTrue("\($0)".contains("44100 Hz to 100 Hz"), "\($0)") }
    }

    func testBadFilesAreErrorsNamingThem() throws {
        let missing = temporary("missing.wav")
        XCTAssertThrowsError(try AudioFile.read(missing)) { XCTAssertEqual("\($0)", "\(missing): cannot read it as audio: no such file") }
        let text = temporary("notes.wav")
        try "not a sound".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AudioFile.read(text)) { XCTAssertTrue("\($0)".hasPrefix("\(text): cannot read it as audio: "), "\($0)") }
        // A header with no samples.
        let empty = temporary("empty.wav")
        try AudioFile.write(AudioClip(samples: [], sampleRate: 16_000), to: empty)
        XCTAssertThrowsError(try AudioFile.read(empty)) { XCTAssertEqual("\($0)", "\(empty): the file holds no audio samples") }
        // Cut in the middle of its data: the header announces more than can be decoded.
        let cut = temporary("cut.wav")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture))
        try bytes.prefix(44 + 20_000).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try AudioFile.read(cut)) { error in
            XCTAssertEqual("\(error)", "\(cut): truncated or corrupt: the header announces 20000 frames, 10000 could be decoded")
        }
        // A FLAC with flipped bytes in its frames.
        let flac = temporary("damaged.flac")
        try AudioFile.write(try AudioFile.read(fixture), to: flac)
        var damaged = try Data(contentsOf: URL(fileURLWithPath: flac))
        for i in stride(from: damaged.count / 3, to: damaged.count / 3 + 400, by: 7) { damaged[i] ^= 0x5A }
        try damaged.write(to: URL(fileURLWithPath: flac))
        do {
            let decoded = try AudioFile.read(flac)
            XCTAssertEqual(decoded.frames, 20_000, "a FLAC decoder that conceals damage still returns every frame")
        } catch { XCTAssertTrue("\(error)".hasPrefix(flac), "\(error)") }
        // Writing where no directory exists: an error naming the path; nothing written.
        let nowhere = temporary("no/such/dir/out.wav")
        XCTAssertThrowsError(try AudioFile.write(stereo(), to: nowhere)) { XCTAssertTrue("\($0)".hasPrefix(nowhere), "\($0)") }
    }
}

/// The frequency (Hz) of the largest DFT bin of `x` (a naive DFT over 1-Hz steps near the audio band).
func dominantFrequency(_ x: [Float], rate: Int) -> Double {
    var best = (0.0, 0.0)
    for f in stride(from: 50.0, to: 4000, by: 1) {
        var re = 0.0, im = 0.0
        let w = 2 * Double.pi * f / Double(rate)
        for (i, v) in x.enumerated() where i % 2 == 0 || x.count < 20_000 {
            re += Double(v) * cos(w * Double(i))
            im += Double(v) * sin(w * Double(i))
        }
        let p = re * re + im * im
        if p > best.1 { best = (f, p) }
    }
    return best.0
}
