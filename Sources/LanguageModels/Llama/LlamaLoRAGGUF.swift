import Foundation
import GGUF
import LoRA
import Tensor

/// A LoRA adapter of a Llama in llama.cpp's adapter format (what its `convert_lora_to_gguf.py`
/// writes and `llama-cli --lora` loads): a GGUF file with `general.architecture = llama`,
/// `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, and per adapted matrix
/// `blk.N.attn_q.weight.lora_a` (A, [r, in]) and `….lora_b` (B, [out, r]), Float32.
///
/// llama.cpp scales every adapter by `alpha / r`. An adapter whose scaling differs (rsLoRA,
/// per-layer rank or alpha patterns) has the difference folded into its B, so that `B·A` times
/// llama.cpp's scale is the update LoRAKit applies. The query and key matrices' B rows are put in
/// llama.cpp's order (the interleaved-pairs RoPE layout its converter gives the base weights).
/// DoRA adapters, and adapters on the embedding or output head, have no llama.cpp form: refused.
public enum LlamaLoRAGGUF {
    public static func write(_ lora: LoRAModel, adapter name: String = "default", config: LlamaConfig,
                             to path: String) throws {
        guard let settings = lora.config(name) else {
            throw LoRAError.unknownAdapter(name, available: lora.adapterNames)
        }
        guard !settings.useDoRA else {
            throw LlamaError.unsupported(file: path, key: "lora.use_dora", reason: "llama.cpp's LoRA adapters have no DoRA form")
        }
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.set("general.type", .string("adapter"))
        writer.set("adapter.type", .string("lora"))
        writer.set("adapter.lora.alpha", .float32(settings.alpha))
        for (key, host) in lora.hosts.sorted(by: { $0.key < $1.key }) {
            guard let adapter = host.adapters[name] else { continue }
            let tensorName = GGUFLlamaWeights.name(key)
            guard tensorName.hasPrefix("blk.") else {
                throw LlamaError.unsupported(file: path, key: key, reason: "llama.cpp's LoRA adapters adapt the blocks' matrices only")
            }
            let a = adapter.a.detached(), b = adapter.b.detached()         // [r, in], [out, r]
            let (r, out) = (a.shape[0], b.shape[0])
            // llama.cpp applies (alpha / r)·B·A; LoRAKit applies scaling·B·A.
            let factor = adapter.scaling * Float(r) / settings.alpha
            var bValues = b.scalars.map { $0 * factor }
            let heads = key.hasSuffix("q_proj") ? config.headCount : key.hasSuffix("k_proj") ? config.keyValueHeadCount : nil
            if let heads {
                let order = GGUFLlamaWeights.unpermutedOrder(rows: out, heads: heads)   // HF row i is GGUF row order[i]
                var permuted = bValues
                for (i, target) in order.enumerated() {
                    permuted[(target * r)..<((target + 1) * r)] = bValues[(i * r)..<((i + 1) * r)]
                }
                bValues = permuted
            }
            writer.add(tensorName + ".weight.lora_a", shape: a.shape, values: a.scalars)
            writer.add(tensorName + ".weight.lora_b", shape: b.shape, values: bValues)
        }
        try writer.write(to: path)
    }
}
