import Audio
import Foundation
import Recipes
import Tasks
import Tensor
import Training

/// One labelled recording, or a stretch of one (`start`/`end` in seconds).
public struct AudioSample: Sendable, Equatable {
    public var path: String
    public var label: Int
    public var start: Double?
    public var end: Double?

    public init(path: String, label: Int, start: Double? = nil, end: Double? = nil) {
        self.path = path
        self.label = label
        self.start = start
        self.end = end
    }
}

/// A file left out under `data.bad_files: skip`, and why.
public struct SkippedAudio: Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { reason }
}

/// How recordings become the model's input: 16 kHz mono, cut or zero-padded to `seconds`, through
/// the waveform augmentations (training only), then Whisper's log-mel spectrogram
/// [mels, seconds × 100] and the feature augmentations.
public struct AudioFeaturePipeline {
    public static let sampleRate = WhisperFeatures.sampleRate
    /// Length of every clip, in seconds.
    public var seconds: Double
    public var mels: Int
    /// Whether random augmentations and random crops apply (the training split).
    public var training: Bool
    public var steps: [AudioTransformStep]

    public init(seconds: Double, mels: Int, training: Bool, steps: [AudioTransformStep] = []) {
        self.seconds = seconds
        self.mels = mels
        self.training = training
        self.steps = steps
    }

    public var samples: Int { Int((seconds * Double(Self.sampleRate)).rounded()) }
    /// Feature frames per clip.
    public var frames: Int { samples / WhisperFeatures.hop }

    /// The audio of `sample`, 16 kHz mono, of any length.
    /// - Throws: `AudioError` naming the file (unreadable, empty, cut, a range outside it).
    public static func load(_ sample: AudioSample) throws -> [Float] {
        var start = 0, frames: Int?
        if sample.start != nil || sample.end != nil {
            let info = try AudioFile.info(sample.path)
            start = Int(((sample.start ?? 0) * Double(info.sampleRate)).rounded())
            let end = sample.end.map { Int(($0 * Double(info.sampleRate)).rounded()) } ?? info.frames
            guard start >= 0, end > start, end <= info.frames else {
                throw AudioError.invalid("\(sample.path): the stretch \(sample.start ?? 0)–\(sample.end.map { "\($0)" } ?? "end") s "
                    + "lies outside its \(String(format: "%.3f", info.seconds)) s")
            }
            frames = end - start
        }
        let clip = try AudioFile.read(sample.path, start: start, frames: frames).mono()
        return clip.sampleRate == sampleRate ? clip.samples : try clip.resampled(to: sampleRate, quality: .medium).samples
    }

    /// The features [mels, frames] of 16 kHz audio.
    public func features(_ audio: [Float], generator: inout RandomGenerator) throws -> Tensor {
        var x = audio
        if training {
            for case let .waveform(apply) in steps { x = try apply(x, &generator) }
        }
        let n = samples
        if x.count > n {
            // A random window in training, the centre otherwise.
            let spare = x.count - n
            let offset = training ? Int(generator.next() % UInt64(spare + 1)) : spare / 2
            x = Array(x[offset..<(offset + n)])
        } else if x.count < n {
            x += [Float](repeating: 0, count: n - x.count)
        }
        var features = try WhisperFeatures.logMel(x, mels: mels)
        if training {
            for case let .features(apply) in steps { features = try apply(features, &generator) }
        }
        return features
    }
}

/// Labelled recordings as classification items: `(log-mel [mels, frames], label)`. Every file
/// is decoded once when the dataset is built, so that a cut or corrupt file fails the build with
/// an error naming it (or, under `bad_files: skip`, is left out and listed in `skipped`) instead
/// of failing a training step; items read the file again (nothing is kept in memory).
public struct AudioClassificationDataset: Dataset {
    public typealias Item = ClassificationItem

    public let samples: [AudioSample]
    public let classNames: [String]
    public let skipped: [SkippedAudio]
    public let pipeline: AudioFeaturePipeline

    public init(samples candidates: [AudioSample], classNames: [String], pipeline: AudioFeaturePipeline,
                badFiles: Recipe.DataSettings.BadFiles, source: String) throws {
        var kept: [AudioSample] = []
        var skipped: [SkippedAudio] = []
        for sample in candidates {
            do {
                let audio = try AudioFeaturePipeline.load(sample)
                guard audio.count > WhisperFeatures.fftSize / 2 else {
                    throw AudioError.invalid("\(sample.path): \(audio.count) samples at 16 kHz is too short for features")
                }
                kept.append(sample)
            } catch {
                guard badFiles == .skip else { throw error }
                skipped.append(SkippedAudio(path: sample.path, reason: "\(error)"))
            }
        }
        guard !kept.isEmpty else {
            throw AudioError.invalid("\(source): no readable recordings (\(skipped.count) skipped)")
        }
        self.samples = kept
        self.classNames = classNames
        self.skipped = skipped
        self.pipeline = pipeline
    }

    public var count: Int { samples.count }
    public var labels: [Int] { samples.map(\.label) }

    public func item(at index: Int, context: inout ItemContext) throws -> Item {
        let sample = samples[index]
        return (try pipeline.features(try AudioFeaturePipeline.load(sample), generator: &context.generator), sample.label)
    }
}

/// Where labelled recordings are listed.
public enum AudioListing {
    /// Extensions read in class folders (libsndfile's formats).
    public static let extensions: Set<String> = ["wav", "flac", "ogg", "opus", "mp3", "aiff", "aif", "au"]

