import Foundation
import NN
import Tensor

/// The shape of an `AudioTransformer`, chosen by a recipe (`model.options`) or read from the
/// `config.json` a run writes beside its weights, so that a bigger model is a recipe change.
public struct AudioTransformerConfig: Codable, Equatable, Sendable {
    /// Mel bins of the input (`data.options.mels` must agree).
    public var mels: Int
    /// Model width `d`.
    public var width: Int
    public var layers: Int
    public var heads: Int
    /// Width of each layer's feed-forward block.
    public var ffn: Int

    public init(mels: Int = 80, width: Int = 128, layers: Int = 4, heads: Int = 4, ffn: Int = 512) {
        self.mels = mels
        self.width = width
        self.layers = layers
        self.heads = heads
        self.ffn = ffn
    }

    /// Why this shape cannot be built, or nil.
    public var problem: String? {
        if mels < 1 || width < 2 || layers < 1 || heads < 1 || ffn < 1 {
            return "mels, width, layers, heads and ffn must be positive (width at least 2)"
        }
        if width % heads != 0 { return "width \(width) is not a multiple of heads \(heads)" }
        if width % 2 != 0 || width < 4 { return "width \(width) must be even and at least 4 (sinusoidal positions)" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case mels = "num_mel_bins", width = "d_model", layers = "encoder_layers", heads = "encoder_attention_heads"
        case ffn = "encoder_ffn_dim"
    }
}

/// A misshapen input of an `AudioTransformer`.
public struct AudioTransformerError: Error, CustomStringConvertible, LocalizedError {
    public var description: String
    public var errorDescription: String? { description }
}

/// Whisper's attention block (Hugging Face's `WhisperAttention`): `q_proj`, `k_proj` (without bias),
/// `v_proj`, `out_proj`, each a `Linear` so LoRA targets it by name; `heads` heads, no mask (clips
/// are fixed-length). Self-attention, or cross-attention when given a context.
public final class WhisperAttention: Module {
    @Child public var qProj: Linear
    @Child public var kProj: Linear
    @Child public var vProj: Linear
    @Child public var outProj: Linear
    public let heads: Int

    public init(width: Int, heads: Int, generator: inout RandomGenerator) {
        _qProj = Child(wrappedValue: Linear(width, width, generator: &generator), key: "q_proj")
        _kProj = Child(wrappedValue: Linear(width, width, bias: false, generator: &generator), key: "k_proj")
        _vProj = Child(wrappedValue: Linear(width, width, generator: &generator), key: "v_proj")
        _outProj = Child(wrappedValue: Linear(width, width, generator: &generator), key: "out_proj")
        self.heads = heads
        super.init()
    }

    /// Self-attention: `x` [N, T, d] → [N, T, d], every frame attending to every frame (one fused
    /// operation on the projections).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        outProj(Tensor.multiHeadAttention(query: qProj(x), key: kProj(x), value: vProj(x), heads: heads, keyMask: nil))
    }

    /// Cross-attention: queries `x` [N, Tq, d] attending to `context` [N, Tk, d] → [N, Tq, d].
    public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let (n, tq, d) = (x.shape[0], x.shape[1], x.shape[2])
        let tk = context.shape[1], hd = d / heads
        func split(_ y: Tensor, _ t: Int) -> Tensor { y.reshaped([n, t, heads, hd]).permuted([0, 2, 1, 3]) }
        let attended = scaledDotProductAttention(query: split(qProj(x), tq), key: split(kProj(context), tk),
                                                 value: split(vProj(context), tk), mask: nil)
        return outProj(attended.permuted([0, 2, 1, 3]).reshaped([n, tq, d]))
    }
}

/// One pre-LN encoder layer of Whisper's shape (Hugging Face's `WhisperEncoderLayer`):
///
///     h = x + out_proj(attention(q_proj(LN₁ x), k_proj(LN₁ x), v_proj(LN₁ x)))
///     y = h + fc2(GELU(fc1(LN₂ h)))
///
/// Keys `self_attn.{q,k,v,out}_proj` (`WhisperAttention`), `self_attn_layer_norm`, `fc1`, `fc2`,
/// `final_layer_norm`; every projection is a `Linear`, so LoRA targets it by name.
public final class AudioTransformerLayer: Module {
    @Child public var selfAttention: WhisperAttention
    @Child public var selfAttentionLayerNorm: LayerNorm
    @Child public var fc1: Linear
    @Child public var fc2: Linear
    @Child public var finalLayerNorm: LayerNorm

