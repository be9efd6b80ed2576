import Tensor

/// PyTorch's default initialisation of a convolution (`_ConvNd.reset_parameters`): kaiming-uniform
/// with `a = √5` on the weight and the same bound on the bias, `U(±1/√fanIn)` with
/// `fanIn = (inputChannels / groups) · ∏ kernelSize`.
func convolutionDefaultParameters(weightShape: [Int], bias: Bool, generator: inout RandomGenerator)
    -> (weight: Tensor, bias: Tensor?) {
    let fanIn = weightShape.dropFirst().reduce(1, *)
    let bound = 1 / Float(fanIn).squareRoot()
    let w = Tensor.uniform(weightShape, low: -bound, high: bound, generator: &generator)
    let b = bias ? Tensor.uniform([weightShape[0]], low: -bound, high: bound, generator: &generator) : nil
    return (w, b)
}

/// 2-D convolution (cross-correlation, PyTorch's `nn.Conv2d` with zero padding):
///
///     y[n, o, i, j] = b[o] + Σ_{c ∈ group(o), p, q} W[o, c, p, q] ·
///                     x[n, c, i·s_h − pad_h + p·d_h, j·s_w − pad_w + q·d_w]
///
/// Shapes: `x` [N, C, H, W] → [N, O, H', W'], `H' = ⌊(H + 2·pad_h − d_h·(k_h − 1) − 1) / s_h⌋ + 1`
/// (likewise `W'`); `weight` [O, C / groups, k_h, k_w], `bias` [O] (keys `weight`, `bias`).
///
/// Runs on oneDNN; the output stays in oneDNN's blocked layout for the next convolution, batch
/// norm or pooling (`plain()` converts). With a frozen weight, backward computes no weight
/// gradient and the tape keeps no input for it.
open class Conv2d: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    @OptionalParameter public var bias: Tensor?
    public let stride: IntPair
    public let padding: IntPair
    public let dilation: IntPair
    /// Input and output channels are split into this many groups convolved separately.
    public let groups: Int

    public var inputChannels: Int { weight.shape[1] * groups }
    public var outputChannels: Int { weight.shape[0] }
    public var kernelSize: IntPair { IntPair(weight.shape[2], weight.shape[3]) }

    /// PyTorch's default initialisation: `W, b ~ U(±1/√fanIn)`, `fanIn = (C / groups)·k_h·k_w`
    /// (kaiming-uniform with `a = √5`).
    /// - Parameters:
    ///   - inputChannels: `C`; divisible by `groups`.
    ///   - outputChannels: `O`; divisible by `groups`.
    ///   - kernelSize: `(k_h, k_w)`; an integer means a square kernel.
    ///   - stride, padding, dilation: per spatial dimension, PyTorch's meaning (dilation 1: none).
    ///   - groups: `groups == C` is a depthwise convolution.
    ///   - bias: whether to learn `bias`.
    ///   - generator: the random source for the initial weights.
    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: IntPair, stride: IntPair = 1,
                padding: IntPair = 0, dilation: IntPair = 1, groups: Int = 1, bias: Bool = true,
                generator: inout RandomGenerator) {
        precondition(groups >= 1 && inputChannels % groups == 0 && outputChannels % groups == 0,
                     "Conv2d: groups \(groups) must divide input channels \(inputChannels) and output channels \(outputChannels)")
        precondition(kernelSize.height >= 1 && kernelSize.width >= 1, "Conv2d: kernel size \(kernelSize) must be positive")
        let p = convolutionDefaultParameters(
            weightShape: [outputChannels, inputChannels / groups, kernelSize.height, kernelSize.width],
            bias: bias, generator: &generator)
        weight = p.weight
        self.bias = p.bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
    }

    /// A layer with the given weight [O, C / groups, k_h, k_w] and optional bias [O].
    public init(weight: Tensor, bias: Tensor? = nil, stride: IntPair = 1, padding: IntPair = 0,
                dilation: IntPair = 1, groups: Int = 1) {
        precondition(weight.rank == 4, "Conv2d weight must be [O, C/groups, kH, kW], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Conv2d bias \(bias.shape) != [\(weight.shape[0])]") }
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
    }

    /// Checks that an input of shape `inputShape` fits this layer: `[N, C, H, W]` with this
    /// layer's input channels, no empty dimension, and at least as large as the (dilated, padded)
    /// kernel. For data that reaches a model's first layer, so that a caller can report a
    /// mismatch; the forward pass itself stops the program with the same message.
    /// - Throws: `TensorError.shapeMismatch` naming the input and weight shapes when the
    ///   channels differ, `TensorError.invalidShape` for the other cases.
    public func validate(inputShape: [Int]) throws {
        try Tensor.validateConv2d(input: inputShape, weight: weight.shape, bias: bias?.shape, stride: stride,
                                  padding: padding, dilation: dilation, groups: groups)
    }

    /// `x` [N, C, H, W] → [N, O, H', W'].
    open func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// 1-D convolution (cross-correlation, PyTorch's `nn.Conv1d` with zero padding):
///
///     y[n, o, i] = b[o] + Σ_{c ∈ group(o), p} W[o, c, p] · x[n, c, i·s − pad + p·d]
///
/// Shapes: `x` [N, C, L] → [N, O, L'], `L' = ⌊(L + 2·pad − d·(k − 1) − 1) / s⌋ + 1`;
/// `weight` [O, C / groups, k], `bias` [O] (keys `weight`, `bias`).
open class Conv1d: Module, UnaryLayer {
    @Parameter public var weight: Tensor
    @OptionalParameter public var bias: Tensor?
    public let stride: Int
    public let padding: Int
    public let dilation: Int
    public let groups: Int

    public var inputChannels: Int { weight.shape[1] * groups }
    public var outputChannels: Int { weight.shape[0] }
    public var kernelSize: Int { weight.shape[2] }

    /// PyTorch's default initialisation: `W, b ~ U(±1/√fanIn)`, `fanIn = (C / groups)·k`.
    /// Parameters as for `Conv2d`, with one spatial dimension.
    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true, generator: inout RandomGenerator) {
        precondition(groups >= 1 && inputChannels % groups == 0 && outputChannels % groups == 0,
                     "Conv1d: groups \(groups) must divide input channels \(inputChannels) and output channels \(outputChannels)")
        precondition(kernelSize >= 1, "Conv1d: kernel size \(kernelSize) must be positive")
        let p = convolutionDefaultParameters(weightShape: [outputChannels, inputChannels / groups, kernelSize],
                                             bias: bias, generator: &generator)
        weight = p.weight
        self.bias = p.bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
    }

    /// A layer with the given weight [O, C / groups, k] and optional bias [O].
    public init(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                groups: Int = 1) {
        precondition(weight.rank == 3, "Conv1d weight must be [O, C/groups, k], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Conv1d bias \(bias.shape) != [\(weight.shape[0])]") }
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
    }

    /// `x` [N, C, L] → [N, O, L'].
    open func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv1d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}
