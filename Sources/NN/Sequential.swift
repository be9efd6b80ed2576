import Tensor

/// Layers applied in order; children are keyed `0`, `1`, … as in PyTorch's `nn.Sequential`.
public final class Sequential: Module, UnaryLayer {
    @ChildList(key: "") public var layers: [Module]

    public init(_ layers: [UnaryLayer]) {
        super.init()
        self.layers = layers
    }

    public convenience init(_ layers: UnaryLayer...) { self.init(layers) }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for layer in layers {
            guard let unary = layer as? UnaryLayer else {
                preconditionFailure("Sequential holds \(type(of: layer)), which is not a UnaryLayer")
            }
            h = unary(h)
        }
        return h
    }
}