    public init(config c: AudioTransformerConfig, generator: inout RandomGenerator) {
        _selfAttention = Child(wrappedValue: WhisperAttention(width: c.width, heads: c.heads, generator: &generator), key: "self_attn")
        _selfAttentionLayerNorm = Child(wrappedValue: LayerNorm(c.width), key: "self_attn_layer_norm")
        fc1 = Linear(c.width, c.ffn, generator: &generator)
        fc2 = Linear(c.ffn, c.width, generator: &generator)
        _finalLayerNorm = Child(wrappedValue: LayerNorm(c.width), key: "final_layer_norm")
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + selfAttention(selfAttentionLayerNorm(x))
        return h + fc2(fc1(finalLayerNorm(h)).gelu(.exact))
    }
}

/// A spoken-audio classifier with Whisper's encoder layout, sized by `AudioTransformerConfig`:
///
///     x [N, mels, T] (log-mel) → GELU(conv1) → GELU(conv2, stride 2) → [N, ⌈T/2⌉, d]
///       + sinusoidal positions (Whisper's, computed, not stored) → pre-LN layers → layer_norm
///       → mean over frames → classifier → logits [N, classes]
///
/// State-dict keys are those of Hugging Face's `WhisperEncoder` (`conv1`, `conv2`, `layers.i.…`,
/// `layer_norm`) plus the head `classifier`; `scripts/reference/audio_peft.py` defines the same
/// model in PyTorch, and `scripts/make_audio_transformer_goldens.py` makes the tests' goldens from
/// it. No dropout: the clips are short and the models small.
public final class AudioTransformer: Module {
    @Child public var conv1: Conv1d
    @Child public var conv2: Conv1d
    @ChildList public var layers: [AudioTransformerLayer]
    @Child public var layerNorm: LayerNorm
    @Child public var classifier: Linear
    public let config: AudioTransformerConfig
    public let classes: Int

    public init(config: AudioTransformerConfig, classes: Int, generator: inout RandomGenerator) {
        precondition(config.problem == nil, "AudioTransformer: \(config.problem ?? "")")
        self.config = config
        self.classes = classes
        conv1 = Conv1d(config.mels, config.width, kernelSize: 3, padding: 1, generator: &generator)
        conv2 = Conv1d(config.width, config.width, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        var stack: [AudioTransformerLayer] = []
        for _ in 0..<config.layers { stack.append(AudioTransformerLayer(config: config, generator: &generator)) }
        _layers = ChildList(wrappedValue: stack, key: "layers")
        _layerNorm = Child(wrappedValue: LayerNorm(config.width), key: "layer_norm")
        classifier = Linear(config.width, classes, generator: &generator)
        super.init()
    }

    /// Frames after the stem for `frames` input frames.
    public static func encodedFrames(_ frames: Int) -> Int { (frames - 1) / 2 + 1 }

    /// Whisper's sinusoidal positions [length, channels]: `sin(t·ω_k)` then `cos(t·ω_k)`, with
    /// `ω_k = 10000^(−k / (channels/2 − 1))`.
    public static func sinusoids(length: Int, channels: Int) -> Tensor {
        let half = channels / 2
        let increment = log(10_000.0) / Double(half - 1)
        var values = [Float](repeating: 0, count: length * channels)
        for k in 0..<half {
            let inverse = Float(exp(-increment * Double(k)))
            for t in 0..<length {
                let angle = Float(t) * inverse
                values[t * channels + k] = sin(angle)
                values[t * channels + half + k] = cos(angle)
            }
        }
        return Tensor(values, shape: [length, channels])
    }

    private var positionCache: [Int: Tensor] = [:]
    private let cacheLock = NSLock()

    private func positions(_ length: Int) -> Tensor {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let p = positionCache[length] { return p }
        let p = Self.sinusoids(length: length, channels: config.width)
        positionCache[length] = p
        return p
    }

    /// Checks an input's shape: [N, mels, T] with N, T ≥ 1.
    public func validate(inputShape shape: [Int]) throws {
        guard shape.count == 3, shape[0] >= 1, shape[2] >= 1, shape[1] == config.mels else {
            throw AudioTransformerError(description:
                "the audio transformer reads log-mel features [N, \(config.mels), frames]; got \(shape)")
        }
    }

    /// The encoder's output [N, T', d] (after the final layer norm).
    public func encode(_ x: Tensor) throws -> Tensor {
        try validate(inputShape: x.shape)
        let h = conv2(conv1(x).gelu(.exact)).gelu(.exact).permuted([0, 2, 1])
        var y = h + positions(h.shape[1])
        for layer in layers { y = layer(y) }
        return layerNorm(y)
    }

    /// Logits [N, classes] of log-mel features [N, mels, T].
    public func logits(_ x: Tensor) throws -> Tensor {
        classifier(try encode(x).mean(axis: 1))
    }
}
