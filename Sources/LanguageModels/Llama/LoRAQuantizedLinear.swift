import LoRA
import NN
import Tensor

/// The LoRA form of `QuantizedLinear` (QLoRA's arrangement, Dettmers et al. 2023): the frozen
/// quantised base plus trainable float adapters,
///
///     y = x·Wᵀ + b + Σ s · (dropout(x)·Aᵀ)·Bᵀ,     A [r, in], B [out, r]
///
/// with W decoded where it is used. Adapters save and load in PEFT's format under the layer's
/// key, as for `LoRALinear`.
///
/// Merging never re-quantises: the merged weight `W + s·B·A` is kept in Float32 (the layer's
/// storage becomes F32, four bytes per weight), so merged outputs equal unmerged ones to float
/// rounding. Unmerging subtracts the update again and leaves F32 values equal to the decoded
/// base to float rounding; the original blocks are not restored. PiSSA and DoRA, which rewrite
/// or decompose the base weight, are refused (this host is not a `WeightDecomposableHost`).
public final class LoRAQuantizedLinear: QuantizedLinear, LoRAHost {
    public let adapters = LoRAAdapters()

    /// The LoRA form of `base`, sharing its weight and bias (and the bias's trainable state).
    public init(base: QuantizedLinear) {
        super.init(weight: base.weight, bias: base.bias)
        if let slot = base.parameterSlot("bias"), !slot.isTrainable { parameterSlot("bias")?.setTrainable(false) }
        train(base.isTraining)
    }

    public func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
        LoRAInit.factors(rank: settings.rank, inFeatures: inputFeatures, outFeatures: outputFeatures,
                         fanIn: inputFeatures, settings: settings, generator: &generator)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        adapter.b.matmul(adapter.a) * adapter.scaling          // [out, r]·[r, in]
    }

    /// The weight as merging sees it: decoded to Float32 when read; a merged (or unmerged) value
    /// written back is kept as F32, never re-quantised.
    public var baseWeight: ParameterSlot { DecodedWeightSlot(layer: self) }

    public var baseParameterCount: Int { weight.rows * weight.columns + (bias?.count ?? 0) }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        applyAdapters(to: super.callAsFunction(x), input: x) { y, h, adapter in
            let down = Tensor.linear(h, weight: adapter.a, bias: nil)                      // [..., r]
            y.addMatmul(down, adapter.b, transposeB: true, alpha: adapter.scaling)         // y += s·(h·Aᵀ)·Bᵀ
        }
    }
}

/// `LoRAQuantizedLinear`'s base weight as a parameter slot for merging: reads decode, writes
/// store Float32 values. Not part of the module tree (frozen: `setTrainable` does nothing).
final class DecodedWeightSlot: ParameterSlot {
    private unowned let layer: QuantizedLinear

    init(layer: QuantizedLinear) { self.layer = layer }

    var key: String? { "weight" }
    var isTrainable: Bool { false }
    func setTrainable(_ flag: Bool) {}

    var tensor: Tensor? {
        get { layer.weight.dequantized() }
        set {
            guard let newValue else { return }
            precondition(newValue.shape == layer.weight.shape,
                         "merged weight \(newValue.shape) does not match the layer's \(layer.weight.shape)")
            layer.weight = QuantizedMatrix(newValue.detached(), format: .float32)
        }
    }
}
