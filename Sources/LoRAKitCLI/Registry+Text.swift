import Foundation
import NN
import Tensor
import TextModels
import Training

extension Registry {
    /// Text classification: the `text_csv` and `text_jsonl` dataset formats (columns or keys
    /// `text` and `label` unless `data.text_column` / `data.label_column` say otherwise), tokenised
    /// with the WordPiece tokenizer found beside `model.weights` (or in `data.options.tokenizer`),
    /// truncated to `data.options.max_length` tokens (default 128) and padded per batch; batches
    /// group texts of similar length (`DataLoader.lengths`), so padding costs little.
    /// `predict --input` takes texts, or files with one text per line.
    static func registerText(_ r: inout Registry) throws {
        // A BERT-style encoder with a classification head. With model.weights: a Hugging Face
        // checkpoint (config.json beside the safetensors; keys with or without `bert.`), loaded
        // here; without: random weights for model.options.config (a config.json).
        // model.options.pooling: mean | cls | pooler (default: pooler if the checkpoint has one).
        try r.registerArchitecture("bert") { request in
            var rng = RandomGenerator(seed: request.seed)
            var pooling: BertPooling?
            if let text = request.options["pooling"] {
                guard let p = BertPooling(rawValue: text) else {
                    throw RegistryError.invalidOption(kind: "architecture", name: "bert", option: "pooling",
                                                      reason: "expected one of \(BertPooling.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
                }
                pooling = p
            }
            let model: BertForSequenceClassification
            if let weights = request.weights {
                let loaded = try BertForSequenceClassification.loadPretrained(from: weights, classes: request.classes,
                                                                              pooling: pooling, generator: &rng)
                model = request.newHead
                    ? BertForSequenceClassification(bert: loaded.bert, classes: request.classes, pooling: loaded.pooling,
                                                    generator: &rng)
                    : loaded
            } else if let config = request.options["config"] {
                model = BertForSequenceClassification(config: try BertConfig.load(from: URL(fileURLWithPath: config)),
                                                      classes: request.classes, pooling: pooling ?? .pooler, generator: &rng)
            } else {
                throw UsageError("architecture bert needs model.weights (a Hugging Face checkpoint with config.json beside it) or model.options.config")
            }
            return BuiltModel(module: model, forward: { m, x in try (m as! BertForSequenceClassification).logits(x) },
                              headKey: "classifier", inputDescription: "token ids [N, T] (int64)",
                              loadedWeights: request.weights != nil)
        }
        for (name, format) in [("text_csv", TextFileFormat.csv), ("text_jsonl", TextFileFormat.jsonl)] {
            try r.registerDataset(name) { request in
                guard let path = request.path else {
                    throw UsageError("\(name) needs data.\(request.role.rawValue): a \(format.rawValue.uppercased()) file of texts and labels")
                }
                let tokenizer = try textTokenizer(request)
                let maxLength = try request.int("max_length", default: 128)
                let file = try TextClassificationFile(path: path.path, format: format,
                                                      textColumn: request.textColumn ?? "text",
                                                      labelColumn: request.labelColumn ?? "label",
                                                      classNames: request.classNames)
                let dataset = try TextClassificationDataset(file: file) { tokenizer.encode($0, maxLength: maxLength).ids }
                let padId = tokenizer.padId
                return AnyClassificationDataset(dataset, classNames: dataset.classNames, labels: dataset.labels,
                                                collate: { try TextBatchCollation.pad($0, padId: padId) },
                                                lengths: dataset.ids.map(\.count))
            }
            try r.registerInputLoader(name) { request in
                let tokenizer = try textTokenizer(request)
                let maxLength = try request.int("max_length", default: 128)
                return { text in
                    let ids = tokenizer.encode(text, maxLength: maxLength).ids
                    return try Tensor(shape: [ids.count], indices: ids)
                }
            }
            r.registerTextInputs(name)
        }
    }

    /// The tokenizer of a text dataset: `data.options.tokenizer` (a directory with tokenizer.json
    /// or vocab.txt, or one of those files), else the directory of `model.weights`.
    static func textTokenizer(_ request: DataRequest) throws -> WordPieceTokenizer {
        let location: URL
        if let given = request.string("tokenizer") {
            location = URL(fileURLWithPath: given)
        } else if let weights = request.modelWeights {
            location = weights.deletingLastPathComponent()
        } else {
            throw UsageError("\(request.format): the tokenizer is read beside model.weights; set model.weights or data.options.tokenizer")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: location.path, isDirectory: &isDirectory), isDirectory.boolValue { return try WordPieceTokenizer(directory: location) }
        if location.pathExtension == "json" { return try WordPieceTokenizer(tokenizerFile: location) }
        return try WordPieceTokenizer(vocabularyFile: location)
    }
}
