/// Assembling a tokenizer from what a GGUF file or a `tokenizer.json` says.
extension BPETokenizer {
    /// What both sources provide, in their common terms.
    struct Parts {
        var source: String
        /// The model's vocabulary by id (nil: no token has that id), spelled in the byte alphabet.
        var vocabulary: [String?]
        /// The merges, best first: the two tokens, spelled as in `vocabulary`.
        var merges: [(String, String)]
        /// Where the merges are, for errors (`tokenizer.ggml.merges`, `model.merges`).
        var mergesKey: String
        var added: [AddedVocabulary.Token]
        var preTokenizer: PreTokenizer
        var normalizer: TextNormalizer?
        var ignoreMerges = false
        var unknownToken: String?
        var prefixTokens: [Int] = []
        var suffixTokens: [Int] = []
        var bos: Int?
        var eos: Int?
        var unknown: Int?
        var padding: Int?
    }

    init(_ parts: Parts) throws {
        let source = parts.source
        var vocabulary: [[UInt8]: Int32] = [:]
        vocabulary.reserveCapacity(parts.vocabulary.count)
        var size = parts.vocabulary.count
        for token in parts.added { size = max(size, token.id + 1) }
        var tokens = [String](repeating: "", count: size)
        var tokenBytes = [[UInt8]](repeating: [], count: size)
        for (id, token) in parts.vocabulary.enumerated() {
            guard let token else { continue }
            tokens[id] = token
            if let bytes = ByteLevelAlphabet.bytes(of: token) {
                tokenBytes[id] = bytes
                // A spelling given twice maps to its last id, as `transformers`' {token: id} does.
                vocabulary[bytes] = Int32(id)
            } else {
                // Outside the byte alphabet BPE never produces it; decoded as its own UTF-8
                // (`tokenizers`' ByteLevel decoder does the same).
                tokenBytes[id] = Array(token.utf8)
            }
        }
        var isSpecial = [Bool](repeating: false, count: size)
        for token in parts.added {
            tokens[token.id] = token.content
            tokenBytes[token.id] = ByteLevelAlphabet.bytes(of: token.content) ?? Array(token.content.utf8)
            isSpecial[token.id] = token.special
        }

        var merges = MergeTable(capacity: parts.merges.count)
        func id(_ token: String, _ index: Int, _ merge: String) throws -> Int32 {
            guard let bytes = ByteLevelAlphabet.bytes(of: token), let id = vocabulary[bytes] else {
                throw BPETokenizerError.invalidMerge(source: source, key: parts.mergesKey, index: index, merge: merge,
                                                     reason: "\"\(token)\" is not in the vocabulary")
            }
            return id
        }
        for (index, (left, right)) in parts.merges.enumerated() {
            let text = "\(left) \(right)"
            let a = try id(left, index, text)
            let b = try id(right, index, text)
            guard let result = vocabulary[ByteLevelAlphabet.bytes(of: left)! + ByteLevelAlphabet.bytes(of: right)!] else {
                throw BPETokenizerError.invalidMerge(source: source, key: parts.mergesKey, index: index, merge: text,
                                                     reason: "\"\(left)\(right)\" is not in the vocabulary")
            }
            // A repeated pair keeps its last rank, as `tokenizers` (a map filled in order) does.
            merges.set(a, b, rank: Int32(index), result: result)
        }
        let unknownId = parts.unknownToken.flatMap { ByteLevelAlphabet.bytes(of: $0) }.flatMap { vocabulary[$0] }
        let byteIds = (0..<256).map { vocabulary[[UInt8($0)]] ?? -1 }

        self.source = source
        vocabularySize = size
        self.tokens = tokens
        self.tokenBytes = tokenBytes
        self.isSpecial = isSpecial
        model = BPEModel(byteIds: byteIds, merges: merges, vocabulary: vocabulary, ignoreMerges: parts.ignoreMerges,
                         unknownId: unknownId)
        added = AddedVocabulary(parts.added, normalize: { parts.normalizer?($0) ?? $0 })
        preTokenizer = parts.preTokenizer
        normalizer = parts.normalizer
        prefixTokens = parts.prefixTokens
        suffixTokens = parts.suffixTokens
        bos = parts.bos
        eos = parts.eos
        unknown = parts.unknown
        padding = parts.padding
        var ends = Set(parts.eos.map { [$0] } ?? [])
        for token in parts.added where token.special && BPETokenizer.endOfTurnSpellings.contains(token.content) {
            ends.insert(token.id)
        }
        endOfTurnTokens = ends.sorted()
    }
}
