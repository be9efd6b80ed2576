import NN
import Tensor

/// Mixed-adapter batches (the S-LoRA / Punica approach to serving many adapters on one base): each
/// row of a batch names its own adapter (or none, for the base), the base layers run once over
/// the whole batch, and every LoRA host adds to each row only the low-rank update of that row's
/// adapter. Saved modules (heads, norms an adapter trains in full) run per adapter on their rows
/// through `RoutedSavedModules`.
///
///     let logits = LoRARouting.withRows(["clinic-a", nil, "clinic-b"]) { model(x) }
///
/// Routing is a task-local value read by the forward pass; inference only (no dropout, no tape).
public enum LoRARouting {
    @TaskLocal public static var rows: [String?]? = nil

    /// Runs `body` with `rows` as the adapter of each batch row.
    public static func withRows<R>(_ rows: [String?], _ body: () throws -> R) rethrows -> R {
        try $rows.withValue(rows, operation: body)
    }

    /// The routing of a tensor whose first axis has `count` rows: the batch's, or each batch row's
    /// repeated when a layer sees the batch flattened with another axis (`[N·T, …]`, row-major).
    static func routing(forRows count: Int) -> [String?]? {
        guard let rows = rows, !rows.isEmpty else { return nil }
        if count == rows.count { return rows }
        precondition(count % rows.count == 0,
                     "LoRARouting: a layer sees \(count) rows for a batch of \(rows.count); mixed-adapter batches need batch-major inputs")
        let k = count / rows.count
        return rows.flatMap { [String?](repeating: $0, count: k) }
    }

    /// Runs `apply` once per distinct route (in first-appearance order) with the indices of its
    /// rows, and reassembles the outputs (each `[its rows, …]`) in row order.
    static func perRoute(_ routing: [String?], _ apply: (String?, [Int]) throws -> Tensor) rethrows -> Tensor {
        var groups: [(name: String?, rows: [Int])] = []
        for (i, name) in routing.enumerated() {
            if let g = groups.firstIndex(where: { $0.name == name }) { groups[g].rows.append(i) } else { groups.append((name, [i])) }
        }
        if groups.count == 1 { return try apply(groups[0].name, groups[0].rows) }
        var outputs: [Tensor] = [], order: [Int] = []
        for g in groups {
            outputs.append(try apply(g.name, g.rows))
            order += g.rows
        }
        let joined = Tensor.concat(outputs, axis: 0)
        // Rows already grouped by route (a server sorts them so) need no reordering.
        if order.elementsEqual(0..<order.count) { return joined }
        var inverse = [Int](repeating: 0, count: order.count)
        for (position, row) in order.enumerated() { inverse[row] = position }
        // Cannot fail: `inverse` is a permutation of the joined rows.
        return try! joined.indexSelect(axis: 0, indices: inverse)
    }

    /// The rows `rows` of `x` (all of it when they are all; a slice when they are consecutive).
    static func rows(_ x: Tensor, _ rows: [Int]) -> Tensor {
        if rows.count == x.shape[0] { return x }
        if let first = rows.first, rows.last == first + rows.count - 1 { return x.slice(axis: 0, start: first, end: first + rows.count) }
        // Cannot fail: `routing(forRows:)` gave one route per row of `x`, so the indices are its rows.
        return try! x.indexSelect(axis: 0, indices: rows)
    }
}

extension LoRAHost {
    /// `applyAdapters` for a routed batch: the base output `y` of every row, plus, on the rows of
    /// each adapter, that adapter's update.
    func applyRoutedAdapters(to y: Tensor, input x: Tensor, routing: [String?],
                             _ add: (_ y: inout Tensor, _ h: Tensor, _ adapter: LoRAAdapter) throws -> Void) rethrows -> Tensor {
        try LoRARouting.perRoute(routing) { name, rows in
            var ys = LoRARouting.rows(y, rows)
            guard let name, let adapter = adapters[name], !adapters.merged.contains(name) else { return ys }
            let xs = LoRARouting.rows(x, rows)
            if let variant = adapter.variant { ys = variant.forward(ys, input: xs, adapter: adapter, host: self) } else { try add(&ys, xs, adapter) }
            return ys
        }
    }
}

/// A saved module in a routed batch: each adapter's own values (trained in full with it) applied to
/// that adapter's rows, the base values to rows without an adapter. Replaces the module in the
/// tree (a subclass, so it fits its declared type and keeps its keys); `LoRAModel
/// .routeSavedModules` installs it.
public protocol RoutedSavedModule: Module {
    /// Per adapter, the module's own state (keys relative to it).
    var variants: [String: [String: Tensor]] { get set }
    /// The base model's state of the module.
    var baseState: [String: Tensor] { get }
    /// Whose values the module holds now: nil for the base, else an adapter's name.
    var loadedRoute: String? { get set }
}

extension RoutedSavedModule {
    /// `forward` per route with each route's values in place (switched only when the route
    /// changes, so that batches of one adapter pay nothing); outside a routed batch, the base's.
    func routed(_ x: Tensor, _ forward: (Tensor) -> Tensor) -> Tensor {
        guard let routing = LoRARouting.routing(forRows: x.shape.first ?? 0) else {
            use(nil)
            return forward(x)
        }
        return LoRARouting.perRoute(routing) { name, rows in
            use(name.flatMap { variants[$0] == nil ? nil : $0 })
            return forward(LoRARouting.rows(x, rows))
        }
    }

    func use(_ route: String?) {
        guard route != loadedRoute else { return }
        // Cannot fail: every variant is the module's own state with values checked to fit it
        // (`routeSavedModules`).
        try! load(route.flatMap { variants[$0] } ?? baseState, strict: true)
        loadedRoute = route
    }
}

