import NN
import Tensor

/// A residual network for image classification (He et al. 2016), laid out as torchvision's
/// `ResNet` so that its checkpoints load unchanged:
///
///     stem:    conv1 (7×7/2, 64) → bn1 → relu → max pool (3×3/2)       [N, 64, H/4, W/4]
///     layer1…layer4: stages of residual blocks (`BasicBlock` or `Bottleneck`); layer2…4 halve
///              the resolution in their first block                       [N, 512·e, H/32, W/32]
///     head:    global average pool → flatten → fc                        [N, classes]
///
/// State-dict keys are torchvision's: `conv1.weight`, `bn1.running_mean`, `layer1.0.conv1.weight`,
/// `layer2.0.downsample.0.weight`, `layer2.0.downsample.1.weight`, `fc.weight`, `fc.bias`, …
/// Every layer is a replaceable child, so LoRA targets such as `layer4.*.conv*` or
/// `layer*.*.downsample.0` are injected through the module tree; `replaceHead` swaps `fc`.
///
/// Activations stay in oneDNN's blocked layout from the stem to the pooled features (convolution,
/// batch norm, relu, pooling and the residual sum all keep it); only the pooled `[N, C, 1, 1]`
/// tensor is reordered to plain layout for `fc`.
public final class ResNet: Module, UnaryLayer {
    @Child public var conv1: Conv2d
    @Child public var bn1: BatchNorm2d
    @Child public var layer1: Sequential
    @Child public var layer2: Sequential
    @Child public var layer3: Sequential
    @Child public var layer4: Sequential
    @Child public var fc: Linear

    /// The architecture this model was built with.
    public let configuration: Configuration

    /// Builds a freshly initialised network, initialised as torchvision's: every convolution
    /// kaiming-normal with `std = √(2 / fanOut)`, `fanOut = O·k_h·k_w` (mode `fan_out`, relu gain);
    /// batch norms weight 1, bias 0 (the last one of each block weight 0 when
    /// `configuration.zeroInitializeResidual`); `fc` PyTorch's `Linear` default `U(±1/√in)`.
    /// - Parameters:
    ///   - configuration: the architecture (`.resnet18`, `.resnet34`, `.resnet50`, …).
    ///   - classes: outputs of `fc` (torchvision's `num_classes`, 1000 for ImageNet).
    ///   - inputChannels: channels of the input image (3 for RGB).
    ///   - generator: the random source of the initial weights.
    public convenience init(configuration: Configuration, classes: Int = 1000, inputChannels: Int = 3,
                            generator: inout RandomGenerator) {
        var source: RandomGenerator? = generator
        self.init(configuration: configuration, classes: classes, inputChannels: inputChannels, source: &source)
        generator = source!
    }

    /// A network whose convolution and `fc` parameters are zero (batch norms at identity), to be
    /// filled from a checkpoint with `loadSafeTensors(path:)` or `load(_:)`: it skips drawing
    /// the random initial weights (25 M normal draws for ResNet-50) that a load would overwrite.
    public static func forLoading(configuration: Configuration, classes: Int = 1000,
                                  inputChannels: Int = 3) -> ResNet {
        var source: RandomGenerator?
        return ResNet(configuration: configuration, classes: classes, inputChannels: inputChannels, source: &source)
    }

