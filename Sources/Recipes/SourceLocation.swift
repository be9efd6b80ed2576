/// Where a value of a recipe was written: a line and column of a YAML file, or a `key=value`
/// override from the command line.
///
/// Lines and columns count from 1, columns in Unicode scalars (as libYAML counts them).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    /// What holds the text.
    public enum Source: Hashable, Sendable {
        /// A recipe file, by the path it was named with (relative paths stay relative, so messages
        /// read like the command the user typed).
        case file(String)
        /// A command-line override, by its full text (`lora.rank=32`).
        case override(String)
    }

    public var source: Source
    /// 1-based line; nil when the location is the file as a whole.
    public var line: Int?
    /// 1-based column; nil when the location is the file as a whole.
    public var column: Int?

    public init(source: Source, line: Int? = nil, column: Int? = nil) {
        self.source = source
        self.line = line
        self.column = column
    }

    /// A position in a file.
    public static func file(_ path: String, line: Int? = nil, column: Int? = nil) -> SourceLocation {
        SourceLocation(source: .file(path), line: line, column: column)
    }

    /// A command-line override.
    public static func override(_ text: String) -> SourceLocation {
        SourceLocation(source: .override(text))
    }

    /// The file's path, or nil for an override.
    public var file: String? {
        if case let .file(path) = source { return path }
        return nil
    }

    /// `recipes/x.yaml:12:5`, `recipes/x.yaml`, or `override 'lora.rank=abc'`.
    public var description: String {
        switch source {
        case let .file(path):
            guard let line else { return path }
            return column.map { "\(path):\(line):\($0)" } ?? "\(path):\(line)"
        case let .override(text):
            return "override '\(text)'"
        }
    }
}
