import Foundation
import GGUF
import NN
import Tensor

/// Loading a Llama from a GGUF file (llama.cpp's format), its weights kept in their stored format.
///
/// Names are translated to Hugging Face's keys (`blk.N.attn_q` → `model.layers.N.self_attn.q_proj`,
/// `token_embd` → `model.embed_tokens`, `output_norm` → `model.norm`, `output` → `lm_head`), so a
/// model from GGUF has the same module tree, LoRA targets and PEFT adapter keys as one from
/// safetensors.
///
/// **Query and key row order.** llama.cpp's converter permutes the rows of `q_proj` and `k_proj`
/// (within each head, rows `0, D/2, 1, D/2+1, …` become adjacent) because ggml applies RoPE to
/// adjacent pairs. This loader permutes them back (whole rows move; blocks never span rows, so
/// it is exact in every format) and the model applies Hugging Face's rotate-half RoPE: one RoPE
/// for both loaders, and adapters on `q_proj`/`k_proj` whose rows are in Hugging Face's order, as
/// PEFT and `transformers` expect them.
extension LlamaForCausalLM {
    /// Loads the Llama in the GGUF file at `url`: linear layers and the token embedding as
    /// `QuantizedLinear` / `QuantizedEmbedding` in their stored format (Q4_0, Q4_1, Q8_0, F16, BF16,
    /// F32), read in place from the file's memory mapping (which the model keeps open; the query
    /// and key matrices are copies, their rows reordered), norms as Float32 parameters.
    /// - Throws: `LlamaError` naming the file and the metadata key or tensor that is missing,
    ///   misshapen, of a type it cannot read, or unexpected; `.unreadableFile` for a file that is
    ///   not a valid GGUF.
    public static func load(gguf url: URL) throws -> LlamaForCausalLM {
        let file: GGUFFile
        do { file = try GGUFFile(url: url) } catch { throw LlamaError.unreadableFile(path: url.path, reason: "\(error)") }
        return try load(gguf: file)
    }

    /// Loads the Llama in an opened GGUF file (see `load(gguf:)` for a URL).
    public static func load(gguf file: GGUFFile) throws -> LlamaForCausalLM {
        let config = try LlamaConfig(gguf: file)
        let source = GGUFLlamaWeights(file: file, config: config)
        let model = try build(config: config, from: source)
        let unexpected = file.tensors.map(\.name).filter { !source.used.contains($0) }
        if !unexpected.isEmpty { throw LlamaError.unexpectedWeights(file: file.path, keys: unexpected) }
        return model
    }
}

/// A GGUF file as a `LlamaWeightSource`: names translated, Q/K rows permuted back, matrices kept
/// quantised.
final class GGUFLlamaWeights: LlamaWeightSource {
    let file: GGUFFile
    let config: LlamaConfig
    private(set) var used = Set<String>()

    init(file: GGUFFile, config: LlamaConfig) {
        self.file = file
        self.config = config
    }

    var path: String { file.path }

    func contains(_ key: String) -> Bool { file.contains(tensor: GGUFLlamaWeights.name(key) + ".weight") }

    /// The GGUF name of a Hugging Face layer key (`model.layers.3.mlp.up_proj` → `blk.3.ffn_up`).
    static func name(_ key: String) -> String {
        let fixed = ["model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"]
        if let name = fixed[key] { return name }
        let parts = key.split(separator: ".", maxSplits: 3).map(String.init)   // model, layers, N, rest
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers" else { return key }
        let layer = ["self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                     "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                     "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
                     "post_attention_layernorm": "ffn_norm"]
        return "blk.\(parts[2])." + (layer[parts[3]] ?? parts[3])
    }

