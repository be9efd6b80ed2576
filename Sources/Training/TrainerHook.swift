import Foundation
import NN

/// What a step did, for hooks.
public struct StepInfo: Sendable {
    /// Optimizer steps taken so far (1 after the first update).
    public var step: Int
    public var epoch: Int
    /// Mean loss over the step's micro-batches.
    public var loss: Double
    /// Learning rate of the first parameter group during the step.
    public var learningRate: Double
    /// Items per second over the step.
    public var itemsPerSecond: Double
    public var items: Int
    /// Global gradient norm before clipping, when computed.
    public var gradientNorm: Double?
    /// Whether the update was skipped (e.g. by the non-finite guard).
    public var skipped: Bool
    /// Wall time of the step, data reading included.
    public var seconds: Double = 0
}

/// Requests hooks make of the trainer; the trainer acts on them after the event.
public final class TrainerControl {
    public private(set) var stopReason: String?
    public private(set) var saveRequested = false
    public private(set) var evaluationRequested = false
    public private(set) var skipRequested: String?
    /// Set when a hook stops the run because something went wrong; the run then fails with it.
    public private(set) var failureReason: String?

    public init() {}

    /// Stops the run as a failure (e.g. a non-finite loss): `fit` throws with `reason`.
    public func fail(_ reason: String) {
        if failureReason == nil { failureReason = reason }
        requestStop(reason)
    }

    /// Ends training after the current event (a clean end: hooks get `runEnded`).
    public func requestStop(_ reason: String) { if stopReason == nil { stopReason = reason } }
    /// Asks for a checkpoint after the current step.
    public func requestSave() { saveRequested = true }
    /// Asks for an evaluation after the current step.
    public func requestEvaluation() { evaluationRequested = true }
    /// Skips the pending optimizer update (from `beforeOptimizerStep`).
    public func skipStep(_ reason: String) { skipRequested = reason }

    func consumeSave() -> Bool { defer { saveRequested = false }; return saveRequested }
    func consumeEvaluation() -> Bool { defer { evaluationRequested = false }; return evaluationRequested }
    func consumeSkip() -> String? { defer { skipRequested = nil }; return skipRequested }
}

/// What hooks see of the run.
public final class TrainerContext {
    public let model: Module
    public let optimizer: Optimizer
    public let control: TrainerControl
    /// The run's output directory (checkpoints, logs), if any.
    public let outputDirectory: URL?
    public internal(set) var step = 0
    public internal(set) var epoch = 0
    /// Optimizer steps the run will take in all (from epochs or the step budget).
    public internal(set) var totalSteps = 0
    public internal(set) var batchesPerEpoch = 0
    /// The most recent validation metrics (including "loss").
    public var lastMetrics: [String: Double] = [:]
    /// The optimizer step after which `lastMetrics` were measured (nil: no evaluation yet). A
    /// value measured at another step than the current one is not the current model's.
    public var lastEvaluationStep: Int?

    /// Sets the step, for driving hooks outside a trainer (tests, custom loops).
    public func setStepForTesting(_ step: Int) { self.step = step }

    /// A context for driving hooks directly (tests, custom loops); the trainer makes its own.
    public init(model: Module, optimizer: Optimizer, control: TrainerControl, outputDirectory: URL?) {
        self.model = model
        self.optimizer = optimizer
        self.control = control
        self.outputDirectory = outputDirectory
    }
}

/// Gradients at the moment before an optimizer update.
public struct GradientInfo {
    /// Global L2 norm of every trainable gradient (before clipping); non-finite if any value is.
    public var norm: Double
    /// Keys of parameters whose gradient has a NaN or ±∞, if any.
    public var nonFiniteKeys: [String]
}

/// A value observing and steering a run. Every event has a default no-op, so a hook implements
/// only what it needs. Hooks run in the order they are given to the trainer.
public protocol TrainerHook: AnyObject {
    func runStarted(_ context: TrainerContext)
    func runEnded(_ context: TrainerContext)
    func epochStarted(_ context: TrainerContext)
    func epochEnded(_ context: TrainerContext)
    func stepStarted(_ context: TrainerContext)
    func stepEnded(_ context: TrainerContext, _ info: StepInfo)
    /// After backward, before the update: gradients are visible; `control.skipStep` skips it.
    func beforeOptimizerStep(_ context: TrainerContext, loss: Double, gradients: GradientInfo)
    func validationEnded(_ context: TrainerContext, metrics: [String: Double])
    /// Before a checkpoint is written, so that the state hooks save includes it.
    func checkpointWillSave(_ context: TrainerContext)
    func checkpointSaved(_ context: TrainerContext, directory: URL)
    func errorOccurred(_ context: TrainerContext, error: Error)
    /// State this hook keeps across a resume (e.g. early stopping's best value); nil: none.
    func savedState() -> [String: Double]?
    func restore(_ state: [String: Double])
}

extension TrainerHook {
    public func runStarted(_ context: TrainerContext) {}
    public func runEnded(_ context: TrainerContext) {}
    public func epochStarted(_ context: TrainerContext) {}
    public func epochEnded(_ context: TrainerContext) {}
    public func stepStarted(_ context: TrainerContext) {}
    public func stepEnded(_ context: TrainerContext, _ info: StepInfo) {}
    public func beforeOptimizerStep(_ context: TrainerContext, loss: Double, gradients: GradientInfo) {}
    public func validationEnded(_ context: TrainerContext, metrics: [String: Double]) {}
    public func checkpointWillSave(_ context: TrainerContext) {}
    public func checkpointSaved(_ context: TrainerContext, directory: URL) {}
    public func errorOccurred(_ context: TrainerContext, error: Error) {}
    public func savedState() -> [String: Double]? { nil }
    public func restore(_ state: [String: Double]) {}
}
