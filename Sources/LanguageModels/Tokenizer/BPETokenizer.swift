/// A byte-level BPE tokenizer (GPT-2's scheme, as SmolLM2, Llama 3 and Qwen use it), built from a
/// GGUF file's metadata (`init(gguf:)`) or a Hugging Face `tokenizer.json`
/// (`init(tokenizerJSON:)`), giving the ids that `transformers`/`tokenizers` give for the same files.
///
/// Encoding, in `tokenizers`' order:
/// 1. added tokens (`<|im_start|>` …) are found whole in the raw text (`AddedVocabulary`);
/// 2. the text between them is normalised (when the tokenizer has a normaliser) and pre-tokenised
///    into pieces (`PreTokenizer`: GPT-2's pattern, or a `Split` regex, `Digits`);
/// 3. each piece's UTF-8 bytes become byte-alphabet symbols that are merged by rank (`BPEModel`);
/// 4. `addSpecialTokens` adds the tokens the tokenizer puts around a text (a BOS, an EOS).
///
/// Decoding concatenates the tokens' bytes and reads them as UTF-8, an invalid sequence becoming
/// U+FFFD (as `tokenizers`' `ByteLevel` decoder does); `BPEStreamingDecoder` does the same a token
/// at a time without splitting characters.
///
///     let gguf = try GGUFFile(path: "SmolLM2-135M-Instruct.Q4_1.gguf")
///     let tokenizer = try BPETokenizer(gguf: gguf)
///     let ids = tokenizer.encode("Hello world")          // [19556, 905]
///     tokenizer.decode(ids)                               // "Hello world"
public struct BPETokenizer: Sendable {
    /// Where the tokenizer came from (a file path), for messages.
    public let source: String
    /// The number of token ids: one more than the largest id of the vocabulary and added tokens.
    public let vocabularySize: Int
    /// The beginning-of-sequence token, when the tokenizer has one.
    public let bos: Int?
    /// The end-of-sequence token, when the tokenizer has one.
    public let eos: Int?
    /// The unknown token, when the tokenizer has one.
    public let unknown: Int?
    /// The padding token, when the tokenizer has one.
    public let padding: Int?
    /// Tokens that end a turn or a text, for stopping generation: `eos`, and the special tokens
    /// spelled `<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, `<|end_of_text|>`, `<|eom_id|>`,
    /// `<|end|>` or `<end_of_turn>` that the vocabulary has. Sorted.
    public let endOfTurnTokens: [Int]
    /// The tokens `encode(_:addSpecialTokens: true)` puts before the text (a BOS, when the
    /// tokenizer adds one).
    public let prefixTokens: [Int]
    /// The tokens `encode(_:addSpecialTokens: true)` puts after the text (an EOS, when the
    /// tokenizer adds one).
    public let suffixTokens: [Int]

    let model: BPEModel
    let added: AddedVocabulary
    let preTokenizer: PreTokenizer
    let normalizer: TextNormalizer?
    /// Every id's token as the vocabulary spells it ("" for an id without a token).
    let tokens: [String]
    /// Every id's bytes when decoded.
    let tokenBytes: [[UInt8]]
    /// Whether each id is a special token (skipped by `decode(_:skipSpecialTokens: true)`).
    let isSpecial: [Bool]

    /// Spellings of end-of-turn tokens across model families.
    static let endOfTurnSpellings: Set<String> = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>",
                                                  "<|eom_id|>", "<|end|>", "<end_of_turn>"]

    // MARK: - Encoding

    /// The ids of `text`.
    /// - Parameters:
    ///   - addSpecialTokens: add the tokens this tokenizer puts around a text (`prefixTokens`,
    ///     `suffixTokens`: SmolLM2 adds none, a Llama 3 tokenizer a BOS).
    /// - Complexity: O(n log n) in the length of the longest pre-tokenised piece, linear otherwise.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = addSpecialTokens ? prefixTokens : []
        ids.reserveCapacity(text.utf8.count / 3 + 8)
        var workspace = BPEModel.Workspace()
        let (pieces, buffers) = added.split(text, normalize: normalizer.map { n in { n($0) } })
        for piece in pieces {
            switch piece {
            case let .token(id):
                ids.append(id)
            case let .text(buffer, range):
                buffers[buffer].withUnsafeBufferPointer { all in
                    preTokenizer.forEachPiece(UnsafeBufferPointer(rebasing: all[range])) {
                        model.encode($0, into: &ids, workspace: &workspace)
                    }
                }
            }
        }
        if addSpecialTokens { ids += suffixTokens }
        return ids
    }

    // MARK: - Decoding

    /// The text of `ids`: their bytes concatenated and read as UTF-8, each invalid sequence (a
    /// character cut between tokens, say) becoming U+FFFD. Ids outside the vocabulary are
    /// skipped, as `tokenizers` skips them.
    /// - Parameter skipSpecialTokens: leave out special tokens (`<|im_start|>`, …).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the bytes of `id` (nothing for an unknown id, or a special one when skipped).
    func appendBytes(of id: Int, skipSpecialTokens: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, id < tokenBytes.count, !(skipSpecialTokens && isSpecial[id]) else { return }
        bytes += tokenBytes[id]
    }

    /// A decoder that turns ids given one at a time into text, never splitting a character.
    public func streamingDecoder(skipSpecialTokens: Bool = false) -> BPEStreamingDecoder {
        BPEStreamingDecoder(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }

    // MARK: - Vocabulary

    /// The token of `id` as the vocabulary spells it (byte-level: `Ġworld`), or nil.
    public func token(_ id: Int) -> String? {
        id >= 0 && id < tokens.count && !tokenBytes[id].isEmpty ? tokens[id] : nil
    }

    /// The id of the token spelled `token` (byte-level: `Ġworld`; or an added token's text), or nil.
    public func id(of token: String) -> Int? {
        if let added = added.tokens.first(where: { $0.content == token }) { return added.id }
        guard let bytes = ByteLevelAlphabet.bytes(of: token), let id = model.vocabulary[bytes] else { return nil }
        return Int(id)
    }

    /// Whether `id` is a special token.
    public func isSpecialToken(_ id: Int) -> Bool { id >= 0 && id < isSpecial.count && isSpecial[id] }
}
