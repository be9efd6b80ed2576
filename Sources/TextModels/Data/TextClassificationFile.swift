import Foundation

/// The layout of a text-classification file.
public enum TextFileFormat: String, Sendable, Codable, CaseIterable {
    /// Comma-separated values with a header row (RFC 4180).
    case csv
    /// JSON Lines: one JSON object per line.
    case jsonl

    /// The format a file name's extension stands for: `.csv`, or `.jsonl` / `.ndjson` (case
    /// ignored); nil for any other.
    public init?(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "csv": self = .csv
        case "jsonl", "ndjson": self = .jsonl
        default: return nil
        }
    }
}

/// How the labels of a text-classification file are read.
public enum TextLabelFormat: String, Sendable, Codable, CaseIterable {
    /// JSON numbers are class indices. Strings (CSV fields, JSON strings) are class indices
    /// when every one is a whole number, except when explicit class names are given and every
    /// label is one of them (star ratings `"1"`, `"2"`, `"5"`); otherwise they are names. A JSONL
    /// file that mixes numbers and strings is an error naming the first line that differs.
    case automatic
    /// Every label is a class name (a JSON number `3` is the name `"3"`).
    case names
    /// Every label is a class index from 0 (a JSON number, or a string of digits).
    case integers
}

/// One example of a text-classification file.
public struct TextExample: Sendable, Equatable {
    /// The text, as written in the file.
    public var text: String
    /// The class index, into the file's `classNames`.
    public var label: Int
    /// The line of the file where the record starts (1-based, counting a CSV header).
    public var line: Int

    public init(text: String, label: Int, line: Int) {
        self.text = text
        self.label = label
        self.line = line
    }
}

/// A text-classification file read into memory: texts with one class label each, and the
/// names of the classes, in class-index order.
///
/// Two layouts, told apart by the extension (or `format:`):
/// - CSV (RFC 4180) with a header row naming the columns; `textColumn` and `labelColumn` pick
///   two of them (other columns are ignored). Quoted fields hold commas, line breaks and doubled
///   quotes; CRLF line ends and a UTF-8 byte-order mark are fine.
/// - JSONL: one JSON object per line, with the keys `textColumn` (a string) and `labelColumn`
///   (a string or a whole number); other keys are ignored, blank lines skipped.
///
/// Labels (see `TextLabelFormat`) are class indices or class names; names are trimmed of
/// surrounding white space. The classes are, in order:
/// - the explicit `classNames` when given (a name label must be one of them, an integer label
///   must lie in `0 ..< classNames.count`), which is how a validation file gets the same indices
///   as its training file even when it lacks a class;
/// - otherwise, for names, the distinct names sorted (by Unicode scalar values), and for
///   integers `"0"`, `"1"`, … up to the largest label.
///
/// ```swift
/// let train = try TextClassificationFile(path: "data/fortunes/train.csv")
/// let validation = try TextClassificationFile(path: "data/fortunes/validation.csv",
///                                             classNames: train.classNames)
/// ```
///
/// Every malformed input is a `TextDataError` naming the file and the line.
public struct TextClassificationFile: Sendable {
    /// The file read (or the name given to the parsed text).
    public let path: String
    public let format: TextFileFormat
    /// Class names; label `k` is `classNames[k]`.
    public let classNames: [String]
    /// The examples, in file order.
    public let examples: [TextExample]

    /// The number of examples.
    public var count: Int { examples.count }
    /// The texts, in file order.
    public var texts: [String] { examples.map(\.text) }
    /// The class indices, in file order (e.g. for `DatasetSplit.trainValidation(labels:)`).
    public var labels: [Int] { examples.map(\.label) }

    /// Reads a text-classification file.
    /// - Parameters:
    ///   - path: a `.csv`, `.jsonl` or `.ndjson` file.
    ///   - format: the layout; nil tells it from the extension.
    ///   - textColumn: the CSV column (JSONL key) holding the text.
    ///   - labelColumn: the CSV column (JSONL key) holding the label.
    ///   - labels: how labels are read.
    ///   - classNames: the classes in index order; nil derives them from the labels.
    /// - Throws: `TextDataError` naming the file (and line) of the first problem.
    public init(path: String, format: TextFileFormat? = nil, textColumn: String = "text",
                labelColumn: String = "label", labels: TextLabelFormat = .automatic,
                classNames: [String]? = nil) throws {
        guard let format = format ?? TextFileFormat(path: path) else { throw TextDataError.unknownFormat(path: path) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw TextDataError.unreadable(path: path, reason: "it is a directory")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TextDataError.unreadable(path: path, reason: Self.reason(of: error))
        }
        try self.init(bytes: [UInt8](data), path: path, format: format, textColumn: textColumn,
                      labelColumn: labelColumn, labels: labels, classNames: classNames)
    }

    /// Parses text-classification data held in memory; `path` names it in errors.
    /// Parameters and errors as for `init(path:…)`.
    public init(parsing text: String, path: String, format: TextFileFormat, textColumn: String = "text",
                labelColumn: String = "label", labels: TextLabelFormat = .automatic,
                classNames: [String]? = nil) throws {
        try self.init(bytes: Array(text.utf8), path: path, format: format, textColumn: textColumn,
                      labelColumn: labelColumn, labels: labels, classNames: classNames)
    }

