extension Tensor {
    /// `f(inputs)` without keeping what `f` computes on the way: forward runs `f` without
    /// recording it; backward runs it again, recording, and back-propagates through that second
    /// run. Memory for `f`'s intermediate values (a chunk of 49k-wide logits, a decoder block's
    /// activations) is then held only while one backward step runs. The price is `f`'s forward,
    /// twice.
    ///
    /// Gradients reach the inputs that require one and every trainable tensor `f` uses (its
    /// module's parameters), exactly as without recomputation, provided `f` computes the same thing
    /// both times: it must not draw random numbers (dropout) or depend on state that changes
    /// between forward and backward. `f` learns which run it is in from its second argument
    /// (true in backward), for side results it should give once (a count of correct tokens).
    ///
    /// Without gradient recording, or when no input requires a gradient, this is `f(inputs, false)`
    /// recorded as usual.
    public static func recomputed(_ inputs: [Tensor], op: String = "recomputed",
                                  _ f: @escaping (_ inputs: [Tensor], _ recomputing: Bool) -> Tensor) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return f(inputs, false) }
        let values = inputs.map { $0.detached() }
        let needsGrad = inputs.map(\.requiresGrad)
        let out = withNoGrad { f(values, false) }
        return record(out, op: op, inputs: inputs) { g in
            let leaves = zip(values, needsGrad).map { value, needs in needs ? value.requiringGrad() : value }
            let y = withGrad(true) { f(leaves, true) }
            precondition(y.shape == g.shape, "recomputed \(op): the second run gave \(y.shape), the first \(g.shape)")
            if y.requiresGrad { y.backward(g) }
            return leaves.map(\.grad)
        }
    }
}

extension Tensor {
    /// A scalar `f(inputs)` differentiated at once, in forward: `f` runs recording, its backward
    /// runs straight away, and only the inputs' gradients are kept; the recorded operation's
    /// backward scales them by the incoming gradient. One pass of `f` forward and backward, no
    /// second forward (as `recomputed` needs), and nothing of `f`'s intermediate values kept — for
    /// a loss whose own weights are frozen, such as a language model's output head and
    /// cross-entropy.
    ///
    /// `f` must give a scalar (checked) and use no trainable tensor besides `inputs` (the caller's
    /// guarantee): a parameter's gradient would be added in forward, whether or not the result is
    /// ever differentiated, and would not be scaled by the incoming gradient.
    ///
    /// Without gradient recording, or when no input requires a gradient, this is `f(inputs)`.
    public static func eagerlyDifferentiated(_ inputs: [Tensor], op: String = "eagerly-differentiated",
                                             _ f: ([Tensor]) -> Tensor) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return f(inputs) }
        let leaves = inputs.map { $0.requiresGrad ? $0.detached().requiringGrad() : $0.detached() }
        let y = f(leaves)
        precondition(y.count == 1, "eagerlyDifferentiated \(op): f must give a scalar, got \(y.shape)")
        let value = y.detached()
        if y.requiresGrad { y.backward() }
        let gradients = leaves.map(\.grad)
        return record(value, op: op, inputs: inputs) { g in
            let scale = g.item
            return gradients.map { $0.map { $0 * scale } }
        }
    }
}
