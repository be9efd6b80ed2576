import Foundation

/// Strict, schema-typed reading of a `SourceNode` tree: every value is read as the type its key
/// has (the text `8` is an integer for `rank` and a string for `task`), every mapping's keys are
/// checked against the keys its section allows, and every value read leaves its location in
/// `locations`, so that later checks can point at it.
final class RecipeDecoder {
    /// Dotted key → where its value (or section) was written.
    private(set) var locations: [String: SourceLocation] = [:]
    /// Dotted key → the directory its value's relative paths resolve against (the directory of the
    /// file that wrote it; the working directory for an override).
    private(set) var directories: [String: String] = [:]

    /// Reads the mapping at `path`, refusing keys outside `keys` (the first unknown key, in file
    /// order, is the error, with the nearest of `keys` as a suggestion).
    func section(_ node: SourceNode, path: String, keys: [String]) throws -> SectionReader {
        guard let entries = node.entries else { throw mismatch(path, node, "a mapping") }
        for entry in entries where !keys.contains(entry.key) {
            throw RecipeError.unknownKey(key: Self.join(path, entry.key), location: entry.keyLocation,
                                         suggestion: Suggestion.nearest(to: entry.key, in: keys), validKeys: keys)
        }
        locations[path] = node.location
        directories[path] = node.directory
        return SectionReader(decoder: self, node: node, path: path, entries: entries)
    }

