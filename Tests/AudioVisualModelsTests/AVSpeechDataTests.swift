import Audio
import AudioModels
@testable import AudioVisualModels
import Foundation
import ImageModels
import TestSupport
import XCTest

/// The audio-visual speech generator's parts: eSpeak NG's phoneme timing, the viseme map,
/// coarticulation, the 68-point mouth landmarks, rendering, and the clips on disk.
final class AVSpeechDataTests: XCTestCase {
    func testEspeakGivesAudioWithPhoneTiming() throws {
        let spoken = try EspeakSpeech.speak("map", voice: "en-us+m3", speed: 150, pitch: 50)
        let seconds = Double(spoken.samples.count) / 16_000
        XCTAssertGreaterThan(seconds, 0.2)
        let names = spoken.phones.map(\.phone).filter { !$0.hasPrefix("_") }
        XCTAssertEqual(names, ["m", "a", "p"], "\(spoken.phones)")
        for (a, b) in zip(spoken.phones, spoken.phones.dropFirst()) { XCTAssertEqual(a.end, b.start, accuracy: 1e-9) }
        XCTAssertEqual(try XCTUnwrap(spoken.phones.last).end, seconds, accuracy: 0.01)
        // The vowel is where the energy is: louder than the closure of /p/ before its release.
        let vowel = try XCTUnwrap(spoken.phones.first { $0.phone == "a" })
        func rms(_ a: Double, _ b: Double) -> Float {
            let s = spoken.samples[Int(a * 16_000)..<min(spoken.samples.count, Int(b * 16_000))]
            return (s.reduce(0) { $0 + $1 * $1 } / Float(max(s.count, 1))).squareRoot()
        }
        XCTAssertGreaterThan(rms(vowel.start, vowel.end), 5 * rms(0, try XCTUnwrap(spoken.phones.first { $0.phone == "m" }).start))
        // Languages resolve as the espeak-ng command resolves them (en-gb is the voice gmw/en).
        XCTAssertFalse(try EspeakSpeech.speak("map", voice: "en-gb+m7").phones.isEmpty)
        XCTAssertThrowsError(try EspeakSpeech.speak("a", voice: "xx-nowhere")) { XCTAssertTrue("\($0)".contains("xx-nowhere"), "\($0)") }
    }

    func testVisemeMapAndCoarticulation() {
        XCTAssertEqual(Viseme.of(phone: "p"), [.pbm])
        XCTAssertEqual(Viseme.of(phone: "aI"), [.aa, .ih])
        XCTAssertEqual(Viseme.of(phone: "_:"), [.rest])
        XCTAssertEqual(Viseme.of(phone: "u:"), [.ou])
        // "ma pa": the lips close for m and p and open for the vowels, and move before the sound.
        let phones = [SpokenPhone(phone: "m", start: 0.1, end: 0.2), SpokenPhone(phone: "a", start: 0.2, end: 0.4),
                      SpokenPhone(phone: "p", start: 0.4, end: 0.48), SpokenPhone(phone: "a", start: 0.48, end: 0.7)]
        let segments = Coarticulation.segments(phones)
        XCTAssertEqual(segments.map(\.viseme), [.pbm, .aa, .pbm, .aa])
        let at = { (t: Double, lead: Double) in Coarticulation.shapes(segments, at: [t], lead: lead)[0] }
        XCTAssertLessThan(at(0.15, 0).open, 0.1, "closed for m")
        XCTAssertLessThan(at(0.44, 0).open, 0.1, "closed for p")
        XCTAssertGreaterThan(at(0.3, 0).open, 0.7, "open for a")
        XCTAssertGreaterThan(at(0.6, 0).open, 0.7)
        XCTAssertLessThan(at(0.38, 0.06).open, at(0.38, 0).open * 0.5, "with a lead the lips close for p earlier")
        XCTAssertEqual(at(2, 0).open, Viseme.rest.target.open, accuracy: 0.01, "rest far from speech")
        // A diphthong's halves take its two visemes.
        let diphthong = Coarticulation.segments([SpokenPhone(phone: "aU", start: 0, end: 0.2)])
        XCTAssertEqual(diphthong.map(\.viseme), [.aa, .ou])
        XCTAssertEqual(diphthong[0].end, 0.1, accuracy: 1e-12)
    }

