/// The records of a CSV file, each with the line it starts on (RFC 4180).
///
/// - Fields are separated by commas; a field may be in double quotes, and then holds commas,
///   line breaks and quotes written twice (`""`). Spaces before an opening quote and after a
///   closing one are ignored; a quote inside an unquoted field is an ordinary character
///   (`5" floppy`), as most writers produce it.
/// - Lines end with LF, CRLF or CR. A UTF-8 byte-order mark is skipped. Blank lines (and lines
///   of spaces only) between records are skipped.
/// - Field contents are kept as written (no trimming), since they are texts.
///
/// Errors name the file and the line: a quoted field never closed names the line where it
/// opens; text after a closing quote names its own line.
struct CSVRecords {
    var records: [(line: Int, fields: [String])] = []

    /// Parses `bytes` (valid UTF-8); `path` names the file in errors.
    init(bytes: [UInt8], path: String) throws {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"),
            cr = UInt8(ascii: "\r"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var wasQuoted = false      // the current field was quoted
        var afterQuote = false     // between a closing quote and the end of the field
        var line = 1
        var recordLine = 1
        var quoteLine = 1

        func finishField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            afterQuote = false
        }
        func finishRecord() {
            let blank = fields.isEmpty && !wasQuoted && field.allSatisfy { $0 == space || $0 == tab }
            finishField()
            if !blank { records.append((recordLine, fields)) }
            fields = []
            wasQuoted = false
        }

        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if inQuotes {
                if b == quote {
                    if i + 1 < n && bytes[i + 1] == quote {
                        field.append(quote)
                        i += 1
                    } else {
                        inQuotes = false
                        afterQuote = true
                    }
                } else {
                    // A CRLF inside quotes is one line break (and stays in the text as written).
                    if b == lf || (b == cr && !(i + 1 < n && bytes[i + 1] == lf)) { line += 1 }
                    field.append(b)
                }
            } else if b == comma {
                finishField()
                wasQuoted = false
            } else if b == lf || b == cr {
                if b == cr && i + 1 < n && bytes[i + 1] == lf { i += 1 }
                finishRecord()
                line += 1
                recordLine = line
            } else if afterQuote {
                if b != space && b != tab {
                    throw TextDataError.csvSyntax(
                        path: path, line: line,
                        reason: "text after the closing quote of a field (a quote inside a quoted field is written twice: \"\")")
                }
            } else if b == quote && field.allSatisfy({ $0 == space || $0 == tab }) {
                field.removeAll(keepingCapacity: true)
                inQuotes = true
                wasQuoted = true
                quoteLine = line
            } else {
                field.append(b)
            }
            i += 1
        }
        if inQuotes {
            throw TextDataError.csvSyntax(path: path, line: quoteLine,
                                          reason: "a quoted field opened on this line is never closed")
        }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { finishRecord() }
    }
}
