import Audio
import Foundation
import NN
import Tasks
import Tensor
import Training

extension InputKind {
    /// Log-mel features `[N, mels, frames]` (float).
    public static let audio = InputKind("log-mel features")
}

/// The `audio_classification` task's parts: the `audio_transformer` architecture and the
/// `audio_folder`, `audio_csv` and `audio_jsonl` formats, on the generic classification task.
enum AudioClassification {
    static func register(_ r: inout Registry) throws {
        try r.registerTask(ClassificationRecipeTask(name: "audio_classification", input: .audio,
                                                    summary: "one class per recording (spoken commands, sounds); cross-entropy; classification metrics"))
        try r.register(Classifiers.self, "audio_transformer", ClassifierArchitecture(
            input: .audio,
            summary: "a Whisper-encoder-shaped Transformer on log-mel features (Conv1d stem, stride 2, sinusoidal positions, "
                + "pre-LN layers, mean pool); head classifier. Sized by model.options or config.json beside model.weights",
            options: [
                .integer("mels", min: 1, help: "mel bins (default 80; data.options.mels must agree)"),
                .integer("width", min: 4, help: "model width d (default 128)"),
                .integer("layers", min: 1, help: "encoder layers (default 4)"),
                .integer("heads", min: 1, help: "attention heads (default 4)"),
                .integer("ffn", min: 1, help: "feed-forward width (default 4 × width)"),
                .path("config", help: "a config.json (Whisper's key names) giving the shape"),
            ], build: buildTransformer))
        try AudioTransforms.registerBuiltIns(&r)
        for (name, kind) in [("audio_folder", ListingKind.folder), ("audio_csv", .csv), ("audio_jsonl", .jsonl)] {
            try r.register(ClassificationFormats.self, name, format(kind))
        }
    }

    // MARK: - Model

    /// The shape: `model.options.config`, else the `config.json` beside the weights (a run's
    /// output, or the recipe's), else the size options. Size options that contradict a
    /// configuration file are an error, not silently ignored.
    static func configuration(_ request: ClassifierRequest) throws -> AudioTransformerConfig {
        let o = request.options
        let fm = FileManager.default
        let beside = [request.weights.url, request.pretrained].compactMap { $0 }
            .map { $0.deletingLastPathComponent().appendingPathComponent("config.json") }
            .first { fm.fileExists(atPath: $0.path) }
        var config: AudioTransformerConfig
        if let file = try o.path("config") ?? beside {
            do {
                config = try JSONDecoder().decode(AudioTransformerConfig.self, from: Data(contentsOf: file))
            } catch {
                throw RegistryError.invalidOption(key: "model.options.config",
                                                  reason: "\(file.path) is not an audio transformer config.json: \(error)")
            }
            for (key, given, found) in [("mels", try o.int("mels"), config.mels), ("width", try o.int("width"), config.width),
                                        ("layers", try o.int("layers"), config.layers), ("heads", try o.int("heads"), config.heads),
                                        ("ffn", try o.int("ffn"), config.ffn)] {
                if let given, given != found {
                    throw RegistryError.invalidOption(key: o.key(key), reason: "\(given) contradicts \(file.path) (\(found))")
                }
            }
        } else {
            let width = try o.int("width", default: 128)
            config = AudioTransformerConfig(mels: try o.int("mels", default: 80), width: width, layers: try o.int("layers", default: 4),
                                            heads: try o.int("heads", default: 4), ffn: try o.int("ffn", default: 4 * width))
        }
        if let problem = config.problem { throw RegistryError.invalidOption(key: o.key("width"), reason: problem) }
        return config
    }

    static func buildTransformer(_ request: ClassifierRequest) throws -> Classifier {
        let config = try configuration(request)
        var rng = RandomGenerator(seed: request.seed)
        let model = AudioTransformer(config: config, classes: request.classes, generator: &rng)
        return Classifier(module: model, headKeys: ["classifier"], input: nil, companions: { directory in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(config).write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        }) { x in try model.logits(x) }
    }

    // MARK: - Data

    enum ListingKind { case folder, csv, jsonl }

    static func format(_ kind: ListingKind) -> ClassificationFormat {
        let summary: String
        switch kind {
        case .folder: summary = "a folder per class of sound files (WAV, FLAC, OGG, MP3, …; any rate and channels)"
        case .csv: summary = "a CSV manifest: path (relative to the CSV), label (name or integer), optional start, end (seconds), text"
        case .jsonl: summary = "a JSON Lines manifest: {\"path\", \"label\", optional \"start\", \"end\" (seconds), \"text\"}"
        }
        var options: [OptionSpec] = [
            .number("seconds", above: 0, atMost: 60, default: 1, help: "clip length: longer recordings are cut (randomly in training, "
                    + "centred otherwise), shorter ones zero-padded"),
            .integer("mels", min: 1, default: 80, help: "mel bins of Whisper's log-mel features"),
        ]
        if kind != .folder { options.append(.string("path_column", default: "path", help: "the field naming the file")) }
        return ClassificationFormat(
            input: .audio, summary: summary, options: options,
            transforms: { AudioTransforms.definitions(in: $0) },
            read: { request in
                guard let path = request.path else { throw TaskError.missingSplit(role: request.role, key: "data.\(request.role.rawValue)") }
                let listed: (samples: [AudioSample], classNames: [String])
                switch kind {
                case .folder: listed = try AudioListing.folder(path, classNames: request.classNames)
                case .csv, .jsonl:
                    listed = try AudioListing.manifest(path, jsonLines: kind == .jsonl,
                                                       pathColumn: try request.options.string("path_column", default: "path"),
                                                       labelColumn: request.labelColumn ?? "label", classNames: request.classNames)
                }
                let dataset = try AudioClassificationDataset(samples: listed.samples, classNames: listed.classNames,
                                                             pipeline: try pipeline(request), badFiles: request.badFiles,
                                                             source: path.path)
                if let first = dataset.skipped.first {
                    request.log("skipped \(dataset.skipped.count) unreadable recordings listed by \(path.path), e.g. \(first)")
                }
                return ClassificationData(dataset: TaskDataset(dataset, collate: ClassificationBatch.collate, strata: dataset.labels),
                                          classNames: listed.classNames)
            },
            inputReader: { request in
                var evaluation = request
                evaluation.role = .validation
                let features = try pipeline(evaluation)
                return { path in
                    var unused = RandomGenerator(seed: 0)
                    return try features.features(try AudioFeaturePipeline.load(AudioSample(path: path, label: 0)), generator: &unused)
                }
            })
    }

    static func pipeline(_ request: DataRequest) throws -> AudioFeaturePipeline {
        AudioFeaturePipeline(seconds: try request.options.double("seconds", default: 1), mels: try request.options.int("mels", default: 80),
                             training: request.isTraining,
                             steps: request.isTraining ? try AudioTransforms.steps(request.transforms, registry: request.registry) : [])
    }
}
