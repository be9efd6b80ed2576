import Recipes
import Tasks

/// The image transforms recipes list under `data.transforms` (a registry table, so plugins can
/// add their own).
public enum ImageTransforms: RegistryKind {
    public typealias Entry = ImageTransformEntry
    public static let noun = "image transform"
}

/// An image transform as recipes name it: its options and checks, and how it is built.
public struct ImageTransformEntry {
    public var definition: TransformDefinition
    /// Builds the step for a split; nil when it does nothing there (random augmentations apply to
    /// the training split only).
    public var make: (Options, ImageTransformContext) throws -> (any ImageTransform)?

    public init(definition: TransformDefinition,
                make: @escaping (Options, ImageTransformContext) throws -> (any ImageTransform)?) {
        self.definition = definition
        self.make = make
    }
}

/// What a transform is built for.
public struct ImageTransformContext {
    /// Whether random augmentations apply (the training split).
    public var training: Bool
    /// `model.input_size`: the default size of resizes and crops.
    public var inputSize: Int?

    public init(training: Bool, inputSize: Int?) {
        self.training = training
        self.inputSize = inputSize
    }
}

extension ImageTransforms {
    /// Builds the pipeline a recipe lists, for one split. Random transforms (`random_*`,
    /// `color_jitter`) apply to the training split only; evaluation and predict see the
    /// deterministic ones (a random crop becomes a centre crop of the same size).
    public static func pipeline(_ transforms: [TransformRequest], registry: Registry,
                                context: ImageTransformContext) throws -> Compose {
        var steps: [any ImageTransform] = []
        for t in transforms {
            let entry = try registry.lookup(ImageTransforms.self, t.name)
            if let step = try entry.make(t.options, context) { steps.append(step) }
        }
        return Compose(steps)
    }

    /// The definitions of every registered image transform, for validation.
    public static func definitions(in registry: Registry) -> [TransformDefinition] {
        registry.entries(ImageTransforms.self).map(\.entry.definition)
    }

