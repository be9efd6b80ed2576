import Foundation
import GGUF
import Tensor

/// A Llama's Float32 weights (under `transformers`' keys) written as a GGUF in the layout of the
/// GGUF it came from: the same metadata (architecture, tokenizer, chat template) and tensor
/// names and order, the query and key rows back in llama.cpp's order, norms in F32 and every
/// matrix quantised with `GGUFQuantizer` (ggml's reference quantisers) to one type or to the type
/// the base file stored it in.
public enum LlamaGGUFExport {
    /// What quantising one tensor lost.
    public struct TensorError {
        public var name: String
        public var type: GGUFTensorType
        /// Σ (q(w) − w)² and Σ w².
        public var squaredError: Double
        public var squaredNorm: Double
        /// ‖q(w) − w‖ / ‖w‖.
        public var relativeError: Double { squaredNorm > 0 ? (squaredError / squaredNorm).squareRoot() : 0 }
    }

    /// llama.cpp's `general.file_type` for a model whose matrices are all `type`.
    static func fileType(_ type: GGUFTensorType) -> UInt32? {
        switch type {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .bf16: return 32
        default: return nil
        }
    }

    /// Writes `state` to `path` (atomically) in `base`'s layout, matrices in `type` (nil: each in
    /// its type in `base`); returns each tensor's quantisation error.
    /// - Throws: `LlamaError` naming a tensor of `base` that `state` lacks (or the reverse), whose
    ///   shape differs or that holds NaN or infinity; `GGUFError` for a matrix whose rows are not whole blocks of the type.
    @discardableResult
    public static func write(_ state: [String: Tensor], like base: GGUFFile, type: GGUFTensorType?, config: LlamaConfig,
                             to path: String) throws -> [TensorError] {
        var byName: [String: String] = [:]
        for key in state.keys {
            let suffix = key.hasSuffix(".bias") ? ".bias" : ".weight"
            byName[GGUFLlamaWeights.name(String(key.dropLast(suffix.count))) + suffix] = key
        }
        var writer = GGUFWriter()
        for key in base.metadataKeys where key != "general.alignment" && key != "general.file_type" {
            if let value = base.metadata[key] { writer.set(key, value) }
        }
        if let type, let code = fileType(type) {
            writer.set("general.file_type", .uint32(code))
        } else if let value = base.metadata["general.file_type"] {
            writer.set("general.file_type", value)
        }
        var errors: [TensorError] = []
        for info in base.tensors {
            guard let key = byName.removeValue(forKey: info.name), let tensor = state[key] else {
                throw LlamaError.missingWeight(file: path, key: info.name)
            }
            guard tensor.shape == info.shape else {
                throw LlamaError.shapeMismatch(file: path, key: info.name, expected: info.shape, got: tensor.shape)
            }
            var values = tensor.toFloat32().scalars
            guard values.allSatisfy(\.isFinite) else {
                throw LlamaError.invalidInput("\(path): \(info.name) (\(key)) holds values that are not finite; nothing was written")
            }
            let heads = key.hasSuffix("q_proj.weight") ? config.headCount : key.hasSuffix("k_proj.weight") ? config.keyValueHeadCount : nil
            if let heads {
                // GGUF row order[i] holds Hugging Face row i.
                let (rows, columns) = (tensor.shape[0], tensor.shape[1])
                let order = GGUFLlamaWeights.unpermutedOrder(rows: rows, heads: heads)
                var permuted = values
                for (i, target) in order.enumerated() {
                    permuted[(target * columns)..<((target + 1) * columns)] = values[(i * columns)..<((i + 1) * columns)]
                }
                values = permuted
            }
            let target: GGUFTensorType = info.shape.count == 2 ? (type ?? info.type) : .f32
            let columns = info.shape.last ?? values.count
            let data = try GGUFQuantizer.quantize(values, columns: columns, as: target, path: path, name: info.name)
            writer.add(info.name, shape: info.shape, type: target, data: data)
            // The error: decode what was written and compare.
            var decoded = [Float](repeating: 0, count: values.count)
            data.withUnsafeBytes { blocks in
                decoded.withUnsafeMutableBufferPointer { out in
                    GGUFDequantize.dequantize(target, blocks: blocks, range: 0..<(values.count / target.blockSize), into: out)
                }
            }
            var squaredError = 0.0, squaredNorm = 0.0
            for (w, q) in zip(values, decoded) {
                squaredError += Double(q - w) * Double(q - w)
                squaredNorm += Double(w) * Double(w)
            }
            errors.append(TensorError(name: info.name, type: target, squaredError: squaredError, squaredNorm: squaredNorm))
        }
        if let extra = byName.keys.sorted().first {
            throw LlamaError.invalidInput("\(path): the merged model has \(extra), which \(base.path) does not hold")
        }
        try writer.write(to: path)
        return errors
    }
}