    /// The matrix `name` [rows, columns] in its stored format.
    func matrix(_ name: String, rows: Int, columns: Int) throws -> QuantizedMatrix {
        guard let info = try? file.tensorInfo(named: name) else { throw LlamaError.missingWeight(file: path, key: name) }
        guard info.shape == [rows, columns] else {
            throw LlamaError.shapeMismatch(file: path, key: name, expected: [rows, columns], got: info.shape)
        }
        guard let format = GGUFLlamaWeights.format(info.type) else {
            throw LlamaError.unsupportedTensorType(file: path, key: name, type: "\(info.type)")
        }
        used.insert(name)
        do {
            // In place in the file's memory mapping, which the storage keeps alive (owner: the
            // file): no copy, and the pages are read from the page cache when first used.
            let raw = try file.rawData(named: name)
            guard let start = raw.baseAddress else {
                return try QuantizedMatrix(format: format, rows: rows, columns: columns, bytes: raw)
            }
            let storage = TensorStorage(wrapping: UnsafeMutableRawPointer(mutating: start), byteCount: raw.count,
                                        dtype: .uint8, owner: file)
            return try QuantizedMatrix(format: format, rows: rows, columns: columns, sharing: storage, byteOffset: 0)
        } catch {
            throw LlamaError.unreadableFile(path: path, reason: "\(name): \(error)")
        }
    }

    static func format(_ type: GGUFTensorType) -> QuantizedFormat? {
        switch type {
        case .f32: return .float32
        case .f16: return .float16
        case .bf16: return .bfloat16
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        default: return nil
        }
    }

    /// llama.cpp's row order of a query (`heads` = query heads) or key (key/value heads) matrix,
    /// back to Hugging Face's: within each head of D rows, GGUF row `2i` is HF row `i` and GGUF
    /// row `2i + 1` is HF row `i + D/2`. Returns, for each HF row, the GGUF row holding it.
    static func unpermutedOrder(rows: Int, heads: Int) -> [Int] {
        let d = rows / heads, half = d / 2
        return (0..<rows).map { row in
            let (head, r) = (row / d, row % d)
            return head * d + (r < half ? 2 * r : 2 * (r - half) + 1)
        }
    }

    func linear(_ key: String, rows: Int, columns: Int, bias: Bool) throws -> any UnaryLayer {
        let name = GGUFLlamaWeights.name(key)
        var weight = try matrix(name + ".weight", rows: rows, columns: columns)
        var biasValues = bias ? try vector(key, suffix: ".bias", count: rows) : nil
        let heads = key.hasSuffix("q_proj") ? config.headCount : key.hasSuffix("k_proj") ? config.keyValueHeadCount : nil
        if let heads {
            let order = GGUFLlamaWeights.unpermutedOrder(rows: rows, heads: heads)
            weight = try weight.permutingRows(order)
            biasValues = biasValues.map { b in let v = b.scalars; return Tensor(order.map { v[$0] }) }
        }
        return QuantizedLinear(weight: weight, bias: biasValues)
    }

    func embedding(_ key: String, rows: Int, columns: Int) throws -> any TokenEmbedding {
        QuantizedEmbedding(weight: try matrix(GGUFLlamaWeights.name(key) + ".weight", rows: rows, columns: columns))
    }

    func vector(_ key: String, count: Int) throws -> Tensor { try vector(key, suffix: ".weight", count: count) }

    private func vector(_ key: String, suffix: String, count: Int) throws -> Tensor {
        let name = GGUFLlamaWeights.name(key) + suffix
        guard let info = try? file.tensorInfo(named: name) else { throw LlamaError.missingWeight(file: path, key: name) }
        guard info.shape == [count] else { throw LlamaError.shapeMismatch(file: path, key: name, expected: [count], got: info.shape) }
        used.insert(name)
        do { return try file.tensor(named: name) } catch {
            throw LlamaError.unsupportedTensorType(file: path, key: name, type: "\(info.type)")
        }
    }
}

extension LlamaForCausalLM {
    /// Replaces every quantised matrix and the quantised embedding with Float32 layers holding
    /// their decoded values (exact: the values the quantised layers compute with), so that every
    /// weight can be trained (full fine-tuning). Memory grows to 4 bytes per weight.
    public func dequantize() throws {
        for (key, module) in namedModules() {
            switch module {
            case let linear as QuantizedLinear:
                try replaceModule(at: key, with: Linear(weight: linear.weight.dequantized(), bias: linear.bias))
            case let embedding as QuantizedEmbedding:
                try replaceModule(at: key, with: Embedding(weight: embedding.weight.dequantized()))
            default:
                continue
            }
        }
    }
}
