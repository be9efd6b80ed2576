import NN
import Tensor

// What SGD and AdamW share: checking their groups, walking the parameters that have gradients,
// and reading a checkpointed state back with checks.

/// Checks what every optimizer needs of its groups, as PyTorch's `add_param_group` does: unique
/// group names (they prefix the state keys), each parameter in one group only (the same slot or
/// the same storage: a tied weight must be updated once), non-negative learning rates and weight
/// decays, and at least one parameter.
func validateGroups(_ groups: [ParameterGroup]) throws {
    var names = Set<String>()
    var seenSlots: [ObjectIdentifier: String] = [:]
    var seenStorage: [StorageIdentity: String] = [:]
    for group in groups {
        guard names.insert(group.name).inserted else { throw OptimizerError.duplicateGroup(name: group.name) }
        try checkSetting("learningRate of group '\(group.name)'", Double(group.learningRate), group.learningRate >= 0,
                         "must be ≥ 0")
        try checkSetting("weightDecay of group '\(group.name)'", Double(group.weightDecay), group.weightDecay >= 0,
                         "must be ≥ 0")
        for (key, slot) in group.parameters {
            if let first = seenSlots.updateValue(group.name, forKey: ObjectIdentifier(slot)) {
                throw OptimizerError.duplicateParameter(key: key, firstGroup: first, secondGroup: group.name)
            }
            if let tensor = slot.tensor,
               let first = seenStorage.updateValue(group.name, forKey: StorageIdentity(tensor)) {
                throw OptimizerError.duplicateParameter(key: key, firstGroup: first, secondGroup: group.name)
            }
        }
    }
    guard groups.contains(where: { !$0.parameters.isEmpty }) else { throw OptimizerError.noParameters }
}

/// Throws `invalidSetting` unless `valid`.
func checkSetting(_ name: String, _ value: Double, _ valid: Bool, _ reason: String) throws {
    if !valid { throw OptimizerError.invalidSetting(name: name, value: value, reason: reason) }
}

/// Where a tensor's elements live: tied parameters share it.
struct StorageIdentity: Hashable {
    let storage: ObjectIdentifier
    /// The first element's address (the tensor's offset into its storage is internal to Tensor).
    let address: Int
    let shape: [Int]

    init(_ tensor: Tensor) {
        storage = ObjectIdentifier(tensor.storage)
        address = tensor.isBlocked || tensor.dtype != .float32 || tensor.count == 0 ? 0
            : tensor.withUnsafeMutableFloats { Int(bitPattern: $0.baseAddress) }
        shape = tensor.shape
    }
}

/// The prefix of a parameter's state keys: `"<group>.<parameter key>"`.
func stateKey(_ group: ParameterGroup, _ key: String) -> String { group.name + "." + key }

/// Reads a checkpointed `OptimizerState` with checks, remembering which keys were used so that
/// `finish()` can reject keys that belong to no parameter. Nothing is applied until every entry
/// has been read, so a failed load leaves the optimizer as it was.
struct StateReader {
    let state: OptimizerState
    private var used = Set<String>()

    init(_ state: OptimizerState) { self.state = state }

    /// A required scalar.
    mutating func scalar(_ key: String) throws -> Double {
        guard let value = state.scalars[key] else { throw OptimizerError.missingStateKey(key) }
        used.insert(key)
        return value
    }

    /// A required step count: a non-negative integer (at least `minimum`).
    mutating func count(_ key: String, minimum: Int = 0) throws -> Int {
        let value = try scalar(key)
        guard value.isFinite, value == value.rounded(), value >= Double(minimum), value < 1e15 else {
            throw OptimizerError.invalidStateValue(key: key, value: value)
        }
        return Int(value)
    }

    /// One parameter's entries `<prefix>.<name>`: nil when none is present (the parameter has no
    /// state yet, as when it never had a gradient); otherwise every tensor, as a private F32 copy of
    /// the parameter's shape, and every scalar. A partial entry throws.
    mutating func entry(_ prefix: String, tensors tensorNames: [String], scalars scalarNames: [String],
                        shape: [Int]) throws -> (tensors: [Tensor], scalars: [Double])? {
        let tensorKeys = tensorNames.map { prefix + "." + $0 }
        let scalarKeys = scalarNames.map { prefix + "." + $0 }
        let present = tensorKeys.contains { state.tensors[$0] != nil } || scalarKeys.contains { state.scalars[$0] != nil }
        guard present else { return nil }
        var tensors: [Tensor] = []
        for key in tensorKeys {
            guard let t = state.tensors[key] else { throw OptimizerError.missingStateKey(key) }
            guard t.shape == shape else {
                throw OptimizerError.stateShapeMismatch(key: key, expected: shape, found: t.shape)
            }
            used.insert(key)
            // A private copy: steps update it in place and must not change the caller's state.
            tensors.append(t.toFloat32().copy())
        }
        let scalars = try scalarKeys.map { try scalar($0) }
        return (tensors, scalars)
    }

    /// Throws for the first key (sorted, so the error is deterministic) that no entry used.
    func finish() throws {
        let unused = Set(state.tensors.keys).union(state.scalars.keys).subtracting(used)
        if let key = unused.sorted().first { throw OptimizerError.unexpectedStateKey(key) }
    }
}

/// Elements per chunk of the fused update loops: below this a tensor is updated on one thread
/// (a LoRA factor has a few thousand elements; waking the pool would cost more than the update).
let updateGrain = 1 << 15
