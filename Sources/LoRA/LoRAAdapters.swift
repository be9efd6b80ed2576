import NN
import Tensor

/// The adapters of one host, by name in the order added, with which of them run: the part of
/// every host that is the same for all layer kinds (PEFT keeps it in `LoraLayer`'s dicts and
/// `active_adapters`/`merged_adapters`).
///
/// As a module its children are the adapters keyed by name, so a host holding it as `adapters`
/// has parameter keys `adapters.<name>.lora_A.weight`, `…lora_B.weight`, `…lora_magnitude_vector`.
/// Adapters are added and removed through the host (`LoRAHost.addAdapter`, `deleteAdapter`),
/// which keeps the base weight and the merged list consistent.
public final class LoRAAdapters: Module {
    private let dictionary = ModuleDict<LoRAAdapter>()
    /// Adapters applied in the forward pass, in order.
    public var active: [String] = []
    /// When true, the host behaves as its base layer (unmerged adapters are skipped).
    public var isDisabled = false
    /// Adapters whose delta is currently merged into the base weight, in merge order.
    public internal(set) var merged: [String] = []

    public override init() { super.init() }

    /// The adapter named `name`, if any.
    public subscript(name: String) -> LoRAAdapter? { dictionary[name] }

    /// Adapter names in the order added.
    public var names: [String] { dictionary.names }
    /// Adapters with their names, in the order added.
    public var entries: [(name: String, module: LoRAAdapter)] { dictionary.entries }
    public var isEmpty: Bool { dictionary.isEmpty }

    /// Adapters to apply in the forward pass: active and not merged, unless disabled.
    public var forwardAdapters: [LoRAAdapter] {
        guard !isDisabled else { return [] }
        return active.compactMap { name in merged.contains(name) ? nil : dictionary[name] }
    }

    /// Adds `adapter` as `name` and makes it active alongside the others.
    func insert(_ adapter: LoRAAdapter, as name: String) {
        precondition(dictionary[name] == nil, "adapter '\(name)' exists; hosts check before inserting")
        dictionary[name] = adapter
        active.append(name)
    }

    /// Adds `adapter` as `name` without activating it (weighted combinations).
    func set(_ adapter: LoRAAdapter, as name: String) { dictionary[name] = adapter }

    /// Removes adapter `name` from the adapters and the active list (not from `merged`: the host
    /// unmerges first).
    func remove(_ name: String) {
        dictionary[name] = nil
        active.removeAll { $0 == name }
    }

    public override func items() -> [(key: String, item: Item)] { dictionary.items() }
}
