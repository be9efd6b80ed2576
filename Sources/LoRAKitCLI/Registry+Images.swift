import Foundation
import ImageModels
import NN
import Tensor
import Training

extension Registry {
    /// ResNets, image datasets (folder per class, CSV, APTOS layout, synthetic fundus) and the image
    /// transforms recipes can list under `data.transforms`.
    static func registerImages(_ r: inout Registry) throws {
        for (name, make) in [("resnet18", ResNet.resnet18), ("resnet34", ResNet.resnet34), ("resnet50", ResNet.resnet50)] {
            try r.registerArchitecture(name) { request in
                var rng = RandomGenerator(seed: request.seed)
                let model = make(request.classes, 3, &rng)
                return BuiltModel(module: model, forward: { m, x in (m as! ResNet)(x) }, headKey: "fc",
                                  inputDescription: "RGB images [N, 3, H, W]")
            }
        }
        try r.registerDataset("image_folder") { request in
            guard let root = request.path else { throw UsageError("image_folder needs data.\(request.role.rawValue): a folder per class") }
            let d = try ImageFolderDataset(root: root.path, transform: try imagePipeline(request),
                                           badFiles: BadFilePolicy(rawValue: request.badFiles) ?? .fail)
            reportSkipped(d.skipped, root.path)
            return AnyClassificationDataset(d, classNames: d.classNames, labels: d.samples.map(\.label))
        }
        try r.registerDataset("image_csv") { request in
            guard let csv = request.path else { throw UsageError("image_csv needs data.\(request.role.rawValue): a CSV file") }
            let images = request.imageDirectory?.path ?? csv.deletingLastPathComponent().path
            let d = try ImageCSVDataset(csv: csv.path, imageDirectory: images, imageColumn: request.imageColumn ?? "image",
                                        labelColumn: request.labelColumn ?? "label", transform: try imagePipeline(request),
                                        badFiles: BadFilePolicy(rawValue: request.badFiles) ?? .fail)
            reportSkipped(d.skipped, csv.path)
            return AnyClassificationDataset(d, classNames: d.classNames, labels: d.labels)
        }
        try r.registerDataset("aptos") { request in
            guard let csv = request.path else { throw UsageError("aptos needs data.\(request.role.rawValue): the id_code,diagnosis CSV") }
            let images = request.imageDirectory?.path ?? csv.deletingLastPathComponent().appendingPathComponent("images").path
            let d = try ImageCSVDataset.aptos(csv: csv.path, imageDirectory: images, transform: try imagePipeline(request),
                                              badFiles: BadFilePolicy(rawValue: request.badFiles) ?? .fail)
            reportSkipped(d.skipped, csv.path)
            return AnyClassificationDataset(d, classNames: ["0", "1", "2", "3", "4"], labels: d.labels)
        }
        for format in ["image_folder", "image_csv", "aptos"] {
            try r.registerInputLoader(format) { request in
                let pipeline = try imagePipeline(request)          // evaluation transforms (no random ones)
                return { path in
                    var rng = RandomGenerator(seed: 0)
                    return try pipeline.apply(try Image(contentsOfFile: path, mode: .rgb), generator: &rng).tensor()
                }
            }
        }
        r.registerTransforms(transformNames)
    }

    static let transformNames = ["resize", "center_crop", "random_crop", "random_resized_crop", "random_horizontal_flip",
                                 "random_vertical_flip", "random_rotation", "color_jitter", "normalize", "fundus",
                                 "gaussian_blur"]

    /// The recipe's transforms as an image pipeline. Random transforms (`random_*`, `color_jitter`)
    /// apply to the training split only; evaluation and predict see the deterministic ones.
    static func imagePipeline(_ request: DataRequest) throws -> Compose {
        var steps: [any ImageTransform] = []
        for (name, p) in request.transforms {
            let training = request.role == .train
            func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
                guard let text = p[key] else {
                    if let fallback { return fallback }
                    throw UsageError("data.transforms \(name): needs \(key)")
                }
                guard let v = Int(text) else { throw UsageError("data.transforms \(name).\(key): expected an integer, got \(text)") }
                return v
            }
            func float(_ key: String, _ fallback: Float) throws -> Float {
                guard let text = p[key] else { return fallback }
                guard let v = Float(text) else { throw UsageError("data.transforms \(name).\(key): expected a number, got \(text)") }
                return v
            }
            switch name {
            case "resize":
                // `size`: exactly size × size; `shorter_side` (+ `max_size`): torchvision's Resize(int).
                if p["shorter_side"] != nil {
                    guard p["size"] == nil else { throw UsageError("data.transforms resize: give size or shorter_side, not both") }
                    let side = try int("shorter_side"), maxSize = p["max_size"] == nil ? nil : try int("max_size")
                    guard side > 0, (maxSize ?? side) >= side else {
                        throw UsageError("data.transforms resize: shorter_side must be positive and at most max_size")
                    }
                    steps.append(Resize(shorterSide: side, maxSize: maxSize))
                } else {
                    steps.append(Resize(size: try int("size", request.inputSize)))
                }
            case "center_crop": steps.append(CenterCrop(size: try int("size", request.inputSize)))
            case "random_crop":
                if training { steps.append(RandomCrop(size: try int("size", request.inputSize), padding: try int("padding", 0))) }
                else { steps.append(CenterCrop(size: try int("size", request.inputSize))) }
            case "random_resized_crop":
                if training { steps.append(RandomResizedCrop(size: try int("size", request.inputSize), scale: try float("min_scale", 0.5)...1)) }
                else { steps.append(Resize(size: try int("size", request.inputSize))) }
            case "random_horizontal_flip": if training { steps.append(RandomHorizontalFlip(probability: try float("p", 0.5))) }
            case "random_vertical_flip": if training { steps.append(RandomVerticalFlip(probability: try float("p", 0.5))) }
            case "random_rotation": if training { steps.append(RandomRotation(degrees: try float("degrees", 15))) }
            case "color_jitter":
                if training {
                    steps.append(ColorJitter(brightness: try float("brightness", 0.2), contrast: try float("contrast", 0.2),
                                             saturation: try float("saturation", 0.2)))
                }
            case "normalize":
                if p["mean"] != nil || p["std"] != nil {
                    func list(_ key: String) throws -> [Float] {
                        guard let text = p[key] else { throw UsageError("data.transforms normalize: give both mean and std") }
                        let values = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).split(separator: ",")
                            .compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
                        guard values.count == 3 else { throw UsageError("data.transforms normalize.\(key): expected 3 numbers, got \(text)") }
                        return values
                    }
                    steps.append(Normalize(mean: try list("mean"), std: try list("std")))
                } else {
                    steps.append(Normalize())
                }
            case "fundus": steps.append(FundusPreprocessing(size: try int("size", request.inputSize)))
            case "gaussian_blur": steps.append(GaussianBlur(sigma: try float("sigma", 1)))
            default:
                throw UsageError("unknown transform '\(name)' (known: \(transformNames.joined(separator: ", ")))")
            }
        }
        return Compose(steps)
    }

    private static func reportSkipped(_ skipped: [SkippedImage], _ source: String) {
        guard !skipped.isEmpty else { return }
        standardError("skipped \(skipped.count) unreadable images listed by \(source), e.g. \(skipped[0])")
    }
}
