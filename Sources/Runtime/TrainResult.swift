import Foundation
import Recipes
import Training

/// What `RecipeRun.train` produced.
public struct TrainResult {
    public var summary: TrainingSummary
    public var trainableParameters: Int
    /// Parameters of the model without its adapters.
    public var totalParameters: Int
    public var meanStepSeconds: Double
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
}
