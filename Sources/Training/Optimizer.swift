import NN
import Tensor

/// A set of parameters that share optimisation settings (e.g. a new head with a higher learning
/// rate than the adapters).
public struct ParameterGroup {
    public var name: String
    public var parameters: [(key: String, slot: ParameterSlot)]
    /// The group's base learning rate; the scheduler's multiplier scales it.
    public var learningRate: Float
    public var weightDecay: Float

    public init(name: String, parameters: [(key: String, slot: ParameterSlot)], learningRate: Float,
                weightDecay: Float = 0) {
        self.name = name
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }
}

/// What an optimizer saves in a checkpoint: tensors (moments, keyed by parameter key) and scalars.
public struct OptimizerState {
    public var tensors: [String: Tensor]
    public var scalars: [String: Double]

    public init(tensors: [String: Tensor] = [:], scalars: [String: Double] = [:]) {
        self.tensors = tensors
        self.scalars = scalars
    }
}

/// Updates parameters in place from their gradients.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get }
    /// The multiplier the scheduler set on every group's base learning rate.
    var learningRateMultiplier: Float { get set }
    /// One update of every parameter that has a gradient, in place, under no-grad.
    func step()
    /// Clears every parameter's gradient.
    func zeroGrad()
    /// The state to checkpoint.
    func state() -> OptimizerState
    /// Restores a checkpointed state; throws when it does not fit the parameters.
    func load(_ state: OptimizerState) throws
}

extension Optimizer {
    public func zeroGrad() {
        for g in groups { for (_, slot) in g.parameters { slot.tensor?.setGrad(nil) } }
    }

    /// The learning rate of group `i` now.
    public func learningRate(group i: Int) -> Float { groups[i].learningRate * learningRateMultiplier }
}

/// A learning-rate schedule: a pure function of the step, so that resuming needs only the step.
public protocol LearningRateSchedule {
    /// The factor on the base learning rate before optimizer step `step` (0-based).
    func multiplier(step: Int) -> Float
}