    /// Parses raw bytes, which must be UTF-8.
    public init(bytes: [UInt8], path: String, format: TextFileFormat, textColumn: String = "text",
                labelColumn: String = "label", labels: TextLabelFormat = .automatic,
                classNames: [String]? = nil) throws {
        if let classNames { try Self.validate(classNames: classNames) }
        try Self.checkUTF8(bytes, path: path)
        let records: [RawRecord]
        switch format {
        case .csv: records = try Self.csvRecords(bytes, path: path, textColumn: textColumn, labelColumn: labelColumn)
        case .jsonl: records = try Self.jsonlRecords(bytes, path: path, textColumn: textColumn, labelColumn: labelColumn)
        }
        guard !records.isEmpty else { throw TextDataError.emptyFile(path: path) }
        let resolved = try LabelResolver(path: path, format: labels, classNames: classNames).resolve(records)
        self.path = path
        self.format = format
        self.classNames = resolved.classNames
        self.examples = zip(records, resolved.labels).map { TextExample(text: $0.text, label: $1, line: $0.line) }
    }

    // MARK: - Records

    /// A record before its label is resolved.
    struct RawRecord {
        var line: Int
        var text: String
        var label: RawLabel
    }

    enum RawLabel {
        /// A CSV field or a JSON string.
        case text(String)
        /// A JSON number that is a whole number.
        case integer(Int)
    }

    private static func csvRecords(_ bytes: [UInt8], path: String, textColumn: String,
                                   labelColumn: String) throws -> [RawRecord] {
        let rows = try CSVRecords(bytes: bytes, path: path).records
        guard let header = rows.first else { throw TextDataError.emptyFile(path: path) }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let textIndex = names.firstIndex(of: textColumn) else {
            throw TextDataError.missingColumn(path: path, line: header.line, column: textColumn, available: names)
        }
        guard let labelIndex = names.firstIndex(of: labelColumn) else {
            throw TextDataError.missingColumn(path: path, line: header.line, column: labelColumn, available: names)
        }
        return try rows.dropFirst().map { row in
            guard row.fields.count == names.count else {
                throw TextDataError.fieldCount(path: path, line: row.line, found: row.fields.count, expected: names.count)
            }
            return RawRecord(line: row.line, text: row.fields[textIndex], label: .text(row.fields[labelIndex]))
        }
    }

    private static func jsonlRecords(_ bytes: [UInt8], path: String, textColumn: String,
                                     labelColumn: String) throws -> [RawRecord] {
        var records: [RawRecord] = []
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let slice = bytes[start..<end]
            if slice.contains(where: { !Self.isJSONSpace($0) }) {
                try records.append(jsonRecord(slice, path: path, line: line, textColumn: textColumn,
                                              labelColumn: labelColumn))
            }
            start = end + 1
            line += 1
        }
        return records
    }

    private static func jsonRecord(_ slice: ArraySlice<UInt8>, path: String, line: Int, textColumn: String,
                                   labelColumn: String) throws -> RawRecord {
        let value: JSONLineValue
        switch JSONLineValue.parse(slice) {
        case .success(let parsed): value = parsed
        case .failure(let failure): throw TextDataError.invalidJSON(path: path, line: line, reason: failure.reason)
        }
        guard case .object(let object) = value else {
            throw TextDataError.invalidJSON(path: path, line: line, reason: "the line holds \(value.typeName)")
        }
        guard let textValue = object[textColumn] else {
            throw TextDataError.missingColumn(path: path, line: line, column: textColumn, available: object.keys.sorted())
        }
        guard case .string(let text) = textValue else {
            throw TextDataError.invalidText(path: path, line: line,
                                            reason: "'\(textColumn)' is \(textValue.typeName), not a string")
        }
        guard let labelValue = object[labelColumn] else {
            throw TextDataError.missingColumn(path: path, line: line, column: labelColumn, available: object.keys.sorted())
        }
        let label: RawLabel
        switch labelValue {
        case .string(let name): label = .text(name)
        case .integer(let value): label = .integer(value)
        case .number(let value) where value == value.rounded() && abs(value) < 1e15: label = .integer(Int(value))
        default:
            throw TextDataError.invalidLabel(path: path, line: line, value: labelValue.summary,
                                             reason: "a label is a string or a whole number, not \(labelValue.typeName)")
        }
        return RawRecord(line: line, text: text, label: label)
    }

    // MARK: - Checks

    private static func isJSONSpace(_ b: UInt8) -> Bool {
        b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r")
    }

    /// Throws `invalidUTF8` naming the first line that is not valid UTF-8.
    private static func checkUTF8(_ bytes: [UInt8], path: String) throws {
        if String(validating: bytes, as: UTF8.self) != nil { return }
        var line = 1
        var start = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            if String(validating: bytes[start..<end], as: UTF8.self) == nil {
                throw TextDataError.invalidUTF8(path: path, line: line)
            }
            start = end + 1
            line += 1
        }
        throw TextDataError.invalidUTF8(path: path, line: line - 1)
    }

    private static func validate(classNames: [String]) throws {
        guard !classNames.isEmpty else { throw TextDataError.invalidClassNames(reason: "the list is empty") }
        var seen = Set<String>()
        for name in classNames {
            guard !name.isEmpty else { throw TextDataError.invalidClassNames(reason: "a name is empty") }
            guard seen.insert(name).inserted else {
                throw TextDataError.invalidClassNames(reason: "'\(name)' appears more than once")
            }
        }
    }

    private static func reason(of error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileReadNoSuchFileError: return "no such file"
            case NSFileReadNoPermissionError: return "permission denied"
            default: break
            }
        }
        return nsError.localizedDescription
    }
}
