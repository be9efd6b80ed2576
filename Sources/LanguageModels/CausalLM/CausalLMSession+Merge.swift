import Foundation
import GGUF
import LoRA
import NN
import SafeTensors
import Tasks
import Tensor
import Training

/// Merged decoders: Float32 safetensors under `transformers`' keys by default (a quantised base is
/// decoded, never re-quantised behind the user's back), or, asked for explicitly
/// (`lorakit merge … --quantize q8_0`), a GGUF in the base file's layout with its metadata and
/// tokenizer, its matrices re-quantised, and a report of the error that adds: per matrix, and on
/// the next-token distributions of a few evaluation examples against the float model.
extension CausalLMSession {
    public func writeMerged(_ lora: LoRAModel, of model: CausalLMModel, to file: URL, quantize: String?) throws -> [String] {
        let state = try Self.completeMergedState(lora, of: model.llama)
        guard let quantize else {
            guard file.pathExtension != "gguf" else {
                throw TaskError.invalid(key: "--out \(file.path)", message: "a GGUF is quantised: say how with --quantize (q8_0, q4_0, q4_1, f16, bf16, f32 or base); without it the merged model is Float32 safetensors")
            }
            try SafeTensors.write(state, metadata: ["format": "pt"], to: file.path)
            let count = state.values.reduce(0) { $0 + $1.count }
            return [String(format: "wrote %@: %d tensors, %.1f M Float32 weights under transformers' keys (the adapter merged into the decoded base)",
                           file.path, state.count, Double(count) / 1e6)]
        }
        let base = try baseURL()
        guard LanguageModelsPlugin.isGGUF(base) else {
            throw TaskError.invalid(key: "--quantize", message: "re-quantising writes the base GGUF's layout and metadata; \(base.path) is not a GGUF")
        }
        guard file.pathExtension == "gguf" else {
            throw TaskError.invalid(key: "--out \(file.path)", message: "--quantize writes a GGUF: name the file *.gguf")
        }
        let type: GGUFTensorType?
        switch quantize.lowercased() {
        case "base": type = nil
        case "f32": type = .f32
        case "f16": type = .f16
        case "bf16": type = .bf16
        case "q8_0": type = .q8_0
        case "q4_0": type = .q4_0
        case "q4_1": type = .q4_1
        default:
            throw TaskError.invalid(key: "--quantize \(quantize)", message: "expected q8_0, q4_0, q4_1, f16, bf16, f32 or base")
        }
        let baseFile = try GGUFFile(url: base)
        let errors = try LlamaGGUFExport.write(state, like: baseFile, type: type, config: model.llama.config, to: file.path)
        var lines = ["wrote \(file.path): the merged model in \(type.map { "\($0)" } ?? "the base file's types"), \(errors.count) tensors"]
        let matrices = errors.filter { $0.type != .f32 }
        if let worst = matrices.max(by: { $0.relativeError < $1.relativeError }) {
            let weighted = (matrices.reduce(0) { $0 + $1.squaredError } / max(matrices.reduce(0) { $0 + $1.squaredNorm }, .leastNonzeroMagnitude)).squareRoot()
            lines.append(String(format: "quantisation error of the %d quantised matrices: relative RMS %.4f overall, worst %.4f (%@)",
                                matrices.count, weighted, worst.relativeError, worst.name))
        }
        if let sample = try? evaluationSample() {
            let requantised = try LlamaForCausalLM.load(gguf: file)
            let d = try CausalLMQuantizationError.measure(reference: model.llama, quantized: requantised, examples: sample)
            lines.append(String(format: "on %d evaluation examples (%d target tokens): loss %.4f merged Float32, %.4f re-quantised; "
                                + "KL(float ‖ re-quantised) %.5f nats per token; the same most likely token at %.1f %% of them",
                                sample.count, d.tokens, d.referenceLoss, d.quantizedLoss, d.divergence, 100 * d.agreement))
        }
        return lines
    }

    /// Up to 8 examples of the validation split (or the training split), for measuring what a
    /// re-quantisation changes.
    func evaluationSample() throws -> [CausalLMExample] {
        let data: TaskDataset<CausalLMExample, CausalLMBatch>
        if let validation = try? dataset(.validation) { data = validation } else { data = try dataset(.train) }
        return try (0..<min(8, data.count)).map { i in
            var context = ItemContext(epoch: 0, index: i, seed: 0)
            return try data.item(at: i, context: &context)
        }
    }

    /// Every weight of `llama` as Float32 under `transformers`' keys with `lora`'s active adapters
    /// merged: the adapted layers' merged weights, the other quantised matrices and the embedding
    /// decoded, the norms as they are (a tied head is not written, as `transformers` saves it).
    /// - Throws: when some layer holds weights that are neither parameters nor decodable.
    static func completeMergedState(_ lora: LoRAModel, of llama: LlamaForCausalLM) throws -> [String: Tensor] {
        var state = try lora.mergedStateDict()
        for (key, module) in llama.namedModules() where !(module is LoRAHost) {
            switch module {
            case let linear as QuantizedLinear: state[key + ".weight"] = linear.weight.dequantized()
            case let embedding as QuantizedEmbedding: state[key + ".weight"] = embedding.weight.dequantized()
            default: break
            }
        }
        // Every weight but the adapters' (parameterCount counts quantised matrices too).
        let adapters = lora.hosts.reduce(0) { total, h in total + h.host.adapters.names.reduce(0) { $0 + (h.host.adapters[$1]?.parameterCount ?? 0) } }
        let expected = llama.parameterCount - adapters
        let written = state.values.reduce(0) { $0 + $1.count }
        guard written == expected else {
            throw LlamaError.invalidInput("the merged model has \(written) weights, the model \(expected): some layer's weights cannot be written")
        }
        return state
    }
}

/// What re-quantising changed in a decoder's predictions, on the target tokens of some examples.
struct CausalLMQuantizationError {
    var tokens = 0
    var referenceLoss = 0.0, quantizedLoss = 0.0
    /// Mean KL(reference ‖ quantised) per target token, in nats.
    var divergence = 0.0
    /// Share of target positions where both models' most likely token is the same.
    var agreement = 0.0

    static func measure(reference: LlamaForCausalLM, quantized: LlamaForCausalLM,
                        examples: [CausalLMExample]) throws -> CausalLMQuantizationError {
        var result = CausalLMQuantizationError()
        var same = 0
        for example in examples {
            let ids = Tensor(indices: example.ids, shape: [1, example.ids.count])
            let (p, q) = try withNoGrad { (try reference.logits(ids).logSoftmax(axis: -1), try quantized.logits(ids).logSoftmax(axis: -1)) }
            let v = p.shape[2]
            let (ps, qs) = (p.scalars, q.scalars)
            for t in 1..<example.ids.count where example.targets[t] {
                let row = (t - 1) * v, target = example.ids[t]
                result.referenceLoss -= Double(ps[row + target])
                result.quantizedLoss -= Double(qs[row + target])
                var kl = 0.0, bestP = row, bestQ = row
                for j in row..<(row + v) {
                    let lp = Double(ps[j])
                    kl += exp(lp) * (lp - Double(qs[j]))
                    if ps[j] > ps[bestP] { bestP = j }
                    if qs[j] > qs[bestQ] { bestQ = j }
                }
                result.divergence += kl
                if bestP == bestQ { same += 1 }
                result.tokens += 1
            }
        }
        let n = Double(max(result.tokens, 1))
        result.referenceLoss /= n
        result.quantizedLoss /= n
        result.divergence /= n
        result.agreement = Double(same) / n
        return result
    }
}
