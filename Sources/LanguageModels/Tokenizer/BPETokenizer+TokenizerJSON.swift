import Foundation

extension BPETokenizer {
    /// The tokenizer a Hugging Face `tokenizer.json` describes, as `tokenizers` runs it.
    ///
    /// Read from it:
    /// - `model`: type `BPE`, `vocab`, `merges` (`"a b"` strings or `["a", "b"]` pairs),
    ///   `ignore_merges`, `unk_token`; `dropout`, `byte_fallback`, `continuing_subword_prefix` and
    ///   `end_of_word_suffix` must be off (null, false or "");
    /// - `normalizer`: null, `NFC`, `NFD`, `NFKC`, `NFKD`, or a `Sequence` of them;
    /// - `pre_tokenizer`: `ByteLevel` last, after any `Split` (a regex or a string; `Isolated` or
    ///   `Removed`, `invert`) and `Digits` steps;
    /// - `decoder`: `ByteLevel`;
    /// - `post_processor`: null, `ByteLevel`, `TemplateProcessing` (its `single` template gives
    ///   the tokens put before and after a text), or a `Sequence` of those;
    /// - `added_tokens`: with `special`, `normalized`, `single_word`, `lstrip`, `rstrip`.
    ///
    /// `bos` and `eos` are the template's first and last special tokens, when it has them.
    /// Anything else is refused with `.unsupported` naming the key, rather than tokenised in a
    /// way that differs from the reference.
    ///
    /// - Throws: `BPETokenizerError` naming the file and key.
    public init(tokenizerJSON url: URL) throws {
        let root = try TokenizerJSON.load(url)
        let model = root["model"]
        let modelType = try model["type"].optionalString() ?? "BPE"
        guard modelType == "BPE" else { throw model["type"].unsupported(modelType) }
        if !model["dropout"].isNull, (try? model["dropout"].int()) != 0 { throw model["dropout"].unsupported("a dropout") }
        if try model["byte_fallback"].bool(default: false) { throw model["byte_fallback"].unsupported("true") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = try model[key].optionalString(), !affix.isEmpty { throw model[key].unsupported("\"\(affix)\"") }
        }

        // The vocabulary: ids must be distinct (a JSON object read into a dictionary merges keys
        // that are canonically equivalent in Swift, "é" and "e\u{301}", which would lose one).
        let vocab = try model["vocab"].object()
        var maxId = -1
        var byId: [Int: String] = [:]
        for (token, value) in vocab {
            let entry = TokenizerJSON(source: root.source, value: value, key: "model.vocab.\(token)")
            let id = try entry.int()
            guard id >= 0, byId[id] == nil else { throw entry.invalid("id \(id) is negative or given to two tokens") }
            byId[id] = token
            maxId = max(maxId, id)
        }
        guard maxId < 1 << 24 else { throw model["vocab"].invalid("id \(maxId) is too large") }
        var vocabulary = [String?](repeating: nil, count: maxId + 1)
        for (id, token) in byId { vocabulary[id] = token }

        var merges: [(String, String)] = []
        for (index, merge) in try model["merges"].array().enumerated() {
            if let text = merge.value as? String {
                let halves = text.split(separator: " ", omittingEmptySubsequences: false)
                guard halves.count == 2 else {
                    throw BPETokenizerError.invalidMerge(source: root.source, key: "model.merges", index: index, merge: text,
                                                         reason: "not two tokens separated by one space")
                }
                merges.append((String(halves[0]), String(halves[1])))
            } else if let pair = merge.value as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw merge.invalid("expected \"a b\" or [\"a\", \"b\"]")
            }
        }

        var added: [AddedVocabulary.Token] = []
        if !root["added_tokens"].isNull {
            for item in try root["added_tokens"].array() {
                let special = try item["special"].bool(default: false)
                added.append(.init(content: try item["content"].string(), id: try item["id"].int(), special: special,
                                   normalized: try item["normalized"].bool(default: !special),
                                   singleWord: try item["single_word"].bool(default: false),
                                   leftStrip: try item["lstrip"].bool(default: false),
                                   rightStrip: try item["rstrip"].bool(default: false)))
                guard added.last!.id >= 0 && added.last!.id < 1 << 24 else { throw item["id"].invalid("not a token id") }
            }
        }

