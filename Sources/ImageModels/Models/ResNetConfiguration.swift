/// The architecture of a residual network (He et al. 2016), as torchvision's `ResNet` takes it:
/// the block kind, the number of blocks in each of the four stages, and the grouped-convolution
/// width of bottleneck blocks (ResNeXt, wide ResNets).
///
/// Stage `s` (1…4) has `blockCounts[s-1]` blocks with `planes = 64·2^(s-1)` and outputs
/// `planes · expansion` channels; every stage but the first halves the resolution in its first
/// block. The presets are torchvision's `resnet18` … `resnet152`, `resnext50_32x4d` and
/// `wide_resnet50_2`.
public extension ResNet {
    /// The residual block used in every stage.
    enum BlockKind: String, Sendable, Equatable {
        /// Two 3×3 convolutions (`conv1`, `conv2`), expansion 1 (ResNet-18/34).
        case basic
        /// 1×1 reduce, 3×3 (strided, possibly grouped), 1×1 expand (`conv1`…`conv3`), expansion 4
        /// (ResNet-50 and deeper, torchvision's "v1.5" with the stride on the 3×3 convolution).
        case bottleneck

        /// Output channels of a block per `planes`.
        public var expansion: Int { self == .basic ? 1 : 4 }
    }

    struct Configuration: Sendable, Equatable {
        public var block: BlockKind
        /// Blocks in stages 1…4 (four positive counts).
        public var blockCounts: [Int]
        /// Groups of each bottleneck's 3×3 convolution (torchvision's `groups`; 1 for basic blocks).
        public var groups: Int
        /// Channels per group of a bottleneck's inner width at `planes = 64` (torchvision's
        /// `width_per_group`): inner width `= planes · widthPerGroup / 64 · groups`. 64 for basic blocks.
        public var widthPerGroup: Int
        /// Starts the last batch norm of every block at weight 0 so each residual branch begins
        /// as the identity (torchvision's `zero_init_residual`, off by default).
        public var zeroInitializeResidual: Bool

        /// - Precondition: four positive block counts; basic blocks need `groups == 1` and
        ///   `widthPerGroup == 64` (as in torchvision).
        public init(block: BlockKind, blockCounts: [Int], groups: Int = 1, widthPerGroup: Int = 64,
                    zeroInitializeResidual: Bool = false) {
            precondition(blockCounts.count == 4 && blockCounts.allSatisfy { $0 >= 1 },
                         "ResNet.Configuration: need four positive block counts, got \(blockCounts)")
            precondition(groups >= 1 && widthPerGroup >= 1,
                         "ResNet.Configuration: groups \(groups) and widthPerGroup \(widthPerGroup) must be positive")
            precondition(block == .bottleneck || (groups == 1 && widthPerGroup == 64),
                         "ResNet.Configuration: basic blocks support only groups 1 and widthPerGroup 64, got \(groups), \(widthPerGroup)")
            self.block = block
            self.blockCounts = blockCounts
            self.groups = groups
            self.widthPerGroup = widthPerGroup
            self.zeroInitializeResidual = zeroInitializeResidual
        }

        /// Channels of the pooled features (the input of `fc`): `512 · expansion`.
        public var featureCount: Int { 512 * block.expansion }

        public static let resnet18 = Configuration(block: .basic, blockCounts: [2, 2, 2, 2])
        public static let resnet34 = Configuration(block: .basic, blockCounts: [3, 4, 6, 3])
        public static let resnet50 = Configuration(block: .bottleneck, blockCounts: [3, 4, 6, 3])
        public static let resnet101 = Configuration(block: .bottleneck, blockCounts: [3, 4, 23, 3])
        public static let resnet152 = Configuration(block: .bottleneck, blockCounts: [3, 8, 36, 3])
        public static let resnext50_32x4d = Configuration(block: .bottleneck, blockCounts: [3, 4, 6, 3],
                                                          groups: 32, widthPerGroup: 4)
        public static let wideResNet50_2 = Configuration(block: .bottleneck, blockCounts: [3, 4, 6, 3],
                                                         widthPerGroup: 128)

        /// The presets under torchvision's builder names (`resnet18`, …, `resnext50_32x4d`,
        /// `wide_resnet50_2`), for recipes that name an architecture.
        public static let presets: [String: Configuration] = [
            "resnet18": .resnet18, "resnet34": .resnet34, "resnet50": .resnet50, "resnet101": .resnet101,
            "resnet152": .resnet152, "resnext50_32x4d": .resnext50_32x4d, "wide_resnet50_2": .wideResNet50_2,
        ]

        /// The preset named `name` (torchvision's builder name), or nil.
        public static func named(_ name: String) -> Configuration? { presets[name] }
    }
}
