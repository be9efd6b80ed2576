import Tensor
import Training

extension Recipe {
    /// How the model is trained (`train:`).
    public struct TrainingSettings: Equatable, Sendable {
        /// Which parameters train.
        public enum Mode: String, Sendable, CaseIterable {
            /// Adapters (and `modules_to_save`) only; needs a `lora` section.
            case lora
            /// Every parameter.
            case full
            /// The head only, on a frozen model.
            case linearProbe = "linear_probe"
        }

        /// Filled when absent: `lora` if the recipe has a `lora` section, else `full`.
        public var mode: Mode
        /// Passes over the data; at least one of `epochs` and `maxSteps` must be given.
        public var epochs: Int?
        /// A budget of optimizer steps (wins over `epochs` when both are given).
        public var maxSteps: Int?
        public var optimizer: OptimizerSettings
        public var scheduler: SchedulerSettings
        /// Micro-batches whose gradients add up before each optimizer step.
        public var gradientAccumulation: Int
        /// Clip the global gradient norm to this value; nil: no clipping.
        public var clipGradNorm: Double?
        public var seed: UInt64
        /// Compute threads; nil: all cores.
        public var threads: Int?
        /// Label smoothing ε of the cross-entropy loss.
        public var labelSmoothing: Double
        /// A PEFT adapter directory whose factors start the run's adapter (transfer from a related
        /// task), instead of the `lora.init` initialisation.
        public var initAdapter: String?
        /// The arithmetic of frozen layers (`ComputePrecision`): f32, or bf16 on CPUs with bf16
        /// units (f32 with a notice elsewhere). Used by training, evaluation, predict and serve.
        public var precision: ComputePrecision

        public init(mode: Mode = .lora, epochs: Int? = nil, maxSteps: Int? = nil,
                    optimizer: OptimizerSettings = OptimizerSettings(), scheduler: SchedulerSettings = SchedulerSettings(),
                    gradientAccumulation: Int = RecipeDefaults.gradientAccumulation, clipGradNorm: Double? = nil,
                    seed: UInt64 = RecipeDefaults.seed, threads: Int? = nil,
                    labelSmoothing: Double = RecipeDefaults.labelSmoothing, initAdapter: String? = nil,
                    precision: ComputePrecision = .float32) {
            self.mode = mode
            self.epochs = epochs
            self.maxSteps = maxSteps
            self.optimizer = optimizer
            self.scheduler = scheduler
            self.gradientAccumulation = gradientAccumulation
            self.clipGradNorm = clipGradNorm
            self.seed = seed
            self.threads = threads
            self.labelSmoothing = labelSmoothing
            self.initAdapter = initAdapter
            self.precision = precision
        }
    }

    /// `train.optimizer:`, with PyTorch's defaults.
    public struct OptimizerSettings: Equatable, Sendable {
        public enum Name: String, Sendable, CaseIterable {
            case adamw, sgd
        }

        public var name: Name
        /// Learning rate (`lr`).
        public var learningRate: Double
        /// Decoupled weight decay (AdamW) or L2 penalty (SGD); when absent, 0.01 for AdamW and 0 for SGD.
        public var weightDecay: Double
        /// SGD momentum.
        public var momentum: Double
        /// SGD Nesterov momentum.
        public var nesterov: Bool
        /// AdamW β₁, β₂ (`betas: [0.9, 0.999]`).
        public var beta1: Double
        public var beta2: Double
        /// AdamW ε (`eps`).
        public var epsilon: Double
        /// Parameter groups with their own learning rate or decay, first matching group wins.
        public var groups: [ParameterGroupSettings]

        public init(name: Name = RecipeDefaults.optimizer, learningRate: Double = RecipeDefaults.learningRate,
                    weightDecay: Double? = nil, momentum: Double = RecipeDefaults.momentum, nesterov: Bool = false,
                    beta1: Double = RecipeDefaults.betas.0, beta2: Double = RecipeDefaults.betas.1,
                    epsilon: Double = RecipeDefaults.epsilon, groups: [ParameterGroupSettings] = []) {
            self.name = name
            self.learningRate = learningRate
            self.weightDecay = weightDecay ?? RecipeDefaults.weightDecay(for: name)
            self.momentum = momentum
            self.nesterov = nesterov
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.groups = groups
        }

        /// The groups as the optimizers take them.
        public func parameterGroupRules() -> [ParameterGroupRule] {
            groups.map {
                ParameterGroupRule(name: $0.name, patterns: $0.patterns, learningRate: Float($0.learningRate),
                                   weightDecay: Float($0.weightDecay))
            }
        }
    }

    /// One entry of `train.optimizer.groups`.
    public struct ParameterGroupSettings: Equatable, Sendable {
        public var name: String
        /// Parameter-key patterns, as `ParameterGroupRule` matches them.
        public var patterns: [String]
        /// Filled from the optimizer's `lr` when absent.
        public var learningRate: Double
        /// Filled from the optimizer's `weight_decay` when absent.
        public var weightDecay: Double

        public init(name: String, patterns: [String], learningRate: Double, weightDecay: Double) {
            self.name = name
            self.patterns = patterns
            self.learningRate = learningRate
            self.weightDecay = weightDecay
        }
    }

