import Foundation
import Tasks

/// Turns a causal-LM data file into examples with the model's tokenizer, deciding which tokens
/// the loss learns:
///
/// - `{"text": …}`: every token (the tokenizer's BOS first when it adds one, its EOS last);
/// - `{"prompt": …, "completion": …}`: the completion's tokens and the EOS after them, not the
///   prompt's; the two are encoded separately and joined, as TRL does;
/// - `{"messages": [{"role", "content"}, …]}`: the assistant turns only. The conversation is
///   rendered with the model's chat template prefix by prefix — up to before each assistant
///   turn (with the generation prompt), and through it — and the tokens between the two are that
///   turn's (its text and the template's end-of-turn). This needs no `{% generation %}` markers in
///   the template, and a template that does not render a conversation prefix by prefix is an
///   error naming the line, never a silently wrong mask.
///
/// A plain-text file (format `lm_text`) is split into documents at a separator, each learned
/// whole, in consecutive windows of `maxTokens`. A JSON line longer than `maxTokens` is cut at
/// the end (and dropped, with a count in the log, when no target is left).
public struct CausalLMReader {
    public let tokenizer: ChatTokenizer
    public let maxTokens: Int

    public init(tokenizer: ChatTokenizer, maxTokens: Int) {
        self.tokenizer = tokenizer
        self.maxTokens = maxTokens
    }

