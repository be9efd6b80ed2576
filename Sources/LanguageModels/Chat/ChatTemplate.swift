import GGUF
import Tasks

/// A model's chat template, rendered exactly as `transformers`' `apply_chat_template(messages,
/// tokenize: false, add_generation_prompt: …)` renders it, for the ChatML family of templates.
///
/// LoRAKit does not run Jinja. It recognises templates of this shape (whitespace inside tags,
/// quotes and `message['role']` vs `message.role` spellings free; the string literals are read,
/// so markers and default prompts may differ):
///
///     {% for message in messages %}
///       {% if loop.first and messages[0]['role'] != 'system' %}{{ DEFAULT }}{% endif %}   (optional)
///       {{ 'PREFIX' + message['role'] + 'SEP' + message['content'] + 'SUFFIX' }}        (any concatenation)
///     {% endfor %}
///     {% if add_generation_prompt %}{{ 'PROMPT' }}{% endif %}                          (optional)
///
/// — SmolLM2's template (with a default system message, `You are a helpful AI assistant named
/// SmolLM…`, when the conversation does not start with one) and the plain ChatML template — and
/// refuses any other with `ChatTemplateError.unrecognised` naming the template.
public struct ChatTemplate: Sendable {
    /// The template's source text.
    public let source: String
    /// Which template this is, for messages (`<file>: tokenizer.chat_template`).
    public let name: String

    /// A piece of the text written for each message.
    enum Part: Equatable, Sendable {
        case literal(String)
        case role
        case content
    }

    /// Written before the first message when it is not a system message (SmolLM2's default).
    let defaultSystem: [Part]?
    /// Written for each message.
    let message: [Part]
    /// Written after the messages when a generation prompt is asked for.
    let generationPrompt: String?

    /// Reads a template's source.
    /// - Parameter name: how errors refer to the template.
    /// - Throws: `ChatTemplateError.unrecognised` for a template outside the ChatML family.
    public init(source: String, name: String) throws {
        self.source = source
        self.name = name
        let parsed: ChatTemplateParser.Result
        do { parsed = try ChatTemplateParser.parse(source) } catch let error as ChatTemplateParser.Failure {
            throw ChatTemplateError.unrecognised(name: name, reason: error.reason)
        }
        defaultSystem = parsed.defaultSystem
        message = parsed.message
        generationPrompt = parsed.generationPrompt
    }

    /// The template of a GGUF file (`tokenizer.chat_template`).
    /// - Throws: `ChatTemplateError.missingTemplate` when the file has none, `.unrecognised`.
    public init(gguf: GGUFFile) throws {
        let key = "tokenizer.chat_template"
        guard case let .string(source)? = gguf.metadata[key] else {
            throw ChatTemplateError.missingTemplate(source: gguf.path, key: key)
        }
        try self.init(source: source, name: "\(gguf.path): \(key)")
    }

    /// The conversation as text for the model.
    /// - Parameters:
    ///   - messages: the conversation, in order; roles are written as given.
    ///   - addGenerationPrompt: end with the start of an assistant turn (`<|im_start|>assistant\n`),
    ///     for generation.
    /// - Throws: `ChatTemplateError.emptyConversation` when `messages` is empty.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        guard let first = messages.first else { throw ChatTemplateError.emptyConversation(name: name) }
        var text = ""
        if let defaultSystem, first.role != "system" { text += ChatTemplate.write(defaultSystem, first) }
        for message in messages { text += ChatTemplate.write(self.message, message) }
        if addGenerationPrompt, let generationPrompt { text += generationPrompt }
        return text
    }

    private static func write(_ parts: [Part], _ message: ChatMessage) -> String {
        parts.map { part in
            switch part {
            case let .literal(s): return s
            case .role: return message.role
            case .content: return message.content
            }
        }.joined()
    }
}
