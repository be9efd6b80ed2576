import LoRA
import NN
import Tensor

/// A frozen linear layer, `y = x·Wᵀ + b`, whose weight stays in its compact format
/// (`QuantizedMatrix`: Q4_1/Q4_0/Q8_0 blocks or F16/BF16/F32 values as the GGUF file holds them)
/// and is decoded where it is used, in forward and in backward-data (`Tensor.linear(_:quantizedWeight:)`).
///
/// The weight gets no gradient and is not a parameter of the module tree (a state dict of the
/// model does not hold it); the optional bias is an ordinary parameter. Its LoRA form is
/// `LoRAQuantizedLinear`, so `q_proj`, `down_proj`, … are LoRA targets whatever their storage.
open class QuantizedLinear: Module, UnaryLayer {
    /// The frozen weight [out, in].
    public internal(set) var weight: QuantizedMatrix
    @OptionalParameter public var bias: Tensor?

    public var inputFeatures: Int { weight.columns }
    public var outputFeatures: Int { weight.rows }

    /// A layer with `weight` [out, in] and an optional `bias` [out].
    public init(weight: QuantizedMatrix, bias: Tensor? = nil) {
        if let bias { precondition(bias.shape == [weight.rows], "QuantizedLinear bias \(bias.shape) != [\(weight.rows)]") }
        self.weight = weight
        self.bias = bias
        super.init()
    }

    /// The frozen weight's elements, for parameter counts.
    open override var frozenWeightCount: Int { weight.rows * weight.columns }

    /// `x` [..., in] → [..., out].
    open func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.linear(x, quantizedWeight: weight, bias: bias)
    }
}

extension QuantizedLinear: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRAQuantizedLinear(base: self) }
}

extension QuantizedLinear {
    /// The outputs of `layers` on the same input `x`, computed as one operation
    /// (`Tensor.linear(_:quantizedWeights:)`: one parallel loop instead of one per layer) when
    /// every layer is a plain `QuantizedLinear` without bias; nil otherwise (a LoRA form, whose
    /// adapters must run too, or a float layer), and the caller runs them one by one.
    static func groupedOutputs(_ layers: [any UnaryLayer], _ x: Tensor) -> [Tensor]? {
        var weights: [QuantizedMatrix] = []
        for layer in layers {
            guard type(of: layer) == QuantizedLinear.self, let linear = layer as? QuantizedLinear, linear.bias == nil else {
                return nil
            }
            weights.append(linear.weight)
        }
        return Tensor.linear(x, quantizedWeights: weights).split(sizes: weights.map(\.rows), axis: -1)
    }
}