    /// The examples of a JSON Lines file (blank lines skipped), with how many were cut and dropped.
    public func jsonLines(_ url: URL) throws -> (examples: [CausalLMExample], cut: Int, dropped: Int) {
        let text = try Self.read(url)
        var list: [CausalLMExample] = [], cut = 0, dropped = 0
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let location = "\(url.path):\(i + 1)"
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) } catch {
                throw CausalLMDataError(location: location, reason: "not valid JSON (\(Self.reason(error)))")
            }
            guard let fields = object as? [String: Any] else {
                throw CausalLMDataError(location: location, reason: "expected a JSON object")
            }
            for sequence in try examples(from: fields, at: location) {
                if sequence.ids.count > maxTokens { cut += 1 }
                let kept = truncated(sequence)
                if kept.targetCount == 0 { dropped += 1; continue }
                list.append(kept)
            }
        }
        return (list, cut, dropped)
    }

    /// The documents of a plain-text file split at `separator`, in windows of `maxTokens`.
    public func plainText(_ url: URL, separator: String) throws -> [CausalLMExample] {
        let text = try Self.read(url)
        var examples: [CausalLMExample] = []
        for document in text.components(separatedBy: separator) {
            let trimmed = document.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let ids = tokenizer.encode(text: trimmed) + tokenizer.eosSuffix
            for start in stride(from: 0, to: ids.count, by: maxTokens) {
                let window = Array(ids[start..<min(ids.count, start + maxTokens)])
                guard window.count >= 2 else { continue }
                examples.append(CausalLMExample(ids: window, targets: [Bool](repeating: true, count: window.count)))
            }
        }
        return examples
    }

    /// The sequence of one JSON object (see the type's description for the forms).
    public func examples(from fields: [String: Any], at location: String) throws -> [CausalLMExample] {
        func string(_ key: String) throws -> String {
            guard let value = fields[key] as? String else {
                throw CausalLMDataError(location: location, reason: "\"\(key)\" must be a string")
            }
            return value
        }
        if fields["messages"] != nil {
            return [try chat(try Self.messages(fields["messages"], at: location), at: location)]
        }
        if fields["prompt"] != nil || fields["completion"] != nil {
            let prompt = tokenizer.encode(text: try string("prompt"))
            let completion = tokenizer.tokenizer.encode(try string("completion"), addSpecialTokens: false) + tokenizer.eosSuffix
            guard !completion.isEmpty else { throw CausalLMDataError(location: location, reason: "the completion is empty") }
            return [CausalLMExample(ids: prompt + completion,
                                    targets: [Bool](repeating: false, count: prompt.count) + [Bool](repeating: true, count: completion.count),
                                    promptLength: prompt.count)]
        }
        if fields["text"] != nil {
            let ids = tokenizer.encode(text: try string("text")) + tokenizer.eosSuffix
            return [CausalLMExample(ids: ids, targets: [Bool](repeating: true, count: ids.count))]
        }
        throw CausalLMDataError(location: location, reason: "expected \"text\", \"prompt\" and \"completion\", or \"messages\"; found "
                                + (fields.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")))
    }

    /// A conversation whose assistant turns are the targets.
    public func chat(_ messages: [ChatMessage], at location: String) throws -> CausalLMExample {
        let template: ChatTemplate
        do { template = try tokenizer.template.get() } catch {
            throw CausalLMDataError(location: location, reason: "a conversation needs the model's chat template: \(error)")
        }
        func ids(_ part: ArraySlice<ChatMessage>, generationPrompt: Bool) throws -> [Int] {
            do {
                return tokenizer.tokenizer.encode(try template.render(Array(part), addGenerationPrompt: generationPrompt),
                                                  addSpecialTokens: false)
            } catch { throw CausalLMDataError(location: location, reason: "\(error)") }
        }
        let full = try ids(messages[...], generationPrompt: false)
        var targets = [Bool](repeating: false, count: full.count)
        var promptLength: Int?
        for (i, message) in messages.enumerated() where message.role == "assistant" {
            guard i > 0 else {
                throw CausalLMDataError(location: location, reason: "the conversation opens with an assistant message; nothing prompts it")
            }
            let before = try ids(messages[..<i], generationPrompt: true)
            let through = try ids(messages[...i], generationPrompt: false)
            guard through.starts(with: before), full.starts(with: through) else {
                throw CausalLMDataError(location: location, reason: "the chat template does not render this conversation prefix by "
                                        + "prefix (message \(i + 1) changes what comes before it), so its assistant turns cannot be "
                                        + "masked reliably")
            }
            for t in before.count..<through.count { targets[t] = true }
            promptLength = before.count
        }
        guard promptLength != nil else {
            throw CausalLMDataError(location: location, reason: "the conversation has no assistant message to learn")
        }
        return CausalLMExample(ids: full, targets: targets, promptLength: promptLength)
    }

    /// `example` cut to `maxTokens` (its prompt length kept only while the prompt fits).
    func truncated(_ example: CausalLMExample) -> CausalLMExample {
        guard example.ids.count > maxTokens else { return example }
        let prompt = example.promptLength.flatMap { $0 < maxTokens ? $0 : nil }
        return CausalLMExample(ids: Array(example.ids.prefix(maxTokens)), targets: Array(example.targets.prefix(maxTokens)),
                               promptLength: prompt)
    }

    static func messages(_ value: Any?, at location: String) throws -> [ChatMessage] {
        guard let list = value as? [[String: Any]], !list.isEmpty else {
            throw CausalLMDataError(location: location, reason: "\"messages\" must be a non-empty array of {\"role\", \"content\"} objects")
        }
        return try list.enumerated().map { i, m in
            guard let role = m["role"] as? String, let content = m["content"] as? String else {
                throw CausalLMDataError(location: location, reason: "message \(i + 1) needs string \"role\" and \"content\"")
            }
            return ChatMessage(role: role, content: content)
        }
    }

    static func read(_ url: URL) throws -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw CausalLMDataError(location: url.path, reason: "cannot read it as UTF-8 text (\(reason(error)))")
        }
    }

    static func reason(_ error: Error) -> String {
        (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
    }
}

/// A data file a causal-LM task cannot read: where (file and line) and why.
public struct CausalLMDataError: Error, CustomStringConvertible, Equatable {
    public var location: String
    public var reason: String

    public init(location: String, reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "\(location): \(reason)" }
}

extension ChatTokenizer {
    /// `text`'s ids with the tokens the tokenizer puts around a text, except a final EOS (added
    /// by the reader where a sequence ends).
    func encode(text: String) -> [Int] {
        let ids = tokenizer.encode(text, addSpecialTokens: true)
        return tokenizer.suffixTokens.isEmpty ? ids : Array(ids.dropLast(tokenizer.suffixTokens.count))
    }

    /// The end-of-sequence token that ends a learned text or completion (so that the model learns
    /// to stop): the tokenizer's EOS, else nothing.
    var eosSuffix: [Int] { tokenizer.eos.map { [$0] } ?? [] }
}
