import Tensor

/// Named child modules in insertion order (PyTorch's `nn.ModuleDict`): keys are the names.
public final class ModuleDict<M: Module>: Module {
    public private(set) var entries: [(name: String, module: M)] = []

    public override init() { super.init() }

    public subscript(name: String) -> M? {
        get { entries.first { $0.name == name }?.module }
        set {
            if let i = entries.firstIndex(where: { $0.name == name }) {
                if let newValue { entries[i].module = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((name, newValue))
            }
        }
    }

    public var names: [String] { entries.map(\.name) }
    public var isEmpty: Bool { entries.isEmpty }

    public override func items() -> [(key: String, item: Item)] {
        entries.map { ($0.name, .child($0.module, slot: EntrySlot(dict: self, name: $0.name))) }
    }

    /// Lets the module tree replace an entry (e.g. adapt a layer held in a dict).
    private final class EntrySlot: ChildSlot {
        let dict: ModuleDict<M>
        let name: String
        init(dict: ModuleDict<M>, name: String) { self.dict = dict; self.name = name }
        var key: String? { name }
        var module: Module? { dict[name] }
        func replace(with newModule: Module) -> Bool {
            guard let m = newModule as? M else { return false }
            dict[name] = m
            return true
        }
    }
}
