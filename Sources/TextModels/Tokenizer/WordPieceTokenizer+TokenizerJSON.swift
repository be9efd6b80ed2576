import Foundation

extension WordPieceTokenizer {
    /// Loads a Hugging Face `tokenizer.json` of a BERT tokenizer.
    ///
    /// Read from it: `model` (type `WordPiece`: `vocab`, `unk_token`, `continuing_subword_prefix`,
    /// `max_input_chars_per_word`), `normalizer` (`BertNormalizer` or `null`), `pre_tokenizer`
    /// (`BertPreTokenizer`), `added_tokens`, the `[CLS]`/`[SEP]` spellings of `post_processor`
    /// (`TemplateProcessing` or `BertProcessing`), `padding.pad_token`, and the `WordPiece`
    /// decoder's `prefix` and `cleanup`. Its `truncation` and `padding` lengths are ignored:
    /// `encode` takes `maxLength` and never pads.
    ///
    /// - Throws: `TokenizerError` naming the file: `.fileNotFound`, `.malformedJSON`,
    ///   `.invalidField` (with the key), `.unsupported` (another model, normalizer or
    ///   pre-tokenizer type), `.missingSpecialTokens`.
    public init(tokenizerFile: URL) throws {
        let path = tokenizerFile.path
        let root = try TokenizerFiles.jsonObject(tokenizerFile)

        let model = try root.required(root.object("model"), "model")
        if let type = try model.string("type"), type != "WordPiece" {
            throw TokenizerError.unsupported(path: path, key: "model.type", value: type)
        }
        let vocabularyObject = try model.required(model.object("vocab"), "vocab")
        // The ids must be 0..<count. Besides being what WordPiece vocabularies are, this catches
        // tokens that differ only by Unicode normalization (`é` and `e` + U+0301), which a JSON
        // object parsed into a Swift dictionary would silently merge, leaving a hole in the ids.
        var table = VocabularyTable(capacity: vocabularyObject.storage.count)
        var seen = [Bool](repeating: false, count: vocabularyObject.storage.count)
        for token in vocabularyObject.storage.keys {
            let id = try vocabularyObject.required(vocabularyObject.int(token), token)
            guard id >= 0 && id < seen.count && !seen[id] else {
                throw TokenizerError.invalidVocabulary(
                    path: path, reason: "model.vocab ids are not 0..<\(seen.count) each once (\"\(token)\" has \(id)); "
                        + "tokens that differ only by Unicode normalization cannot be read from JSON here, use vocab.txt")
            }
            seen[id] = true
            table.insert(token, id: id)
        }
        if table.count == 0 {
            throw TokenizerError.invalidVocabulary(path: path, reason: "model.vocab is empty")
        }

        var normalization = Normalization(cleanText: false, tokenizeChineseCharacters: false,
                                          stripAccents: false, lowercase: false)
        if let normalizer = try root.object("normalizer") {
            let type = try normalizer.string("type") ?? "(none)"
            guard type == "BertNormalizer" else {
                throw TokenizerError.unsupported(path: path, key: "normalizer.type", value: type)
            }
            normalization = Normalization(
                cleanText: try normalizer.bool("clean_text") ?? true,
                tokenizeChineseCharacters: try normalizer.bool("handle_chinese_chars") ?? true,
                stripAccents: try normalizer.bool("strip_accents"),
                lowercase: try normalizer.bool("lowercase") ?? true)
        }

        let preTokenizerType = try root.object("pre_tokenizer")?.string("type") ?? "(none)"
        guard preTokenizerType == "BertPreTokenizer" else {
            throw TokenizerError.unsupported(path: path, key: "pre_tokenizer.type", value: preTokenizerType)
        }

        var addedTokens: [AddedToken] = []
        for (index, entry) in (try root.array("added_tokens") ?? []).enumerated() {
            let key = "added_tokens[\(index)]"
            guard let fields = entry as? [String: Any] else {
                throw TokenizerError.invalidField(path: path, key: key, reason: "expected an object")
            }
            let token = JSONObject(path: path, keyPath: key, storage: fields)
            addedTokens.append(AddedToken(
                content: try token.required(token.string("content"), "content"),
                id: try token.required(token.int("id"), "id"),
                isSpecial: try token.bool("special") ?? false,
                isNormalized: try token.bool("normalized") ?? false,
                stripsLeft: try token.bool("lstrip") ?? false,
                stripsRight: try token.bool("rstrip") ?? false,
                isSingleWord: try token.bool("single_word") ?? false))
        }

        var specialTokens = SpecialTokens(unknown: try model.string("unk_token") ?? "[UNK]")
        if let padding = try root.object("padding"), let pad = try padding.string("pad_token") {
            specialTokens.padding = pad
        }
        if let processor = try root.object("post_processor") {
            let (classifier, separator) = try Self.classifierAndSeparator(processor)
            specialTokens.classifier = classifier ?? specialTokens.classifier
            specialTokens.separator = separator ?? specialTokens.separator
        }

        var prefix = try model.string("continuing_subword_prefix") ?? "##"
        var cleanup = true
        if let decoder = try root.object("decoder"), try decoder.string("type") == "WordPiece" {
            prefix = try decoder.string("prefix") ?? prefix
            cleanup = try decoder.bool("cleanup") ?? true
        }
        let maxCharacters = try model.int("max_input_chars_per_word") ?? 100
        guard maxCharacters >= 0 else {
            throw TokenizerError.invalidField(path: path, key: "model.max_input_chars_per_word",
                                              reason: "\(maxCharacters) is negative")
        }
        let subwordPrefix = try model.string("continuing_subword_prefix") ?? "##"
        if prefix != subwordPrefix {
            throw TokenizerError.unsupported(path: path, key: "decoder.prefix",
                                             value: "\(prefix) (the model's prefix is \(subwordPrefix))")
        }
        try self.init(table: table, normalization: normalization, specialTokens: specialTokens,
                      addedTokens: addedTokens, continuingSubwordPrefix: subwordPrefix,
                      maxInputCharactersPerWord: maxCharacters, cleansUpDecodedSpaces: cleanup, source: path)
    }

    /// The `[CLS]` and `[SEP]` spellings of a post-processor: the first and last special token
    /// of a `TemplateProcessing`'s single-text template, or a `BertProcessing`'s `cls` and `sep`.
    private static func classifierAndSeparator(_ processor: JSONObject) throws -> (String?, String?) {
        let type = try processor.string("type") ?? "(none)"
        switch type {
        case "BertProcessing":
            let classifier = try processor.array("cls")?.first as? String
            let separator = try processor.array("sep")?.first as? String
            return (classifier, separator)
        case "TemplateProcessing":
            let template = try processor.array("single") ?? []
            let specials = template.compactMap { piece -> String? in
                guard let piece = piece as? [String: Any], let special = piece["SpecialToken"] as? [String: Any] else {
                    return nil
                }
                return special["id"] as? String
            }
            return (specials.first, specials.count > 1 ? specials.last : nil)
        default:
            throw TokenizerError.unsupported(path: processor.path, key: "post_processor.type", value: type)
        }
    }
}
