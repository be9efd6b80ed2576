import NN
import Tensor

/// The feed-forward expansion of a BERT layer (Hugging Face's `BertIntermediate`):
/// `act(x·Wᵀ + b)`, [N, T, H] → [N, T, F]. Key `dense`.
public final class BertIntermediate: Module {
    @Child public var dense: Linear
    /// The activation after `dense` (`hidden_act`).
    public let activation: BertActivation

    init(config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        dense = BertInitialization.linear(config.hiddenSize, config.intermediateSize, config: config,
                                          generator: &generator, draw: drawWeights)
        activation = config.hiddenActivation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { activation(dense(x)) }
}

/// One post-LN Transformer encoder layer (Hugging Face's `BertLayer`):
///
///     a = LayerNorm(x + dropout(attention(x) · Woᵀ))                 attention.*
///     y = LayerNorm(a + dropout(act(a · W1ᵀ) · W2ᵀ))                intermediate.dense, output.*
///
/// Keys `attention.self.{query,key,value}`, `attention.output.{dense,LayerNorm}`,
/// `intermediate.dense`, `output.{dense,LayerNorm}`.
public final class BertLayer: Module {
    @Child public var attention: BertAttention
    @Child public var intermediate: BertIntermediate
    @Child public var output: BertResidualOutput

    init(config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        attention = BertAttention(config: config, generator: &generator, drawWeights: drawWeights)
        intermediate = BertIntermediate(config: config, generator: &generator, drawWeights: drawWeights)
        output = BertResidualOutput(inputs: config.intermediateSize, config: config, generator: &generator,
                                    drawWeights: drawWeights)
        super.init()
    }

    /// `x` [N, T, H] → [N, T, H].
    public func callAsFunction(_ x: Tensor, mask: AttentionMask?) -> Tensor {
        let a = attention(x, mask: mask)
        return output(intermediate(a), residual: a)
    }
}

/// The stack of encoder layers (Hugging Face's `BertEncoder`): keys `layer.0.…`, `layer.1.…`.
public final class BertEncoder: Module {
    @ChildList public var layers: [BertLayer]

    init(config: BertConfig, generator: inout RandomGenerator, drawWeights: Bool) {
        let layers = (0..<config.layerCount).map { _ in
            BertLayer(config: config, generator: &generator, drawWeights: drawWeights)
        }
        _layers = ChildList(wrappedValue: layers, key: "layer")
        super.init()
    }

    /// `x` [N, T, H] through every layer → [N, T, H].
    public func callAsFunction(_ x: Tensor, mask: AttentionMask?) -> Tensor {
        layers.reduce(x) { h, layer in layer(h, mask: mask) }
    }
}
