import Foundation

extension WordPieceTokenizer {
    /// Loads the tokenizer of a Hugging Face model directory: `tokenizer.json` when there is
    /// one, else `vocab.txt` with the settings of `tokenizer_config.json` (defaults when absent:
    /// lower-casing, accents stripped, CJK split, `[PAD]` `[UNK]` `[CLS]` `[SEP]` `[MASK]`).
    ///
    /// - Throws: `TokenizerError`, naming the file at fault.
    public init(directory: URL) throws {
        let tokenizerFile = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tokenizerFile.path) {
            try self.init(tokenizerFile: tokenizerFile)
            return
        }
        let vocabularyFile = directory.appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocabularyFile.path) else {
            throw TokenizerError.noTokenizerFiles(path: directory.path)
        }
        let configFile = directory.appendingPathComponent("tokenizer_config.json")
        var normalization = Normalization()
        var specialTokens = SpecialTokens()
        if FileManager.default.fileExists(atPath: configFile.path) {
            let config = try TokenizerFiles.jsonObject(configFile)
            normalization.lowercase = try config.bool("do_lower_case") ?? true
            normalization.stripAccents = try config.bool("strip_accents")
            normalization.tokenizeChineseCharacters = try config.bool("tokenize_chinese_chars") ?? true
            if try config.bool("do_basic_tokenize") == false {
                throw TokenizerError.unsupported(path: configFile.path, key: "do_basic_tokenize", value: "false")
            }
            if let neverSplit = try config.array("never_split"), !neverSplit.isEmpty {
                throw TokenizerError.unsupported(path: configFile.path, key: "never_split",
                                                 value: "\(neverSplit.count) entries")
            }
            specialTokens = SpecialTokens(
                padding: try config.tokenSpelling("pad_token") ?? "[PAD]",
                unknown: try config.tokenSpelling("unk_token") ?? "[UNK]",
                classifier: try config.tokenSpelling("cls_token") ?? "[CLS]",
                separator: try config.tokenSpelling("sep_token") ?? "[SEP]",
                mask: try config.tokenSpelling("mask_token") ?? "[MASK]")
        }
        try self.init(vocabularyFile: vocabularyFile, normalization: normalization, specialTokens: specialTokens)
    }

    /// Loads a `vocab.txt` (one token a line; the line number, from 0, is the id).
    ///
    /// - Parameters:
    ///   - vocabularyFile: the `vocab.txt`.
    ///   - lowercase: lower-case the text (`do_lower_case`).
    ///   - stripAccents: strip accents; `nil` means "when lower-casing".
    ///   - tokenizeChineseCharacters: make each CJK ideograph a word.
    /// - Throws: `TokenizerError` naming the file: `.fileNotFound`, `.invalidUTF8` with the line,
    ///   `.missingSpecialTokens` when `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` or `[MASK]` is absent.
    public init(vocabularyFile: URL, lowercase: Bool = true, stripAccents: Bool? = nil,
                tokenizeChineseCharacters: Bool = true) throws {
        try self.init(vocabularyFile: vocabularyFile,
                      normalization: Normalization(tokenizeChineseCharacters: tokenizeChineseCharacters,
                                                   stripAccents: stripAccents, lowercase: lowercase),
                      specialTokens: SpecialTokens())
    }

    /// Loads a `vocab.txt` with explicit normalization settings and special-token spellings.
    public init(vocabularyFile: URL, normalization: Normalization, specialTokens: SpecialTokens) throws {
        let tokens = try TokenizerFiles.vocabularyLines(vocabularyFile)
        try self.init(tokens: tokens, normalization: normalization, specialTokens: specialTokens,
                      continuingSubwordPrefix: "##", maxInputCharactersPerWord: 100, source: vocabularyFile.path)
    }
}
