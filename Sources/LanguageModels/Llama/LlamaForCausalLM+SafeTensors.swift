import Foundation
import NN
import SafeTensors
import Tensor

extension LlamaForCausalLM {
    /// Loads a Hugging Face checkpoint: a directory with `config.json` and `model.safetensors`, or
    /// that `.safetensors` file with `config.json` beside it. Weights load as Float32 `Linear`
    /// layers (F16/BF16 files are converted), keys as `transformers` saves them; the head is tied
    /// when the file has no `lm_head.weight`.
    /// - Throws: `LlamaError` naming the file and the key that is missing, misshapen or
    ///   unexpected, or the configuration key that is invalid or unsupported.
    public static func load(from url: URL) throws -> LlamaForCausalLM {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw LlamaError.unreadableFile(path: url.path, reason: "no such file or directory")
        }
        let directory = isDirectory.boolValue ? url : url.deletingLastPathComponent()
        let weights = isDirectory.boolValue ? url.appendingPathComponent("model.safetensors") : url
        let config = try LlamaConfig.load(from: directory.appendingPathComponent("config.json"))
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: weights.path) } catch {
            throw LlamaError.unreadableFile(path: weights.path, reason: "\(error)")
        }
        let source = SafeTensorsLlamaWeights(file: file)
        let model = try build(config: config, from: source)
        let unexpected = file.names.filter { !source.used.contains($0) && !$0.hasSuffix("rotary_emb.inv_freq") }
        if !unexpected.isEmpty { throw LlamaError.unexpectedWeights(file: weights.path, keys: unexpected) }
        return model
    }
}

/// A safetensors checkpoint as a `LlamaWeightSource`: float `Linear` and `Embedding` layers; it
/// records the keys it read so that the loader can name the ones nothing read.
final class SafeTensorsLlamaWeights: LlamaWeightSource {
    let file: SafeTensorsFile
    private(set) var used = Set<String>()

    init(file: SafeTensorsFile) { self.file = file }

    var path: String { file.path }

    func contains(_ key: String) -> Bool { file.info(key + ".weight") != nil }

    /// The tensor `name` as Float32, after checking its shape.
    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let info = file.info(name) else { throw LlamaError.missingWeight(file: path, key: name) }
        guard info.shape == shape else { throw LlamaError.shapeMismatch(file: path, key: name, expected: shape, got: info.shape) }
        used.insert(name)
        do { return try file.tensor(named: name).toFloat32() } catch {
            throw LlamaError.unreadableFile(path: path, reason: "\(name): \(error)")
        }
    }

    func linear(_ key: String, rows: Int, columns: Int, bias: Bool) throws -> any UnaryLayer {
        Linear(weight: try tensor(key + ".weight", shape: [rows, columns]),
               bias: bias ? try tensor(key + ".bias", shape: [rows]) : nil)
    }

    func embedding(_ key: String, rows: Int, columns: Int) throws -> any TokenEmbedding {
        Embedding(weight: try tensor(key + ".weight", shape: [rows, columns]))
    }

    func vector(_ key: String, count: Int) throws -> Tensor { try tensor(key + ".weight", shape: [count]) }
}
