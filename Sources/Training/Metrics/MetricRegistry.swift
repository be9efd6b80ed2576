/// The metrics a run can name, from the names recipes use to factories of fresh `Metric`s.
///
/// A value owned by the run, not a global: start from `MetricRegistry.builtIn`, let plugins
/// `register` more, and hand it to whatever builds the run. Built-in names:
///
/// | name                | metric                                     | better |
/// |---------------------|--------------------------------------------|--------|
/// | `accuracy`          | `Accuracy` (argmax, first maximum)         | higher |
/// | `top<k>_accuracy`   | `TopKAccuracy(k:)` for any k ≥ 1, e.g. `top5_accuracy` | higher |
/// | `macro_precision`   | `MacroPrecision`                           | higher |
/// | `macro_recall`      | `MacroRecall`                              | higher |
/// | `macro_f1`          | `MacroF1`                                  | higher |
/// | `roc_auc`           | `ROCAUC` (binary, or macro one-vs-rest)    | higher |
/// | `qwk`               | `QuadraticWeightedKappa`                   | higher |
/// | `perplexity`        | `Perplexity`                               | lower  |
///
/// Every built-in skips labels equal to −100 (PyTorch's and `crossEntropy`'s ignore index).
/// A factory should return a metric whose `name` is the name it is registered under, so that
/// reports use the recipe's names.
public struct MetricRegistry {
    /// Makes a fresh metric (no samples).
    public typealias Factory = () -> any Metric
    /// Makes the metric a name denotes, or `nil` when the name is not of this family.
    public typealias Pattern = (String) -> (any Metric)?

    private var factories: [String: Factory] = [:]
    private var patterns: [(description: String, make: Pattern)] = []

    /// An empty registry.
    public init() {}

    /// The built-in metrics (see the table above).
    public static var builtIn: MetricRegistry {
        var registry = MetricRegistry()
        registry.factories = [
            "accuracy": { Accuracy() },
            "macro_precision": { MacroPrecision() },
            "macro_recall": { MacroRecall() },
            "macro_f1": { MacroF1() },
            "roc_auc": { ROCAUC() },
            "qwk": { QuadraticWeightedKappa() },
            "perplexity": { Perplexity() },
        ]
        registry.patterns = [("top<k>_accuracy", { name in
            guard name.hasPrefix("top"), name.hasSuffix("_accuracy"),
                  let k = Int(name.dropFirst(3).dropLast(9)), k >= 1,
                  name == "top\(k)_accuracy"  // no "top05_accuracy" or "top+5_accuracy"
            else { return nil }
            return TopKAccuracy(k: k)
        })]
        return registry
    }

    /// The exact names registered, sorted.
    public var names: [String] { factories.keys.sorted() }

    /// The name families registered with `register(pattern:_:)`, e.g. `"top<k>_accuracy"`.
    public var patternDescriptions: [String] { patterns.map(\.description) }

    /// Whether `name` denotes a metric (an exact name or a member of a family).
    public func contains(_ name: String) -> Bool { (try? make(name)) != nil }

    /// Adds a metric under `name`.
    /// - Throws: `MetricError.invalidName` for an empty name or one with whitespace;
    ///   `MetricError.duplicateName` when the name is taken and `replacing` is false.
    public mutating func register(_ name: String, replacing: Bool = false, factory: @escaping Factory) throws {
        guard !name.isEmpty, !name.contains(where: \.isWhitespace) else { throw MetricError.invalidName(name) }
        if factories[name] != nil && !replacing { throw MetricError.duplicateName(name) }
        factories[name] = factory
    }

    /// Adds a family of names, such as `"recall_at_<k>"`: `make` turns a name of the family into
    /// a metric and returns `nil` for other names. Exact names are looked up first, then
    /// families in the order they were registered.
    /// - Parameter description: how the names look, for listings and error messages.
    public mutating func register(pattern description: String, _ make: @escaping Pattern) {
        patterns.append((description, make))
    }

    /// A fresh metric for `name`.
    /// - Throws: `MetricError.unknownName`, with the nearest known name as a suggestion.
    public func make(_ name: String) throws -> any Metric {
        if let factory = factories[name] { return factory() }
        for pattern in patterns {
            if let metric = pattern.make(name) { return metric }
        }
        throw MetricError.unknownName(name, suggestion: nearest(to: name), known: names + patternDescriptions)
    }

    /// Fresh metrics for `names`, in order.
    public func make(_ names: [String]) throws -> [any Metric] { try names.map { try make($0) } }

    private func nearest(to name: String) -> String? {
        let candidates = names + patternDescriptions
        let scored = candidates.map { ($0, editDistance(name, $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, name.count / 3) else { return nil }
        return best.0
    }
}

/// Errors of metric lookup and registration.
public enum MetricError: Error, Equatable, CustomStringConvertible {
    /// No metric has this name; `suggestion` is the nearest known one, `known` all of them.
    case unknownName(String, suggestion: String?, known: [String])
    /// The name is already registered.
    case duplicateName(String)
    /// The name is empty or contains whitespace.
    case invalidName(String)

    public var description: String {
        switch self {
        case let .unknownName(name, suggestion, known):
            let hint = suggestion.map { " Did you mean '\($0)'?" } ?? ""
            return "unknown metric '\(name)'.\(hint) Known metrics: \(known.joined(separator: ", "))"
        case let .duplicateName(name):
            return "a metric named '\(name)' is already registered (register with replacing: true to override it)"
        case let .invalidName(name):
            return "invalid metric name '\(name)': names are non-empty and contain no whitespace"
        }
    }
}

/// Levenshtein distance (insertions, deletions, substitutions), for suggestions.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1,
                                   previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