    func testLandmarksFollowTheShapeAndRender() throws {
        let style = SpeakerStyle()
        let closed = MouthLandmarks.points(Viseme.pbm.target, style: style, size: 48)
        let open = MouthLandmarks.points(Viseme.aa.target, style: style, size: 48)
        let round = MouthLandmarks.points(Viseme.ou.target, style: style, size: 48)
        XCTAssertEqual(closed.count, 20)
        XCTAssertEqual(MouthLandmarks.opening(closed), 0, accuracy: 1e-9)
        XCTAssertGreaterThan(MouthLandmarks.opening(open), 10)
        // 48 and 54 are the corners: a rounded mouth is narrower, a spread one wider.
        let width = { (p: [Point2]) in p[6].x - p[0].x }
        XCTAssertLessThan(width(round), width(closed))
        XCTAssertGreaterThan(width(MouthLandmarks.points(Viseme.ih.target, style: style, size: 48)), width(closed))
        // The outer lip encloses the inner lip; points 49–53 run left to right, 55–59 right to left.
        XCTAssertEqual(open[1...5].map(\.x), open[1...5].map(\.x).sorted())
        XCTAssertEqual(open[7...11].map(\.x), open[7...11].map(\.x).sorted(by: >))
        for i in MouthLandmarks.inner { XCTAssertTrue(MouthRenderer.contains(MouthLandmarks.outer.map { open[$0] }, open[i].x, open[i].y * 0.999 + 24 * 0.001)) }
        // Rendered: the open mouth has a dark inside where the closed one has lips.
        let dark = MouthRenderer.render(open, style: style, size: 48)[(Int(open[18].y) - 2) * 48 + 24]
        let lips = MouthRenderer.render(closed, style: style, size: 48)[24 * 48 + 24]
        XCTAssertLessThan(dark, 0.2)
        XCTAssertEqual(lips, Float(style.lipTone), accuracy: 0.05)
        XCTAssertEqual(MouthRenderer.render(closed, style: style, size: 48)[0], Float(style.skin + 0.03), accuracy: 0.01, "skin in the corner")
    }

    /// (Byte-for-byte reproducibility is checked through the CLI, a fresh process per run: eSpeak
    /// NG's wave generator carries a little state from one utterance to the next in a process.)
    func testClipsOnDiskAreConsistent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-av-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let settings = AVSpeechData.Settings(words: ["map", "you"], count: 1, evalCount: 1, newSpeakers: false, seconds: 1.2, size: 48,
                                             fps: 25, seed: 3)
        let summary = try AVSpeechData.write(to: dir.appendingPathComponent("a"), settings: settings, log: { _ in })
        XCTAssertTrue(summary.hasPrefix("wrote 2 train clips"), summary)
        let clip = dir.appendingPathComponent("a/train/clip_00000")
        let meta = try JSONDecoder().decode(AVSpeechData.ClipMeta.self, from: Data(contentsOf: clip.appendingPathComponent("meta.json")))
        XCTAssertEqual(meta.label, "map")
        XCTAssertEqual(meta.frames, 30)
        XCTAssertEqual(meta.landmarks.count, 30)
        XCTAssertEqual(meta.landmarks[0].count, 20)
        let frames = try FileManager.default.contentsOfDirectory(atPath: clip.appendingPathComponent("frames").path).sorted()
        XCTAssertEqual(frames.count, 30)
        XCTAssertEqual(frames.first, "0000.png")
        let image = try Image(contentsOfFile: clip.appendingPathComponent("frames/0000.png").path)
        XCTAssertEqual([image.channels, image.height, image.width], [1, 48, 48])
        let audio = try AudioFile.read(clip.appendingPathComponent("audio.wav").path)
        XCTAssertEqual(audio.frames, 19_200)
        // The phones lie inside the clip; during /m/ and /p/ the lips are closed, during /a/ open.
        let m = try XCTUnwrap(meta.phones.first { $0.phone == "m" }), a = try XCTUnwrap(meta.phones.first { $0.phone == "a" })
        XCTAssertTrue(0 < m.start && a.end < 1.2)
        let frameOf = { (t: Double) in min(29, Int((t * 25).rounded())) }
        XCTAssertLessThan(meta.opening[frameOf((m.start + m.end) / 2)], 1.5)
        let vowelFrames = frameOf(a.start - 0.1)...frameOf(a.end)
        XCTAssertGreaterThan(vowelFrames.map { meta.opening[$0] }.max()!, 4, "\(meta.opening)")
        // The speech is where the phones say: louder inside the word than before it.
        let inside = audio.samples[Int(a.start * 16_000)..<Int(a.end * 16_000)].map(abs).max()!
        let before = audio.samples[0..<max(1, Int(m.start * 16_000) - 800)].map(abs).max()!
        XCTAssertGreaterThan(inside, 20 * before)
        let manifest = try String(contentsOf: dir.appendingPathComponent("a/test.jsonl"), encoding: .utf8)
        XCTAssertEqual(manifest.split(separator: "\n").count, 2)
        XCTAssertTrue(manifest.contains(#""path":"test/clip_00000""#), manifest)
    }
}
