import Foundation

/// What can go wrong reading or rendering a chat template.
public enum ChatTemplateError: Error, Equatable, Sendable {
    /// The model has no chat template (`tokenizer.chat_template` in a GGUF file).
    case missingTemplate(source: String, key: String)
    /// The template is not one LoRAKit renders (it renders the ChatML family, not Jinja in
    /// general): `name` says which template, `reason` where it departs from the family.
    case unrecognised(name: String, reason: String)
    /// There are no messages to render (`transformers` refuses these too).
    case emptyConversation(name: String)
}

extension ChatTemplateError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case let .missingTemplate(source, key):
            return "\(source): has no chat template (\(key))"
        case let .unrecognised(name, reason):
            return "\(name): not a chat template LoRAKit can render (the ChatML family): \(reason)"
        case let .emptyConversation(name):
            return "\(name): cannot render an empty conversation"
        }
    }

    public var errorDescription: String? { description }
}
