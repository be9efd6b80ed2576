import NN
import Tensor

/// Initialisation of adapter factors, as PEFT does it.
public enum LoRAInit {
    /// A and B for `kaiming` (A ~ U(±1/√fanIn), PyTorch's kaiming-uniform with a = √5; B = 0) or
    /// `gaussian` (A ~ N(0, 1/r), B = 0). Shapes: A [r, aColumns], B [out, r]. PiSSA callers
    /// replace both afterwards.
    public static func factors(rank r: Int, inFeatures: Int, outFeatures: Int, fanIn: Int,
                               aShapeTail: [Int] = [], bShapeTail: [Int] = [],
                               settings: AdapterSettings,
                               generator: inout RandomGenerator) -> (a: Tensor, b: Tensor) {
        let aShape = [r, inFeatures] + aShapeTail
        let a: Tensor
        switch settings.initialization {
        case .gaussian:
            a = Tensor.randn(aShape, std: 1 / Float(r), generator: &generator)
        case .kaiming, .pissa:
            let bound = 1 / Float(fanIn).squareRoot()
            a = Tensor.uniform(aShape, low: -bound, high: bound, generator: &generator)
        }
        return (a, Tensor.zeros([outFeatures, r] + bShapeTail))
    }

    /// Checks that a weight of `weightShape`, viewed as [out, rest], has `r` singular triplets.
    public static func checkPiSSARank(_ r: Int, weightShape: [Int]) throws {
        let out = weightShape.first ?? 0, rest = out == 0 ? 0 : weightShape.reduce(1, *) / out
        guard r <= Swift.min(out, rest) else {
            throw LoRAError.invalidConfig("PiSSA rank \(r) exceeds min(out, in) = \(Swift.min(out, rest)) of weight \(weightShape)")
        }
    }

    /// PiSSA: with `W = U·diag(S)·Vh`, `A = diag(√(S_r/s))·Vh_r`, `B = U_r·diag(√(S_r/s))` and the
    /// residual base weight `W − s·B·A`, so the adapted layer starts equal to the original.
    /// `weight` is viewed as [out, rest].
    public static func pissa(weight: Tensor, rank r: Int, scaling: Float) throws -> (a: Tensor, b: Tensor, residual: Tensor) {
        try checkPiSSARank(r, weightShape: weight.shape)
        let out = weight.shape[0], rest = weight.count / out
        let w2 = weight.reshaped([out, rest])
        let (u, s, vh) = try w2.svd()
        let root = (s.slice(axis: 0, start: 0, end: r) / scaling).sqrt()                 // [r]
        let a = vh.slice(axis: 0, start: 0, end: r) * root.reshaped([r, 1])                 // [r, rest]
        let b = u.slice(axis: 1, start: 0, end: r) * root.reshaped([1, r])                  // [out, r]
        let residual = (w2 - b.matmul(a) * scaling).reshaped(weight.shape)
        return (a, b, residual)
    }
}

extension Module {
    /// Gives this module's own parameters `keys` the trainable state they have on `other`.
    func copyTrainability(from other: Module, keys: [String]) {
        for k in keys {
            if let mine = parameterSlot(k), let theirs = other.parameterSlot(k) { mine.setTrainable(theirs.isTrainable) }
        }
    }
}
