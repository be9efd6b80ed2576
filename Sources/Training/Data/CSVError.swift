/// Why a CSV file could not be read as a table. Every case names the file, and every case
/// about one place in it names the physical line (1-based, as `sed -n LINEp FILE` counts
/// them; a quoted field with line breaks spans several), so that a bad row among thousands
/// can be found. Datasets map these onto their own error types.
public enum CSVError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes of the field that starts on `line` are not valid UTF-8 (`line` is the line
    /// that holds the first invalid byte).
    case invalidUTF8(path: String, line: Int)
    /// A quoted field that is never closed; `line` is where its opening quote is.
    case unclosedQuote(path: String, line: Int)
    /// Characters other than spaces between a closing quote and the next comma or line end.
    case textAfterClosingQuote(path: String, line: Int)
    /// A record with another number of fields than the header; `line` is where it starts.
    case fieldCount(path: String, line: Int, found: Int, expected: Int)
    /// The file holds no record at all, not even a header (empty, or only blank lines).
    case noHeader(path: String)
    /// The header (on `line`) has no column `column`; `available` lists those it has.
    case missingColumn(path: String, line: Int, column: String, available: [String])

    /// The file the error is about.
    public var path: String {
        switch self {
        case .invalidUTF8(let path, _), .unclosedQuote(let path, _), .textAfterClosingQuote(let path, _),
             .fieldCount(let path, _, _, _), .noHeader(let path), .missingColumn(let path, _, _, _):
            return path
        }
    }

    /// The line the error is about (1 for `noHeader`).
    public var line: Int {
        switch self {
        case .invalidUTF8(_, let line), .unclosedQuote(_, let line), .textAfterClosingQuote(_, let line),
             .fieldCount(_, let line, _, _), .missingColumn(_, let line, _, _):
            return line
        case .noHeader:
            return 1
        }
    }

    /// What is wrong, without the file and line.
    public var reason: String {
        switch self {
        case .invalidUTF8:
            return "the line is not valid UTF-8"
        case .unclosedQuote:
            return "a quoted field opened on this line is never closed"
        case .textAfterClosingQuote:
            return "text after the closing quote of a field (a quote inside a quoted field is written twice: \"\")"
        case let .fieldCount(_, _, found, expected):
            return "\(found) field\(found == 1 ? "" : "s"), the header has \(expected)"
                + (found > expected ? " (a value with commas must be in double quotes)" : "")
        case .noHeader:
            return "the file has no header row (it is empty or blank)"
        case let .missingColumn(_, _, column, available):
            let list = available.isEmpty ? "none" : available.map { "'\($0)'" }.joined(separator: ", ")
            return "no column '\(column)' in the header (there are: \(list))"
        }
    }

    public var description: String { "\(path):\(line): \(reason)" }
}
