import Audio
@testable import AudioModels
import Foundation
import Recipes
import Tasks
import Tensor
import TestSupport
import Training
import XCTest

/// The audio classification formats: a folder per class and CSV / JSON Lines manifests (with
/// start/end stretches), features of fixed length, bad files failing or skipped, and seeded
/// augmentation.
final class AudioClassificationDataTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-audio-cls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// A tone of `hz` for `seconds` at `rate`, written to `relative` under the root.
    @discardableResult
    func tone(_ relative: String, hz: Double, seconds: Double, rate: Int = 16_000, channels: Int = 1) throws -> String {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let frames = Int(seconds * Double(rate))
        var samples: [Float] = []
        for i in 0..<frames {
            let v = Float(0.5 * sin(2 * Double.pi * hz * Double(i) / Double(rate)))
            for _ in 0..<channels { samples.append(v) }
        }
        try AudioFile.write(AudioClip(samples: samples, channels: channels, sampleRate: rate), to: url.path)
        return url.path
    }

    func pipeline(training: Bool = false, seconds: Double = 1, steps: [AudioTransformStep] = []) -> AudioFeaturePipeline {
        AudioFeaturePipeline(seconds: seconds, mels: 80, training: training, steps: steps)
    }

    func testFolderPerClassListsFilesByClass() throws {
        try tone("yes/a.wav", hz: 440, seconds: 0.5)
        try tone("yes/more/b.flac", hz: 440, seconds: 0.5)
        try tone("no/c.wav", hz: 880, seconds: 0.5, rate: 44_100, channels: 2)
        try "not audio".write(to: root.appendingPathComponent("no/readme.txt"), atomically: true, encoding: .utf8)
        try tone("no/.hidden.wav", hz: 880, seconds: 0.5)
        let listed = try AudioListing.folder(root, classNames: nil)
        XCTAssertEqual(listed.classNames, ["no", "yes"])
        XCTAssertEqual(listed.samples.map { ($0.path as NSString).lastPathComponent }, ["c.wav", "a.wav", "b.flac"])
        XCTAssertEqual(listed.samples.map(\.label), [0, 1, 1])
        // Given class names number the folders by name; a folder that is not a class is an error naming it.
        XCTAssertEqual(try AudioListing.folder(root, classNames: ["yes", "maybe", "no"]).samples.map(\.label), [2, 0, 0])
        XCTAssertThrowsError(try AudioListing.folder(root, classNames: ["yes"])) {
            XCTAssertTrue("\($0)".contains("\(root.path)/no: class 'no' is not one of yes"), "\($0)")
        }
        // Stereo 44.1 kHz becomes 16 kHz mono features of the clip length.
        let dataset = try AudioClassificationDataset(samples: listed.samples, classNames: listed.classNames, pipeline: pipeline(),
                                                     badFiles: .fail, source: root.path)
        var context = ItemContext(epoch: 0, index: 0, seed: 0)
        let item = try dataset.item(at: 0, context: &context)
        XCTAssertEqual(item.input.shape, [80, 100])
        XCTAssertEqual(item.label, 0)
    }

    func testManifestsReadStretchesAndNameTheirErrors() throws {
        let long = try tone("clips/long.wav", hz: 440, seconds: 2)
        try tone("clips/short.wav", hz: 880, seconds: 0.4)
        try """
            path,label,start,end,text
            clips/long.wav,go,0.5,1.5,go now
            clips/short.wav,stop,,,stop
            \(long),go,,,
            """.write(to: root.appendingPathComponent("train.csv"), atomically: true, encoding: .utf8)
        let csv = try AudioListing.manifest(root.appendingPathComponent("train.csv"), jsonLines: false, pathColumn: "path",
                                            labelColumn: "label", classNames: nil)
        XCTAssertEqual(csv.classNames, ["go", "stop"])
        XCTAssertEqual(csv.samples, [AudioSample(path: long, label: 0, start: 0.5, end: 1.5),
                                     AudioSample(path: root.appendingPathComponent("clips/short.wav").path, label: 1),
                                     AudioSample(path: long, label: 0)])
        // The stretch is what is read: 1 s of the 2 s file.
        XCTAssertEqual(try AudioFeaturePipeline.load(csv.samples[0]).count, 16_000)
        XCTAssertEqual(try AudioFeaturePipeline.load(csv.samples[2]).count, 32_000)

        try """
            {"path": "clips/short.wav", "label": 1}
            {"path": "clips/long.wav", "label": 0, "start": 1, "end": 1.25, "text": "hello"}
            """.write(to: root.appendingPathComponent("train.jsonl"), atomically: true, encoding: .utf8)
        let jsonl = try AudioListing.manifest(root.appendingPathComponent("train.jsonl"), jsonLines: true, pathColumn: "path",
                                              labelColumn: "label", classNames: nil)
        XCTAssertEqual(jsonl.classNames, ["0", "1"])
        XCTAssertEqual(jsonl.samples.map(\.label), [1, 0])
        XCTAssertEqual(try AudioFeaturePipeline.load(jsonl.samples[1]).count, 4_000)

        func failure(_ text: String, jsonLines: Bool = true) -> String {
            let file = root.appendingPathComponent(jsonLines ? "bad.jsonl" : "bad.csv")
            try? text.write(to: file, atomically: true, encoding: .utf8)
            do {
                _ = try AudioListing.manifest(file, jsonLines: jsonLines, pathColumn: "path", labelColumn: "label", classNames: nil)
                return "no error"
            } catch { return "\(error)" }
        }
        let bad = root.appendingPathComponent("bad.jsonl").path
        XCTAssertEqual(failure("{\"path\": \"a.wav\", \"label\": \"x\"}\n{\"label\": \"y\"}"), "\(bad):2: no 'path' string")
        XCTAssertEqual(failure("{\"path\": \"a.wav\", \"label\": true}"), "\(bad):1: 'label' must be a class name or a whole number")
        XCTAssertEqual(failure("{\"path\": \"a.wav\", \"label\": \"x\", \"start\": 2, \"end\": 1}"), "\(bad):1: end 1.0 s is not after start 2.0 s")
        XCTAssertEqual(failure("[1, 2]"), "\(bad):1: not a JSON object")
        XCTAssertEqual(failure(""), "\(bad): no recordings listed")
        let badCSV = root.appendingPathComponent("bad.csv").path
        XCTAssertEqual(failure("path,label,start\na.wav,x,soon\n", jsonLines: false), "\(badCSV):2: start 'soon' is not a time in seconds")
        XCTAssertTrue(failure("file,label\na.wav,x\n", jsonLines: false).contains("path"), failure("file,label\na.wav,x\n", jsonLines: false))
        // A stretch beyond the file is an error naming it.
        XCTAssertThrowsError(try AudioFeaturePipeline.load(AudioSample(path: long, label: 0, start: 1.5, end: 3))) {
            XCTAssertEqual("\($0)", "\(long): the stretch 1.5–3.0 s lies outside its 2.000 s")
        }
    }

    func testClipsAreCutOrPaddedToTheirLength() throws {
        let long = try tone("long.wav", hz: 440, seconds: 1.6)
        let sample = AudioSample(path: long, label: 0)
        let evaluation = pipeline(seconds: 1)
        var g = RandomGenerator(seed: 1)
        // Evaluation takes the centre 1 s of 1.6 s: the features of samples 4,800 ..< 20,800.
        let audio = try AudioFeaturePipeline.load(sample)
        XCTAssertEqual(try evaluation.features(audio, generator: &g).scalars,
                       try WhisperFeatures.logMel(Array(audio[4_800..<20_800])).scalars)
        // Training takes a random window; shorter audio is zero-padded at the end.
        var a = RandomGenerator(seed: 3), b = RandomGenerator(seed: 4)
        let training = pipeline(training: true, seconds: 1)
        XCTAssertNotEqual(try training.features(audio, generator: &a).scalars, try training.features(audio, generator: &b).scalars)
        let short = Array(audio.prefix(8_000))
        XCTAssertEqual(try evaluation.features(short, generator: &g).scalars,
                       try WhisperFeatures.logMel(short + [Float](repeating: 0, count: 8_000)).scalars)
    }

    func testBadFilesFailTheBuildOrAreSkipped() throws {
        try tone("go/good.wav", hz: 440, seconds: 0.5)
        let good = try Data(contentsOf: root.appendingPathComponent("go/good.wav"))
        let cut = root.appendingPathComponent("go/cut.wav")
        try good.prefix(44 + 4_000).write(to: cut)
        let text = root.appendingPathComponent("stop/text.wav")
        try FileManager.default.createDirectory(at: text.deletingLastPathComponent(), withIntermediateDirectories: true)
        try "not audio".write(to: text, atomically: true, encoding: .utf8)
        let listed = try AudioListing.folder(root, classNames: nil)
        XCTAssertThrowsError(try AudioClassificationDataset(samples: listed.samples, classNames: listed.classNames, pipeline: pipeline(),
                                                            badFiles: .fail, source: root.path)) {
            XCTAssertEqual("\($0)", "\(cut.path): truncated or corrupt: the header announces 8000 frames, 2000 could be decoded")
        }
        let kept = try AudioClassificationDataset(samples: listed.samples, classNames: listed.classNames, pipeline: pipeline(),
                                                  badFiles: .skip, source: root.path)
        XCTAssertEqual(kept.samples.map { ($0.path as NSString).lastPathComponent }, ["good.wav"])
        XCTAssertEqual(kept.skipped.map(\.path), [cut.path, text.path])
        XCTAssertTrue(kept.skipped[1].reason.hasPrefix("\(text.path): cannot read it as audio"), kept.skipped[1].reason)
        // Nothing readable at all is an error, not an empty dataset.
        XCTAssertThrowsError(try AudioClassificationDataset(samples: listed.samples.filter { !$0.path.hasSuffix("good.wav") }, classNames: listed.classNames,
                                                            pipeline: pipeline(), badFiles: .skip, source: root.path)) {
            XCTAssertEqual("\($0)", "\(root.path): no readable recordings (2 skipped)")
        }
    }

    func testAugmentationIsSeededAndTrainingOnly() throws {
        var registry = Registry()
        try AudioTransforms.registerBuiltIns(&registry)
        let requests = ["gain", "noise", "speed", "telephone", "spec_augment"].map {
            TransformRequest(name: $0, options: Options([:], owner: "transform \($0)", keyPrefix: "data.transforms", specs: []))
        }
        let steps = try AudioTransforms.steps(requests.map {
            var r = $0
            r.options = Options(["p": .double(1)], owner: "transform \(r.name)", keyPrefix: "data.transforms", specs: [])
            return r
        }, registry: registry)
        XCTAssertEqual(steps.count, 5)
        let audio = try AudioFeaturePipeline.load(AudioSample(path: try tone("a.wav", hz: 440, seconds: 1), label: 0))
        let training = pipeline(training: true, steps: steps)
        func features(_ p: AudioFeaturePipeline, epoch: Int, index: Int) throws -> [Float] {
            var context = ItemContext(epoch: epoch, index: index, seed: 9)
            return try p.features(audio, generator: &context.generator).scalars
        }
        // The same epoch and index give the same features (runs resume exactly); another epoch differs.
        XCTAssertEqual(try features(training, epoch: 0, index: 3), try features(training, epoch: 0, index: 3))
        XCTAssertNotEqual(try features(training, epoch: 0, index: 3), try features(training, epoch: 1, index: 3))
        // Evaluation ignores the steps.
        var evaluation = training
        evaluation.training = false
        XCTAssertEqual(try features(evaluation, epoch: 0, index: 3), try WhisperFeatures.logMel(audio).scalars)
        XCTAssertThrowsError(try AudioTransforms.steps([TransformRequest(name: "reverb", options: requests[0].options)], registry: registry))
    }
}
