import Foundation
import GGUF
import Tasks

extension LanguageModelTextGenerator where Model == LlamaForCausalLM {
    /// The Llama in the GGUF file at `url` with the file's tokenizer and chat template, ready for
    /// `lorakit generate`: the matrices stay in their stored (quantised) format.
    /// - Throws: `GGUFError` for a file that is not a readable GGUF, `LlamaError` naming the
    ///   metadata key or tensor that is missing, misshapen or of a type LoRAKit cannot read,
    ///   `BPETokenizerError` for a tokenizer it cannot build.
    public static func load(gguf url: URL) throws -> LanguageModelTextGenerator<LlamaForCausalLM> {
        let file = try GGUFFile(url: url)
        let model = try LlamaForCausalLM.load(gguf: file)
        model.eval()
        let tokenizer = try ChatTokenizer(gguf: file)
        let name = (try? file.string("general.name")) ?? url.lastPathComponent
        return LanguageModelTextGenerator(model: model, tokenizer: tokenizer,
                                          summary: "\(name): " + describe(model.config, file: file))
    }

    /// "llama, 30 blocks, hidden 576, 9 query / 3 key-value heads, 134.5 M parameters, Q4_1 (93.8 MiB), kept quantised".
    static func describe(_ c: LlamaConfig, file: GGUFFile) -> String {
        let count = file.tensors.reduce(0) { $0 + $1.elementCount }
        var formats: [String: Int] = [:]
        for tensor in file.tensors where tensor.dimensions.count == 2 { formats["\(tensor.type)", default: 0] += 1 }
        let main = formats.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? "?"
        let mib = Double(file.tensors.reduce(0) { $0 + $1.byteCount }) / 1_048_576
        return "llama, \(c.layerCount) blocks, hidden \(c.hiddenSize), \(c.headCount) query / \(c.keyValueHeadCount) key-value heads, "
            + String(format: "%.1f M parameters, %@ (%.1f MiB), kept quantised", Double(count) / 1e6, main, mib)
    }
}