    /// Builds the network, drawing initial weights from `source` (zeros when nil).
    init(configuration: Configuration, classes: Int, inputChannels: Int, source: inout RandomGenerator?) {
        precondition(classes >= 1 && inputChannels >= 1,
                     "ResNet: classes \(classes) and input channels \(inputChannels) must be positive")
        self.configuration = configuration
        conv1 = ResNet.convolution(inputChannels, 64, kernelSize: 7, stride: 2, padding: 3, generator: &source)
        bn1 = BatchNorm2d(64)
        var channels = 64
        var stages: [Sequential] = []
        for (index, count) in configuration.blockCounts.enumerated() {
            let planes = 64 << index
            stages.append(ResNet.makeStage(configuration, inputChannels: &channels, planes: planes, blocks: count,
                                           stride: index == 0 ? 1 : 2, generator: &source))
        }
        layer1 = stages[0]
        layer2 = stages[1]
        layer3 = stages[2]
        layer4 = stages[3]
        let features = configuration.featureCount
        if source != nil {
            fc = Linear(features, classes, generator: &source!)
        } else {
            fc = Linear(weight: Tensor.zeros([classes, features]), bias: Tensor.zeros([classes]))
        }
        super.init()
        if configuration.zeroInitializeResidual {
            for block in blocks { block.lastBatchNorm.weight = Tensor.zeros([block.lastBatchNorm.featureCount]) }
        }
    }

    // MARK: - Presets

    /// ResNet-18 (basic blocks 2-2-2-2, 11.7 M parameters with 1000 classes).
    public static func resnet18(classes: Int = 1000, inputChannels: Int = 3,
                                generator: inout RandomGenerator) -> ResNet {
        ResNet(configuration: .resnet18, classes: classes, inputChannels: inputChannels, generator: &generator)
    }

    /// ResNet-34 (basic blocks 3-4-6-3, 21.8 M parameters with 1000 classes).
    public static func resnet34(classes: Int = 1000, inputChannels: Int = 3,
                                generator: inout RandomGenerator) -> ResNet {
        ResNet(configuration: .resnet34, classes: classes, inputChannels: inputChannels, generator: &generator)
    }

    /// ResNet-50 (bottleneck blocks 3-4-6-3, 25.6 M parameters with 1000 classes).
    public static func resnet50(classes: Int = 1000, inputChannels: Int = 3,
                                generator: inout RandomGenerator) -> ResNet {
        ResNet(configuration: .resnet50, classes: classes, inputChannels: inputChannels, generator: &generator)
    }

    // MARK: - Structure

    /// The four stages `layer1…layer4`.
    public var stages: [Sequential] { [layer1, layer2, layer3, layer4] }

    /// Every residual block, stage by stage.
    public var blocks: [any ResidualBlock] {
        stages.flatMap { stage in
            stage.layers.map { layer -> any ResidualBlock in
                guard let block = layer as? any ResidualBlock else {
                    preconditionFailure("ResNet stage holds \(type(of: layer)), which is not a ResidualBlock")
                }
                return block
            }
        }
    }

    /// Channels of the pooled features, the input of `fc` (512 for ResNet-18/34, 2048 for ResNet-50).
    public var featureCount: Int { fc.inputFeatures }

    /// Outputs of the classifier head.
    public var classCount: Int { fc.outputFeatures }

    /// Replaces the classifier head by a new `Linear(featureCount, classes)` with PyTorch's
    /// default initialisation `W, b ~ U(±1/√featureCount)`, for fine-tuning on another label set
    /// (torchvision users write `model.fc = nn.Linear(model.fc.in_features, classes)`).
    /// The new head is trainable; the rest of the model is unchanged.
    public func replaceHead(classes: Int, generator: inout RandomGenerator) {
        precondition(classes >= 1, "ResNet.replaceHead: classes must be positive, got \(classes)")
        fc = Linear(featureCount, classes, generator: &generator)
        fc.train(isTraining)
    }

    // MARK: - Forward

    /// Checks that a batch of shape `inputShape` fits the network: `[N, C_in, H, W]` with the
    /// channels `conv1` expects and no empty dimension (any size from 1×1 up reaches the pooled
    /// features). Call it on data before training or evaluating to report a data/model mismatch
    /// (grey-scale images for an RGB model); the forward pass stops the program with the same
    /// message.
    /// - Throws: `TensorError.shapeMismatch` naming the input and `conv1.weight` shapes when the
    ///   channels differ, `TensorError.invalidShape` for a wrong rank or an empty dimension.
    public func validate(inputShape: [Int]) throws {
        try conv1.validate(inputShape: inputShape)
    }