public final class RoutedLinear: Linear, RoutedSavedModule {
    public var variants: [String: [String: Tensor]] = [:]
    public var loadedRoute: String?
    public let baseState: [String: Tensor]
    init(_ base: Linear) {
        baseState = base.stateDict()
        super.init(weight: base.weight, bias: base.bias)
        train(base.isTraining)
    }
    public override func callAsFunction(_ x: Tensor) -> Tensor { routed(x) { super.callAsFunction($0) } }
}

public final class RoutedConv2d: Conv2d, RoutedSavedModule {
    public var variants: [String: [String: Tensor]] = [:]
    public var loadedRoute: String?
    public let baseState: [String: Tensor]
    init(_ base: Conv2d) {
        baseState = base.stateDict()
        super.init(weight: base.weight, bias: base.bias, stride: base.stride, padding: base.padding, dilation: base.dilation, groups: base.groups)
        train(base.isTraining)
    }
    public override func callAsFunction(_ x: Tensor) -> Tensor { routed(x) { super.callAsFunction($0) } }
}

public final class RoutedBatchNorm2d: BatchNorm2d, RoutedSavedModule {
    public var variants: [String: [String: Tensor]] = [:]
    public var loadedRoute: String?
    public let baseState: [String: Tensor]
    init(_ base: BatchNorm2d) {
        baseState = base.stateDict()
        super.init(base.featureCount, epsilon: base.epsilon, momentum: base.momentum, affine: base.weight != nil)
        try! load(baseState, strict: true)
        train(base.isTraining)
    }
    public override func callAsFunction(_ x: Tensor) -> Tensor { routed(x) { super.callAsFunction($0) } }
}

public final class RoutedLayerNorm: LayerNorm, RoutedSavedModule {
    public var variants: [String: [String: Tensor]] = [:]
    public var loadedRoute: String?
    public let baseState: [String: Tensor]
    init(_ base: LayerNorm) {
        baseState = base.stateDict()
        super.init(shape: base.shape, epsilon: base.epsilon, affine: base.weight != nil, bias: base.bias != nil)
        try! load(baseState, strict: true)
        train(base.isTraining)
    }
    public override func callAsFunction(_ x: Tensor) -> Tensor { routed(x) { super.callAsFunction($0) } }
}

extension LoRAModel {
    /// Gives adapter `name` its saved-module `values` (full keys, as `savedModuleState` lists them)
    /// in routed batches: each module they belong to is replaced once by its routed form, which
    /// keeps the base values for rows without an adapter.
    /// - Throws: `LoRAError.unsupported` naming a saved module that cannot be routed (only Linear,
    ///   Conv2d, BatchNorm2d and LayerNorm can), with nothing changed.
    public func routeSavedModules(of name: String, values: [String: Tensor]) throws {
        var byModule: [String: [String: Tensor]] = [:]
        let modules = model.namedModules()
        for (key, value) in values {
            guard let owner = modules.map(\.key).filter({ $0.isEmpty || key.hasPrefix($0 + ".") })
                .max(by: { $0.count < $1.count }) else { continue }
            byModule[owner, default: [:]][owner.isEmpty ? key : String(key.dropFirst(owner.count + 1))] = value
        }
        let lookup = Dictionary(modules.map { ($0.key, $0.module) }, uniquingKeysWith: { a, _ in a })
        var plan: [(String, RoutedSavedModule)] = []
        for (path, _) in byModule.sorted(by: { $0.key < $1.key }) {
            switch lookup[path] {
            case let routed as RoutedSavedModule: plan.append((path, routed))
            case let m as Linear where !(m is LoRAHost): plan.append((path, RoutedLinear(m)))
            case let m as Conv2d where !(m is LoRAHost): plan.append((path, RoutedConv2d(m)))
            case let m as BatchNorm2d: plan.append((path, RoutedBatchNorm2d(m)))
            case let m as LayerNorm: plan.append((path, RoutedLayerNorm(m)))
            case let m?: throw LoRAError.unsupported(key: path, reason: "a saved module of type \(type(of: m)) cannot be routed per row")
            case nil: throw LoRAError.unsupported(key: path, reason: "no such module")
            }
        }
        // Every value fits its module (so that switching values in a forward pass cannot fail).
        for (path, routed) in plan {
            for (key, value) in byModule[path] ?? [:] {
                guard let base = routed.baseState[key] else {
                    throw LoRAError.unsupported(key: path + "." + key, reason: "the module has no such tensor")
                }
                guard base.shape == value.shape else { throw LoRAError.shapeMismatch(key: path + "." + key, expected: base.shape, got: value.shape) }
            }
        }
        for (path, routed) in plan {
            routed.variants[name] = routed.baseState.merging(byModule[path] ?? [:]) { _, own in own }
            if !(lookup[path] is RoutedSavedModule) { try model.replaceModule(at: path, with: routed) }
        }
    }

    /// Puts the base values back into every routed saved module (after something wrote into them,
    /// such as loading an adapter file).
    public func resetRoutedModules() {
        for (_, m) in model.namedModules() {
            guard let routed = m as? RoutedSavedModule else { continue }
            try! routed.load(routed.baseState, strict: true)
            routed.loadedRoute = nil
        }
    }

    /// Forgets adapter `name`'s saved-module values in routed batches.
    public func unrouteSavedModules(of name: String) {
        for (_, m) in model.namedModules() {
            guard let routed = m as? RoutedSavedModule else { continue }
            if routed.loadedRoute == name { routed.use(nil) }
            routed.variants[name] = nil
        }
    }
}
