import LoRA
import Training

/// A training run described as data: what to learn (task), from what (model, weights), how
/// (LoRA, optimizer, schedule), on what (data), measured how (eval), watched by which hooks, and
/// where the results go. It is decoded strictly from YAML (`RecipeLoader`), every default filled
/// in, so a decoded recipe states everything the run depends on: `yaml()` writes it back and
/// `flattened()` lists it as `dotted.key: value`.
///
/// The YAML keys, types and defaults are listed in one place, `RecipeDefaults`. Swift names
/// follow the API guidelines (`outputDirectory`); YAML keys are snake_case (`output_dir`). Paths
/// are absolute: relative paths in a file resolve against that file's directory, in an override
/// against the working directory.
public struct Recipe: Equatable, Sendable {
    /// What is learned, a name from the task registry (`image_classification`, `text_classification`).
    public var task: String
    public var model: ModelSettings
    /// LoRA settings; nil means no adapters (full fine-tuning, or a linear probe).
    public var lora: LoRASettings?
    public var data: DataSettings
    public var train: TrainingSettings
    public var eval: EvaluationSettings
    public var hooks: HookSettings
    /// Plugin names the run needs, loaded before the model is built.
    public var plugins: [String]
    /// Where the run writes checkpoints, metrics, the adapter and the resolved recipe (`output_dir`).
    public var outputDirectory: String

    public init(task: String, model: ModelSettings, lora: LoRASettings? = nil, data: DataSettings,
                train: TrainingSettings, eval: EvaluationSettings = EvaluationSettings(),
                hooks: HookSettings = HookSettings(), plugins: [String] = [], outputDirectory: String) {
        self.task = task
        self.model = model
        self.lora = lora
        self.data = data
        self.train = train
        self.eval = eval
        self.hooks = hooks
        self.plugins = plugins
        self.outputDirectory = outputDirectory
    }
}

extension Recipe {
    /// What the model is and where its weights come from (`model:`).
    public struct ModelSettings: Equatable, Sendable {
        /// How the classifier head is treated.
        public enum Head: String, Sendable, CaseIterable {
            /// A fresh head sized for `classes`, trained in full.
            case new
            /// The pretrained head, as loaded.
            case keep
        }

        /// A name from the architecture registry (`resnet34`, `tiny_convnet`, `minilm`).
        public var architecture: String
        /// Pretrained weights (safetensors); nil: random initialisation.
        public var weights: String?
        /// Output classes; filled from `classNames` when only they are given.
        public var classes: Int?
        /// Names of the classes, in label order.
        public var classNames: [String]?
        public var head: Head
        /// Input side (images) or sequence length (text), when the architecture takes one.
        public var inputSize: Int?
        /// Architecture-specific settings, passed through to the architecture's builder.
        public var options: [String: RecipeValue]

        public init(architecture: String, weights: String? = nil, classes: Int? = nil, classNames: [String]? = nil,
                    head: Head = RecipeDefaults.head, inputSize: Int? = nil, options: [String: RecipeValue] = [:]) {
            self.architecture = architecture
            self.weights = weights
            self.classes = classes
            self.classNames = classNames
            self.head = head
            self.inputSize = inputSize
            self.options = options
        }
    }

    /// Adapter settings (`lora:`): the LoRA core's `LoRAConfig` itself, so the recipe and the core
    /// cannot drift apart. Recipes only map the YAML keys onto it (`rank`, `alpha`, `dropout`,
    /// `use_rslora`, `use_dora`, `init`, `rank_pattern`, `alpha_pattern`, `bias`, `target_modules`,
    /// `exclude_modules`, `modules_to_save`: `Recipe+Decoding.swift`, `Recipe+YAML.swift`) and
    /// check them with file:line:col (`RecipeValidation.swift`). Numbers are `Float` as in the core;
    /// the YAML writer prints their shortest decimal form (`0.1`, not `0.10000000149011612`).
    public typealias LoRASettings = LoRAConfig

    /// Where the examples come from and how they are batched (`data:`).
    public struct DataSettings: Equatable, Sendable {
        /// What to do with a file that cannot be read or decoded.
        public enum BadFiles: String, Sendable, CaseIterable {
            case fail, skip
        }

        /// A name from the data-format registry (`image_folder`, `image_csv`, `text_csv`, `synthetic_fundus`).
        public var format: String
        public var train: String?
        public var validation: String?
        public var test: String?
        /// Where the images a CSV names live.
        public var imageDirectory: String?
        public var imageColumn: String?
        public var labelColumn: String?
        public var textColumn: String?
        /// Fraction of `train` held out (stratified) for validation when `validation` is not given.
        public var validationFraction: Double?
        public var badFiles: BadFiles
        /// Applied in order to each training item.
        public var transforms: [TransformSettings]
        public var batchSize: Int
        /// Batch size for evaluation; filled from `batchSize` when absent.
        public var evalBatchSize: Int
        /// Batches prepared ahead on a background thread (0: none).
        public var prefetch: Int
        /// Threads reading the items of one batch.
        public var readThreads: Int
        /// Format-specific settings (a generator's `count`, `size`, `site`).
        public var options: [String: RecipeValue]

        public init(format: String, train: String? = nil, validation: String? = nil, test: String? = nil,
                    imageDirectory: String? = nil, imageColumn: String? = nil, labelColumn: String? = nil,
                    textColumn: String? = nil, validationFraction: Double? = nil,
                    badFiles: BadFiles = RecipeDefaults.badFiles, transforms: [TransformSettings] = [],
                    batchSize: Int = RecipeDefaults.batchSize, evalBatchSize: Int? = nil,
                    prefetch: Int = RecipeDefaults.prefetch, readThreads: Int = RecipeDefaults.readThreads,
                    options: [String: RecipeValue] = [:]) {
            self.format = format
            self.train = train
            self.validation = validation
            self.test = test
            self.imageDirectory = imageDirectory
            self.imageColumn = imageColumn
            self.labelColumn = labelColumn
            self.textColumn = textColumn
            self.validationFraction = validationFraction
            self.badFiles = badFiles
            self.transforms = transforms
            self.batchSize = batchSize
            self.evalBatchSize = evalBatchSize ?? batchSize
            self.prefetch = prefetch
            self.readThreads = readThreads
            self.options = options
        }
    }

    /// One named entry with options: a transform (`{name: resize, size: 256}`) or an extra hook.
    public typealias NamedSettings = TransformSettings

    /// One step of preprocessing: `{name: resize, size: 256}`.
    public struct TransformSettings: Equatable, Sendable {
        /// A name from the transform registry.
        public var name: String
        /// Every other key of the entry, passed through to the transform.
        public var parameters: [String: RecipeValue]

        public init(name: String, parameters: [String: RecipeValue] = [:]) {
            self.name = name
            self.parameters = parameters
        }
    }
}