    /// The last stage's feature map, before pooling: `x` [N, C_in, H, W] →
    /// [N, featureCount, H', W'] with `H' = ⌈H/32⌉` for even sizes (in oneDNN's blocked layout).
    public func featureMap(_ x: Tensor) -> Tensor {
        // fatalError rather than precondition: this module's preconditions lose their message in -O.
        do { try validate(inputShape: x.shape) } catch { fatalError("ResNet: \(error)") }
        var h = bn1(conv1(x)).relu()                                     // [N, 64, H/2, W/2]
        h = h.maxPool2d(kernelSize: 3, stride: 2, padding: 1)            // [N, 64, H/4, W/4]
        h = layer1(h)                                                    // [N, 64·e, H/4, W/4]
        h = layer2(h)                                                    // [N, 128·e, H/8, W/8]
        h = layer3(h)                                                    // [N, 256·e, H/16, W/16]
        return layer4(h)                                                 // [N, 512·e, H/32, W/32]
    }

    /// Pooled features before `fc` (torchvision's forward up to `torch.flatten(x, 1)`):
    /// `x` [N, C_in, H, W] → [N, featureCount], each the spatial mean of the last feature map.
    public func features(_ x: Tensor) -> Tensor {
        featureMap(x).adaptiveAvgPool2d(outputSize: 1).flattened(from: 1)
    }

    /// Class logits: `x` [N, C_in, H, W] → [N, classes].
    public func callAsFunction(_ x: Tensor) -> Tensor { fc(features(x)) }

    // MARK: - Building

    /// One stage (torchvision's `_make_layer`): the first block takes the stride and, when the
    /// shape changes, a 1×1 strided projection shortcut; `inputChannels` becomes the stage's output.
    static func makeStage(_ configuration: Configuration, inputChannels: inout Int, planes: Int, blocks: Int,
                          stride: Int, generator: inout RandomGenerator?) -> Sequential {
        let outputs = planes * configuration.block.expansion
        var layers: [UnaryLayer] = []
        for index in 0..<blocks {
            let blockStride = index == 0 ? stride : 1
            var downsample: Sequential?
            if index == 0 && (stride != 1 || inputChannels != outputs) {
                downsample = Sequential(
                    convolution(inputChannels, outputs, kernelSize: 1, stride: stride, generator: &generator),
                    BatchNorm2d(outputs))
            }
            switch configuration.block {
            case .basic:
                layers.append(BasicBlock(inputChannels: inputChannels, planes: planes, stride: blockStride,
                                         downsample: downsample, source: &generator))
            case .bottleneck:
                layers.append(Bottleneck(inputChannels: inputChannels, planes: planes, stride: blockStride,
                                         groups: configuration.groups, widthPerGroup: configuration.widthPerGroup,
                                         downsample: downsample, source: &generator))
            }
            inputChannels = outputs
        }
        return Sequential(layers)
    }

    /// A bias-free convolution with torchvision's ResNet initialisation, kaiming-normal in mode
    /// `fan_out` with the relu gain: `W ~ N(0, 2 / (O·k_h·k_w))` (PyTorch's fan-out counts all
    /// `O` outputs, whatever the groups); zeros without a generator.
    static func convolution(_ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1,
                            padding: Int = 0, groups: Int = 1, generator: inout RandomGenerator?) -> Conv2d {
        precondition(inputChannels % groups == 0 && outputChannels % groups == 0,
                     "ResNet: groups \(groups) must divide \(inputChannels) and \(outputChannels) channels")
        let fanOut = outputChannels * kernelSize * kernelSize
        let shape = [outputChannels, inputChannels / groups, kernelSize, kernelSize]
        let weight = generator == nil ? Tensor.zeros(shape)
            : Tensor.randn(shape, std: (2 / Float(fanOut)).squareRoot(), generator: &generator!)
        return Conv2d(weight: weight, stride: IntPair(stride, stride), padding: IntPair(padding, padding),
                      groups: groups)
    }
}
