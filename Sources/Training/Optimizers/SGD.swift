import NN
import Tensor

/// Stochastic gradient descent with optional momentum and Nesterov momentum, exactly as PyTorch's
/// `torch.optim.SGD`.
///
/// For each parameter `p` with gradient `g`, with `η` the group's learning rate times
/// `learningRateMultiplier`, `λ` its weight decay, `μ` the momentum and `τ` the dampening:
///
///     d ← g + λ·p                      weight decay as L2 regularisation, added to the gradient
///     b ← d                            the first time (the buffer starts at the first gradient)
///     b ← μ·b + (1 − τ)·d              afterwards
///     d ← d + μ·b   (Nesterov)   or   d ← b
///     p ← p − η·d
///
/// With `momentum == 0` there is no buffer and `p ← p − η·(g + λ·p)`. Parameters without a gradient
/// are skipped and their buffers left unchanged. Each parameter is updated by one fused loop over
/// its storage, split over the cores for large tensors.
///
/// State keys (`state()`): `<group>.<parameter key>.momentum_buffer` (PyTorch's name) for each
/// parameter that has one, and `step`, the number of `step()` calls.
public final class SGD: Optimizer {
    public private(set) var groups: [ParameterGroup]
    public var learningRateMultiplier: Float = 1
    public let momentum: Float
    public let dampening: Float
    public let nesterov: Bool
    /// The number of `step()` calls (restored by `load`).
    public private(set) var stepCount = 0

    /// `buffers[i][j]`: momentum buffer of parameter j of group i, nil until its first gradient
    /// (and always with `momentum == 0`).
    private var buffers: [[Tensor?]]

    /// - Parameters:
    ///   - groups: the parameter groups, each with its learning rate and weight decay; group names
    ///     must differ and each parameter must appear once.
    ///   - momentum: `μ ≥ 0`; 0 is plain gradient descent.
    ///   - nesterov: Nesterov momentum; needs `momentum > 0` and `dampening == 0` (as PyTorch).
    ///   - dampening: `τ`, the part of the new gradient left out of the buffer.
    /// - Throws: `OptimizerError` for an invalid setting, duplicate names or parameters, or no
    ///   parameters at all.
    public init(groups: [ParameterGroup], momentum: Float = 0, nesterov: Bool = false, dampening: Float = 0) throws {
        try checkSetting("momentum", Double(momentum), momentum >= 0, "must be ≥ 0")
        try checkSetting("dampening", Double(dampening), dampening.isFinite, "must be finite")
        if nesterov {
            try checkSetting("momentum", Double(momentum), momentum > 0, "Nesterov momentum needs momentum > 0")
            try checkSetting("dampening", Double(dampening), dampening == 0, "Nesterov momentum needs zero dampening")
        }
        try validateGroups(groups)
        self.groups = groups
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.buffers = groups.map { [Tensor?](repeating: nil, count: $0.parameters.count) }
    }

    /// One group named "default" holding `parameters` (typically `module.trainableParameters()`).
    public convenience init(parameters: [(key: String, slot: ParameterSlot)], learningRate: Float,
                            momentum: Float = 0, nesterov: Bool = false, dampening: Float = 0,
                            weightDecay: Float = 0) throws {
        try self.init(groups: [ParameterGroup(name: "default", parameters: uniqueParameters(parameters),
                                              learningRate: learningRate, weightDecay: weightDecay)],
                      momentum: momentum, nesterov: nesterov, dampening: dampening)
    }

    public func step() {
        stepCount += 1
        for (i, group) in groups.enumerated() {
            let lr = learningRate(group: i)
            for (j, (_, slot)) in group.parameters.enumerated() {
                guard let parameter = slot.tensor, let grad = parameter.grad else { continue }
                var buffer: Tensor?
                var first = false
                if momentum != 0 {
                    if let b = buffers[i][j] { buffer = b } else {
                        buffer = MemoryPool.withLongLivedAllocations { .zeros(parameter.shape) }
                        buffers[i][j] = buffer
                        first = true
                    }
                }
                update(parameter, grad: grad.plain(), buffer: buffer, first: first, lr: lr,
                       weightDecay: group.weightDecay)
            }
        }
    }

    /// The fused SGD update of one parameter, in place (and of its buffer when there is one).
    private func update(_ parameter: Tensor, grad: Tensor, buffer: Tensor?, first: Bool, lr: Float,
                        weightDecay: Float) {
        let negativeLR = -lr, decay = weightDecay, hasDecay = weightDecay != 0
        let mu = momentum, keep = 1 - dampening, nesterov = self.nesterov
        parameter.withUnsafeMutableFloats { pb in
            grad.withUnsafeMutableFloats { gb in
                let p = pb.baseAddress!, g = gb.baseAddress!
                guard let buffer else {
                    parallelFor(pb.count, grain: updateGrain) { begin, end in
                        for k in begin..<end {
                            let d = hasDecay ? g[k] + decay * p[k] : g[k]
                            p[k] = p[k] + negativeLR * d
                        }
                    }
                    return
                }
                buffer.withUnsafeMutableFloats { bb in
                    let b = bb.baseAddress!
                    parallelFor(pb.count, grain: updateGrain) { begin, end in
                        for k in begin..<end {
                            var d = hasDecay ? g[k] + decay * p[k] : g[k]
                            let bk = first ? d : b[k] * mu + keep * d
                            b[k] = bk
                            d = nesterov ? d + mu * bk : bk
                            p[k] = p[k] + negativeLR * d
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
                if let b = buffers[i][j] { out.tensors[stateKey(group, key) + ".momentum_buffer"] = b.copy() }
            }
        }
        return out
    }

    public func load(_ state: OptimizerState) throws {
        var reader = StateReader(state)
        let steps = try reader.count("step")
        var loaded = buffers
        for (i, group) in groups.enumerated() {
            for (j, (key, slot)) in group.parameters.enumerated() {
                let entry = try reader.entry(stateKey(group, key), tensors: ["momentum_buffer"], scalars: [],
                                             shape: slot.tensor?.shape ?? [])
                loaded[i][j] = entry?.tensors[0]
            }
        }
        // Buffers of an optimizer without momentum are keys that belong to nothing.
        if momentum == 0, let key = state.tensors.keys.sorted().first {
            throw OptimizerError.unexpectedStateKey(key)
        }
        try reader.finish()
        buffers = loaded
        stepCount = steps
    }
}
