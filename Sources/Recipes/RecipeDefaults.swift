import LoRA
import Training

/// The recipe schema: every key, its type and its default, in one place.
///
/// Required keys are marked **required**; a key whose default is "—" is optional and absent
/// means "not set". `path` values resolve against the directory of the file that wrote them
/// (an override's, against the working directory). `null` (or `~`) counts as absent, so a
/// recipe that `extends` another can remove a key or section with `key: null`.
///
/// | key | type | default |
/// |---|---|---|
/// | `extends` | path of a recipe to start from (top level only) | — |
/// | `task` | string (task registry) | **required** |
/// | `model.architecture` | string (architecture registry) | **required** |
/// | `model.weights` | path (must exist) | — (random init) |
/// | `model.classes` | int | `class_names` count |
/// | `model.class_names` | [string] | — |
/// | `model.head` | `new` \| `keep` | `new` |
/// | `model.input_size` | int | — |
/// | `model.options` | map of free-form values | `{}` |
/// | `lora` | section | absent: no adapters |
/// | `lora.rank` | int ≥ 1 | `8` |
/// | `lora.alpha` | float > 0 | `8` |
/// | `lora.dropout` | float in [0, 1) | `0` |
/// | `lora.use_rslora`, `lora.use_dora` | bool | `false` |
/// | `lora.init` | `kaiming` \| `gaussian` \| `pissa` | `kaiming` |
/// | `lora.rank_pattern` | map regex → int | `{}` |
/// | `lora.alpha_pattern` | map regex → float | `{}` |
/// | `lora.bias` | `none` \| `all` \| `lora_only` | `none` |
/// | `lora.target_modules` | [string] | **required** in `lora` |
/// | `lora.exclude_modules`, `lora.modules_to_save` | [string] | `[]` |
/// | `data.format` | string (data-format registry) | **required** |
/// | `data.train`, `data.validation`, `data.test` | path (must exist) | — |
/// | `data.image_directory` | path (directory, must exist) | — |
/// | `data.image_column`, `data.label_column`, `data.text_column` | string | — |
/// | `data.validation_fraction` | float in (0, 1), only without `data.validation` | — |
/// | `data.bad_files` | `fail` \| `skip` | `fail` |
/// | `data.transforms` | list of `{name: string, …params}` | `[]` |
/// | `data.batch_size` | int ≥ 1 | `32` |
/// | `data.eval_batch_size` | int ≥ 1 | `batch_size` |
/// | `data.prefetch` | int ≥ 0 | `1` |
/// | `data.read_threads` | int ≥ 1 | `1` |
/// | `data.options` | map of free-form values | `{}` |
/// | `train.mode` | `lora` \| `full` \| `linear_probe` | `lora` with a `lora` section, else `full` |
/// | `train.epochs`, `train.max_steps` | int ≥ 1; one of them **required** | — |
/// | `train.optimizer.name` | `adamw` \| `sgd` | `adamw` |
/// | `train.optimizer.lr` | float > 0 | `0.001` |
/// | `train.optimizer.weight_decay` | float ≥ 0 | `0.01` (adamw), `0` (sgd) |
/// | `train.optimizer.momentum` | float in [0, 1) | `0` |
/// | `train.optimizer.nesterov` | bool (needs momentum > 0) | `false` |
/// | `train.optimizer.betas` | [float, float] | `[0.9, 0.999]` |
/// | `train.optimizer.eps` | float > 0 | `1e-08` |
/// | `train.optimizer.groups` | list of `{name, patterns: [string], lr, weight_decay}` | `[]`; a group's `lr` and `weight_decay` default to the optimizer's |
/// | `train.scheduler.name` | `constant` \| `step` \| `linear` \| `cosine` | `constant` |
/// | `train.scheduler.warmup_steps` | int ≥ 0 | `0` |
/// | `train.scheduler.step_size` | int ≥ 1, **required** for `step` | — |
/// | `train.scheduler.gamma` | float > 0 | `0.1` |
/// | `train.scheduler.min_lr_ratio` | float in [0, 1] | `0` |
/// | `train.gradient_accumulation` | int ≥ 1 | `1` |
/// | `train.clip_grad_norm` | float > 0 | — (no clipping) |
/// | `train.seed` | int ≥ 0 | `0` |
/// | `train.threads` | int ≥ 1 | — (all cores) |
/// | `train.label_smoothing` | float in [0, 1) | `0` |
/// | `train.precision` | `f32` \| `bf16` (frozen layers on the CPU's bf16 units; f32 with a notice without them) | `f32` |
/// | `train.init_adapter` | path of a PEFT adapter directory (LoRA mode) | — (`lora.init`) |
/// | `eval.metrics` | [string] (metric registry) | `[]` (the loss is always reported) |
/// | `eval.every_steps` | int ≥ 1 | — |
/// | `eval.each_epoch` | bool | `true` |
/// | `eval.monitor` | `loss` or one of `eval.metrics` | `loss` |
/// | `eval.mode` | `min` \| `max` | see *modes* below |
/// | `hooks.progress.interval` | int ≥ 1 | `10` |
/// | `hooks.early_stopping` | section | absent: no early stopping |
/// | `hooks.early_stopping.monitor` | string | `eval.monitor` |
/// | `hooks.early_stopping.mode` | `min` \| `max` | see *modes* below |
/// | `hooks.early_stopping.patience` | int ≥ 1 | `3` |
/// | `hooks.early_stopping.min_delta` | float ≥ 0 | `0` |
/// | `hooks.checkpoint.every_steps` | int ≥ 1 | — |
/// | `hooks.checkpoint.each_epoch` | bool | `true` |
/// | `hooks.checkpoint.keep_best` | int ≥ 0 | `1` |
/// | `hooks.checkpoint.monitor` | string | `eval.monitor` |
/// | `hooks.checkpoint.mode` | `min` \| `max` | see *modes* below |
/// | `hooks.checkpoint.final` | `best` \| `last`: the model the run writes at its end | `best` (the last without validation data or with `keep_best: 0`) |
/// | `hooks.extra` | list of `{name: string, …options}` (hook registry) | `[]` |
/// | `hooks.non_finite` | `skip` \| `stop` | `stop` |
/// | `hooks.metrics_log` | bool | `true` |
/// | `plugins` | [string] (plugin registry) | `[]` |
/// | `output_dir` | path | **required** |
///
/// *Modes*: a `mode` left out is `eval.mode` when its monitor is `eval.monitor`, `min` when the
/// monitor is `loss`, and otherwise required (whether a metric is better high or low is not
/// guessed).
///
/// Types are the schema's, not YAML's: `rank: 8` and the override `lora.rank=8` are both the
/// integer 8, `data.train=2024.csv` is a string. Integers accept an exponent when the value is
/// whole (`max_steps: 1e4`); booleans accept `true`/`false`/`yes`/`no`/`on`/`off`.
public enum RecipeDefaults {
    public static let head = Recipe.ModelSettings.Head.new
    public static let rank = 8
    public static let alpha = 8.0
    public static let dropout = 0.0
    public static let initialization = LoRAInitialization.kaiming
    public static let bias = LoRABiasMode.none
    public static let badFiles = Recipe.DataSettings.BadFiles.fail
    public static let batchSize = 32
    public static let prefetch = 1
    public static let readThreads = 1
    public static let gradientAccumulation = 1
    public static let seed: UInt64 = 0
    public static let labelSmoothing = 0.0
    public static let optimizer = Recipe.OptimizerSettings.Name.adamw
    public static let learningRate = 1e-3
    public static let momentum = 0.0
    public static let betas = (0.9, 0.999)
    public static let epsilon = 1e-8
    public static let scheduler = Recipe.SchedulerSettings.Name.constant
    public static let gamma = 0.1
    public static let monitor = "loss"
    public static let progressInterval = 10
    public static let patience = 3
    public static let keepBest = 1
    public static let nonFinite = NonFiniteGuard.Policy.stop
    public static let finalArtifact = Recipe.FinalArtifact.best

    /// PyTorch's defaults: AdamW decays by 0.01, SGD not at all.
    public static func weightDecay(for optimizer: Recipe.OptimizerSettings.Name) -> Double {
        optimizer == .adamw ? 0.01 : 0
    }

    /// The mode for `monitor` when none is written: `inherited` (eval's mode) when the monitor is
    /// eval's, `min` for `loss`, otherwise nil (the key is required).
    static func mode(for monitor: String, evalMonitor: String?, inherited: EarlyStopping.Mode?) -> EarlyStopping.Mode? {
        if let inherited, monitor == evalMonitor { return inherited }
        return monitor == "loss" ? .min : nil
    }
}