        let normalizer = try BPETokenizer.normalizer(root["normalizer"])
        let preTokenizer = try BPETokenizer.preTokenizer(root["pre_tokenizer"])
        let decoderType = try root["decoder"]["type"].optionalString() ?? "null"
        guard decoderType == "ByteLevel" else { throw root["decoder"]["type"].unsupported(decoderType) }
        let (prefix, suffix) = try BPETokenizer.template(root["post_processor"])

        let unknownToken = try model["unk_token"].optionalString()
        let unknown = unknownToken.flatMap { u in added.first { $0.content == u }?.id ?? byId.first { $0.value == u }?.key }
        try self.init(Parts(
            source: root.source, vocabulary: vocabulary, merges: merges, mergesKey: "model.merges", added: added,
            preTokenizer: preTokenizer, normalizer: normalizer,
            ignoreMerges: try model["ignore_merges"].bool(default: false), unknownToken: unknownToken,
            prefixTokens: prefix, suffixTokens: suffix, bos: prefix.first, eos: suffix.last, unknown: unknown,
            padding: nil))
    }

    private static func normalizer(_ json: TokenizerJSON) throws -> TextNormalizer? {
        if json.isNull { return nil }
        let type = try json["type"].string()
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Sequence":
            return .sequence(try json["normalizers"].array().compactMap { try normalizer($0) })
        default: throw json["type"].unsupported(type)
        }
    }

    private static func preTokenizer(_ json: TokenizerJSON) throws -> PreTokenizer {
        let items = try json["type"].string() == "Sequence" ? try json["pretokenizers"].array() : [json]
        var steps: [PreTokenizer.Step] = []
        for (index, item) in items.enumerated() {
            let type = try item["type"].string()
            switch type {
            case "ByteLevel":
                guard index == items.count - 1 else { throw item["type"].unsupported("ByteLevel before other steps") }
                steps.append(.byteLevel(addPrefixSpace: try item["add_prefix_space"].bool(default: true),
                                        useRegex: try item["use_regex"].bool(default: true)))
            case "Split":
                let pattern: String
                if let regex = try item["pattern"]["Regex"].optionalString() {
                    pattern = regex
                } else {
                    pattern = NSRegularExpression.escapedPattern(for: try item["pattern"]["String"].string())
                }
                let behavior = try item["behavior"].string()
                guard behavior == "Isolated" || behavior == "Removed" else { throw item["behavior"].unsupported(behavior) }
                let splitter: RegexSplitter
                do { splitter = try RegexSplitter(pattern: pattern) } catch {
                    throw item["pattern"].invalid("the regular expression does not compile: \(error)")
                }
                steps.append(.split(splitter, removeMatches: behavior == "Removed",
                                    invert: try item["invert"].bool(default: false)))
            case "Digits":
                steps.append(.digits(individual: try item["individual_digits"].bool(default: false)))
            default:
                throw item["type"].unsupported(type)
            }
        }
        guard case .byteLevel? = steps.last else {
            throw json.unsupported("a pre-tokenizer without ByteLevel (not a byte-level BPE tokenizer)")
        }
        return PreTokenizer(steps: steps)
    }

    /// The ids a `TemplateProcessing` puts before and after a single text.
    private static func template(_ json: TokenizerJSON) throws -> (prefix: [Int], suffix: [Int]) {
        if json.isNull { return ([], []) }
        let type = try json["type"].string()
        switch type {
        case "ByteLevel":
            return ([], [])
        case "Sequence":
            var prefix: [Int] = []
            var suffix: [Int] = []
            for item in try json["processors"].array() {
                let (p, s) = try template(item)
                prefix = p + prefix
                suffix += s
            }
            return (prefix, suffix)
        case "TemplateProcessing":
            var prefix: [Int] = []
            var suffix: [Int] = []
            var seenSequence = false
            for item in try json["single"].array() {
                if !item["Sequence"].isNull { seenSequence = true; continue }
                let name = try item["SpecialToken"]["id"].string()
                let ids = try json["special_tokens"][name]["ids"].array().map { try $0.int() }
                if seenSequence { suffix += ids } else { prefix += ids }
            }
            return (prefix, suffix)
        default:
            throw json["type"].unsupported(type)
        }
    }
}
