import Tasks

/// A `TextTokenizer` made of a byte-level BPE tokenizer and the model's chat template, as a GGUF
/// file carries them (`tokenizer.ggml.*`, `tokenizer.chat_template`).
///
/// A model whose template is missing, or is not one LoRAKit renders, still continues plain text;
/// only a conversation is then an error, naming the file and what is wrong with its template.
public struct ChatTokenizer: TextTokenizer, Sendable {
    public let tokenizer: BPETokenizer
    /// The chat template, or why there is none.
    public let template: Result<ChatTemplate, ChatTemplateError>

    public init(tokenizer: BPETokenizer, template: Result<ChatTemplate, ChatTemplateError>) {
        self.tokenizer = tokenizer
        self.template = template
    }

    public func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int] {
        tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
    }

    public func decode(_ ids: [Int]) -> String { tokenizer.decode(ids) }

    public func renderChat(_ messages: [ChatMessage]) throws -> String {
        try template.get().render(messages, addGenerationPrompt: true)
    }

    public var endOfTurnTokenIds: [Int] { tokenizer.endOfTurnTokens }
}
