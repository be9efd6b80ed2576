import Training

/// Why a text-classification file could not be read. Every case that comes from a file names
/// it, and every case about one record names the line the record starts on (1-based, counting
/// the header), so a bad row among thousands can be found with `sed -n LINEp FILE`.
public enum TextDataError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file could not be opened or read (missing, a directory, no permission, I/O error).
    case unreadable(path: String, reason: String)
    /// The file holds no examples: no bytes, only blank lines, or only a CSV header.
    case emptyFile(path: String)
    /// The format could not be told from the file's extension; pass `format:`.
    case unknownFormat(path: String)
    /// The bytes of a line are not valid UTF-8.
    case invalidUTF8(path: String, line: Int)
    /// A CSV syntax error: a quoted field that is never closed (the line is where it opens), or
    /// text after a closing quote.
    case csvSyntax(path: String, line: Int, reason: String)
    /// A CSV record with another number of fields than the header.
    case fieldCount(path: String, line: Int, found: Int, expected: Int)
    /// The CSV header (its line) or a JSON object lacks the text or label column; lists the
    /// columns or keys there are.
    case missingColumn(path: String, line: Int, column: String, available: [String])
    /// A JSONL line is not a JSON object.
    case invalidJSON(path: String, line: Int, reason: String)
    /// The text value of a JSONL record is not a string.
    case invalidText(path: String, line: Int, reason: String)
    /// A label that cannot be read as the requested kind (an empty name, a negative or
    /// fractional number, a name where integers were asked for, names mixed with numbers).
    case invalidLabel(path: String, line: Int, value: String, reason: String)
    /// An integer label outside `0 ..< classCount` of the explicit class names.
    case labelOutOfRange(path: String, line: Int, label: Int, classCount: Int)
    /// A label name that is not one of the explicit class names.
    case unknownLabel(path: String, line: Int, label: String, classNames: [String])
    /// The explicit class names are empty, or repeat a name.
    case invalidClassNames(reason: String)
    /// The encoder threw for the text of this record, or returned no ids.
    case encodingFailed(path: String, line: Int, reason: String)

    /// The file the error is about (nil for `invalidClassNames`).
    public var path: String? {
        switch self {
        case .unreadable(let path, _), .emptyFile(let path), .unknownFormat(let path),
             .invalidUTF8(let path, _), .csvSyntax(let path, _, _), .fieldCount(let path, _, _, _),
             .missingColumn(let path, _, _, _), .invalidJSON(let path, _, _), .invalidText(let path, _, _),
             .invalidLabel(let path, _, _, _), .labelOutOfRange(let path, _, _, _),
             .unknownLabel(let path, _, _, _), .encodingFailed(let path, _, _):
            return path
        case .invalidClassNames:
            return nil
        }
    }

    /// The line the error is about, where there is one.
    public var line: Int? {
        switch self {
        case .invalidUTF8(_, let line), .csvSyntax(_, let line, _), .fieldCount(_, let line, _, _),
             .missingColumn(_, let line, _, _), .invalidJSON(_, let line, _), .invalidText(_, let line, _),
             .invalidLabel(_, let line, _, _), .labelOutOfRange(_, let line, _, _),
             .unknownLabel(_, let line, _, _), .encodingFailed(_, let line, _):
            return line
        case .unreadable, .emptyFile, .unknownFormat, .invalidClassNames:
            return nil
        }
    }

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason)"
        case let .emptyFile(path):
            return "\(path) holds no examples (it is empty, blank or only a header)"
        case let .unknownFormat(path):
            return "cannot tell the format of \(path) from its extension; use .csv or .jsonl, or give the format"
        case let .invalidUTF8(path, line):
            return "\(path):\(line): the line is not valid UTF-8"
        case let .csvSyntax(path, line, reason):
            return "\(path):\(line): \(reason)"
        case let .fieldCount(path, line, found, expected):
            return "\(path):\(line): \(found) field\(found == 1 ? "" : "s"), the header has \(expected)"
                + (found > expected ? " (a text with commas must be in double quotes)" : "")
        case let .missingColumn(path, line, column, available):
            let list = available.isEmpty ? "none" : available.map { "'\($0)'" }.joined(separator: ", ")
            return "\(path):\(line): no column '\(column)' (there are: \(list))"
        case let .invalidJSON(path, line, reason):
            return "\(path):\(line): not a JSON object: \(reason)"
        case let .invalidText(path, line, reason):
            return "\(path):\(line): \(reason)"
        case let .invalidLabel(path, line, value, reason):
            return "\(path):\(line): label '\(value)': \(reason)"
        case let .labelOutOfRange(path, line, label, classCount):
            return "\(path):\(line): label \(label) is outside the \(classCount) classes 0 ..< \(classCount)"
        case let .unknownLabel(path, line, label, classNames):
            return "\(path):\(line): label '\(label)' is not one of the class names "
                + classNames.map { "'\($0)'" }.joined(separator: ", ")
        case let .invalidClassNames(reason):
            return "invalid class names: \(reason)"
        case let .encodingFailed(path, line, reason):
            return "\(path):\(line): cannot encode the text: \(reason)"
        }
    }
}

extension TextDataError {
    /// The text-file form of a CSV reading error (a file without any row holds no examples).
    init(_ error: CSVError) {
        switch error {
        case let .invalidUTF8(path, line): self = .invalidUTF8(path: path, line: line)
        case .unclosedQuote, .textAfterClosingQuote: self = .csvSyntax(path: error.path, line: error.line, reason: error.reason)
        case let .fieldCount(path, line, found, expected): self = .fieldCount(path: path, line: line, found: found, expected: expected)
        case let .noHeader(path): self = .emptyFile(path: path)
        case let .missingColumn(path, line, column, available):
            self = .missingColumn(path: path, line: line, column: column, available: available)
        }
    }

    /// The text-file form of a label error.
    init(_ error: ClassLabelError) {
        switch error {
        case let .invalidLabel(path, line, value, reason): self = .invalidLabel(path: path, line: line, value: value, reason: reason)
        case let .labelOutOfRange(path, line, label, classCount):
            self = .labelOutOfRange(path: path, line: line, label: label, classCount: classCount)
        case let .unknownLabel(path, line, label, classNames):
            self = .unknownLabel(path: path, line: line, label: label, classNames: classNames)
        case let .invalidClassNames(reason): self = .invalidClassNames(reason: reason)
        }
    }
}
