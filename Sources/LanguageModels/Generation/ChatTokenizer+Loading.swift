import Foundation
import GGUF
import Tasks

extension ChatTokenizer {
    /// The tokenizer and chat template of a GGUF file (`tokenizer.ggml.*`, `tokenizer.chat_template`).
    public init(gguf file: GGUFFile) throws {
        let tokenizer = try BPETokenizer(gguf: file)
        let template: Result<ChatTemplate, ChatTemplateError>
        do { template = .success(try ChatTemplate(gguf: file)) } catch let error as ChatTemplateError {
            template = .failure(error)
        }
        self.init(tokenizer: tokenizer, template: template)
    }

    /// The tokenizer and chat template of a Hugging Face checkpoint directory: `tokenizer.json`,
    /// and the `chat_template` of `tokenizer_config.json` when it has one.
    public init(huggingFace directory: URL) throws {
        let tokenizer = try BPETokenizer(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
        let config = directory.appendingPathComponent("tokenizer_config.json")
        var template: Result<ChatTemplate, ChatTemplateError> = .failure(.missingTemplate(source: config.path, key: "chat_template"))
        if let data = try? Data(contentsOf: config),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let source = object["chat_template"] as? String {
            do { template = .success(try ChatTemplate(source: source, name: "\(config.path): chat_template")) } catch let error as ChatTemplateError {
                template = .failure(error)
            }
        }
        self.init(tokenizer: tokenizer, template: template)
    }

    /// The tokenizer of a model: a GGUF file's, or a Hugging Face checkpoint's (the directory, or
    /// the directory of its `.safetensors` file).
    public static func load(from url: URL) throws -> ChatTokenizer {
        if LanguageModelsPlugin.isGGUF(url) { return try ChatTokenizer(gguf: try GGUFFile(url: url)) }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        guard exists else { throw LlamaError.unreadableFile(path: url.path, reason: "no such file or directory") }
        return try ChatTokenizer(huggingFace: isDirectory.boolValue ? url : url.deletingLastPathComponent())
    }
}
