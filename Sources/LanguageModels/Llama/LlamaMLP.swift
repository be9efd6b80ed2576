import NN
import Tensor

/// The SwiGLU feed-forward of a Llama layer (Shazeer 2020; Hugging Face's `LlamaMLP`):
///
///     y = (silu(x·Wgᵀ) ⊙ x·Wuᵀ)·Wdᵀ        [N, T, H] → [N, T, F] → [N, T, H]
///
/// Keys `gate_proj`, `up_proj`, `down_proj`, each any `UnaryLayer`.
public final class LlamaMLP: Module, UnaryLayer {
    @LayerChild(key: "gate_proj") public var gateProj: any UnaryLayer
    @LayerChild(key: "up_proj") public var upProj: any UnaryLayer
    @LayerChild(key: "down_proj") public var downProj: any UnaryLayer

    public init(gateProj: any UnaryLayer, upProj: any UnaryLayer, downProj: any UnaryLayer) {
        _gateProj = LayerChild(wrappedValue: gateProj, key: "gate_proj")
        _upProj = LayerChild(wrappedValue: upProj, key: "up_proj")
        _downProj = LayerChild(wrappedValue: downProj, key: "down_proj")
        super.init()
    }

    /// `x` [..., H] → [..., H].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (gate, up) = QuantizedLinear.groupedOutputs([gateProj, upProj], x).map { ($0[0], $0[1]) } ?? (gateProj(x), upProj(x))
        return downProj(gate.silu() * up)
    }
}
