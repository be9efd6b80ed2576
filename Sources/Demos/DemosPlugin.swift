import NN
import Tasks
import Tensor
import Training

/// The seeded demo model and data set: `tiny_convnet` (a two-convolution classifier) and
/// `synthetic_patterns` (noise with a bar whose orientation and position give the class). They
/// train in seconds with no downloads, for examples, tests and plugin authors' first recipe. The
/// `lorakit` tool includes them; a plugin's own tool adds them with `builtIns: [DemosPlugin.self]`.
public enum DemosPlugin: LoRAKitPlugin {
    public static let name = "demos"

    public static func register(into r: inout Registry) throws {
        try r.register(Classifiers.self, "tiny_convnet", ClassifierArchitecture(
            input: .image, summary: "conv 3×3 → ReLU → conv 3×3 stride 2 → ReLU → linear head; model.input_size (even) sizes the head",
            options: [.integer("channels", min: 1, default: 1, help: "input channels"),
                      .integer("width", min: 1, default: 8, help: "channels of the first convolution")]) { request in
            let size = request.inputSize ?? 12
            let channels = try request.options.int("channels", default: 1)
            let model = TinyConvNet(channels: channels, size: size, classes: request.classes,
                                    width: try request.options.int("width", default: 8), seed: request.seed)
            return Classifier(module: model, headKeys: ["head"], input: .image(channels: channels, height: size, width: size)) { x in
                model(x)
            }
        })
        try r.register(ClassificationFormats.self, "synthetic_patterns", ClassificationFormat(
            input: .image, summary: "seeded noise images with a bar whose orientation and position give the class; "
                + "predict inputs are pattern:<index> of the validation set",
            options: [
                .integer("count", min: 1, default: 256, help: "training images"),
                .integer("validation_count", min: 1, default: 64, help: "validation (and test) images"),
                .integer("classes", min: 2, max: 8, default: 4, help: "classes"),
                .integer("channels", min: 1, default: 1, help: "image channels"),
                .integer("data_seed", min: 0, default: 1, help: "seed of the images"),
            ],
            readsFiles: false,
            read: { request in
                let data = try patterns(request)
                return ClassificationData(dataset: TaskDataset(data, collate: ClassificationBatch.collate,
                                                               strata: (0..<data.count).map(data.label(at:))),
                                          classNames: nil)
            },
            inputReader: { request in
                var validation = request
                validation.role = .validation
                let data = try patterns(validation)
                return { input in
                    guard input.hasPrefix("pattern:"), let i = Int(input.dropFirst(8)), (0..<data.count).contains(i) else {
                        throw RegistryError.mismatch("synthetic_patterns inputs are pattern:<index> with index in 0..<\(data.count), got '\(input)'")
                    }
                    var context = ItemContext(epoch: 0, index: i, seed: request.seed)
                    return try data.item(at: i, context: &context).input
                }
            }))
    }

    static func patterns(_ request: DataRequest) throws -> SyntheticPatterns {
        let o = request.options
        let seed = UInt64(try o.int("data_seed", default: 1)) &+ (request.role == .train ? 0 : 1_000)
        let count = try o.int(request.role == .train ? "count" : "validation_count", default: request.role == .train ? 256 : 64)
        return SyntheticPatterns(count: count, classCount: try o.int("classes", default: 4), size: request.inputSize ?? 12,
                                 channels: try o.int("channels", default: 1), seed: seed)
    }
}
