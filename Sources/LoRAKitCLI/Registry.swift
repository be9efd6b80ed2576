import Foundation
import NN
import Tensor
import Training

/// A model built from a recipe, with how to run it.
public struct BuiltModel {
    public var module: Module
    /// Maps a batch's inputs to logits [N, C].
    public var forward: (Module, Tensor) throws -> Tensor
    /// Key of the classification head (replaced when the recipe asks for a new head; saved in
    /// full with LoRA; the only part trained by a linear probe).
    public var headKey: String
    /// The preprocessing the model expects, for datasets and `predict` (e.g. image size).
    public var inputDescription: String
    /// True when the factory already loaded `ModelRequest.weights` itself (checkpoints whose keys
    /// or configuration need the architecture's own loader, e.g. Hugging Face BERT files with or
    /// without the `bert.` prefix); the recipe runner then skips its generic loading.
    public var loadedWeights: Bool

    public init(module: Module, forward: @escaping (Module, Tensor) throws -> Tensor, headKey: String,
                inputDescription: String = "", loadedWeights: Bool = false) {
        self.module = module
        self.forward = forward
        self.headKey = headKey
        self.inputDescription = inputDescription
        self.loadedWeights = loadedWeights
    }
}

/// What an architecture factory is given.
public struct ModelRequest {
    public var architecture: String
    /// Number of classes of the head.
    public var classes: Int
    /// Input size (images: height and width), if the recipe sets it.
    public var inputSize: Int?
    /// Architecture-specific options from the recipe (`model.options`).
    public var options: [String: String]
    public var seed: UInt64
    /// The recipe's `model.weights` (absolute), for architectures whose shape comes with the
    /// checkpoint (a Transformer's config.json beside its safetensors).
    public var weights: URL?
    /// Whether the recipe asks for a new head (`model.head: new`) rather than the checkpoint's.
    public var newHead: Bool = true

    public init(architecture: String, classes: Int, inputSize: Int? = nil, options: [String: String] = [:], seed: UInt64 = 0) {
        self.architecture = architecture
        self.classes = classes
        self.inputSize = inputSize
        self.options = options
        self.seed = seed
    }
}

/// A classification dataset with its items type-erased, so registries can hold any.
public struct AnyClassificationDataset: Dataset {
    public let count: Int
    /// Class names in label order, when the data has them (folders, CSV label names).
    public let classNames: [String]?
    /// Labels of every item, in order (for stratified splits), when cheap to know.
    public let labels: [Int]?
    /// Builds a batch from items: `ClassificationBatch.collate` (equal input shapes) unless the
    /// format needs another (text pads its variable-length id rows).
    public let collate: ([(input: Tensor, label: Int)]) throws -> ClassificationBatch
    /// Each item's length, for formats whose batches pad to the longest item (text): the loader
    /// then groups items of similar length into batches. Nil: no grouping.
    public let lengths: [Int]?
    private let read: (Int, inout ItemContext) throws -> (input: Tensor, label: Int)

    public init<D: Dataset>(_ base: D, classNames: [String]? = nil, labels: [Int]? = nil,
                            collate: @escaping ([(input: Tensor, label: Int)]) throws -> ClassificationBatch
                                = ClassificationBatch.collate,
                            lengths: [Int]? = nil)
    where D.Item == (input: Tensor, label: Int) {
        count = base.count
        self.classNames = classNames
        self.labels = labels
        self.collate = collate
        self.lengths = lengths
        read = { i, ctx in try base.item(at: i, context: &ctx) }
    }

    public func item(at index: Int, context: inout ItemContext) throws -> (input: Tensor, label: Int) {
        try read(index, &context)
    }
}

/// Which split of the data a dataset factory is asked for.
public enum DataRole: String, Sendable { case train, validation, test }

/// What a dataset factory is given: the recipe's data section as plain values (paths resolved).
public struct DataRequest {
    public var format: String
    public var role: DataRole
    /// The file or directory for this role (nil when the format generates data).
    public var path: URL?
    public var options: [String: String]
    /// Image size the model wants (for transforms), if known.
    public var inputSize: Int?
    /// The recipe's transforms, in order: name and parameters as text.
    public var transforms: [(name: String, parameters: [String: String])] = []
    /// What to do with unreadable files: "fail" or "skip".
    public var badFiles: String = "fail"
    /// Column names for CSV formats, when the recipe sets them.
    public var imageDirectory: URL?
    public var imageColumn: String?
    public var labelColumn: String?
    public var textColumn: String?
    /// The recipe's `model.weights` (absolute): text formats find the tokenizer beside it.
    public var modelWeights: URL?
    /// For validation and test data: the training data's classes (or the recipe's), so that a
    /// separate file maps its label names to the same indices.
    public var classNames: [String]?
    public var seed: UInt64

    public init(format: String, role: DataRole, path: URL?, options: [String: String] = [:], inputSize: Int? = nil,
                seed: UInt64 = 0) {
        self.format = format
        self.role = role
        self.path = path
        self.options = options
        self.inputSize = inputSize
        self.seed = seed
    }
}

/// Errors of registries and plugins; each names what was asked for and what is known.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case unknown(kind: String, name: String, known: [String])
    case duplicate(kind: String, name: String, plugin: String)
    case pluginFailed(name: String, reason: String)
    case invalidOption(kind: String, name: String, option: String, reason: String)

    public var description: String {
        switch self {
        case let .unknown(kind, name, known):
            return "unknown \(kind) '\(name)' (known: \(known.sorted().joined(separator: ", ")))"
        case let .duplicate(kind, name, plugin):
            return "plugin \(plugin) registers \(kind) '\(name)', which is already registered"
        case let .pluginFailed(name, reason):
            return "plugin \(name) failed to load: \(reason)"
        case let .invalidOption(kind, name, option, reason):
            return "\(kind) '\(name)': option \(option): \(reason)"
        }
    }
}

