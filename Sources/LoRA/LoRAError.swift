/// Errors of the LoRA core; each names the layer key, adapter, file or field involved.
public enum LoRAError: Error, Equatable, CustomStringConvertible {
    case invalidConfig(String)
    /// A target pattern matched no layer.
    case targetMatchedNothing(pattern: String, candidates: [String])
    /// A matched layer has no LoRA form.
    case notAdaptable(key: String, type: String)
    case unknownAdapter(String, available: [String])
    case duplicateAdapter(String)
    /// A merge would produce non-finite weights.
    case nonFiniteMerge(key: String, adapter: String)
    /// An operation the layer cannot do (e.g. merging a grouped conv adapter).
    case unsupported(key: String, reason: String)
    /// An adapter file or config is malformed.
    case invalidAdapterFile(path: String, reason: String)
    /// A tensor in an adapter file does not fit the layer.
    case shapeMismatch(key: String, expected: [Int], got: [Int])

    public var description: String {
        switch self {
        case let .invalidConfig(m): return "invalid LoRA configuration: \(m)"
        case let .targetMatchedNothing(p, candidates):
            let hint = candidates.isEmpty ? "" : " (adaptable layers include: \(candidates.prefix(8).joined(separator: ", ")))"
            return "target module pattern '\(p)' matched no layer\(hint)"
        case let .notAdaptable(key, type): return "layer \(key) of type \(type) has no LoRA form"
        case let .unknownAdapter(name, available):
            return "no adapter named '\(name)' (adapters: \(available.joined(separator: ", ")))"
        case let .duplicateAdapter(name): return "an adapter named '\(name)' already exists"
        case let .nonFiniteMerge(key, adapter): return "merging adapter '\(adapter)' into \(key) gives non-finite weights; nothing was changed"
        case let .unsupported(key, reason): return "\(key): \(reason)"
        case let .invalidAdapterFile(path, reason): return "\(path): \(reason)"
        case let .shapeMismatch(key, expected, got): return "\(key): expected shape \(expected), got \(got)"
        }
    }
}
