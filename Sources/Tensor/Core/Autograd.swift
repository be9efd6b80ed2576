/// One recorded operation on the autograd tape.
///
/// A node holds the backward closure of the operation that produced its tensor, and the nodes of
/// the inputs that require gradients. The closure captures only what its backward needs given
/// which inputs require gradients (see `Tensor.record`), so a frozen weight's gradient is never
/// computed and an activation needed only for it is never retained.
final class GradNode {
    /// Name of the operation, for error messages and traces.
    let op: String
    /// Shape of the tensor this node stands for.
    let shape: [Int]
    /// Inputs' nodes, aligned with what `backward` returns (nil: input needs no gradient).
    private(set) var parents: [GradNode?]
    /// Maps the gradient of the output to gradients of the inputs (nil where not needed).
    private(set) var backward: ((Tensor) -> [Tensor?])?
    /// A backward that adds to the inputs' gradients itself: given the output's gradient and each
    /// input's gradient accumulated so far (moved out of the input's node, nil if none yet), it
    /// leaves each input's new total in its place. A convolution adds its input gradient inside
    /// the kernel this way (`Tensor.recordAccumulating`).
    private(set) var accumulatingBackward: ((Tensor, inout [Tensor?]) -> Void)?
    /// Accumulated gradient. Kept on leaves; cleared on interior nodes once propagated.
    var grad: Tensor?
    let isLeaf: Bool

    init(leafShape shape: [Int]) {
        self.op = "leaf"
        self.shape = shape
        self.parents = []
        self.backward = nil
        self.isLeaf = true
    }

    init(op: String, shape: [Int], parents: [GradNode?], backward: @escaping (Tensor) -> [Tensor?]) {
        self.op = op
        self.shape = shape
        self.parents = parents
        self.backward = backward
        self.isLeaf = false
    }

    init(op: String, shape: [Int], parents: [GradNode?], accumulatingBackward: @escaping (Tensor, inout [Tensor?]) -> Void) {
        self.op = op
        self.shape = shape
        self.parents = parents
        self.accumulatingBackward = accumulatingBackward
        self.isLeaf = false
    }

    /// Drops the closure and the links, so that what they captured is freed.
    func release() {
        parents = []
        backward = nil
        accumulatingBackward = nil
        grad = nil
    }

    /// Runs this node's backward for the output gradient `g`, adding to the parents' gradients.
    func propagate(_ g: Tensor) {
        if let fn = backward {
            for (parent, pg) in zip(parents, fn(g)) {
                if let parent, let pg { parent.accumulate(pg) }
            }
            return
        }
        guard let fn = accumulatingBackward else { return }
        let present = parents.compactMap { $0.map(ObjectIdentifier.init) }
        guard Set(present).count == present.count else {
            // An input used twice: hand over no gradients, and add what comes back as contributions.
            var contributions = [Tensor?](repeating: nil, count: parents.count)
            fn(g, &contributions)
            for (parent, pg) in zip(parents, contributions) {
                if let parent, let pg { parent.accumulate(pg) }
            }
            return
        }
        // Move the parents' gradients out, so that the tape's only reference to each is the array's.
        var grads = parents.map { parent -> Tensor? in
            defer { parent?.grad = nil }
            return parent?.grad
        }
        fn(g, &grads)
        for (parent, total) in zip(parents, grads) {
            guard let parent else { continue }
            if let total {
                precondition(total.shape == parent.shape, "gradient of \(parent.op) has shape \(total.shape), expected \(parent.shape)")
            }
            parent.grad = total
        }
    }

    func accumulate(_ g: Tensor) {
        precondition(g.shape == shape, "gradient of \(op) has shape \(g.shape), expected \(shape)")
        if let existing = grad { grad = existing.addingGradient(g) } else { grad = g }
    }
}

/// Whether operations record the tape; a task-local value, not a global, so concurrent tasks and
/// tests do not interfere.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording operations: results do not require gradients.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

