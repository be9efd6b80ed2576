import Foundation
import NN
import Recipes
import Tasks
import Tensor
import Training

/// What `ImageModels` adds to a registry: the `image_classification` task, the ResNets, the image
/// data formats (a folder per class, a CSV, APTOS's layout), the image transforms, the
/// `referable_auc` metric of retinopathy grading and the `retina` data generator. Registered
/// always by the runtime, through the same protocol a plugin uses.
public enum ImageModelsPlugin: LoRAKitPlugin {
    public static let name = "image_models"

    public static func register(into r: inout Registry) throws {
        try r.registerTask(ClassificationRecipeTask(name: "image_classification", input: .image,
                                                    summary: "one class per image; cross-entropy; classification metrics"))
        for (name, make) in [("resnet18", ResNet.resnet18), ("resnet34", ResNet.resnet34), ("resnet50", ResNet.resnet50)] {
            try r.register(Classifiers.self, name, ClassifierArchitecture(
                input: .image, summary: "torchvision's \(name) (keys as torchvision and timm name them); head fc") { request in
                var rng = RandomGenerator(seed: request.seed)
                let model = make(request.classes, 3, &rng)
                return Classifier(module: model, headKeys: ["fc"], input: .image(channels: 3)) { x in
                    try model.validate(inputShape: x.shape)          // a typed error, not a trap in the stem
                    return model(x)
                }
            })
        }
        try ImageTransforms.registerBuiltIns(&r)
        try registerFormats(&r)
        try r.registerMetric("referable_auc") { ThresholdAUC(threshold: 2) }
        try r.register(InputPreviews.self, InputKind.image.name, InputPreview(render: previewHTML))
        try r.registerGenerator(RetinaGenerator.generator)
    }

    private static func registerFormats(_ r: inout Registry) throws {
        let transforms: (Registry) -> [TransformDefinition] = { ImageTransforms.definitions(in: $0) }
        try r.register(ClassificationFormats.self, "image_folder", ClassificationFormat(
            input: .image, summary: "a folder per class (torchvision ImageFolder); PNG or JPEG",
            transforms: transforms, read: { request in
                guard let root = request.path else { throw TaskError.missingSplit(role: request.role, key: "data.\(request.role.rawValue)") }
                let d = try ImageFolderDataset(root: root.path, classNames: request.classNames, transform: try pipeline(request),
                                               badFiles: policy(request))
                report(d.skipped, root.path, request)
                return ClassificationData(dataset: TaskDataset(d, collate: ClassificationBatch.collate,
                                                               strata: d.samples.map(\.label)),
                                          classNames: d.classNames)
            }, inputReader: imageReader))
        try r.register(ClassificationFormats.self, "image_csv", ClassificationFormat(
            input: .image, summary: "a CSV of image paths and labels, names or integers (data.image_column, data.label_column)",
            transforms: transforms, read: { request in
                guard let csv = request.path else { throw TaskError.missingSplit(role: request.role, key: "data.\(request.role.rawValue)") }
                let images = request.imageDirectory?.path ?? csv.deletingLastPathComponent().path
                let d = try ImageCSVDataset(csv: csv.path, imageDirectory: images, imageColumn: request.imageColumn ?? "image",
                                            labelColumn: request.labelColumn ?? "label", labels: .automatic,
                                            classNames: request.classNames, transform: try pipeline(request),
                                            badFiles: policy(request))
                report(d.skipped, csv.path, request)
                return ClassificationData(dataset: TaskDataset(d, collate: ClassificationBatch.collate, strata: d.labels),
                                          classNames: d.classNames)
            }, inputReader: imageReader))
        try r.register(ClassificationFormats.self, "aptos", ClassificationFormat(
            input: .image, summary: "APTOS 2019's layout: id_code,diagnosis CSV and images/<id_code>.png; grades 0–4",
            transforms: transforms, read: { request in
                guard let csv = request.path else { throw TaskError.missingSplit(role: request.role, key: "data.\(request.role.rawValue)") }
                let images = request.imageDirectory?.path ?? csv.deletingLastPathComponent().appendingPathComponent("images").path
                let d = try ImageCSVDataset.aptos(csv: csv.path, imageDirectory: images, classNames: request.classNames,
                                                  transform: try pipeline(request), badFiles: policy(request))
                report(d.skipped, csv.path, request)
                return ClassificationData(dataset: TaskDataset(d, collate: ClassificationBatch.collate, strata: d.labels),
                                          classNames: d.classNames)
            }, inputReader: imageReader))
    }

    /// The recipe's transforms for the request's split.
    public static func pipeline(_ request: DataRequest) throws -> Compose {
        try ImageTransforms.pipeline(request.transforms, registry: request.registry,
                                     context: ImageTransformContext(training: request.isTraining, inputSize: request.inputSize))
    }

    /// `predict` reads an image file with the evaluation transforms.
    static func imageReader(_ request: DataRequest) throws -> (String) throws -> Tensor {
        var evaluation = request
        evaluation.role = .validation
        let transform = try pipeline(evaluation)
        return { path in try transform.apply(try Image(contentsOfFile: path, mode: .rgb)).tensor() }
    }

    private static func policy(_ request: DataRequest) -> BadFilePolicy {
        request.badFiles == .skip ? .skip : .fail
    }

    private static func report(_ skipped: [SkippedImage], _ source: String, _ request: DataRequest) {
        guard !skipped.isEmpty else { return }
        request.log("skipped \(skipped.count) unreadable images listed by \(source), e.g. \(skipped[0])")
    }

    /// An image input as the model reads it ([C, H, W], normalised), shown as an inline PNG: each
    /// channel stretched back to 0…1 over its own range (a normalisation's inverse is not known here).
    static func previewHTML(_ x: Tensor) -> String? {
        guard x.rank == 3, [1, 3].contains(x.shape[0]), x.shape[1] > 0, x.shape[2] > 0 else { return nil }
        let c = x.shape[0], plane = x.shape[1] * x.shape[2]
        var values = x.detached().toFloat32().plain().scalars
        for k in 0..<c {
            let channel = values[(k * plane)..<((k + 1) * plane)]
            guard let lo = channel.min(), let hi = channel.max(), lo.isFinite, hi.isFinite else { return nil }
            let span = hi > lo ? hi - lo : 1
            for i in (k * plane)..<((k + 1) * plane) { values[i] = (values[i] - lo) / span }
        }
        guard let png = try? Image(tensor: Tensor(values, shape: x.shape)).pngData() else { return nil }
        return "<img alt=\"input\" width=\"\(min(x.shape[2], 128))\" src=\"data:image/png;base64,\(Data(png).base64EncodedString())\">"
    }
}