    /// `train.scheduler:` — the learning-rate multiplier over steps.
    public struct SchedulerSettings: Equatable, Sendable {
        public enum Name: String, Sendable, CaseIterable {
            case constant, step, linear, cosine
        }

        public var name: Name
        /// Linear warm-up from 0 over this many steps.
        public var warmupSteps: Int
        /// `step`: multiply by `gamma` every `stepSize` steps (required for `step`).
        public var stepSize: Int?
        public var gamma: Double
        /// `cosine`: the multiplier's floor.
        public var minLRRatio: Double

        public init(name: Name = RecipeDefaults.scheduler, warmupSteps: Int = 0, stepSize: Int? = nil,
                    gamma: Double = RecipeDefaults.gamma, minLRRatio: Double = 0) {
            self.name = name
            self.warmupSteps = warmupSteps
            self.stepSize = stepSize
            self.gamma = gamma
            self.minLRRatio = minLRRatio
        }
    }

    /// `eval:` — what is measured on the validation split, and when.
    public struct EvaluationSettings: Equatable, Sendable {
        /// Names from the metric registry; the validation loss (`loss`) is always reported.
        public var metrics: [String]
        /// Evaluate every N optimizer steps; nil: not by steps.
        public var everySteps: Int?
        public var eachEpoch: Bool
        /// The value that decides "best": `loss` or one of `metrics`.
        public var monitor: String
        /// Whether lower (`min`) or higher (`max`) is better.
        public var mode: EarlyStopping.Mode

        public init(metrics: [String] = [], everySteps: Int? = nil, eachEpoch: Bool = true,
                    monitor: String = RecipeDefaults.monitor, mode: EarlyStopping.Mode = .min) {
            self.metrics = metrics
            self.everySteps = everySteps
            self.eachEpoch = eachEpoch
            self.monitor = monitor
            self.mode = mode
        }
    }

    /// `hooks:` — the built-in hooks and their settings.
    public struct HookSettings: Equatable, Sendable {
        public var progress: ProgressSettings
        /// nil: no early stopping.
        public var earlyStopping: EarlyStoppingSettings?
        public var checkpoint: CheckpointSettings
        /// What the non-finite-loss guard does.
        public var nonFinite: NonFiniteGuard.Policy
        /// Whether `metrics.jsonl` is written.
        public var metricsLog: Bool
        /// Registered hooks added by name, with their options (`hooks.extra`).
        public var extra: [NamedSettings]

        public init(progress: ProgressSettings = ProgressSettings(), earlyStopping: EarlyStoppingSettings? = nil,
                    checkpoint: CheckpointSettings = CheckpointSettings(),
                    nonFinite: NonFiniteGuard.Policy = RecipeDefaults.nonFinite, metricsLog: Bool = true,
                    extra: [NamedSettings] = []) {
            self.extra = extra
            self.progress = progress
            self.earlyStopping = earlyStopping
            self.checkpoint = checkpoint
            self.nonFinite = nonFinite
            self.metricsLog = metricsLog
        }
    }

    /// `hooks.progress:`.
    public struct ProgressSettings: Equatable, Sendable {
        /// Steps between progress lines.
        public var interval: Int

        public init(interval: Int = RecipeDefaults.progressInterval) { self.interval = interval }
    }

    /// `hooks.early_stopping:`.
    public struct EarlyStoppingSettings: Equatable, Sendable {
        public var monitor: String
        public var mode: EarlyStopping.Mode
        /// Evaluations without improvement before stopping.
        public var patience: Int
        /// The improvement that counts.
        public var minDelta: Double

        public init(monitor: String = RecipeDefaults.monitor, mode: EarlyStopping.Mode = .min,
                    patience: Int = RecipeDefaults.patience, minDelta: Double = 0) {
            self.monitor = monitor
            self.mode = mode
            self.patience = patience
            self.minDelta = minDelta
        }
    }

    /// Which model a run writes at its end.
    public enum FinalArtifact: String, Sendable, CaseIterable {
        /// The best checkpoint's by `hooks.checkpoint.monitor` (Hugging Face's
        /// `load_best_model_at_end`), when there is validation data and `keep_best ≥ 1`; else the last.
        case best
        /// The model as training left it.
        case last
    }

    /// `hooks.checkpoint:`.
    public struct CheckpointSettings: Equatable, Sendable {
        public var everySteps: Int?
        public var eachEpoch: Bool
        /// How many best checkpoints (by `monitor`) are kept besides the last.
        public var keepBest: Int
        public var monitor: String
        public var mode: EarlyStopping.Mode
        /// Which model the run writes at its end (`final`).
        public var final: FinalArtifact

        public init(everySteps: Int? = nil, eachEpoch: Bool = true, keepBest: Int = RecipeDefaults.keepBest,
                    monitor: String = RecipeDefaults.monitor, mode: EarlyStopping.Mode = .min,
                    final: FinalArtifact = RecipeDefaults.finalArtifact) {
            self.final = final
            self.everySteps = everySteps
            self.eachEpoch = eachEpoch
            self.keepBest = keepBest
            self.monitor = monitor
            self.mode = mode
        }
    }
}
