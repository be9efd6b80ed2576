import LoRAKit

/// A small convolutional classifier with a squeeze-and-excitation block: conv → ReLU → conv
/// (stride 2) → ReLU → SE → flatten → linear head. Keys: `conv1`, `conv2`, `se.fc1`, `se.fc2`, `head`.
public final class SEConvNet: Module, UnaryLayer {
    @Child public var conv1: Conv2d
    @Child public var conv2: Conv2d
    @Child public var se: SqueezeExcitation
    @Child public var head: Linear

    public init(channels: Int = 1, size: Int = 12, classes: Int = 4, width: Int = 8, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        conv1 = Conv2d(channels, width, kernelSize: 3, padding: 1, generator: &rng)
        conv2 = Conv2d(width, 2 * width, kernelSize: 3, stride: 2, padding: 1, generator: &rng)
        se = SqueezeExcitation(channels: 2 * width, reduction: 4, generator: &rng)
        head = Linear(2 * width * (size / 2) * (size / 2), classes, generator: &rng)
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let h = se(conv2(conv1(x).relu()).relu())
        return head(h.flattened(from: 1))
    }
}

/// Registers the `se_convnet` classifier architecture. Recipes use it with `plugins: [squeeze_excite]`.
public enum SqueezeExcitePlugin: LoRAKitPlugin {
    public static let name = "squeeze_excite"

    public static func register(into registry: inout Registry) throws {
        try registry.register(Classifiers.self, "se_convnet", ClassifierArchitecture(
            input: .image, summary: "conv → conv (stride 2) → squeeze-and-excitation → linear head; model.input_size sizes the head",
            options: [.integer("channels", min: 1, default: 1, help: "input channels"),
                      .integer("width", min: 1, default: 8, help: "channels of the first convolution")]) { request in
            let size = request.inputSize ?? 12
            let channels = try request.options.int("channels", default: 1)
            let model = SEConvNet(channels: channels, size: size, classes: request.classes,
                                  width: try request.options.int("width", default: 8), seed: request.seed)
            return Classifier(module: model, headKeys: ["head"], input: .image(channels: channels, height: size, width: size)) { x in
                model(x)
            }
        })
    }
}
