import Foundation
import Recipes

/// What a data format is asked for: one split of the recipe's data section, its options read
/// against the format's specs, the transforms listed, and what the model and the training split
/// have decided (input size, class names).
public struct DataRequest {
    /// The format's name (`data.format`).
    public var format: String
    public var role: DataRole
    /// The file or directory of this split (nil when the format generates data).
    public var path: URL?
    /// `data.options`.
    public var options: Options
    /// `data.transforms`, in order, each with its options.
    public var transforms: [TransformRequest]
    /// The input side the model wants (`model.input_size`), if set.
    public var inputSize: Int?
    /// What to do with unreadable files.
    public var badFiles: Recipe.DataSettings.BadFiles
    /// Where the images a CSV names live (`data.image_directory`).
    public var imageDirectory: URL?
    public var imageColumn: String?
    public var labelColumn: String?
    public var textColumn: String?
    /// The weights the model is built from (the recipe's, or a command's replacement): text
    /// formats find the tokenizer beside them.
    public var modelWeights: [URL]
    /// The classes, in label order, decided by the recipe (`model.class_names`) or by the
    /// training split: a validation or test file maps its label names to the same indices.
    public var classNames: [String]?
    public var seed: UInt64
    /// The registry (a format may look up transforms registered by plugins).
    public var registry: Registry
    /// Messages for the user (skipped files).
    public var log: (String) -> Void

    public init(format: String, role: DataRole, path: URL?, options: Options, transforms: [TransformRequest] = [],
                inputSize: Int? = nil, badFiles: Recipe.DataSettings.BadFiles = .fail, imageDirectory: URL? = nil,
                imageColumn: String? = nil, labelColumn: String? = nil, textColumn: String? = nil,
                modelWeights: [URL] = [], classNames: [String]? = nil, seed: UInt64 = 0, registry: Registry,
                log: @escaping (String) -> Void = { _ in }) {
        self.format = format
        self.role = role
        self.path = path
        self.options = options
        self.transforms = transforms
        self.inputSize = inputSize
        self.badFiles = badFiles
        self.imageDirectory = imageDirectory
        self.imageColumn = imageColumn
        self.labelColumn = labelColumn
        self.textColumn = textColumn
        self.modelWeights = modelWeights
        self.classNames = classNames
        self.seed = seed
        self.registry = registry
        self.log = log
    }

    /// Whether random augmentations apply (the training split only).
    public var isTraining: Bool { role == .train }
}

/// One entry of `data.transforms`: its name and options.
public struct TransformRequest {
    public var name: String
    public var options: Options

    public init(name: String, options: Options) {
        self.name = name
        self.options = options
    }
}
