import Tensor

/// Max pooling over `[N, C, H, W]` (PyTorch's `nn.MaxPool2d`, floor rounding):
///
///     y[n, c, i, j] = max_{p, q} x[n, c, i·s_h − pad_h + p·d_h, j·s_w − pad_w + q·d_w]
///
/// Output `[N, C, H', W']`, `H' = ⌊(H + 2·pad_h − d_h·(k_h − 1) − 1) / s_h⌋ + 1`. No parameters.
open class MaxPool2d: Module, UnaryLayer {
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: IntPair
    public let dilation: IntPair

    /// - Parameters:
    ///   - kernelSize: the window.
    ///   - stride: defaults to `kernelSize`, as in PyTorch.
    ///   - padding: at most half the window; padded positions never win.
    ///   - dilation: spacing of the window's elements (1: none).
    public init(kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0, dilation: IntPair = 1) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor {
        x.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
    }
}

/// Average pooling over `[N, C, H, W]` (PyTorch's `nn.AvgPool2d`, floor rounding): each output is
/// the window's sum divided by `k_h·k_w` when `countIncludingPadding` (PyTorch's default), else by
/// the number of input elements in the window. Output size as for `MaxPool2d`. No parameters.
open class AvgPool2d: Module, UnaryLayer {
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: IntPair
    public let countIncludingPadding: Bool

    /// - Parameters:
    ///   - kernelSize: the window.
    ///   - stride: defaults to `kernelSize`, as in PyTorch.
    ///   - padding: at most half the window.
    ///   - countIncludingPadding: PyTorch's `count_include_pad`.
    public init(kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0, countIncludingPadding: Bool = true) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.countIncludingPadding = countIncludingPadding
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor {
        x.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding, countIncludingPadding: countIncludingPadding)
    }
}

/// Adaptive average pooling to a fixed output size (PyTorch's `nn.AdaptiveAvgPool2d`):
/// `[N, C, H, W]` → `[N, C, OH, OW]`, where `y[n, c, i, j]` is the mean of `x[n, c, h, w]` over
/// `⌊i·H/OH⌋ ≤ h < ⌈(i+1)·H/OH⌉` and likewise for `w`. `outputSize: 1` is ResNet's global
/// average pool. No parameters.
open class AdaptiveAvgPool2d: Module, UnaryLayer {
    public let outputSize: IntPair

    public init(outputSize: IntPair) {
        self.outputSize = outputSize
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor { x.adaptiveAvgPool2d(outputSize: outputSize) }
}

/// Flattens dimensions `startAxis...endAxis` into one (PyTorch's `nn.Flatten`, whose defaults
/// keep the batch axis: `[N, C, H, W]` → `[N, C·H·W]`). No parameters.
open class Flatten: Module, UnaryLayer {
    public let startAxis: Int
    public let endAxis: Int

    public init(startAxis: Int = 1, endAxis: Int = -1) {
        self.startAxis = startAxis
        self.endAxis = endAxis
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor { x.flattened(from: startAxis, to: endAxis) }
}
