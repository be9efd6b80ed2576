/// BERT's WordPiece tokenizer, matching Hugging Face's `BertTokenizerFast` (and, where the two
/// agree, the Python `BertTokenizer`) id for id.
///
/// Text goes through four stages:
/// 1. added tokens (`[CLS]`, `[MASK]`, …) written in the text are matched first and kept whole;
/// 2. the rest is normalized (`Normalization`: cleaning, CJK splitting, accent stripping,
///    lower-casing);
/// 3. it is split into words on whitespace and punctuation;
/// 4. each word becomes the longest vocabulary entry that starts it, then the longest
///    `##`-prefixed entry that continues it, and so on (greedy longest-match-first); a word that
///    cannot be covered this way, or that has more than `maxInputCharactersPerWord` scalars,
///    becomes a single `[UNK]`.
///
/// For example, with BERT's uncased vocabulary `"Unaffable café!"` becomes
/// `una ##ffa ##ble cafe !`, and `encode` makes that `[CLS] una ##ffa ##ble cafe ! [SEP]`.
///
/// Lengths are counted in Unicode scalars (code points), as the reference counts them, not in
/// Swift `Character`s.
///
/// Load one with `init(directory:)` (a Hugging Face model directory), `init(tokenizerFile:)`
/// (`tokenizer.json`) or `init(vocabularyFile:…)` (`vocab.txt`).
public struct WordPieceTokenizer: Sendable {
    /// The normalizer's settings (`BertNormalizer` in `tokenizer.json`, or the `do_lower_case`,
    /// `strip_accents` and `tokenize_chinese_chars` keys of `tokenizer_config.json`).
    public struct Normalization: Sendable, Equatable {
        /// Drop NUL, U+FFFD and control characters; make every whitespace a space.
        public var cleanText: Bool
        /// Put spaces around CJK ideographs so that each is a word (kana and Hangul are not).
        public var tokenizeChineseCharacters: Bool
        /// Strip accents (NFD, then drop nonspacing marks); `nil` means "when lower-casing".
        public var stripAccents: Bool?
        /// Lower-case the text.
        public var lowercase: Bool

        public init(cleanText: Bool = true, tokenizeChineseCharacters: Bool = true,
                    stripAccents: Bool? = nil, lowercase: Bool = true) {
            self.cleanText = cleanText
            self.tokenizeChineseCharacters = tokenizeChineseCharacters
            self.stripAccents = stripAccents
            self.lowercase = lowercase
        }
    }

    /// The spellings of the special tokens.
    public struct SpecialTokens: Sendable, Equatable {
        public var padding: String
        public var unknown: String
        public var classifier: String
        public var separator: String
        public var mask: String

        public init(padding: String = "[PAD]", unknown: String = "[UNK]", classifier: String = "[CLS]",
                    separator: String = "[SEP]", mask: String = "[MASK]") {
            self.padding = padding
            self.unknown = unknown
            self.classifier = classifier
            self.separator = separator
            self.mask = mask
        }

        var all: [String] { [padding, unknown, classifier, separator, mask] }
    }

    /// The normalizer's settings.
    public let normalization: Normalization
    /// The special tokens' spellings.
    public let specialTokens: SpecialTokens
    /// Tokens matched whole in the text before normalization or WordPiece.
    public let addedTokens: [AddedToken]
    /// The prefix of pieces that continue a word (`##`).
    public let continuingSubwordPrefix: String
    /// Words longer than this many Unicode scalars become `[UNK]` (100 in BERT).
    public let maxInputCharactersPerWord: Int
    /// Whether `decode` glues `.`, `,`, `?` and `!` to the previous word (the `cleanup` flag of
    /// the WordPiece decoder).
    public let cleansUpDecodedSpaces: Bool

    /// The id of `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and `[MASK]`.
    public let padId: Int, unkId: Int, clsId: Int, sepId: Int, maskId: Int

    /// One more than the largest id (of the vocabulary and the added tokens).
    public var vocabularySize: Int { idToToken.count }

    let vocabulary: VocabularyTable
    let idToToken: [String?]
    let specialIds: Set<Int>
    let normalizer: BertNormalizer
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let prefixBytes: [UInt8]

