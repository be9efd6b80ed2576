/// A command-line override `dotted.key=value`, applied after `extends` and typed by the schema
/// when the recipe is decoded: `lora.rank=32` is an integer because `rank` is one,
/// `data.train=2024.csv` a string because `train` is a path.
///
/// Keys nest with `.` (a key that holds `.` or other syntax is double-quoted:
/// `lora.rank_pattern."layer4\\..*"=32`); list elements are addressed as `data.transforms[0].size`
/// (or `data.transforms.0.size`), and the index one past the end appends (to an empty list if the
/// key is absent). Values are plain text, except that a value starting with `[`, `{`, `"` or `'`
/// is YAML flow syntax:
/// `lora.target_modules=[conv1, conv2]`, `model.options={depth: 4}`, `task="text"`. An empty value
/// or `null` removes the key (`model.weights=null`).
public struct RecipeOverride: Equatable, Sendable, CustomStringConvertible {
    /// One step of a key path.
    public enum Component: Equatable, Sendable {
        case key(String)
        case index(Int)
    }

    /// The override as typed.
    public var text: String
    /// The part before the first `=`.
    public var key: String
    /// The part after the first `=`.
    public var value: String
    public var path: [Component]

    /// Parses `key=value`.
    /// - Throws: `RecipeError.invalidOverride` when there is no `=`, or the key has an empty part
    ///   or a malformed index.
    public init(parsing text: String) throws {
        guard let equals = KeyPath.firstEquals(in: text) else {
            throw RecipeError.invalidOverride(text, reason: "expected dotted.key=value")
        }
        self.text = text
        key = text[..<equals].trimmingCharacters(in: .whitespaces)
        value = text[text.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        path = try Self.components(of: key, text: text)
        if path.first == .key("extends") {
            throw RecipeError.invalidOverride(text, reason: "extends cannot be overridden; name the recipe to start from instead")
        }
    }

    public var description: String { text }

    private static func components(of key: String, text: String) throws -> [Component] {
        guard !key.isEmpty else { throw RecipeError.invalidOverride(text, reason: "the key is empty") }
        do {
            return try KeyPath.parse(key)
        } catch KeyPath.ParseError.malformedIndex {
            throw RecipeError.invalidOverride(text, reason: "malformed index in \"\(key)\" (write name[0])")
        } catch KeyPath.ParseError.unterminatedQuote {
            throw RecipeError.invalidOverride(text, reason: "unterminated quote in \"\(key)\"")
        } catch {
            throw RecipeError.invalidOverride(text, reason: "the key \"\(key)\" has an empty part")
        }
    }
}

// MARK: - Applying

extension RecipeOverride {
    /// The value as a node located at this override, its relative paths resolving against `directory`.
    func valueNode(directory: String) throws -> SourceNode {
        let location = SourceLocation.override(text)
        guard let first = value.first, "[{\"'".contains(first) else {
            return SourceNode(value: .scalar(value, plain: true), location: location, directory: directory)
        }
        do {
            let parsed = try SourceNode.parse(value, source: .override(text), directory: directory)
            return parsed.map { $0.relocated(to: location) }
                ?? SourceNode(value: .scalar("", plain: true), location: location, directory: directory)
        } catch let error as RecipeError {
            if case let .syntax(_, message) = error {
                throw RecipeError.invalidOverride(text, reason: "the value is not valid YAML flow syntax: \(message)")
            }
            throw error
        }
    }

    /// Sets the value into `root`, creating mappings on the way.
    func apply(to root: inout SourceNode, directory: String) throws {
        let value = try valueNode(directory: directory)
        try set(value, path[...], in: &root, walked: "")
    }

    private func set(_ value: SourceNode, _ path: ArraySlice<Component>, in node: inout SourceNode, walked: String) throws {
        guard let step = path.first else {
            node = value
            return
        }
        let rest = path.dropFirst()
        let location = SourceLocation.override(text)
        switch step {
        case let .key(name):
            if node.isNull { node = SourceNode(value: .mapping([]), location: location, directory: value.directory) }
            guard case var .mapping(entries) = node.value else {
                throw RecipeError.invalidOverride(text, reason: "\(walked) holds \(node.kindDescription), not a mapping with keys")
            }
            let here = KeyPath.appending(name, to: walked)
            if let i = entries.firstIndex(where: { $0.key == name }) {
                try set(value, rest, in: &entries[i].value, walked: here)
            } else {
                var child = SourceNode(value: .scalar("", plain: true), location: location, directory: value.directory)
                try set(value, rest, in: &child, walked: here)
                entries.append(.init(key: name, keyLocation: location, value: child))
            }
            node.value = .mapping(entries)
        case let .index(i):
            if node.isNull { node = SourceNode(value: .sequence([]), location: location, directory: value.directory) }
            guard case var .sequence(items) = node.value else {
                throw RecipeError.invalidOverride(text, reason: "\(walked) holds \(node.kindDescription), not a list")
            }
            guard i <= items.count else {
                throw RecipeError.invalidOverride(text, reason: "\(walked) has \(items.count) elements; index \(i) is past the end")
            }
            if i == items.count {
                items.append(SourceNode(value: .scalar("", plain: true), location: location, directory: value.directory))
            }
            try set(value, rest, in: &items[i], walked: "\(walked)[\(i)]")
            node.value = .sequence(items)
        }
    }
}