/// Everything a run can name in a recipe: architectures, dataset formats, metrics, hooks and the
/// plugins compiled in. A value built for each run (built-ins plus plugins), never a global.
public struct Registry {
    public typealias ArchitectureFactory = (ModelRequest) throws -> BuiltModel
    public typealias DatasetFactory = (DataRequest) throws -> AnyClassificationDataset
    public typealias HookFactory = ([String: String]) throws -> TrainerHook

    public private(set) var architectures: [String: ArchitectureFactory] = [:]
    public private(set) var datasets: [String: DatasetFactory] = [:]
    public private(set) var hooks: [String: HookFactory] = [:]
    /// For `predict`: turns a user's input (a file path or a text) into the model's input tensor
    /// with the format's preprocessing, by dataset format.
    public private(set) var inputLoaders: [String: (DataRequest) throws -> (String) throws -> Tensor] = [:]
    /// Formats whose predict inputs are texts: an `--input` naming a file means one text per line.
    public private(set) var textInputFormats: Set<String> = []
    /// Transform names each dataset format accepts in `data.transforms` (for recipe validation).
    public private(set) var transformNames: Set<String> = []
    public var metrics = MetricRegistry.builtIn
    /// Plugins compiled into this program, by name.
    public private(set) var availablePlugins: [String: LoRAKitPlugin.Type] = [:]
    /// The plugin whose `register` is running (names duplicates in errors).
    private var registering = "LoRAKit"

    public init() {}

    public mutating func registerArchitecture(_ name: String, _ factory: @escaping ArchitectureFactory) throws {
        guard architectures[name] == nil else { throw RegistryError.duplicate(kind: "architecture", name: name, plugin: registering) }
        architectures[name] = factory
    }

    public mutating func registerDataset(_ name: String, _ factory: @escaping DatasetFactory) throws {
        guard datasets[name] == nil else { throw RegistryError.duplicate(kind: "dataset format", name: name, plugin: registering) }
        datasets[name] = factory
    }

    public mutating func registerInputLoader(_ format: String,
                                             _ factory: @escaping (DataRequest) throws -> (String) throws -> Tensor) throws {
        guard inputLoaders[format] == nil else { throw RegistryError.duplicate(kind: "input loader", name: format, plugin: registering) }
        inputLoaders[format] = factory
    }

    /// Marks `format`'s predict inputs as texts (see `textInputFormats`).
    public mutating func registerTextInputs(_ format: String) { textInputFormats.insert(format) }

    public mutating func registerTransforms(_ names: [String]) { transformNames.formUnion(names) }

    public mutating func registerHook(_ name: String, _ factory: @escaping HookFactory) throws {
        guard hooks[name] == nil else { throw RegistryError.duplicate(kind: "hook", name: name, plugin: registering) }
        hooks[name] = factory
    }

    public mutating func registerMetric(_ name: String, _ factory: @escaping () -> any Metric) throws {
        do { try metrics.register(name, factory: factory) } catch {
            throw RegistryError.duplicate(kind: "metric", name: name, plugin: registering)
        }
    }

    public func architecture(_ name: String) throws -> ArchitectureFactory {
        guard let f = architectures[name] else {
            throw RegistryError.unknown(kind: "architecture", name: name, known: Array(architectures.keys))
        }
        return f
    }

    public func dataset(_ name: String) throws -> DatasetFactory {
        guard let f = datasets[name] else {
            throw RegistryError.unknown(kind: "dataset format", name: name, known: Array(datasets.keys))
        }
        return f
    }

    public func hook(_ name: String) throws -> HookFactory {
        guard let f = hooks[name] else { throw RegistryError.unknown(kind: "hook", name: name, known: Array(hooks.keys)) }
        return f
    }

    /// Makes plugins available by name (they register only when a recipe lists them).
    public mutating func makeAvailable(_ plugins: [LoRAKitPlugin.Type]) throws {
        for p in plugins {
            guard availablePlugins[p.name] == nil else {
                throw RegistryError.duplicate(kind: "plugin", name: p.name, plugin: p.name)
            }
            availablePlugins[p.name] = p
        }
    }

    /// Registers the plugins a recipe lists; an unknown name, a failing plugin or a name
    /// registered twice is an error naming the plugin.
    public mutating func load(plugins names: [String]) throws {
        for name in names {
            guard let plugin = availablePlugins[name] else {
                throw RegistryError.unknown(kind: "plugin", name: name, known: Array(availablePlugins.keys))
            }
            registering = name
            defer { registering = "LoRAKit" }
            do { try plugin.register(into: &self) } catch let error as RegistryError {
                throw error
            } catch {
                throw RegistryError.pluginFailed(name: name, reason: "\(error)")
            }
        }
    }
}

/// A plugin: Swift code outside LoRAKit's sources that adds architectures (with new layer types
/// and their LoRA forms), dataset formats, metrics or hooks under names recipes use.
///
/// A plugin lives in the user's own Swift package, which depends on LoRAKit's library products and
/// has a `main.swift` that calls `LoRAKitCLI.main(plugins: [MyPlugin.self])`: one linked binary,
/// no dynamic loading, no ABI coupling (see PLUGINS.md for why this mechanism).
public protocol LoRAKitPlugin: Sendable {
    /// The name recipes list under `plugins:`.
    static var name: String { get }
    static func register(into registry: inout Registry) throws
}
