/// A CSV file read into memory: a header row naming the columns, and records of as many
/// fields, each with the physical line it starts on. The one CSV reader of the package: image
/// lists (`ImageCSVDataset`) and text files (`TextClassificationFile`) both read through it.
///
/// The rules (RFC 4180, with the tolerances real files need):
/// - Fields are separated by commas. A field may be in double quotes, and then holds commas,
///   line breaks and quotes written twice (`""`). Spaces and tabs before an opening quote and
///   after a closing one are ignored; any other text after a closing quote is an error. A quote
///   inside an unquoted field is an ordinary character (`5" floppy`), as most writers produce it.
/// - Records end with LF, CRLF or CR; the last may have no line end. A UTF-8 byte-order mark is
///   skipped. Lines that are empty or hold only spaces and tabs are skipped (a quoted empty
///   field `""` is a record, not a blank line). Empty fields are empty strings.
/// - Every record must have as many fields as the header (ragged rows are errors, never padded
///   or cut). Header names are trimmed of white space. Field contents are kept as written,
///   unless `trimsUnquotedFields` asks to drop spaces and tabs around unquoted ones (file
///   names, labels); quoted fields are never trimmed.
/// - The bytes must be UTF-8.
///
/// Lines are physical lines: a record after a quoted field with two line breaks starts two
/// lines further down. A line break inside quotes (LF, CRLF or a lone CR, each one break) is
/// kept in the field as written.
///
/// Why not a library: the two mirrored CSV packages were checked on these rules and measured.
/// yaslab/CSV.swift 2.5.2 takes an unclosed quote as a field holding the rest of the file, and
/// after a stray closing quote (`"a"x,b`) drops the `x` and reads on in quoted mode; it leaves a
/// BOM in the first header name when given a `String`. swiftcsv/SwiftCSV 0.10.0 also swallows an
/// unclosed quote, pads ragged rows with empty fields, drops the leading spaces of every field,
/// rejects `5" floppy`, and iterates `Character`s, so a combining mark after a comma merges
/// with it and the field boundary is lost. Neither reports the line of a record or of an
/// error, which every message here must name (counting it back from the fields cannot work
/// once a library has silently repaired the input). Speed, on 100k rows of review-like text
/// (13 MB; 60 % of the texts with doubled quotes, 10 % with commas, 1 % with line breaks),
/// release (`-O`) builds, best of 3–5 in one process, on the shared 2-core machine (ranges over
/// runs at different loads): this reader 0.08–0.10 s; yaslab 0.6–1.0 s from a `String`, 1.3–2.0 s
/// from a stream; SwiftCSV 1.5–1.9 s. The two readers this one replaced: 0.13–0.16 s (text),
/// 0.26–0.28 s (image).
///
/// Complexity: one pass over the bytes, O(n) time; the table holds every field as a `String`.
public struct CSVTable: Sendable {
    /// One record: its fields, and the physical line it starts on (1-based).
    public struct Record: Equatable, Sendable {
        public var line: Int
        public var fields: [String]

        public init(line: Int, fields: [String]) {
            self.line = line
            self.fields = fields
        }
    }

    /// The file read (or the name given to the bytes), named in errors.
    public let path: String
    /// Column names, trimmed of white space.
    public let header: [String]
    /// The line of the header (after blank lines, if any).
    public let headerLine: Int
    /// The records after the header, in file order.
    public let records: [Record]

    /// Parses CSV bytes.
    /// - Parameters:
    ///   - bytes: the file's contents, UTF-8 with or without a byte-order mark.
    ///   - path: the file's name in errors.
    ///   - trimsUnquotedFields: drop spaces and tabs around unquoted fields.
    /// - Throws: `CSVError` naming `path` and the line of the first problem, in file order.
    public init(bytes: [UInt8], path: String, trimsUnquotedFields: Bool = false) throws(CSVError) {
        let parsed = try bytes.withUnsafeBufferPointer { (buffer) throws(CSVError) -> CSVScanner.Rows in
            try CSVScanner(bytes: buffer, path: path, trimsUnquotedFields: trimsUnquotedFields).rows()
        }
        guard let header = parsed.header else { throw CSVError.noHeader(path: path) }
        self.path = path
        self.header = header.fields.map { $0.trimmingWhiteSpace() }
        self.headerLine = header.line
        self.records = parsed.records
    }

    /// Parses CSV text; as `init(bytes:path:trimsUnquotedFields:)`.
    public init(text: String, path: String, trimsUnquotedFields: Bool = false) throws(CSVError) {
        try self.init(bytes: Array(text.utf8), path: path, trimsUnquotedFields: trimsUnquotedFields)
    }

    /// The index of the column named `name` (the first, if the header repeats it).
    /// - Throws: `CSVError.missingColumn` naming the header's line and the columns there are.
    public func column(_ name: String) throws(CSVError) -> Int {
        guard let index = header.firstIndex(of: name) else {
            throw CSVError.missingColumn(path: path, line: headerLine, column: name, available: header)
        }
        return index
    }
}

extension String {
    /// The string without leading and trailing white space (Unicode `White_Space`).
    fileprivate func trimmingWhiteSpace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
