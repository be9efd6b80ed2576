import NN
import Tensor

/// Squeeze-and-excitation (Hu et al. 2018): channel attention from globally pooled features.
///
///     s = σ(W₂ · relu(W₁ · mean_{h,w}(x) + b₁) + b₂)      y = x ⊙ s
///
/// Shapes: x [N, C, H, W]; W₁ [C/r, C] (`fc1`), W₂ [C, C/r] (`fc2`), as torchvision's
/// `SqueezeExcitation` with linear layers.
open class SqueezeExcitation: Module, UnaryLayer {
    @Child public var fc1: Linear
    @Child public var fc2: Linear

    public init(channels: Int, reduction: Int = 4, generator: inout RandomGenerator) {
        let hidden = Swift.max(1, channels / reduction)
        fc1 = Linear(channels, hidden, generator: &generator)
        fc2 = Linear(hidden, channels, generator: &generator)
        super.init()
    }

    /// A block sharing `other`'s layers (its LoRA form is built this way).
    public init(sharing other: SqueezeExcitation) {
        fc1 = other.fc1
        fc2 = other.fc2
        super.init()
        train(other.isTraining)
    }

    /// The excitation logits before the sigmoid, [N, C] (the LoRA form adds its update here).
    open func excitation(_ hidden: Tensor) -> Tensor { fc2(hidden) }

    public func callAsFunction(_ x: Tensor) -> Tensor {                     // [N, C, H, W]
        let squeezed = x.mean(axes: [2, 3])                                 // [N, C]
        let scale = excitation(fc1(squeezed).relu()).sigmoid()             // [N, C]
        return x * scale.reshaped([x.shape[0], x.shape[1], 1, 1])
    }
}
