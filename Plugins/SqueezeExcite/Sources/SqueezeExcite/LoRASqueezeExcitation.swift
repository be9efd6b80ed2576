import LoRA
import NN
import Tensor

/// The LoRA form of `SqueezeExcitation`: an adapter on the excitation weight W₂ [C, C/r],
/// `logits = W₂·h + b₂ + s·B(A(h))` with A [r, C/r] and B [C, r]. It says only what is particular
/// to this layer (the factors' shapes, the update of W₂, how the forward adds an adapter's
/// output); adding, activating, merging, PEFT files and `checkAdapter` come from `LoRAHost`.
public final class LoRASqueezeExcitation: SqueezeExcitation, LoRAHost {
    public let adapters = LoRAAdapters()

    public init(base: SqueezeExcitation) { super.init(sharing: base) }

    /// Merging changes W₂, `fc2.weight` (key `fc2.weight` under this block).
    public var baseWeight: ParameterSlot {
        guard let slot = fc2.parameterSlot("weight") else { preconditionFailure("Linear without weight") }
        return slot
    }

    public var baseParameterCount: Int { fc2.weight.count + (fc2.bias?.count ?? 0) }

    public func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
        LoRAInit.factors(rank: settings.rank, inFeatures: fc2.inputFeatures, outFeatures: fc2.outputFeatures,
                         fanIn: fc2.inputFeatures, settings: settings, generator: &generator)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor { adapter.b.matmul(adapter.a) * adapter.scaling }

    public override func excitation(_ hidden: Tensor) -> Tensor {
        applyAdapters(to: super.excitation(hidden), input: hidden) { y, h, adapter in
            y = y + h.matmul(adapter.a, transposeB: true).matmul(adapter.b, transposeB: true) * adapter.scaling
        }
    }
}

extension SqueezeExcitation: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRASqueezeExcitation(base: self) }
}
