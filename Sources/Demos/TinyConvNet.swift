import NN
import Tensor

/// A small convolutional classifier for demos and tests of the training loop:
/// conv 3×3 → ReLU → conv 3×3 stride 2 → ReLU → flatten → linear head.
public final class TinyConvNet: Module, UnaryLayer {
    @Child public var conv1: Conv2d
    @Child public var conv2: Conv2d
    @Child public var head: Linear

    /// - Parameters:
    ///   - size: input height and width (even).
    public init(channels: Int = 1, size: Int = 12, classes: Int = 4, width: Int = 8, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        conv1 = Conv2d(channels, width, kernelSize: 3, padding: 1, generator: &rng)
        conv2 = Conv2d(width, 2 * width, kernelSize: 3, stride: 2, padding: 1, generator: &rng)
        head = Linear(2 * width * (size / 2) * (size / 2), classes, generator: &rng)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {          // [N, C, H, W]
        let h = conv2(conv1(x).relu()).relu()                    // [N, 2w, H/2, W/2]
        return head(h.flattened(from: 1))                        // [N, classes]
    }
}
