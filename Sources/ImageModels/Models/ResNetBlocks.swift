import NN
import Tensor

/// A residual block of a `ResNet` stage: `y = relu(F(x) + shortcut(x))`, where the shortcut is
/// the identity or, when the shape changes, `downsample` (a strided 1×1 convolution and a batch
/// norm, keys `downsample.0` and `downsample.1` as in torchvision).
///
/// Every layer is a replaceable child (`@Child`, `@OptionalChild`), so LoRA can adapt
/// `layer1.0.conv1` or `layer2.0.downsample.0` through the module tree.
public protocol ResidualBlock: UnaryLayer {
    /// The projection shortcut, when the block changes resolution or channel count.
    var downsample: Sequential? { get }
    /// The batch norm that closes the residual branch (`bn2` or `bn3`); zero-initialising its
    /// weight makes the block start as the identity.
    var lastBatchNorm: BatchNorm2d { get }
    /// Channels in, channels out.
    var inputChannels: Int { get }
    var outputChannels: Int { get }
}

/// The basic block of ResNet-18/34 (torchvision's `BasicBlock`, expansion 1):
///
///     y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))
///
/// `conv1` is 3×3 with the block's stride, `conv2` 3×3 with stride 1, both without bias.
/// Shapes: `x` [N, C, H, W] → [N, planes, ⌈H/s⌉, ⌈W/s⌉].
public final class BasicBlock: Module, ResidualBlock {
    @Child public var conv1: Conv2d
    @Child public var bn1: BatchNorm2d
    @Child public var conv2: Conv2d
    @Child public var bn2: BatchNorm2d
    @OptionalChild public var downsample: Sequential?

    /// - Parameters:
    ///   - inputChannels: `C`.
    ///   - planes: the block's width and output channels.
    ///   - stride: 1, or 2 to halve the resolution.
    ///   - downsample: the projection shortcut; required when `stride != 1` or `C != planes`.
    ///   - generator: the random source for kaiming-normal weights.
    public convenience init(inputChannels: Int, planes: Int, stride: Int = 1, downsample: Sequential? = nil,
                            generator: inout RandomGenerator) {
        var source: RandomGenerator? = generator
        self.init(inputChannels: inputChannels, planes: planes, stride: stride, downsample: downsample, source: &source)
        generator = source!
    }

    /// Draws the weights from `source`, or leaves them zero when it is nil.
    init(inputChannels: Int, planes: Int, stride: Int, downsample: Sequential?, source generator: inout RandomGenerator?) {
        precondition(downsample != nil || (stride == 1 && inputChannels == planes),
                     "BasicBlock: \(inputChannels) → \(planes) channels with stride \(stride) needs a downsample shortcut")
        conv1 = ResNet.convolution(inputChannels, planes, kernelSize: 3, stride: stride, padding: 1, generator: &generator)
        bn1 = BatchNorm2d(planes)
        conv2 = ResNet.convolution(planes, planes, kernelSize: 3, padding: 1, generator: &generator)
        bn2 = BatchNorm2d(planes)
        self.downsample = downsample
        super.init()
    }

    public var lastBatchNorm: BatchNorm2d { bn2 }
    public var inputChannels: Int { conv1.inputChannels }
    public var outputChannels: Int { conv2.outputChannels }

    /// `x` [N, C, H, W] → [N, planes, H', W']; activations stay in oneDNN's blocked layout.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let branch = bn2(conv2(bn1(conv1(x)).relu()))
        let shortcut = downsample.map { $0(x) } ?? x
        return (branch + shortcut).relu()
    }
}

/// The bottleneck block of ResNet-50 and deeper (torchvision's `Bottleneck`, "ResNet v1.5",
/// expansion 4):
///
///     y = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))
///
/// `conv1` is 1×1 to the inner width `w = planes·widthPerGroup/64·groups`, `conv2` 3×3 with the
/// block's stride and `groups`, `conv3` 1×1 to `4·planes`; no biases.
/// Shapes: `x` [N, C, H, W] → [N, 4·planes, ⌈H/s⌉, ⌈W/s⌉].
public final class Bottleneck: Module, ResidualBlock {
    public static let expansion = 4

    @Child public var conv1: Conv2d
    @Child public var bn1: BatchNorm2d
    @Child public var conv2: Conv2d
    @Child public var bn2: BatchNorm2d
    @Child public var conv3: Conv2d
    @Child public var bn3: BatchNorm2d
    @OptionalChild public var downsample: Sequential?

    /// - Parameters:
    ///   - inputChannels: `C`.
    ///   - planes: output channels are `4·planes`.
    ///   - stride: 1, or 2 to halve the resolution (applied by `conv2`).
    ///   - groups, widthPerGroup: the inner width's grouping, as in `ResNet.Configuration`.
    ///   - downsample: the projection shortcut; required when `stride != 1` or `C != 4·planes`.
    ///   - generator: the random source for kaiming-normal weights.
    public convenience init(inputChannels: Int, planes: Int, stride: Int = 1, groups: Int = 1, widthPerGroup: Int = 64,
                            downsample: Sequential? = nil, generator: inout RandomGenerator) {
        var source: RandomGenerator? = generator
        self.init(inputChannels: inputChannels, planes: planes, stride: stride, groups: groups,
                  widthPerGroup: widthPerGroup, downsample: downsample, source: &source)
        generator = source!
    }

    /// Draws the weights from `source`, or leaves them zero when it is nil.
    init(inputChannels: Int, planes: Int, stride: Int, groups: Int, widthPerGroup: Int, downsample: Sequential?,
         source generator: inout RandomGenerator?) {
        let outputs = planes * Bottleneck.expansion
        precondition(downsample != nil || (stride == 1 && inputChannels == outputs),
                     "Bottleneck: \(inputChannels) → \(outputs) channels with stride \(stride) needs a downsample shortcut")
        let width = planes * widthPerGroup / 64 * groups
        conv1 = ResNet.convolution(inputChannels, width, kernelSize: 1, generator: &generator)
        bn1 = BatchNorm2d(width)
        conv2 = ResNet.convolution(width, width, kernelSize: 3, stride: stride, padding: 1, groups: groups,
                                   generator: &generator)
        bn2 = BatchNorm2d(width)
        conv3 = ResNet.convolution(width, outputs, kernelSize: 1, generator: &generator)
        bn3 = BatchNorm2d(outputs)
        self.downsample = downsample
        super.init()
    }

    public var lastBatchNorm: BatchNorm2d { bn3 }
    public var inputChannels: Int { conv1.inputChannels }
    public var outputChannels: Int { conv3.outputChannels }

    /// `x` [N, C, H, W] → [N, 4·planes, H', W']; activations stay in oneDNN's blocked layout.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var branch = bn1(conv1(x)).relu()
        branch = bn2(conv2(branch)).relu()
        branch = bn3(conv3(branch))
        let shortcut = downsample.map { $0(x) } ?? x
        return (branch + shortcut).relu()
    }
}
