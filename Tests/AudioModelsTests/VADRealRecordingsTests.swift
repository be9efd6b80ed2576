import Audio
@testable import AudioModels
import Foundation
import TestSupport
import XCTest

/// `lorakit data vad --from`: labelled real recordings are placed in clips at chunk-aligned
/// offsets, their labels moved with them, and the condition added.
final class VADRealRecordingsTests: XCTestCase {
    func testRecordingsArePlacedWithTheirLabels() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng") else {
            XCTFail("espeak-ng is missing: scripts/setup installs it")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-vad-real-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Three chunks of a tone, then two of silence, at 8 kHz (resampled to 16 kHz: 5 chunks).
        let chunk = SileroVAD.chunk
        let tone = (0..<(3 * chunk / 2)).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 8_000)) }
        try AudioFile.write(AudioClip(samples: tone + [Float](repeating: 0, count: chunk), sampleRate: 8_000),
                            to: dir.appendingPathComponent("speech.wav").path)
        try #"{"path": "speech.wav", "labels": [1, 1, 1, 0, 0]}"#.write(to: dir.appendingPathComponent("list.jsonl"), atomically: true, encoding: .utf8)
        let settings = VADData.Settings(count: 1, evalCount: 1, babble: false, snr: (0, 10), seconds: 2, seed: 0)
        let summary = try VADData.writeReal(dir.appendingPathComponent("list.jsonl"), copies: 3, to: dir.appendingPathComponent("out"),
                                            settings: settings, log: { _ in })
        XCTAssertTrue(summary.hasPrefix("wrote 3 test clips of 1 real recordings"), summary)
        let lines = try String(contentsOf: dir.appendingPathComponent("out/test.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        var offsets = Set<Int>()
        for line in lines {
            let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let labels = try XCTUnwrap(record["labels"] as? [Int])
            XCTAssertEqual(labels.count, 2 * 16_000 / chunk)
            XCTAssertEqual(labels.reduce(0, +), 3)
            let first = try XCTUnwrap(labels.firstIndex(of: 1))
            XCTAssertEqual(Array(labels[first..<(first + 3)]), [1, 1, 1])
            offsets.insert(first)
            // The tone is where its labels are: those chunks hold nearly all the energy.
            let clip = try AudioFile.read(dir.appendingPathComponent("out").appendingPathComponent(try XCTUnwrap(record["path"] as? String)).path)
            let energy = stride(from: 0, to: clip.samples.count, by: chunk).map { c in clip.samples[c..<(c + chunk)].reduce(0) { $0 + $1 * $1 } }
            let inside = energy[first..<(first + 3)].reduce(0, +), total = energy.reduce(0, +)
            XCTAssertGreaterThan(inside / total, 0.99)
        }
        XCTAssertGreaterThan(offsets.count, 1, "the copies are placed at different offsets")
        // A list whose labels do not fit its recording is an error naming the line.
        try #"{"path": "speech.wav", "labels": [1, 1, 1, 0, 0, 0, 0, 0]}"#.write(to: dir.appendingPathComponent("bad.jsonl"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VADData.writeReal(dir.appendingPathComponent("bad.jsonl"), copies: 1, to: dir.appendingPathComponent("bad"),
                                                   settings: settings, log: { _ in })) {
            XCTAssertTrue("\($0)".hasPrefix("\(dir.path)/bad.jsonl:1: 8 labels for 5 chunks"), "\($0)")
        }
    }
}
