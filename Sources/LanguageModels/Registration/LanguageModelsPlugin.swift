import Foundation
import Tasks

/// What `LanguageModels` adds to a registry: the `causal_lm` task (LoRA on a decoder, see
/// `CausalLMRecipeTask`), the `dates` data generator (an instruction task with exact answers),
/// and the `gguf_llama` generative model format that
/// `lorakit generate` loads (a Llama-architecture decoder in a GGUF file, kept quantised, with the
/// file's tokenizer and chat template). Registered always by the runtime, through the same
/// protocol a plugin uses.
public enum LanguageModelsPlugin: LoRAKitPlugin {
    public static let name = "language_models"

    public static func register(into r: inout Registry) throws {
        try r.registerTask(CausalLMRecipeTask())
        try r.registerGenerator(DateNormalisationData.generator)
        try r.register(GenerativeModels.self, "gguf_llama", GenerativeModelFormat(
            summary: "a Llama-architecture decoder in a GGUF file (F32, F16, BF16, Q8_0, Q4_0, Q4_1 matrices, kept in "
                + "their format) with the file's BPE tokenizer and ChatML-family chat template",
            accepts: isGGUF,
            load: { url in try LanguageModelTextGenerator.load(gguf: url) }))
    }

    /// Whether the file at `url` starts with GGUF's magic (a directory or an unreadable file does not).
    static func isGGUF(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        guard let magic = try? handle.read(upToCount: 4) else { return false }
        return magic == Data("GGUF".utf8)
    }
}
