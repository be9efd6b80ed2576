import Foundation
import NN
import SafeTensors
import Tasks
import Tensor
import Training

/// What `TextModels` adds to a registry: the `text_classification` task, the `bert` architecture
/// (any BERT-style encoder from a Hugging Face checkpoint) and the `text_csv` / `text_jsonl` data
/// formats, tokenised with the model's own WordPiece tokenizer. Registered always by the runtime,
/// through the same protocol a plugin uses.
public enum TextModelsPlugin: LoRAKitPlugin {
    public static let name = "text_models"

    /// The tokenizer files of a Hugging Face checkpoint, copied beside a run's full weights so
    /// that the run's output alone is enough for `predict --weights`.
    static let tokenizerFiles = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]

    public static func register(into r: inout Registry) throws {
        try r.registerTask(ClassificationRecipeTask(name: "text_classification", input: .tokens,
                                                    summary: "one class per text; cross-entropy; classification metrics"))
        try r.register(Classifiers.self, "bert", ClassifierArchitecture(
            input: .tokens,
            summary: "a BERT-style encoder (Hugging Face keys, with or without `bert.`) with a classification head; "
                + "model.weights: the checkpoint's .safetensors with config.json beside it",
            options: [
                .choice("pooling", BertPooling.allCases.map(\.rawValue),
                        help: "how the sentence vector is made (default: pooler if the checkpoint has one, else mean)"),
                .path("config", help: "a config.json for random initialisation, without model.weights"),
            ], build: buildBert))
        for (name, format) in [("text_csv", TextFileFormat.csv), ("text_jsonl", TextFileFormat.jsonl)] {
            try r.register(ClassificationFormats.self, name, textFormat(name, format))
        }
    }

    // MARK: - BERT

    static func buildBert(_ request: ClassifierRequest) throws -> Classifier {
        var rng = RandomGenerator(seed: request.seed)
        let pooling = try request.options.string("pooling").flatMap(BertPooling.init(rawValue:))
        let model: BertForSequenceClassification
        var loaded = false
        switch request.weights {
        case let .pretrained(url):
            let checkpoint = try BertForSequenceClassification.loadPretrained(from: url, classes: request.classes,
                                                                              pooling: pooling, generator: &rng)
            model = request.replaceHead
                ? BertForSequenceClassification(bert: checkpoint.bert, classes: request.classes, pooling: checkpoint.pooling,
                                                generator: &rng)
                : checkpoint
            loaded = true
        case let .complete(url) where hasConfig(beside: url):
            // A trained model written by a run, with its configuration beside it.
            model = try BertForSequenceClassification.loadPretrained(from: url, classes: request.classes,
                                                                     pooling: pooling, generator: &rng)
            loaded = true
        case .complete, .none:
            // Built from a configuration, then (for `.complete`) loaded strictly by key.
            guard let config = try request.options.path("config")
                ?? request.pretrained.map({ $0.deletingLastPathComponent().appendingPathComponent("config.json") })
                    .flatMap({ FileManager.default.fileExists(atPath: $0.path) ? $0 : nil })
            else {
                let what = request.weights.url.map { "no config.json beside \($0.path), " } ?? ""
                throw RegistryError.invalidOption(key: "model.weights",
                    reason: "bert needs a Hugging Face checkpoint (config.json beside the safetensors): \(what)set model.weights or model.options.config")
            }
            let pretrainedPooler = request.weights.url.map(Self.hasPooler(in:)) ?? true
            model = BertForSequenceClassification(config: try BertConfig.load(from: config), classes: request.classes,
                                                  pooling: pooling ?? (pretrainedPooler ? .pooler : .mean), generator: &rng)
        }
        let config = model.config
        let source = request.weights.url ?? request.pretrained
        return Classifier(module: model, headKeys: ["classifier"],
                          input: .tokens(vocabulary: config.vocabularySize, maxLength: config.maxPositionEmbeddings),
                          loadedWeights: loaded, companions: { directory in
                              try writeCompanions(config: config, from: request.pretrained ?? source, to: directory)
                          }) { x in try model.logits(x) }
    }

    static func hasConfig(beside url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.deletingLastPathComponent().appendingPathComponent("config.json").path)
    }

    private static func hasPooler(in url: URL) -> Bool {
        (try? SafeTensorsFile(path: url.path))?.names.contains { $0.hasSuffix("pooler.dense.weight") } ?? false
    }

    /// `config.json` (the pretrained one when it exists, else the configuration the model was
    /// built with) and the tokenizer files beside the pretrained weights.
    static func writeCompanions(config: BertConfig, from pretrained: URL?, to directory: URL) throws {
        let fm = FileManager.default
        let source = pretrained?.deletingLastPathComponent()
        for name in ["config.json"] + tokenizerFiles {
            let target = directory.appendingPathComponent(name)
            if let source, fm.fileExists(atPath: source.appendingPathComponent(name).path) {
                let data = try Data(contentsOf: source.appendingPathComponent(name))
                try data.write(to: target, options: .atomic)
            } else if name == "config.json" {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(config).write(to: target, options: .atomic)
            }
        }
    }

    // MARK: - Data

    static func textFormat(_ name: String, _ format: TextFileFormat) -> ClassificationFormat {
        ClassificationFormat(
            input: .tokens,
            summary: "a \(format.rawValue.uppercased()) file of texts and labels (data.text_column, data.label_column; "
                + "default text and label), tokenised with the model's tokenizer",
            options: [
                .integer("max_length", min: 1, default: 128, help: "tokens per text, [CLS] and [SEP] included (longer texts are truncated)"),
                .path("tokenizer", help: "a directory with tokenizer.json or vocab.txt, or one of those files (default: beside model.weights)"),
            ],
            textInputs: true,
            read: { request in
                guard let path = request.path else { throw TaskError.missingSplit(role: request.role, key: "data.\(request.role.rawValue)") }
                let tokenizer = try textTokenizer(request)
                let maxLength = try request.options.int("max_length", default: 128)
                let file = try TextClassificationFile(path: path.path, format: format, textColumn: request.textColumn ?? "text",
                                                      labelColumn: request.labelColumn ?? "label", classNames: request.classNames)
                let dataset = try TextClassificationDataset(file: file) { tokenizer.encode($0, maxLength: maxLength).ids }
                let padId = tokenizer.padId
                return ClassificationData(dataset: TaskDataset(dataset, collate: { try TextBatchCollation.pad($0, padId: padId) },
                                                               lengths: dataset.ids.map(\.count), strata: dataset.labels),
                                          classNames: dataset.classNames)
            },
            inputReader: { request in
                let tokenizer = try textTokenizer(request)
                let maxLength = try request.options.int("max_length", default: 128)
                return { text in
                    let ids = tokenizer.encode(text, maxLength: maxLength).ids
                    return try Tensor(shape: [ids.count], indices: ids)
                }
            })
    }

    /// The tokenizer of a text dataset: `data.options.tokenizer` (a directory with tokenizer.json
    /// or vocab.txt, or one of those files), else the first directory of the model's weights (a
    /// trained replacement's, then the recipe's) that has one.
    static func textTokenizer(_ request: DataRequest) throws -> WordPieceTokenizer {
        if let given = try request.options.path("tokenizer") { return try tokenizer(at: given) }
        let fm = FileManager.default
        for weights in request.modelWeights {
            let directory = weights.deletingLastPathComponent()
            if ["tokenizer.json", "vocab.txt"].contains(where: { fm.fileExists(atPath: directory.appendingPathComponent($0).path) }) {
                return try WordPieceTokenizer(directory: directory)
            }
        }
        let looked = request.modelWeights.map { $0.deletingLastPathComponent().path }
        throw RegistryError.invalidOption(key: "data.options.tokenizer", reason: looked.isEmpty
            ? "\(request.format) reads the tokenizer beside model.weights; set model.weights or data.options.tokenizer"
            : "no tokenizer.json or vocab.txt in \(looked.joined(separator: " or ")); set data.options.tokenizer")
    }

    static func tokenizer(at location: URL) throws -> WordPieceTokenizer {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return try WordPieceTokenizer(directory: location)
        }
        if location.pathExtension == "json" { return try WordPieceTokenizer(tokenizerFile: location) }
        return try WordPieceTokenizer(vocabularyFile: location)
    }
}