    /// Creates a tokenizer from an in-memory vocabulary.
    ///
    /// - Parameters:
    ///   - vocabulary: token → id. Ids must be non-negative; they need not be dense.
    ///   - normalization: the normalizer's settings.
    ///   - specialTokens: the special tokens' spellings; all five must be in `vocabulary` or
    ///     `addedTokens`.
    ///   - addedTokens: tokens matched whole in the text; `nil` means the five special tokens,
    ///     matched in the raw text (what `vocab.txt` implies).
    ///   - continuingSubwordPrefix: the prefix of word-continuing pieces.
    ///   - maxInputCharactersPerWord: longer words become `[UNK]`.
    ///   - cleansUpDecodedSpaces: see `cleansUpDecodedSpaces`.
    /// - Throws: `TokenizerError.missingSpecialTokens` or `.invalidVocabulary`, naming
    ///   "vocabulary" as the file.
    public init(vocabulary: [String: Int], normalization: Normalization = Normalization(),
                specialTokens: SpecialTokens = SpecialTokens(), addedTokens: [AddedToken]? = nil,
                continuingSubwordPrefix: String = "##", maxInputCharactersPerWord: Int = 100,
                cleansUpDecodedSpaces: Bool = true) throws {
        var table = VocabularyTable(capacity: vocabulary.count)
        for (token, id) in vocabulary { table.insert(token, id: id) }
        try self.init(table: table, normalization: normalization, specialTokens: specialTokens,
                      addedTokens: addedTokens, continuingSubwordPrefix: continuingSubwordPrefix,
                      maxInputCharactersPerWord: maxInputCharactersPerWord,
                      cleansUpDecodedSpaces: cleansUpDecodedSpaces, source: "vocabulary")
    }

    /// Creates a tokenizer whose token ids are the positions in `tokens` (as in `vocab.txt`;
    /// a repeated token keeps its last position, as in Hugging Face's `load_vocab`).
    public init(tokens: [String], normalization: Normalization = Normalization(),
                specialTokens: SpecialTokens = SpecialTokens(),
                continuingSubwordPrefix: String = "##", maxInputCharactersPerWord: Int = 100) throws {
        try self.init(tokens: tokens, normalization: normalization, specialTokens: specialTokens,
                      continuingSubwordPrefix: continuingSubwordPrefix,
                      maxInputCharactersPerWord: maxInputCharactersPerWord, source: "vocabulary")
    }

    init(tokens: [String], normalization: Normalization, specialTokens: SpecialTokens,
         continuingSubwordPrefix: String, maxInputCharactersPerWord: Int, source: String) throws {
        var table = VocabularyTable(capacity: tokens.count)
        for (id, token) in tokens.enumerated() { table.insert(token, id: id) }
        try self.init(table: table, normalization: normalization, specialTokens: specialTokens,
                      addedTokens: nil, continuingSubwordPrefix: continuingSubwordPrefix,
                      maxInputCharactersPerWord: maxInputCharactersPerWord, cleansUpDecodedSpaces: true,
                      source: source)
    }

    init(table: VocabularyTable, normalization: Normalization, specialTokens: SpecialTokens,
         addedTokens: [AddedToken]?, continuingSubwordPrefix: String, maxInputCharactersPerWord: Int,
         cleansUpDecodedSpaces: Bool, source: String) throws {
        guard maxInputCharactersPerWord >= 0 else {
            throw TokenizerError.invalidVocabulary(
                path: source, reason: "maxInputCharactersPerWord \(maxInputCharactersPerWord) is negative")
        }
        // Added tokens come first, as in `tokenizers`' token_to_id; they may have ids of their
        // own, outside the model's vocabulary.
        func id(of token: String) -> Int? {
            addedTokens?.first(where: { $0.content.unicodeScalars.elementsEqual(token.unicodeScalars) })?.id
                ?? table.id(of: token)
        }
        let missing = specialTokens.all.filter { id(of: $0) == nil }
        if !missing.isEmpty {
            throw TokenizerError.missingSpecialTokens(path: source, tokens: missing)
        }
        let entries = table.entries
        var largestId = -1
        for (token, id) in entries + (addedTokens ?? []).map({ ($0.content, $0.id) }) {
            guard id >= 0 && id < TokenizerError.largestSupportedId else {
                throw TokenizerError.invalidVocabulary(path: source, reason: "token \"\(token)\" has id \(id)")
            }
            largestId = max(largestId, id)
        }
        var idToToken = [String?](repeating: nil, count: largestId + 1)
        for (token, id) in entries { idToToken[id] = token }
        for token in addedTokens ?? [] { idToToken[token.id] = token.content }

        self.vocabulary = table
        self.idToToken = idToToken
        self.normalization = normalization
        self.specialTokens = specialTokens
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.prefixBytes = Array(continuingSubwordPrefix.utf8)
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
        self.cleansUpDecodedSpaces = cleansUpDecodedSpaces
        self.normalizer = BertNormalizer(options: normalization)
        padId = id(of: specialTokens.padding)!
        unkId = id(of: specialTokens.unknown)!
        clsId = id(of: specialTokens.classifier)!
        sepId = id(of: specialTokens.separator)!
        maskId = id(of: specialTokens.mask)!
        let added = addedTokens ?? specialTokens.all.map { AddedToken(content: $0, id: id(of: $0)!) }
        self.addedTokens = added
        specialIds = Set(added.filter(\.isSpecial).map(\.id))
        rawMatcher = AddedTokenMatcher(added.filter { !$0.isNormalized })
        normalizedMatcher = AddedTokenMatcher(added.filter(\.isNormalized))
    }

