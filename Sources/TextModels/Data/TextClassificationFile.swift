import Foundation
import Training

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

/// How the labels of a text-classification file are read: `.automatic`, `.names` or
/// `.integers`, with the rules of `ClassLabelFormat`, which image CSV lists share.
public typealias TextLabelFormat = ClassLabelFormat

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
/// The CSV is read by `CSVTable` (see there for the exact rules). Labels (see
/// `TextLabelFormat`) are class indices or class names, resolved by `ClassLabelResolver`; names
/// are trimmed of surrounding white space. The classes are, in order:
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
        let resolver: ClassLabelResolver
        do { resolver = try ClassLabelResolver(path: path, format: labels, classNames: classNames) } catch {
            throw TextDataError(error)
        }
        let records: [RawRecord]
        switch format {
        case .csv:
            records = try Self.csvRecords(bytes, path: path, textColumn: textColumn, labelColumn: labelColumn)
        case .jsonl:
            try Self.checkUTF8(bytes, path: path)
            records = try Self.jsonlRecords(bytes, path: path, textColumn: textColumn, labelColumn: labelColumn)
        }
        guard !records.isEmpty else { throw TextDataError.emptyFile(path: path) }
        let resolved: (labels: [Int], classNames: [String])
        do { resolved = try resolver.resolve(records.map { RawClassLabel(line: $0.line, value: $0.label) }) } catch {
            throw TextDataError(error)
        }
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
        var label: RawClassLabel.Value
    }

    private static func csvRecords(_ bytes: [UInt8], path: String, textColumn: String,
                                   labelColumn: String) throws -> [RawRecord] {
        do {
            let table = try CSVTable(bytes: bytes, path: path)
            let textIndex = try table.column(textColumn)
            let labelIndex = try table.column(labelColumn)
            return table.records.map { RawRecord(line: $0.line, text: $0.fields[textIndex], label: .text($0.fields[labelIndex])) }
        } catch CSVError.noHeader {
            throw TextDataError.emptyFile(path: path)
        } catch {
            throw TextDataError(error)
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
        let label: RawClassLabel.Value
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

    /// Throws `invalidUTF8` naming the first line that is not valid UTF-8 (JSONL; `CSVTable`
    /// checks CSV files itself).
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