    /// A folder per class (`root/yes/001.wav`, …): classes are the subfolders sorted, or the given
    /// names (a subfolder not among them is an error naming it).
    public static func folder(_ root: URL, classNames: [String]?) throws -> (samples: [AudioSample], classNames: [String]) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AudioError.invalid("\(root.path): not a folder (audio_folder reads a folder per class)")
        }
        let folders = try fm.contentsOfDirectory(atPath: root.path).filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &d) && d.boolValue
        }.sorted()
        guard !folders.isEmpty else { throw AudioError.invalid("\(root.path): no class folders") }
        if let classNames { try ClassLabelResolver.validate(classNames: classNames) }
        let names = classNames ?? folders
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var samples: [AudioSample] = []
        for folder in folders {
            guard let label = index[folder] else {
                throw AudioError.invalid("\(root.appendingPathComponent(folder).path): class '\(folder)' is not one of "
                    + "\(names.joined(separator: ", "))")
            }
            let directory = root.appendingPathComponent(folder)
            guard let walker = fm.enumerator(atPath: directory.path) else { continue }
            var files: [String] = []
            for case let relative as String in walker
            where !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") })
                && extensions.contains((relative as NSString).pathExtension.lowercased()) {
                files.append(relative)
            }
            guard !files.isEmpty else {
                throw AudioError.invalid("\(directory.path): no audio files (\(extensions.sorted().joined(separator: ", ")))")
            }
            samples += files.sorted().map { AudioSample(path: directory.appendingPathComponent($0).path, label: label) }
        }
        return (samples, names)
    }

    /// A manifest: CSV with a header, or JSON lines; fields `path` (relative to the manifest, or
    /// absolute), `label` (a name or an integer), optional `start` and `end` (seconds) and `text`
    /// (kept for people; classification does not read it). Column names can be changed.
    public static func manifest(_ file: URL, jsonLines: Bool, pathColumn: String, labelColumn: String,
                                classNames: [String]?) throws -> (samples: [AudioSample], classNames: [String]) {
        struct Row { var line: Int; var path: String; var label: RawClassLabel.Value; var start: Double?; var end: Double? }
        let bytes: Data
        do { bytes = try Data(contentsOf: file) } catch {
            throw AudioError.cannotOpen(path: file.path, reason: "cannot read the manifest: \(error.localizedDescription)")
        }
        var rows: [Row] = []
        func seconds(_ text: String?, _ place: String, _ key: String) throws -> Double? {
            guard let text, !text.isEmpty else { return nil }
            guard let v = Double(text), v.isFinite, v >= 0 else { throw AudioError.invalid("\(place): \(key) '\(text)' is not a time in seconds") }
            return v
        }
        if jsonLines {
            for (i, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                let place = "\(file.path):\(i + 1)"
                guard case let .object(object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)) else {
                    throw AudioError.invalid("\(place): not a JSON object")
                }
                guard case let .string(path)? = object[pathColumn], !path.isEmpty else {
                    throw AudioError.invalid("\(place): no '\(pathColumn)' string")
                }
                let label: RawClassLabel.Value
                switch object[labelColumn] {
                case let .string(text)?: label = .text(text)
                case let .integer(whole)?: label = .integer(whole)
                default: throw AudioError.invalid("\(place): '\(labelColumn)' must be a class name or a whole number")
                }
                func time(_ key: String) throws -> Double? {
                    switch object[key] {
                    case nil, .null?: return nil
                    case let .integer(v)?: return try seconds("\(v)", place, key)
                    case let .number(v)?: return try seconds("\(v)", place, key)
                    default: throw AudioError.invalid("\(place): \(key) must be a number of seconds")
                    }
                }
                rows.append(Row(line: i + 1, path: path, label: label, start: try time("start"), end: try time("end")))
            }
        } else {
            let table = try CSVTable(bytes: Array(bytes), path: file.path, trimsUnquotedFields: true)
            let p = try table.column(pathColumn), l = try table.column(labelColumn)
            let s = table.header.firstIndex(of: "start"), e = table.header.firstIndex(of: "end")
            for record in table.records {
                let place = "\(file.path):\(record.line)"
                guard !record.fields[p].isEmpty else { throw AudioError.invalid("\(place): empty '\(pathColumn)'") }
                rows.append(Row(line: record.line, path: record.fields[p], label: .text(record.fields[l]),
                                start: try seconds(s.map { record.fields[$0] }, place, "start"),
                                end: try seconds(e.map { record.fields[$0] }, place, "end")))
            }
        }
        guard !rows.isEmpty else { throw AudioError.invalid("\(file.path): no recordings listed") }
        for row in rows {
            if let start = row.start, let end = row.end, end <= start {
                throw AudioError.invalid("\(file.path):\(row.line): end \(end) s is not after start \(start) s")
            }
        }
        let resolver = try ClassLabelResolver(path: file.path, format: .automatic, classNames: classNames)
        let resolved = try resolver.resolve(rows.map { RawClassLabel(line: $0.line, value: $0.label) })
        let base = file.deletingLastPathComponent()
        let samples = zip(rows, resolved.labels).map { row, label in
            AudioSample(path: row.path.hasPrefix("/") ? row.path : base.appendingPathComponent(row.path).path,
                        label: label, start: row.start, end: row.end)
        }
        return (samples, resolved.classNames)
    }
}