    /// The id of `token`, if it is an added token or in the vocabulary (compared scalar by
    /// scalar, not by canonical equivalence).
    public func id(for token: String) -> Int? {
        addedTokens.first(where: { $0.content.unicodeScalars.elementsEqual(token.unicodeScalars) })?.id
            ?? vocabulary.id(of: token)
    }

    /// The token whose id is `id`, if any.
    public func token(for id: Int) -> String? {
        id >= 0 && id < idToToken.count ? idToToken[id] : nil
    }

    /// Splits `text` into tokens without adding `[CLS]`/`[SEP]` (Hugging Face's `tokenize`).
    public func tokenize(_ text: String) -> [String] {
        ids(of: text).map { idToToken[$0]! }
    }

    /// The ids of `text`'s tokens, without special tokens around them.
    public func ids(of text: String) -> [Int] {
        var ids: [Int] = []
        appendIds(of: text, to: &ids)
        return ids
    }

    /// Reused buffers for one call: the normalized text and the current word's UTF-8.
    struct Scratch {
        var normalized: [Unicode.Scalar] = []
        var utf8: [UInt8] = []
        /// `utf8` offset of each scalar of the word, and the end.
        var boundaries: [Int] = []
    }

    func appendIds(of text: String, to ids: inout [Int]) {
        let raw = Array(text.unicodeScalars)
        var scratch = Scratch()
        rawMatcher.split(raw[...]) { segment in
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                normalizer.normalize(raw[range], into: &scratch.normalized)
                let normalized = scratch.normalized
                normalizedMatcher.split(normalized[...]) { piece in
                    switch piece {
                    case .token(let id):
                        ids.append(id)
                    case .text(let range):
                        BertNormalizer.forEachWord(in: normalized[range]) { word in
                            appendPieces(of: normalized[word], scratch: &scratch, to: &ids)
                        }
                    }
                }
            }
        }
    }

    /// Greedy longest-match-first WordPiece on one word: the longest vocabulary entry that
    /// starts the word, then the longest `##` entry that continues it, and so on; `[UNK]` for the
    /// whole word if some position has no entry.
    ///
    /// - Complexity: O(n·L) lookups for n scalars, L = the longest entry.
    func appendPieces(of word: ArraySlice<Unicode.Scalar>, scratch: inout Scratch, to ids: inout [Int]) {
        let count = word.count
        if count > maxInputCharactersPerWord {
            ids.append(unkId)
            return
        }
        scratch.utf8.removeAll(keepingCapacity: true)
        scratch.boundaries.removeAll(keepingCapacity: true)
        scratch.boundaries.append(0)
        for scalar in word {
            if scalar.value < 0x80 {
                scratch.utf8.append(UInt8(scalar.value))
            } else {
                UTF8.encode(scalar) { scratch.utf8.append($0) }
            }
            scratch.boundaries.append(scratch.utf8.count)
        }
        let firstPiece = ids.count
        let longest = vocabulary.longestEntry
        let complete = scratch.utf8.withUnsafeBufferPointer { utf8 in
            prefixBytes.withUnsafeBufferPointer { prefix in
                scratch.boundaries.withUnsafeBufferPointer { boundaries -> Bool in
                    let noPrefix = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
                    var start = 0
                    while start < count {
                        var end = min(count, start + longest)
                        var match: Int?
                        while start < end {
                            let key = UnsafeBufferPointer(rebasing: utf8[boundaries[start]..<boundaries[end]])
                            if let id = vocabulary.id(prefix: start > 0 ? prefix : noPrefix, key: key) {
                                match = id
                                break
                            }
                            end -= 1
                        }
                        guard let id = match else { return false }
                        ids.append(id)
                        start = end
                    }
                    return true
                }
            }
        }
        if !complete {
            ids.removeSubrange(firstPiece...)
            ids.append(unkId)
        }
    }
}
