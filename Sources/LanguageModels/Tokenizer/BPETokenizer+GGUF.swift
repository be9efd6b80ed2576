import GGUF

extension BPETokenizer {
    /// The tokenizer a GGUF file describes, as `transformers` builds it from the same file
    /// (`AutoTokenizer.from_pretrained(dir, gguf_file: …)`).
    ///
    /// Read from the metadata: `tokenizer.ggml.model` (must be `gpt2`: byte-level BPE),
    /// `.tokens`, `.merges`, `.token_type`, `.pre`, `.bos_token_id`, `.eos_token_id`,
    /// `.unknown_token_id`, `.padding_token_id`, `.add_bos_token`, `.add_eos_token`.
    ///
    /// - Tokens outside the byte alphabet are respelled through it (their UTF-8 bytes), as
    ///   `transformers` does, so that BPE can reach them.
    /// - CONTROL tokens (type 3) become special added tokens, matched whole in the text and
    ///   skipped by `decode(_:skipSpecialTokens: true)`; USER_DEFINED ones (type 4) plain added
    ///   tokens. A CONTROL token spelled outside the byte alphabet is left out, as `transformers`
    ///   leaves it out (a llama.cpp mislabel).
    /// - `tokenizer.ggml.pre` chooses the pre-tokenisation. `smollm`, `gpt2` and `default` mean
    ///   GPT-2's pattern (`ByteLevel(use_regex: true)`): `transformers` has no entry for them
    ///   and falls back to it. (llama.cpp's `smollm` splits every `\p{N}` character off first,
    ///   as SmolLM2's original `tokenizer.json` does with `Digits(individual_digits)`; the two
    ///   differ only where a space precedes a non-ASCII number, " ²" or " ٣": this tokenizer
    ///   follows `transformers`, the reference of its tests.) `llama3`, `llama-bpe`, `llama-v3`,
    ///   `falcon3`, `smaug-bpe`, `dbrx` mean the Llama 3 `Split` regex, as `transformers` maps
    ///   them. Other values are refused, rather than tokenised in a way no test has checked.
    /// - `add_bos_token` / `add_eos_token` (default false) put `bos` / `eos` around encoded text.
    /// - One deliberate difference: `transformers`' `GPT2Tokenizer` registers its default
    ///   `<|endoftext|>` as a special token even when the file's vocabulary lacks it, with an id
    ///   past the model's vocabulary; this tokenizer keeps the file's vocabulary (SmolLM2's has
    ///   `<|endoftext|>`, as id 0, so it is unaffected).
    ///
    /// - Throws: `BPETokenizerError` naming the file and key: `.missingKey`, `.invalidValue`,
    ///   `.unsupported` (another tokenizer model or pre-tokeniser), `.invalidMerge`.
    public init(gguf: GGUFFile) throws {
        let source = gguf.path
        func read<T>(_ key: String, _ body: (String) throws -> T) throws -> T {
            do { return try body(key) } catch let error as GGUFError {
                if case .missingKey = error { throw BPETokenizerError.missingKey(source: source, key: key) }
                throw BPETokenizerError.invalidValue(source: source, key: key, reason: "\(error)")
            }
        }
        func optional<T>(_ key: String, _ body: (String) throws -> T) throws -> T? {
            gguf.contains(key: key) ? try read(key, body) : nil
        }

        let modelType = try read("tokenizer.ggml.model", gguf.string)
        guard modelType == "gpt2" else {
            throw BPETokenizerError.unsupported(source: source, key: "tokenizer.ggml.model", value: modelType)
        }
        let original = try read("tokenizer.ggml.tokens", gguf.strings)
        let types = try optional("tokenizer.ggml.token_type", gguf.ints) ?? []
        if !types.isEmpty && types.count != original.count {
            throw BPETokenizerError.invalidValue(source: source, key: "tokenizer.ggml.token_type",
                                                 reason: "\(types.count) types for \(original.count) tokens")
        }
        let vocabulary = original.map { ByteLevelAlphabet.bytes(of: $0) != nil ? $0 : ByteLevelAlphabet.spell($0.utf8) }

        var merges: [(String, String)] = []
        let mergeStrings = try read("tokenizer.ggml.merges", gguf.strings)
        merges.reserveCapacity(mergeStrings.count)
        for (index, merge) in mergeStrings.enumerated() {
            let halves = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard halves.count == 2 else {
                throw BPETokenizerError.invalidMerge(source: source, key: "tokenizer.ggml.merges", index: index, merge: merge,
                                                     reason: "not two tokens separated by one space")
            }
            merges.append((String(halves[0]), String(halves[1])))
        }

        // 3: CONTROL (special), 4: USER_DEFINED (added, not special); llama.cpp's llama_token_type.
        var added: [AddedVocabulary.Token] = []
        for (id, type) in types.enumerated() {
            let token = original[id]
            let spelledInAlphabet = ByteLevelAlphabet.bytes(of: token) != nil
            if type == 3 && spelledInAlphabet && !token.isEmpty {
                added.append(.init(content: token, id: id, special: true, normalized: false))
            } else if type == 4 && spelledInAlphabet && !token.isEmpty {
                added.append(.init(content: token, id: id, special: false, normalized: false))
            }
        }

        let pre = try optional("tokenizer.ggml.pre", gguf.string) ?? "default"
        let preTokenizer: PreTokenizer
        switch pre {
        case "smollm", "gpt2", "default":
            preTokenizer = .gpt2
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "smaug-bpe", "dbrx":
            preTokenizer = PreTokenizer(steps: [
                .split(try RegexSplitter(pattern: PreTokenizer.llama3Pattern), removeMatches: false, invert: false),
                .byteLevel(addPrefixSpace: false, useRegex: false)])
        default:
            throw BPETokenizerError.unsupported(source: source, key: "tokenizer.ggml.pre", value: pre)
        }

        func tokenId(_ key: String) throws -> Int? {
            guard let id = try optional(key, gguf.int) else { return nil }
            guard id >= 0 && id < original.count else {
                throw BPETokenizerError.invalidValue(source: source, key: key,
                                                     reason: "\(id) is not a token id (0..<\(original.count))")
            }
            return id
        }
        let bos = try tokenId("tokenizer.ggml.bos_token_id")
        let eos = try tokenId("tokenizer.ggml.eos_token_id")
        let addBOS = try optional("tokenizer.ggml.add_bos_token", gguf.bool) ?? false
        let addEOS = try optional("tokenizer.ggml.add_eos_token", gguf.bool) ?? false
        if addBOS && bos == nil {
            throw BPETokenizerError.missingKey(source: source, key: "tokenizer.ggml.bos_token_id")
        }
        if addEOS && eos == nil {
            throw BPETokenizerError.missingKey(source: source, key: "tokenizer.ggml.eos_token_id")
        }
        try self.init(Parts(
            source: source, vocabulary: vocabulary, merges: merges, mergesKey: "tokenizer.ggml.merges", added: added,
            preTokenizer: preTokenizer, normalizer: nil,
            prefixTokens: addBOS ? [bos!] : [], suffixTokens: addEOS ? [eos!] : [],
            bos: bos, eos: eos, unknown: try tokenId("tokenizer.ggml.unknown_token_id"),
            padding: try tokenId("tokenizer.ggml.padding_token_id")))
    }
}
