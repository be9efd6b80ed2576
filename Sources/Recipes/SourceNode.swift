import Foundation
import Yams

/// A YAML node of a recipe with where it was written: the recipe's own tree, which survives
/// `extends` merges and overrides with every node still pointing into the file (or override)
/// it came from.
struct SourceNode {
    enum Value {
        /// A scalar's text; `plain` is false for quoted and block scalars, which are always strings.
        case scalar(String, plain: Bool)
        case mapping([Entry])
        case sequence([SourceNode])
    }

    struct Entry {
        var key: String
        var keyLocation: SourceLocation
        var value: SourceNode
    }

    var value: Value
    var location: SourceLocation
    /// The absolute directory relative paths in this node resolve against: its file's directory,
    /// or the working directory for an override.
    var directory: String

    /// `null`, `~` or empty: the key counts as absent.
    var isNull: Bool {
        if case let .scalar(text, plain) = value { return plain && ScalarSyntax.isNull(text) }
        return false
    }

    var entries: [Entry]? {
        if case let .mapping(entries) = value { return entries }
        return nil
    }

    /// A phrase for error messages: `the string "abc"`, `the integer 3`, `a list`, `a mapping`.
    var kindDescription: String {
        switch value {
        case let .scalar(text, plain):
            if plain && ScalarSyntax.isNull(text) { return "null" }
            guard plain else { return "the string \(Self.quote(text))" }
            switch RecipeValue.resolvePlain(text) {
            case .int: return "the integer \(text)"
            case .double: return "the float \(text)"
            case .bool: return "the boolean \(text)"
            default: return "the string \(Self.quote(text))"
            }
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    static func quote(_ text: String) -> String {
        let short = text.count > 60 ? String(text.prefix(57)) + "..." : text
        return "\"\(short)\""
    }
}

// MARK: - From YAML text

extension SourceNode {
    /// Parses one YAML document.
    /// - Parameters:
    ///   - yaml: the text.
    ///   - source: where the text came from, for locations.
    ///   - directory: the absolute directory relative paths in it resolve against.
    /// - Returns: nil for an empty document.
    /// - Throws: `RecipeError.syntax` with the line and column libYAML reports.
    static func parse(_ yaml: String, source: SourceLocation.Source, directory: String) throws -> SourceNode? {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw RecipeError.syntax(location: location(of: error, source: source), message: message(of: error))
        }
        return try node.map { try SourceNode($0, source: source, directory: directory) }
    }

    private init(_ node: Node, source: SourceLocation.Source, directory: String) throws {
        let location = SourceLocation(source: source, line: node.mark?.line, column: node.mark?.column)
        self.location = location
        self.directory = directory
        switch node {
        case let .scalar(scalar):
            value = .scalar(scalar.string, plain: scalar.style == .plain || scalar.style == .any)
        case let .sequence(sequence):
            value = .sequence(try sequence.map { try SourceNode($0, source: source, directory: directory) })
        case let .mapping(mapping):
            value = .mapping(try mapping.map { key, value in
                let keyLocation = SourceLocation(source: source, line: key.mark?.line, column: key.mark?.column)
                guard case let .scalar(scalar) = key else {
                    throw RecipeError.syntax(location: keyLocation, message: "a key must be a string, not a list or mapping")
                }
                return Entry(key: scalar.string, keyLocation: keyLocation,
                             value: try SourceNode(value, source: source, directory: directory))
            })
        case .alias:
            // `compose` resolves aliases to the anchored node; an alias here is unexpected YAML.
            throw RecipeError.syntax(location: location, message: "unresolved alias")
        }
    }

    private static func location(of error: YamlError, source: SourceLocation.Source) -> SourceLocation {
        switch error {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
            return SourceLocation(source: source, line: mark.line, column: mark.column)
        case let .duplicatedKeysInMapping(_, context):
            return SourceLocation(source: source, line: context.mark.line, column: context.mark.column)
        default:
            return SourceLocation(source: source)
        }
    }

    private static func message(of error: YamlError) -> String {
        switch error {
        case let .scanner(context, problem, _, _), let .parser(context, problem, _, _),
             let .composer(context, problem, _, _):
            return (context.map { "\($0.text) " } ?? "") + problem
        case let .duplicatedKeysInMapping(duplicates, _):
            return "duplicate key " + duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
        case let .reader(problem, _, _, _):
            return problem
        default:
            return "\(error)"
        }
    }
}

// MARK: - Merging

extension SourceNode {
    /// `child` laid over `base`, as `extends` does: mappings merge key by key (recursively),
    /// anything else in the child replaces what the base has; a child's `null` replaces too,
    /// so a child can remove a base's section (`lora: null`).
    static func merged(base: SourceNode, child: SourceNode) -> SourceNode {
        guard case var .mapping(entries) = base.value, case let .mapping(childEntries) = child.value else { return child }
        for entry in childEntries {
            if let i = entries.firstIndex(where: { $0.key == entry.key }) {
                entries[i] = Entry(key: entry.key, keyLocation: entry.keyLocation,
                                   value: merged(base: entries[i].value, child: entry.value))
            } else {
                entries.append(entry)
            }
        }
        var result = child
        result.value = .mapping(entries)
        return result
    }

    /// The node with every location, its own and its descendants', replaced by `location`.
    func relocated(to location: SourceLocation) -> SourceNode {
        var node = self
        node.location = location
        switch value {
        case .scalar: break
        case let .sequence(items): node.value = .sequence(items.map { $0.relocated(to: location) })
        case let .mapping(entries):
            node.value = .mapping(entries.map { Entry(key: $0.key, keyLocation: location, value: $0.value.relocated(to: location)) })
        }
        return node
    }

    /// The entry for `key`, if the node is a mapping that has it.
    subscript(key: String) -> SourceNode? {
        entries?.first(where: { $0.key == key })?.value
    }

    /// Removes `key` from a mapping; returns the removed entry.
    mutating func removeEntry(_ key: String) -> Entry? {
        guard case var .mapping(entries) = value, let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
        let entry = entries.remove(at: i)
        value = .mapping(entries)
        return entry
    }
}
