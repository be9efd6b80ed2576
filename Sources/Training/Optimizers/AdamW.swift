import Foundation
import NN
import Tensor

/// Adam with decoupled weight decay (Loshchilov & Hutter), exactly as PyTorch's `torch.optim.AdamW`.
///
/// For each parameter `p` with gradient `g`, at its `t`-th update (t counts only the steps in which
/// the parameter had a gradient, as PyTorch's per-parameter `step`), with `η` the group's learning
/// rate times `learningRateMultiplier` and `λ` its weight decay:
///
///     p ← p · (1 − η·λ)                                 decoupled decay, before the Adam update
///     m ← m + (1 − β₁)·(g − m)                          first moment (PyTorch's lerp)
///     v ← β₂·v + (1 − β₂)·g²                            second moment
///     p ← p − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// `ε` is added after the square root of the bias-corrected second moment, as PyTorch does (not
/// `√(v̂ + ε)`). The bias corrections are computed in double precision, as PyTorch computes them
/// from Python floats. Each parameter is updated by one fused loop over its storage (parameter,
/// gradient and both moments read and written once), split over the cores for large tensors.
/// Parameters without a gradient are skipped and their state is left unchanged.
///
/// State keys (`state()`): `<group>.<parameter key>.exp_avg`, `.exp_avg_sq` (tensors of the
/// parameter's shape) and `.step` (that parameter's update count), plus `step`, the number of
/// `step()` calls.
public final class AdamW: Optimizer {
    public private(set) var groups: [ParameterGroup]
    public var learningRateMultiplier: Float = 1
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    /// The number of `step()` calls (restored by `load`).
    public private(set) var stepCount = 0

    /// A parameter's moments and its own update count.
    private struct Moments {
        var step: Int
        let expAvg: Tensor
        let expAvgSq: Tensor
    }

    /// `moments[i][j]`: state of parameter j of group i, nil until its first gradient.
    private var moments: [[Moments?]]

    /// - Parameters:
    ///   - groups: the parameter groups, each with its learning rate and weight decay; group names
    ///     must differ and each parameter must appear once.
    ///   - beta1, beta2: decay rates of the moment estimates, in [0, 1).
    ///   - epsilon: added to the denominator for stability, ≥ 0.
    /// - Throws: `OptimizerError` for an invalid setting, duplicate names or parameters, or no
    ///   parameters at all.
    public init(groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) throws {
        try checkSetting("beta1", Double(beta1), beta1 >= 0 && beta1 < 1, "must be in [0, 1)")
        try checkSetting("beta2", Double(beta2), beta2 >= 0 && beta2 < 1, "must be in [0, 1)")
        try checkSetting("epsilon", Double(epsilon), epsilon >= 0, "must be ≥ 0")
        try validateGroups(groups)
        self.groups = groups
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.moments = groups.map { [Moments?](repeating: nil, count: $0.parameters.count) }
    }

    /// One group named "default" holding `parameters` (typically `module.trainableParameters()`).
    /// The default weight decay, 0.01, is PyTorch's.
    public convenience init(parameters: [(key: String, slot: ParameterSlot)], learningRate: Float,
                            weightDecay: Float = 0.01, beta1: Float = 0.9, beta2: Float = 0.999,
                            epsilon: Float = 1e-8) throws {
        try self.init(groups: [ParameterGroup(name: "default", parameters: uniqueParameters(parameters),
                                              learningRate: learningRate, weightDecay: weightDecay)],
                      beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    public func step() {
        stepCount += 1
        for (i, group) in groups.enumerated() {
            let lr = Double(learningRate(group: i))
            for (j, (_, slot)) in group.parameters.enumerated() {
                guard let parameter = slot.tensor, let grad = parameter.grad else { continue }
                // The moments live as long as the optimizer: memory of their own (see MemoryPool).
                var state = moments[i][j] ?? MemoryPool.withLongLivedAllocations {
                    Moments(step: 0, expAvg: .zeros(parameter.shape), expAvgSq: .zeros(parameter.shape))
                }
                state.step += 1
                moments[i][j] = state
                update(parameter, grad: grad.plain(), state: state, lr: lr, weightDecay: Double(group.weightDecay))
            }
        }
    }

    /// The fused AdamW update of one parameter, in place.
    private func update(_ parameter: Tensor, grad: Tensor, state: Moments, lr: Double, weightDecay: Double) {
        let t = Double(state.step)
        let b1 = Double(beta1), b2 = Double(beta2)
        let biasCorrection1 = 1 - pow(b1, t)
        let biasCorrection2Sqrt = (1 - pow(b2, t)).squareRoot()
        let negativeStepSize = Float(-(lr / biasCorrection1))
        let decay = Float(1 - lr * weightDecay)
        let lerpWeight = Float(1 - b1), oneMinusWeight = Float(b1)
        let smallWeight = abs(lerpWeight) < 0.5
        let beta2 = self.beta2, oneMinusBeta2 = Float(1 - b2)
        let correction2 = Float(biasCorrection2Sqrt), eps = epsilon
        parameter.withUnsafeMutableFloats { pb in
            grad.withUnsafeMutableFloats { gb in
                state.expAvg.withUnsafeMutableFloats { mb in
                    state.expAvgSq.withUnsafeMutableFloats { vb in
                        let p = pb.baseAddress!, g = gb.baseAddress!, m = mb.baseAddress!, v = vb.baseAddress!
                        parallelFor(pb.count, grain: updateGrain) { begin, end in
                            for k in begin..<end {
                                let gk = g[k]
                                // PyTorch's lerp: the form depends on the weight, for accuracy.
                                let mk = smallWeight ? m[k] + lerpWeight * (gk - m[k])
                                                     : gk - (gk - m[k]) * oneMinusWeight
                                let vk = v[k] * beta2 + oneMinusBeta2 * gk * gk
                                m[k] = mk
                                v[k] = vk
                                let denominator = vk.squareRoot() / correction2 + eps
                                p[k] = p[k] * decay + negativeStepSize * mk / denominator
                            }
                        }
                    }
                }
            }
        }
    }

    public func state() -> OptimizerState {
        var out = OptimizerState(scalars: ["step": Double(stepCount)])
        for (i, group) in groups.enumerated() {
            for (j, (key, _)) in group.parameters.enumerated() {
                guard let s = moments[i][j] else { continue }
                let prefix = stateKey(group, key)
                out.tensors[prefix + ".exp_avg"] = s.expAvg.copy()
                out.tensors[prefix + ".exp_avg_sq"] = s.expAvgSq.copy()
                out.scalars[prefix + ".step"] = Double(s.step)
            }
        }
        return out
    }

    public func load(_ state: OptimizerState) throws {
        var reader = StateReader(state)
        let steps = try reader.count("step")
        var loaded = moments
        for (i, group) in groups.enumerated() {
            for (j, (key, slot)) in group.parameters.enumerated() {
                let prefix = stateKey(group, key)
                let shape = slot.tensor?.shape ?? []
                guard let entry = try reader.entry(prefix, tensors: ["exp_avg", "exp_avg_sq"], scalars: ["step"],
                                                   shape: shape) else {
                    loaded[i][j] = nil
                    continue
                }
                let count = try reader.count(prefix + ".step", minimum: 1)
                loaded[i][j] = Moments(step: count, expAvg: entry.tensors[0], expAvgSq: entry.tensors[1])
            }
        }
        try reader.finish()
        moments = loaded
        stepCount = steps
    }
}