    func record(_ key: String, _ node: SourceNode) {
        locations[key] = node.location
        directories[key] = node.directory
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func mismatch(_ key: String, _ node: SourceNode, _ expected: String) -> RecipeError {
        .typeMismatch(key: key, location: node.location, expected: expected, found: node.kindDescription)
    }

    // MARK: - Scalars

    /// The scalar's text, whatever YAML would make of it; lists, mappings and null are errors.
    func string(_ node: SourceNode, _ key: String) throws -> String {
        guard case let .scalar(text, plain) = node.value, !(plain && ScalarSyntax.isNull(text)) else {
            throw mismatch(key, node, "a string")
        }
        return text
    }

    /// A decimal integer; a whole number in exponent form (`1e4`) counts.
    func int(_ node: SourceNode, _ key: String) throws -> Int {
        guard case let .scalar(text, _) = node.value else { throw mismatch(key, node, "an integer") }
        let t = text.trimmingCharacters(in: .whitespaces)
        if let v = Int(t) { return v }
        if ScalarSyntax.looksNumeric(t), let d = Double(t), d.rounded() == d, abs(d) <= 9e15 { return Int(d) }
        throw mismatch(key, node, "an integer")
    }

    func unsigned(_ node: SourceNode, _ key: String) throws -> UInt64 {
        let expected = "a non-negative integer"
        guard case let .scalar(text, _) = node.value else { throw mismatch(key, node, expected) }
        guard let v = UInt64(text.trimmingCharacters(in: .whitespaces)) else { throw mismatch(key, node, expected) }
        return v
    }

    /// A finite decimal number.
    func double(_ node: SourceNode, _ key: String) throws -> Double {
        guard case let .scalar(text, _) = node.value else { throw mismatch(key, node, "a number") }
        let t = text.trimmingCharacters(in: .whitespaces)
        guard ScalarSyntax.looksNumeric(t), let v = Double(t), v.isFinite else { throw mismatch(key, node, "a number") }
        return v
    }

    func bool(_ node: SourceNode, _ key: String) throws -> Bool {
        guard case let .scalar(text, _) = node.value, let v = ScalarSyntax.booleanWords[text.lowercased()] else {
            throw mismatch(key, node, "a boolean (true or false)")
        }
        return v
    }

    /// One of an enumeration's raw values, with the nearest one suggested.
    func choice<E: RawRepresentable>(_ cases: [E]) -> (SourceNode, String) throws -> E where E.RawValue == String {
        { node, key in
            let names = cases.map(\.rawValue)
            let text = try self.string(node, key)
            if let value = E(rawValue: text) { return value }
            throw RecipeError.invalidValue(key: key, location: node.location,
                                           message: "expected one of \(names.joined(separator: ", ")), found \(SourceNode.quote(text))",
                                           suggestion: Suggestion.nearest(to: text, in: names))
        }
    }

    /// A path, resolved against the directory of the file (or override) that wrote it; `~` expands.
    func path(_ node: SourceNode, _ key: String) throws -> String {
        let text = try string(node, key)
        return Self.resolve(text, against: node.directory)
    }

    static func resolve(_ path: String, against directory: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let absolute = expanded.hasPrefix("/") ? expanded : (directory as NSString).appendingPathComponent(expanded)
        return URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    // MARK: - Collections

    /// A list whose elements are read by `element`; element keys are `key[i]`.
    func list<T>(_ element: @escaping (SourceNode, String) throws -> T, named: String)
        -> (SourceNode, String) throws -> [T] {
        { node, key in
            guard case let .sequence(items) = node.value else { throw self.mismatch(key, node, "a list of \(named)") }
            return try items.enumerated().map { i, item in
                let itemKey = "\(key)[\(i)]"
                self.record(itemKey, item)
                return try element(item, itemKey)
            }
        }
    }

    /// A mapping with keys of the user's choosing (`rank_pattern`, `options`); null values are dropped.
    func map<T>(_ value: @escaping (SourceNode, String) throws -> T, named: String)
        -> (SourceNode, String) throws -> [String: T] {
        { node, key in
            guard let entries = node.entries else { throw self.mismatch(key, node, "a mapping of \(named)") }
            var result: [String: T] = [:]
            for entry in entries where !entry.value.isNull {
                let entryKey = KeyPath.appending(entry.key, to: key)
                self.record(entryKey, entry.value)
                result[entry.key] = try value(entry.value, entryKey)
            }
            return result
        }
    }

    /// A free-form value, typed as YAML reads it (see `RecipeValue`).
    func freeForm(_ node: SourceNode, _ key: String) throws -> RecipeValue {
        switch node.value {
        case let .scalar(text, plain):
            if plain && ScalarSyntax.isNull(text) { throw mismatch(key, node, "a value") }
            return plain ? RecipeValue.resolvePlain(text) : .string(text)
        case let .sequence(items):
            return .list(try items.enumerated().map { i, item in try freeForm(item, "\(key)[\(i)]") })
        case .mapping:
            return .map(try map(freeForm, named: "values")(node, key))
        }
    }
}

/// The keys of one mapping, read by name; absent and null keys are the same.
struct SectionReader {
    let decoder: RecipeDecoder
    let node: SourceNode
    let path: String
    let entries: [SourceNode.Entry]

    func key(_ name: String) -> String { RecipeDecoder.join(path, name) }

    /// The value of `name`, nil when absent or null (a null still leaves its location, for
    /// errors about the missing value).
    func value(_ name: String) -> SourceNode? {
        guard let entry = entries.last(where: { $0.key == name }) else { return nil }
        decoder.record(key(name), entry.value)
        return entry.value.isNull ? nil : entry.value
    }

    /// Where a missing `name` should have been: its null value, or this section.
    func missingLocation(_ name: String) -> SourceLocation {
        entries.last(where: { $0.key == name })?.value.location ?? node.location
    }

    func optional<T>(_ name: String, _ read: (SourceNode, String) throws -> T) throws -> T? {
        guard let node = value(name) else { return nil }
        return try read(node, key(name))
    }

    func required<T>(_ name: String, reason: String? = nil, _ read: (SourceNode, String) throws -> T) throws -> T {
        guard let node = value(name) else {
            throw RecipeError.missingKey(key: key(name), location: missingLocation(name), reason: reason)
        }
        return try read(node, key(name))
    }

    func value<T>(_ name: String, default fallback: @autoclosure () -> T, _ read: (SourceNode, String) throws -> T) throws -> T {
        try optional(name, read) ?? fallback()
    }

    /// A nested section that may be absent (then read as an empty mapping).
    func section(_ name: String, keys: [String]) throws -> SectionReader {
        let child = value(name) ?? SourceNode(value: .mapping([]), location: missingLocation(name), directory: node.directory)
        return try decoder.section(child, path: key(name), keys: keys)
    }
}
