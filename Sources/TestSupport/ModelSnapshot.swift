import LoRA
import NN
import XCTest

/// Everything observable about a model that an operation could change: every parameter and
/// buffer bit for bit, each module's type, each parameter's trainable flag, each module's training
/// mode, and each LoRA host's adapters with their active and merged lists.
///
/// Take one before an operation that must be all or nothing, and compare after it failed:
///
///     let before = ModelSnapshot(model)
///     XCTAssertThrowsError(try lora.addAdapter(config: bad, generator: &rng))
///     assertUnchanged(model, since: before)
public struct ModelSnapshot: Equatable {
    /// Key → the bit patterns of its values (so -0 ≠ 0 and NaNs compare by payload).
    public let values: [String: [UInt32]]
    public let shapes: [String: [Int]]
    /// Module key ("" for the root) → type name.
    public let types: [String: String]
    public let trainable: [String: Bool]
    public let training: [String: Bool]
    /// Host key → its adapters' names, then the active and merged lists.
    public let adapters: [String: [[String]]]

    public init(_ model: Module) {
        let state = model.stateDict()
        values = state.mapValues { $0.toFloat32().scalars.map(\.bitPattern) }
        shapes = state.mapValues(\.shape)
        let modules = model.namedModules()
        types = Dictionary(uniqueKeysWithValues: modules.map { ($0.key, "\(type(of: $0.module))") })
        training = Dictionary(uniqueKeysWithValues: modules.map { ($0.key, $0.module.isTraining) })
        trainable = Dictionary(uniqueKeysWithValues: model.namedParameterSlots().map { ($0.key, $0.slot.isTrainable) })
        adapters = Dictionary(uniqueKeysWithValues: modules.compactMap { key, module in
            (module as? LoRAHost).map { (key, [$0.adapters.names, $0.adapters.active, $0.adapters.merged]) }
        })
    }

    /// What differs from `other`, one line per key (empty when equal).
    public func differences(from other: ModelSnapshot) -> [String] {
        func compare<V: Equatable>(_ name: String, _ a: [String: V], _ b: [String: V]) -> [String] {
            Set(a.keys).union(b.keys).sorted().compactMap { k in
                a[k] == b[k] ? nil : "\(name) \(k.isEmpty ? "(root)" : k): \(a[k].map { "\($0)" } ?? "absent") → \(b[k].map { "\($0)" } ?? "absent")"
            }
        }
        let changedValues = Set(values.keys).union(other.values.keys).sorted().filter { values[$0] != other.values[$0] }
        return changedValues.map { "values of \($0) changed" } + compare("shape", other.shapes, shapes)
            + compare("type", other.types, types) + compare("trainable", other.trainable, trainable)
            + compare("training", other.training, training) + compare("adapters", other.adapters, adapters)
    }
}

/// Fails, listing what differs, when `model` is not as `before` recorded it.
public func assertUnchanged(_ model: Module, since before: ModelSnapshot, _ message: String = "",
                            file: StaticString = #filePath, line: UInt = #line) {
    let differences = ModelSnapshot(model).differences(from: before)
    XCTAssertTrue(differences.isEmpty, "\(message) model changed: \(differences.prefix(12).joined(separator: "; "))",
                  file: file, line: line)
}
