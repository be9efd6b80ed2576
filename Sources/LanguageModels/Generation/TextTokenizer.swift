import Tasks

/// What a text generator needs from a tokenizer: text to ids and back, the chat template, and the
/// ids that end a turn. The byte-level BPE tokenizer of a GGUF file conforms.
public protocol TextTokenizer {
    /// The ids of `text`, special tokens written in it (`<|im_start|>`) read as their ids, as
    /// `transformers` reads a rendered chat template.
    /// - Parameter addSpecialTokens: add the tokens the tokenizer puts around a text (a BOS):
    ///   true for a prompt, false for a rendered chat, whose template writes its own.
    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int]
    /// The text of `ids` (special tokens written out). A byte sequence cut inside a character
    /// decodes to U+FFFD at its end until the rest arrives.
    func decode(_ ids: [Int]) -> String
    /// `messages` rendered with the model's chat template, ending with the assistant's turn.
    func renderChat(_ messages: [ChatMessage]) throws -> String
    /// Ids that end the model's turn (`<|im_end|>`, the end-of-text token).
    var endOfTurnTokenIds: [Int] { get }
}
