import Foundation
import Recipes
import Training

/// What `RecipeRun.train` produced.
public struct TrainResult {
    /// How training ended: steps, epochs, the loss of every step, the last validation metrics.
    public var summary: TrainingSummary
    /// Parameters that trained (adapters, saved modules; everything in full fine-tuning).
    public var trainableParameters: Int
    /// Parameters of the model without its adapters.
    public var totalParameters: Int
    /// Mean wall time of an optimizer step.
    public var meanStepSeconds: Double
    /// Wall time of the whole run (building, training, writing).
    public var seconds: Double
    /// Peak bytes of live tensors during training.
    public var peakBytes: Int
    /// Where the adapter (LoRA) or the model weights (full, probe) were written.
    public var artifact: URL
    /// Which model the artifact holds: the best checkpoint's or the last.
    public var final: Recipe.FinalArtifact
    /// The optimizer step whose model the artifact holds.
    public var finalStep: Int
    /// Validation metrics of the artifact's model (empty without validation data).
    public var metrics: [String: Double]
    /// Kernel threads the run used.
    public var threads: Int
    /// When the run started.
    public var started: Date
}