    /// LoRAKit's image transforms (torchvision's semantics; see each type).
    static func registerBuiltIns(_ r: inout Registry) throws {
        func size(_ name: String = "size") -> OptionSpec {
            .integer(name, min: 1, help: "output side in pixels (default: model.input_size)")
        }
        // A size that defaults to model.input_size must come from somewhere.
        @Sendable func needsSize(_ transform: String) -> @Sendable (Options, Recipe) -> [RecipeProblem] {
            { options, recipe in
                options.values["size"] == nil && recipe.model.inputSize == nil
                    ? [.invalid(options.key("size"), "\(transform) needs size (or model.input_size)")] : []
            }
        }
        func sized(_ options: Options, _ context: ImageTransformContext, _ transform: String) throws -> Int {
            guard let value = try options.int("size") ?? context.inputSize else {
                throw RegistryError.invalidOption(key: options.key("size"), reason: "\(transform) needs size (or model.input_size)")
            }
            return value
        }
        let probability = OptionSpec.number("p", atLeast: 0, atMost: 1, default: 0.5, help: "probability of applying it")

        try add(&r, "resize", "resize to size × size, or the shorter side to shorter_side (torchvision Resize)",
                [size(), .integer("shorter_side", min: 1, help: "shorter side in pixels, keeping the aspect ratio"),
                 .integer("max_size", min: 1, help: "cap on the longer side with shorter_side")],
                check: { options, recipe in
                    let v = options.values
                    if v["size"] != nil && v["shorter_side"] != nil {
                        return [.invalid(options.key("shorter_side"), "give size or shorter_side, not both")]
                    }
                    if let maxSize = v["max_size"]?.int {
                        guard let side = v["shorter_side"]?.int else { return [.invalid(options.key("max_size"), "applies with shorter_side only")] }
                        if maxSize < side { return [.invalid(options.key("max_size"), "must be ≥ shorter_side (\(side)), got \(maxSize)")] }
                    }
                    return v["shorter_side"] == nil ? needsSize("resize")(options, recipe) : []
                }) { options, context in
            if let side = try options.int("shorter_side") { return Resize(shorterSide: side, maxSize: try options.int("max_size")) }
            return Resize(size: try sized(options, context, "resize"))
        }
        try add(&r, "center_crop", "crop the centre size × size", [size()], check: needsSize("center_crop")) { options, context in
            CenterCrop(size: try sized(options, context, "center_crop"))
        }
        try add(&r, "random_crop", "crop a random size × size (training; evaluation crops the centre)",
                [size(), .integer("padding", min: 0, default: 0, help: "zero padding added first")],
                check: needsSize("random_crop")) { options, context in
            let side = try sized(options, context, "random_crop")
            return context.training ? RandomCrop(size: side, padding: try options.int("padding", default: 0)) : CenterCrop(size: side)
        }
        try add(&r, "random_resized_crop", "crop a random area and aspect, resized to size (training; evaluation resizes)",
                [size(), .number("min_scale", above: 0, atMost: 1, default: 0.5, help: "smallest area fraction")],
                check: needsSize("random_resized_crop")) { options, context in
            let side = try sized(options, context, "random_resized_crop")
            let scale = Float(try options.double("min_scale", default: 0.5))
            return context.training ? RandomResizedCrop(size: side, scale: scale...1) : Resize(size: side)
        }
        try add(&r, "random_horizontal_flip", "mirror left-right with probability p (training)", [probability]) { options, context in
            context.training ? RandomHorizontalFlip(probability: try options.float("p", default: 0.5)) : nil
        }
        try add(&r, "random_vertical_flip", "mirror top-bottom with probability p (training)", [probability]) { options, context in
            context.training ? RandomVerticalFlip(probability: try options.float("p", default: 0.5)) : nil
        }
        try add(&r, "random_rotation", "rotate by a uniform angle in ±degrees (training)",
                [.number("degrees", atLeast: 0, atMost: 180, default: 15, help: "largest rotation in degrees")]) { options, context in
            context.training ? RandomRotation(degrees: try options.float("degrees", default: 15)) : nil
        }
        try add(&r, "color_jitter", "random brightness, contrast and saturation factors in [1 − x, 1 + x] (training)",
                ["brightness", "contrast", "saturation"].map { .number($0, atLeast: 0, default: 0.2, help: "\($0) jitter") }) { options, context in
            guard context.training else { return nil }
            return ColorJitter(brightness: try options.float("brightness", default: 0.2),
                               contrast: try options.float("contrast", default: 0.2),
                               saturation: try options.float("saturation", default: 0.2))
        }
        try add(&r, "normalize", "subtract mean and divide by std per channel (default: ImageNet's)",
                [.numbers("mean", count: 3, help: "per-channel means"),
                 .numbers("std", count: 3, above: 0, help: "per-channel standard deviations (> 0)")],
                check: { options, _ in
                    (options.values["mean"] == nil) != (options.values["std"] == nil)
                        ? [.invalid(options.key(options.values["mean"] == nil ? "mean" : "std"), "give both mean and std, or neither")] : []
                }) { options, _ in
            guard let mean = try options.numbers("mean"), let std = try options.numbers("std") else { return Normalize() }
            return Normalize(mean: mean.map(Float.init), std: std.map(Float.init))
        }
        try add(&r, "fundus", "crop a fundus photograph to its field of view, resize, Graham-normalise", [size()],
                check: needsSize("fundus")) { options, context in
            FundusPreprocessing(size: try sized(options, context, "fundus"))
        }
        try add(&r, "gaussian_blur", "blur with a Gaussian of standard deviation sigma",
                [.number("sigma", above: 0, default: 1, help: "standard deviation in pixels")]) { options, _ in
            GaussianBlur(sigma: try options.float("sigma", default: 1))
        }
    }

    private static func add(_ r: inout Registry, _ name: String, _ summary: String, _ options: [OptionSpec],
                            check: @escaping @Sendable (Options, Recipe) -> [RecipeProblem] = { _, _ in [] },
                            make: @escaping (Options, ImageTransformContext) throws -> (any ImageTransform)?) throws {
        try r.register(ImageTransforms.self, name, ImageTransformEntry(
            definition: TransformDefinition(name: name, summary: summary, options: options, check: check), make: make))
    }
}
