import LoRA
import NN
import Tensor

/// The LoRA form of `SqueezeExcitation`: an adapter on the excitation weight W₂ [C, C/r],
/// `logits = W₂·h + b₂ + s·B(A(h))` with A [r, C/r] and B [C, r]. It hosts adapters like the
/// built-in layers, so injection, merging, PEFT files and `checkAdapter` all work unchanged.
public final class LoRASqueezeExcitation: SqueezeExcitation, LoRAHost {
    @Child public var adapters = ModuleDict<LoRAAdapter>()
    public let adapterState = AdapterState()

    public init(base: SqueezeExcitation) { super.init(sharing: base) }

    public var baseWeight: ParameterSlot { fc2.parameterSlot("weight")! }
    public var baseParameterCount: Int { fc2.weight.count + (fc2.bias?.count ?? 0) }

    public func makeAdapter(_ settings: AdapterSettings, seed: UInt64,
                            generator: inout RandomGenerator) throws -> LoRAAdapter {
        guard settings.initialization != .pissa, !settings.useDoRA else {
            throw LoRAError.unsupported(key: "", reason: "PiSSA and DoRA are not implemented for SqueezeExcitation")
        }
        let (a, b) = LoRAInit.factors(rank: settings.rank, inFeatures: fc2.inputFeatures, outFeatures: fc2.outputFeatures,
                                      fanIn: fc2.inputFeatures, settings: settings, generator: &generator)
        return LoRAAdapter(a: a, b: b, settings: settings, seed: seed)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor { adapter.b.matmul(adapter.a) * adapter.scaling }

    public override func excitation(_ hidden: Tensor) -> Tensor {
        var y = super.excitation(hidden)
        for adapter in forwardAdapters {
            y = y + adapter.dropped(hidden).matmul(adapter.a, transposeB: true).matmul(adapter.b, transposeB: true)
                * adapter.scaling
        }
        return y
    }
}

extension SqueezeExcitation: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRASqueezeExcitation(base: self) }
}
