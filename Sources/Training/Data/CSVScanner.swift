/// The single pass behind `CSVTable`: splits bytes into records and fields by the rules
/// documented there, counting physical lines as it goes.
///
/// Fields are sliced out of the input and decoded once; only a quoted field holding `""` is
/// copied to a scratch buffer to drop the doubled quotes.
struct CSVScanner {
    struct Rows {
        var header: CSVTable.Record?
        var records: [CSVTable.Record]
    }

    private static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"),
                        cr = UInt8(ascii: "\r"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

    let bytes: UnsafeBufferPointer<UInt8>
    let path: String
    let trimsUnquotedFields: Bool

    /// Every non-blank record; the first is the header, and the others must have as many fields.
    func rows() throws(CSVError) -> Rows {
        let p = bytes, n = bytes.count
        var i = n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF ? 3 : 0
        var line = 1
        var header: CSVTable.Record?
        var records: [CSVTable.Record] = []
        var scratch: [UInt8] = []

        while i < n {
            let recordLine = line
            var fields: [String] = []
            fields.reserveCapacity(header?.fields.count ?? 8)
            var blank = false
            fieldLoop: while true {
                var j = i
                while j < n && Self.isBlank(p[j]) { j += 1 }
                if j < n && p[j] == Self.quote {
                    // Quoted: up to the closing quote, `""` standing for one quote.
                    let openLine = line
                    j += 1
                    var segment = j
                    scratch.removeAll(keepingCapacity: true)
                    var escaped = false
                    while true {
                        guard j < n else { throw CSVError.unclosedQuote(path: path, line: openLine) }
                        let b = p[j]
                        if b == Self.quote {
                            guard j + 1 < n && p[j + 1] == Self.quote else { break }
                            scratch.append(contentsOf: p[segment...j])
                            escaped = true
                            j += 2
                            segment = j
                            continue
                        }
                        if b == Self.lf || (b == Self.cr && !(j + 1 < n && p[j + 1] == Self.lf)) { line += 1 }
                        j += 1
                    }
                    let value: String
                    if escaped {
                        scratch.append(contentsOf: p[segment..<j])
                        value = try scratch.withUnsafeBufferPointer { (field) throws(CSVError) -> String in
                            try decode(field, firstLine: openLine)
                        }
                    } else {
                        value = try decode(UnsafeBufferPointer(rebasing: p[segment..<j]), firstLine: openLine)
                    }
                    fields.append(value)
                    j += 1
                    while j < n && Self.isBlank(p[j]) { j += 1 }
                    if j == n {
                        i = n
                        break fieldLoop
                    }
                    let b = p[j]
                    if b == Self.comma {
                        i = j + 1
                        continue fieldLoop
                    }
                    guard b == Self.lf || b == Self.cr else {
                        throw CSVError.textAfterClosingQuote(path: path, line: line)
                    }
                    i = j + (b == Self.cr && j + 1 < n && p[j + 1] == Self.lf ? 2 : 1)
                    line += 1
                    break fieldLoop
                } else {
                    // Unquoted: up to the next comma or line end.
                    var k = i
                    while k < n {
                        let b = p[k]
                        if b == Self.comma || b == Self.lf || b == Self.cr { break }
                        k += 1
                    }
                    if fields.isEmpty && (k == n || p[k] != Self.comma) && j == k { blank = true }
                    var start = i, end = k
                    if trimsUnquotedFields {
                        while start < end && Self.isBlank(p[start]) { start += 1 }
                        while end > start && Self.isBlank(p[end - 1]) { end -= 1 }
                    }
                    fields.append(try decode(UnsafeBufferPointer(rebasing: p[start..<end]), firstLine: line))
                    if k == n {
                        i = n
                        break fieldLoop
                    }
                    if p[k] == Self.comma {
                        i = k + 1
                        continue fieldLoop
                    }
                    i = k + (p[k] == Self.cr && k + 1 < n && p[k + 1] == Self.lf ? 2 : 1)
                    line += 1
                    break fieldLoop
                }
            }
            if blank { continue }
            if let header {
                guard fields.count == header.fields.count else {
                    throw CSVError.fieldCount(path: path, line: recordLine, found: fields.count,
                                              expected: header.fields.count)
                }
                records.append(CSVTable.Record(line: recordLine, fields: fields))
            } else {
                header = CSVTable.Record(line: recordLine, fields: fields)
            }
        }
        return Rows(header: header, records: records)
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == space || b == tab }

    /// The field's text; invalid UTF-8 is an error naming the line of the first bad byte.
    private func decode(_ field: UnsafeBufferPointer<UInt8>, firstLine: Int) throws(CSVError) -> String {
        if let text = String(validating: field, as: UTF8.self) { return text }
        // Rare path: find the line. A line break is ASCII, never part of a multi-byte sequence,
        // so each line can be checked on its own.
        var line = firstLine
        var start = 0
        var k = 0
        while k <= field.count {
            let atBreak = k == field.count || field[k] == Self.lf || field[k] == Self.cr
            if atBreak {
                if String(validating: UnsafeBufferPointer(rebasing: field[start..<k]), as: UTF8.self) == nil {
                    throw CSVError.invalidUTF8(path: path, line: line)
                }
                if k < field.count && field[k] == Self.cr && k + 1 < field.count && field[k + 1] == Self.lf { k += 1 }
                line += 1
                start = k + 1
            }
            k += 1
        }
        throw CSVError.invalidUTF8(path: path, line: line - 1)
    }
}
