/// How the labels of a classification file (text CSV or JSONL, image CSV) are read.
public enum ClassLabelFormat: String, Sendable, Codable, CaseIterable {
    /// JSON numbers are class indices. Strings (CSV fields, JSON strings) are class indices
    /// when every one is a whole number, except when explicit class names are given and every
    /// label is one of them (star ratings `"1"`, `"2"`, `"5"`); otherwise they are names. A file
    /// that mixes JSON numbers and strings is an error naming the first line that differs.
    case automatic
    /// Every label is a class name (a JSON number `3` is the name `"3"`).
    case names
    /// Every label is a class index from 0 (a JSON number, or a string of digits).
    case integers
}

/// One raw label of a classification file, before `ClassLabelResolver` turns it into an index.
public struct RawClassLabel: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        /// A CSV field or a JSON string.
        case text(String)
        /// A JSON number that is a whole number.
        case integer(Int)
    }

    /// The line of the file where the record starts.
    public var line: Int
    public var value: Value

    public init(line: Int, value: Value) {
        self.line = line
        self.value = value
    }
}
