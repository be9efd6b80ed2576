import Tensor

/// The base of every layer and model.
///
/// Parameters, buffers and child modules are found by reflection over stored properties: a
/// property wrapped in `@Parameter`, `@OptionalParameter` or `@Buffer` is state, and a property
/// of a `Module` type (plainly, or wrapped in `@Child`, `@OptionalChild`, `@ChildList` to be
/// replaceable), or an array of modules, is a child. Keys are the property names unless a wrapper
/// renames them, and join with dots into the reference implementation's state-dict keys
/// (`layer1.0.conv1.weight`). Model code never mentions LoRA: adapters are injected by replacing
/// children through the tree (`replaceModule(at:with:)`).
open class Module {
    /// Whether the module is in training mode (dropout active, batch norm on batch statistics).
    public private(set) var isTraining = true

    public init() {}

    // MARK: - Reflection

    /// One item found on a module.
    public enum Item {
        case parameter(ParameterSlot)
        case buffer(BufferSlot)
        case child(Module, slot: ChildSlot?)
        case children([Module], slot: ChildListSlot?)
    }

    /// This module's own items with their keys, in declaration order (superclass first).
    open func items() -> [(key: String, item: Item)] {
        var mirrors: [Mirror] = []
        var m: Mirror? = Mirror(reflecting: self)
        while let mirror = m { mirrors.append(mirror); m = mirror.superclassMirror }
        var out: [(String, Item)] = []
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard let label = child.label else { continue }
                let name = label.hasPrefix("_") ? String(label.dropFirst()) : label
                switch child.value {
                case let p as ParameterSlot:
                    out.append((p.key ?? name, .parameter(p)))
                case let b as BufferSlot:
                    out.append((b.key ?? name, .buffer(b)))
                case let c as ChildSlot:
                    if let module = c.module { out.append((c.key ?? name, .child(module, slot: c))) }
                case let l as ChildListSlot:
                    out.append((l.key ?? name, .children(l.modules, slot: l)))
                case let module as Module:
                    out.append((name, .child(module, slot: nil)))
                case let list as [Module]:
                    out.append((name, .children(list, slot: nil)))
                default:
                    continue
                }
            }
        }
        return out
    }

    /// Direct children with their keys (list elements keyed `name.0`, `name.1`, …).
    public func children() -> [(key: String, module: Module)] {
        var out: [(String, Module)] = []
        for (key, item) in items() {
            switch item {
            case let .child(m, _): out.append((key, m))
            case let .children(list, _):
                for (i, m) in list.enumerated() { out.append((join(key, String(i)), m)) }
            default: break
            }
        }
        return out
    }

    /// Every module in the tree with its dotted path ("" for this module), parents first.
    public func namedModules(prefix: String = "") -> [(key: String, module: Module)] {
        var out: [(String, Module)] = [(prefix, self)]
        for (key, child) in children() {
            out.append(contentsOf: child.namedModules(prefix: join(prefix, key)))
        }
        return out
    }

    /// Every parameter slot with its dotted key.
    public func namedParameterSlots(prefix: String = "") -> [(key: String, slot: ParameterSlot)] {
        var out: [(String, ParameterSlot)] = []
        for (key, item) in items() {
            if case let .parameter(p) = item, p.tensor != nil { out.append((join(prefix, key), p)) }
        }
        for (key, child) in children() {
            out.append(contentsOf: child.namedParameterSlots(prefix: join(prefix, key)))
        }
        return out
    }

    /// Every buffer slot with its dotted key.
    public func namedBufferSlots(prefix: String = "") -> [(key: String, slot: BufferSlot)] {
        var out: [(String, BufferSlot)] = []
        for (key, item) in items() {
            if case let .buffer(b) = item { out.append((join(prefix, key), b)) }
        }
        for (key, child) in children() {
            out.append(contentsOf: child.namedBufferSlots(prefix: join(prefix, key)))
        }
        return out
    }

    /// Parameters with their keys.
    public func namedParameters() -> [(key: String, tensor: Tensor)] {
        namedParameterSlots().compactMap { k, s in s.tensor.map { (k, $0) } }
    }

    /// Parameters that receive gradients, with their keys.
    public func trainableParameters() -> [(key: String, slot: ParameterSlot)] {
        namedParameterSlots().filter { $0.slot.isTrainable }
    }

    /// Number of parameter elements, with the frozen weights modules hold outside their
    /// parameters (`frozenWeightCount`: quantised matrices).
    public var parameterCount: Int {
        namedParameters().reduce(0) { $0 + $1.tensor.count } + namedModules().reduce(0) { $0 + $1.module.frozenWeightCount }
    }

    /// Elements of frozen weights this module (not its children) holds outside its parameter
    /// slots — a quantised matrix that a state dict does not carry — for parameter counts. 0 by default.
    open var frozenWeightCount: Int { 0 }

    /// Number of trainable parameter elements.
    public var trainableParameterCount: Int {
        namedParameterSlots().reduce(0) { $0 + ($1.slot.isTrainable ? ($1.slot.tensor?.count ?? 0) : 0) }
    }

    // MARK: - Modes

    /// Switches this module and its children to training (`true`) or evaluation mode.
    public func train(_ flag: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = flag }
    }

    /// Switches to evaluation mode.
    public func eval() { train(false) }

    // MARK: - Freezing

    /// Freezes every parameter whose key matches one of `patterns` (all when nil). A pattern is an
    /// exact key, a prefix ending in `.` or a glob with `*` (any characters) and `?`.
    public func freeze(keys patterns: [String]? = nil) { setTrainable(false, patterns) }

    /// Unfreezes every parameter whose key matches one of `patterns` (all when nil).
    public func unfreeze(keys patterns: [String]? = nil) { setTrainable(true, patterns) }

    private func setTrainable(_ flag: Bool, _ patterns: [String]?) {
        for (key, slot) in namedParameterSlots()
        where patterns == nil || patterns!.contains(where: { KeyPattern.matches($0, key) }) {
            slot.setTrainable(flag)
        }
    }

    // MARK: - Replacing modules

    /// Replaces the module at a dotted path. The parent must hold it in a `@Child`,
    /// `@OptionalChild` or `@ChildList` property, and `newModule` must fit the declared type.
    public func replaceModule(at path: String, with newModule: Module) throws {
        let parts = path.split(separator: ".").map(String.init)
        guard !parts.isEmpty else { throw ModuleError.cannotReplace(key: path, reason: "empty path") }
        // Find the parent and the remaining key, which may be "list.3".
        for split in stride(from: parts.count - 1, through: 0, by: -1) {
            let parentPath = parts[..<split].joined(separator: ".")
            let rest = parts[split...].joined(separator: ".")
            guard let parent = namedModules().first(where: { $0.key == parentPath })?.module else { continue }
            for (key, item) in parent.items() {
                switch item {
                case let .child(_, slot) where key == rest:
                    guard let slot else {
                        throw ModuleError.cannotReplace(key: path, reason:
                            "declare it with @Child (a plain stored property cannot be replaced)")
                    }
                    guard slot.replace(with: newModule) else {
                        throw ModuleError.cannotReplace(key: path, reason:
                            "\(type(of: newModule)) does not fit the property's declared type")
                    }
                    return
                case let .children(list, slot) where key.isEmpty || rest.hasPrefix(key + "."):
                    let indexText = key.isEmpty ? rest : String(rest.dropFirst(key.count + 1))
                    guard let index = Int(indexText), list.indices.contains(index) else { continue }
                    guard let slot else {
                        throw ModuleError.cannotReplace(key: path, reason: "declare the list with @ChildList")
                    }
                    guard slot.replace(at: index, with: newModule) else {
                        throw ModuleError.cannotReplace(key: path, reason:
                            "\(type(of: newModule)) does not fit the list's element type")
                    }
                    return
                default: continue
                }
            }
        }
        throw ModuleError.cannotReplace(key: path, reason: "no module at this path")
    }

    /// This module's own parameter slot with key `key` (not a descendant's).
    public func parameterSlot(_ key: String) -> ParameterSlot? {
        for (k, item) in items() { if k == key, case let .parameter(p) = item { return p } }
        return nil
    }

    /// The module at a dotted path, if any.
    public func module(at path: String) -> Module? {
        namedModules().first { $0.key == path }?.module
    }
}

func join(_ prefix: String, _ key: String) -> String {
    prefix.isEmpty ? key : key.isEmpty ? prefix : prefix + "." + key
}

/// A module that maps one tensor to one tensor (usable in `Sequential`).
public protocol UnaryLayer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
}

/// Matching of dotted keys against user patterns.
public enum KeyPattern {
    /// Whether `key` matches `pattern`: exact, a prefix ending in ".", or a glob (`*`, `?`).
    public static func matches(_ pattern: String, _ key: String) -> Bool {
        if pattern == key { return true }
        if pattern.hasSuffix("."), key.hasPrefix(pattern) { return true }
        if pattern.contains("*") || pattern.contains("?") { return glob(Array(pattern), Array(key)) }
        return false
    }

    /// Glob matching with `*` (any run of characters, dots included) and `?` (one character).
    public static func glob(_ p: [Character], _ s: [Character]) -> Bool {
        var pi = 0, si = 0, star = -1, mark = 0
        while si < s.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == s[si]) { pi += 1; si += 1 }
            else if pi < p.count && p[pi] == "*" { star = pi; mark = si; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; si = mark }
            else { return false }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
