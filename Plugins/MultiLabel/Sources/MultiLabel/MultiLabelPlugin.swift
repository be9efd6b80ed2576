import LoRAKit

/// The plugin: the `multilabel_classification` task and its `multilabel_patterns` data format
/// (seeded synthetic images with any subset of six bars; it makes every split itself). The task
/// reuses LoRAKit's classifier architectures. Recipes list `plugins: [multilabel]`.
public enum MultiLabelPlugin: LoRAKitPlugin {
    public static let name = "multilabel"

    public static func register(into registry: inout Registry) throws {
        try registry.registerTask(MultiLabelTask())
        try registry.register(MultiLabelFormats.self, "multilabel_patterns", MultiLabelFormat(
            input: .image, summary: "seeded noise images with any subset of six bars (top, bottom, left, right, middle row, middle column)",
            options: [
                .integer("count", min: 1, default: 256, help: "training images"),
                .integer("validation_count", min: 1, default: 64, help: "validation (and test) images"),
                .number("probability", above: 0, below: 1, default: 0.4, help: "chance of each bar"),
                .integer("data_seed", min: 0, default: 1, help: "seed of the images"),
            ],
            transforms: { _ in [] }, readsFiles: false,
            read: { request in
                let data = try patterns(request)
                return MultiLabelData(dataset: TaskDataset(data, collate: MultiLabelBatch.collate), labelNames: MultiLabelPatterns.labelNames)
            },
            inputReader: { request in
                var validation = request
                validation.role = .validation
                let data = try patterns(validation)
                return { input in
                    guard input.hasPrefix("pattern:"), let i = Int(input.dropFirst(8)), (0..<data.count).contains(i) else {
                        throw MultiLabelError("multilabel_patterns inputs are pattern:<index> with index in 0..<\(data.count), got '\(input)'")
                    }
                    var context = ItemContext(epoch: 0, index: i, seed: request.seed)
                    return try data.item(at: i, context: &context).input
                }
            }))
    }

    static func patterns(_ request: DataRequest) throws -> MultiLabelPatterns {
        let o = request.options
        let training = request.role == .train
        return MultiLabelPatterns(count: try o.int(training ? "count" : "validation_count", default: training ? 256 : 64),
                                  size: request.inputSize ?? 12, probability: try o.float("probability", default: 0.4),
                                  seed: UInt64(try o.int("data_seed", default: 1)) &+ (training ? 0 : 1_000))
    }
}
