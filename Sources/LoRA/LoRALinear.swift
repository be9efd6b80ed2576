import NN
import Tensor

/// The LoRA form of `Linear`: `y = x·Wᵀ + b + Σ s · (dropout(x)·Aᵀ)·Bᵀ` with A [r, in], B [out, r].
/// A subclass of `Linear`, so it fits wherever a `Linear` is declared and keeps its keys.
public final class LoRALinear: Linear, LoRAHost {
    @Child public var adapters = ModuleDict<LoRAAdapter>()
    public let adapterState = AdapterState()

    /// The LoRA form of `base`, sharing its weight and bias (and their trainable state).
    public init(base: Linear) {
        super.init(weight: base.weight, bias: base.bias)
        copyTrainability(from: base, keys: ["weight", "bias"])
        train(base.isTraining)
    }

    public var baseWeight: ParameterSlot { parameterSlot("weight")! }
    public var baseParameterCount: Int { weight.count + (bias?.count ?? 0) }

    public func makeAdapter(_ settings: AdapterSettings, seed: UInt64,
                            generator: inout RandomGenerator) throws -> LoRAAdapter {
        let r = settings.rank
        var (a, b) = LoRAInit.factors(rank: r, inFeatures: inputFeatures, outFeatures: outputFeatures,
                                      fanIn: inputFeatures, settings: settings, generator: &generator)
        if settings.initialization == .pissa {
            let (pa, pb, residual) = try LoRAInit.pissa(weight: weight.detached(), rank: r, scaling: settings.scaling)
            (a, b) = (pa, pb)
            baseWeight.tensor = residual
        }
        var magnitude: Tensor?
        if settings.useDoRA {
            magnitude = DoRA.initialMagnitude(base: weight.detached(),
                                              delta: withNoGrad { b.matmul(a) * settings.scaling })
        }
        return LoRAAdapter(a: a, b: b, magnitude: magnitude, settings: settings, seed: seed)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        adapter.b.matmul(adapter.a) * adapter.scaling          // [out, r]·[r, in]
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        var y = super.callAsFunction(x)
        for adapter in forwardAdapters {
            let h = adapter.dropped(x)
            let down = Tensor.linear(h, weight: adapter.a, bias: nil)                          // [..., r]
            guard let m = adapter.magnitude else {
                y.addMatmul(down, adapter.b, transposeB: true, alpha: adapter.scaling)   // y += s·(h·Aᵀ)·Bᵀ
                continue
            }
            let lora = down.matmul(adapter.b, transposeB: true)                               // [..., out]
            let s = DoRA.scale(base: weight, delta: deltaWeight(adapter), magnitude: m)           // [out]
            let baseNoBias = h.matmul(weight, transposeB: true)
            y = y + baseNoBias * (s - 1) + lora * (s * adapter.scaling)
        }
        return y
    }
}

extension Linear: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRALinear(base: self) }
}
