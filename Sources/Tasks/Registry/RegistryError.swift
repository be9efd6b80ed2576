/// Errors of registries and plugins; each names what was asked for and what is known.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    /// No entry of this kind has the name; `known` lists those that do.
    case unknown(kind: String, name: String, known: [String])
    /// A plugin (or a built-in module) registered a name that is taken.
    case duplicate(kind: String, name: String, plugin: String)
    /// A plugin's `register(into:)` failed.
    case pluginFailed(name: String, reason: String)
    /// An option's value is not what its entry accepts; `key` is the recipe key
    /// (`model.options.pooling`, `data.transforms[1].size`).
    case invalidOption(key: String, reason: String)
    /// The entry of a name does not fit where the recipe uses it (a text data format for an image
    /// classifier).
    case mismatch(String)

    public var description: String {
        switch self {
        case let .unknown(kind, name, known):
            let list = known.isEmpty ? "none are registered" : "known: \(known.sorted().joined(separator: ", "))"
            return "unknown \(kind) '\(name)' (\(list))"
        case let .duplicate(kind, name, plugin):
            return "plugin \(plugin) registers \(kind) '\(name)', which is already registered"
        case let .pluginFailed(name, reason):
            return "plugin \(name) failed to load: \(reason)"
        case let .invalidOption(key, reason):
            return "\(key): \(reason)"
        case let .mismatch(message):
            return message
        }
    }
}