/// Runs `body` with recording switched on or off.
public func withGrad<R>(_ enabled: Bool, _ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(enabled, operation: body)
}

extension Tensor {
    /// Marks this tensor as a leaf that accumulates a gradient (a trainable parameter). Calling it
    /// on a non-leaf detaches it from its history first.
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        var t = detached()
        if flag { t.node = GradNode(leafShape: shape) }
        return t
    }

    /// The gradient accumulated by `backward()`, for leaves that require gradients.
    public var grad: Tensor? {
        guard let node, node.isLeaf else { return nil }
        return node.grad
    }

    /// Sets or clears the accumulated gradient of a leaf (optimizers clear it between steps).
    public func setGrad(_ g: Tensor?) {
        guard let node, node.isLeaf else { return }
        if let g { precondition(g.shape == shape, "gradient shape \(g.shape) != \(shape)") }
        node.grad = g?.detached()
    }

    /// Whether this tensor is a leaf of the tape (created by `requiringGrad`).
    public var isLeaf: Bool { node?.isLeaf ?? true }

    /// Wraps a freshly computed value into the tape.
    ///
    /// - Parameters:
    ///   - op: the operation's name.
    ///   - inputs: the operation's tensor inputs; the closure returns one gradient per input.
    ///   - backward: maps the output gradient to input gradients. It is called only if some input
    ///     requires a gradient, and its result is ignored for inputs that do not; it must capture
    ///     only what those gradients need (check `requiresGrad` of each input before capturing).
    static func record(_ value: Tensor, op: String, inputs: [Tensor],
                       backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return value }
        var out = value
        out.node = GradNode(op: op, shape: value.shape, parents: inputs.map { $0.node }, backward: backward)
        return out
    }

    /// `record` for an operation whose backward adds to its inputs' gradients itself: `backward`
    /// receives the output's gradient and each input's gradient so far (nil if none), and leaves
    /// each input's new total in its place. It may take a gradient out (`take()`) and write it in
    /// place when nothing else refers to its memory (`isKnownUniquelyReferenced`).
    static func recordAccumulating(_ value: Tensor, op: String, inputs: [Tensor],
                                   backward: @escaping (Tensor, inout [Tensor?]) -> Void) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return value }
        var out = value
        out.node = GradNode(op: op, shape: value.shape, parents: inputs.map { $0.node }, accumulatingBackward: backward)
        return out
    }

    /// Computes gradients of this scalar with respect to every leaf that requires one, adding
    /// them to the leaves' `grad`. The recorded graph is released afterwards.
    /// - Parameter gradient: the seed gradient; defaults to 1 for a one-element tensor.
    public func backward(_ gradient: Tensor? = nil) {
        guard let root = node else {
            preconditionFailure("backward() on a tensor that does not require a gradient")
        }
        let seed: Tensor
        if let gradient {
            precondition(gradient.shape == shape, "seed gradient shape \(gradient.shape) != \(shape)")
            seed = gradient.detached()
        } else {
            precondition(count == 1, "backward() without a seed needs a one-element tensor, shape is \(shape)")
            seed = Tensor.full(1, shape: shape)
        }
        withNoGrad {
            if root.isLeaf { root.accumulate(seed); return }
            let order = topologicalOrder(from: root)
            root.grad = seed
            for node in order.reversed() {
                guard !node.isLeaf else { continue }
                guard let g = node.grad else { node.release(); continue }
                node.propagate(g)
                node.release()
            }
        }
    }
}

/// Nodes reachable from `root`, each after all of its parents (iterative DFS, no recursion limit).
private func topologicalOrder(from root: GradNode) -> [GradNode] {
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(GradNode, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (node, i) = stack.popLast() {
        if i < node.parents.count {
            stack.append((node, i + 1))
            if let p = node.parents[i], !visited.contains(ObjectIdentifier(p)) {
                visited.insert(ObjectIdentifier(p))
                stack.append((p, 0))
            }
        } else {
            order.append(node)
        }
    }
    return order
}
