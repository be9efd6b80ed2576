import NN
import Tensor

/// The LoRA form of `Linear`: `y = x·Wᵀ + b + Σ s · (dropout(x)·Aᵀ)·Bᵀ` with A [r, in], B [out, r].
/// A subclass of `Linear`, so it fits wherever a `Linear` is declared and keeps its keys.
public final class LoRALinear: Linear, WeightDecomposableHost {
    public let adapters = LoRAAdapters()

    /// The LoRA form of `base`, sharing its weight and bias (and their trainable state).
    public init(base: Linear) {
        super.init(weight: base.weight, bias: base.bias)
        copyTrainability(from: base, keys: ["weight", "bias"])
        train(base.isTraining)
    }

    public func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
        LoRAInit.factors(rank: settings.rank, inFeatures: inputFeatures, outFeatures: outputFeatures,
                         fanIn: inputFeatures, settings: settings, generator: &generator)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        adapter.b.matmul(adapter.a) * adapter.scaling          // [out, r]·[r, in]
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        applyAdapters(to: super.callAsFunction(x), input: x) { y, h, adapter in
            let down = Tensor.linear(h, weight: adapter.a, bias: nil)                      // [..., r]
            y.addMatmul(down, adapter.b, transposeB: true, alpha: adapter.scaling)         // y += s·(h·Aᵀ)·Bᵀ
        }
    }

    // MARK: WeightDecomposableHost

    public func adapterOutput(_ h: Tensor, _ adapter: LoRAAdapter) -> Tensor {
        Tensor.linear(h, weight: adapter.a, bias: nil).matmul(adapter.b, transposeB: true)   // [..., out]
    }

    public func baseOutputWithoutBias(_ h: Tensor) -> Tensor { h.matmul(weight, transposeB: true) }

    public func perOutput(_ v: Tensor) -> Tensor { v }
}

extension Linear: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRALinear(base: self) }
}
