import NN
import Tensor

/// Where a Llama model's tensors come from, under Hugging Face's keys (`model.layers.0.self_attn.q_proj`):
/// a safetensors checkpoint, a GGUF file (whose names and Q/K row order it translates), or random
/// initialisation. `LlamaForCausalLM.build` asks for each layer in turn; a source checks each
/// tensor's shape and says which key is wrong.
protocol LlamaWeightSource {
    /// The file named in errors.
    var path: String { get }
    /// Whether the source has a tensor for the layer `key` (`lm_head`: an untied head).
    func contains(_ key: String) -> Bool
    /// The linear layer `key` with weight [rows, columns] (and a bias [rows] when `bias`).
    func linear(_ key: String, rows: Int, columns: Int, bias: Bool) throws -> any UnaryLayer
    /// The token embedding `key` [rows, columns].
    func embedding(_ key: String, rows: Int, columns: Int) throws -> any TokenEmbedding
    /// The vector `key.weight` [count] (an RMS norm's weight).
    func vector(_ key: String, count: Int) throws -> Tensor
}

extension LlamaForCausalLM {
    /// Builds the model of `config` layer by layer from `source`.
    static func build(config: LlamaConfig, from source: LlamaWeightSource) throws -> LlamaForCausalLM {
        if let problem = config.validationError() {
            throw LlamaError.invalidConfig(file: source.path, key: problem.key, reason: problem.reason)
        }
        let (h, f) = (config.hiddenSize, config.intermediateSize)
        let (qw, kvw) = (config.queryWidth, config.keyValueWidth)
        let embed = try source.embedding("model.embed_tokens", rows: config.vocabularySize, columns: h)
        var layers: [LlamaDecoderLayer] = []
        for i in 0..<config.layerCount {
            let p = "model.layers.\(i)."
            let ab = config.attentionBias, mb = config.mlpBias
            let attention = LlamaAttention(
                headCount: config.headCount, keyValueHeadCount: config.keyValueHeadCount,
                qProj: try source.linear(p + "self_attn.q_proj", rows: qw, columns: h, bias: ab),
                kProj: try source.linear(p + "self_attn.k_proj", rows: kvw, columns: h, bias: ab),
                vProj: try source.linear(p + "self_attn.v_proj", rows: kvw, columns: h, bias: ab),
                oProj: try source.linear(p + "self_attn.o_proj", rows: h, columns: qw, bias: ab))
            let mlp = LlamaMLP(gateProj: try source.linear(p + "mlp.gate_proj", rows: f, columns: h, bias: mb),
                               upProj: try source.linear(p + "mlp.up_proj", rows: f, columns: h, bias: mb),
                               downProj: try source.linear(p + "mlp.down_proj", rows: h, columns: f, bias: mb))
            let eps = config.rmsNormEpsilon
            layers.append(LlamaDecoderLayer(
                selfAttention: attention, mlp: mlp,
                inputLayerNorm: RMSNorm(weight: try source.vector(p + "input_layernorm", count: h), epsilon: eps),
                postAttentionLayerNorm: RMSNorm(weight: try source.vector(p + "post_attention_layernorm", count: h), epsilon: eps)))
        }
        let norm = RMSNorm(weight: try source.vector("model.norm", count: h), epsilon: config.rmsNormEpsilon)
        // A checkpoint with its own head uses it, whatever the configuration says (transformers
        // drops `lm_head.weight` from tied checkpoints); one without it ties the head.
        let head = source.contains("lm_head") || !config.tieWordEmbeddings
            ? try source.linear("lm_head", rows: config.vocabularySize, columns: h, bias: false) : nil
        var tied = config
        tied.tieWordEmbeddings = head == nil
        return LlamaForCausalLM(model: LlamaModel(config: tied, embedTokens: embed, layers: layers, norm: norm), lmHead: head)
    }
}

/// Random weights as `transformers` initialises a Llama: every linear and embedding weight
/// `~ N(0, std)` (`initializer_range`, 0.02), biases 0, RMS norm weights 1.
struct RandomLlamaWeights: LlamaWeightSource {
    let std: Float
    let generator: Box
    let tied: Bool

    final class Box { var rng: RandomGenerator; init(_ rng: RandomGenerator) { self.rng = rng } }

    var path: String { "random initialisation" }
    func contains(_ key: String) -> Bool { key != "lm_head" || !tied }

    func linear(_ key: String, rows: Int, columns: Int, bias: Bool) throws -> any UnaryLayer {
        Linear(weight: Tensor.randn([rows, columns], std: std, generator: &generator.rng),
               bias: bias ? Tensor.zeros([rows]) : nil)
    }

    func embedding(_ key: String, rows: Int, columns: Int) throws -> any TokenEmbedding {
        Embedding(weight: Tensor.randn([rows, columns], std: std, generator: &generator.rng))
    }

    func vector(_ key: String, count: Int) throws -> Tensor { Tensor.ones([count]) }
}

extension LlamaForCausalLM {
    /// A freshly initialised model (float weights), as `transformers` initialises one: linear and
    /// embedding weights `~ N(0, initializerRange)`, biases 0, norms 1; the head tied when
    /// `config.tieWordEmbeddings`.
    /// - Precondition: `config` is valid (`config.validationError() == nil`).
    public convenience init(config: LlamaConfig, initializerRange: Float = 0.02, generator: inout RandomGenerator) {
        let source = RandomLlamaWeights(std: initializerRange, generator: .init(generator), tied: config.tieWordEmbeddings)
        let built: LlamaForCausalLM
        do { built = try LlamaForCausalLM.build(config: config, from: source) } catch {
            preconditionFailure("LlamaForCausalLM(config:): \(error)")
        }
        generator = source.generator.rng
        self.init(model: built.model, lmHead: built.lmHead)
    }
}
