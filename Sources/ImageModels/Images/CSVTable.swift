/// A CSV file read into memory: a header row and records, each with the line it starts on.
///
/// RFC 4180 with the usual tolerances: comma-separated, fields optionally in double quotes
/// (`""` is a quote inside them; quoted fields may hold commas and newlines), LF or CRLF line
/// ends, a UTF-8 byte-order mark and blank lines ignored, spaces around unquoted fields and
/// header names trimmed. Errors name the file and line.
struct CSVTable {
    var path: String
    var header: [String]
    var records: [(line: Int, fields: [String])]

    /// Parses CSV text; `path` names the file in errors.
    init(text: String, path: String) throws {
        self.path = path
        var rows: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false        // inside quotes
        var wasQuoted = false     // the current field was quoted (do not trim it)
        var afterQuote = false    // just closed a quoted field
        var line = 1
        var recordLine = 1
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }

        func finishField() {
            var value = String(decoding: field, as: UTF8.self)
            if !wasQuoted { value = value.trimmingSpaces() }
            fields.append(value)
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
            afterQuote = false
        }
        func finishRecord() {
            finishField()
            if !(fields.count == 1 && fields[0].isEmpty) { rows.append((recordLine, fields)) }
            fields.removeAll()
        }

        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
            } else if b == UInt8(ascii: ",") {
                finishField()
            } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                if b == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                finishRecord()
                line += 1
                recordLine = line
            } else if afterQuote {
                if b != UInt8(ascii: " ") && b != UInt8(ascii: "\t") {
                    throw ImageDatasetError.csvSyntax(path: path, line: line,
                                                      reason: "unexpected character after a closing quote")
                }
            } else if b == UInt8(ascii: "\"") && field.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
                field.removeAll()
                quoted = true
                wasQuoted = true
            } else {
                field.append(b)
            }
            i += 1
        }
        if quoted {
            throw ImageDatasetError.csvSyntax(path: path, line: recordLine, reason: "a quoted field is not closed before the end of the file")
        }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { finishRecord() }

        guard let first = rows.first else {
            throw ImageDatasetError.csvSyntax(path: path, line: 1, reason: "the file has no header row")
        }
        header = first.fields
        records = Array(rows.dropFirst())
        for record in records where record.fields.count != header.count {
            throw ImageDatasetError.csvSyntax(path: path, line: record.line,
                                              reason: "\(record.fields.count) fields, the header has \(header.count)")
        }
    }

    /// The index of the column named `name`.
    /// - Throws: `ImageDatasetError.missingColumn` listing the columns there are.
    func column(_ name: String) throws -> Int {
        guard let index = header.firstIndex(of: name) else {
            throw ImageDatasetError.missingColumn(path: path, column: name, available: header)
        }
        return index
    }
}

fileprivate extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
