import Foundation
import Training
import XCTest

/// `CSVTable`, the one CSV reader: RFC 4180 cases written out by hand, physical line numbers
/// (also with line breaks inside quotes), errors in file order, and a round trip through an
/// independent writer with line numbers counted from the written text.
final class CSVTableTests: XCTestCase {
    private func table(_ text: String, trimming: Bool = false) throws -> CSVTable {
        try CSVTable(text: text, path: "f.csv", trimsUnquotedFields: trimming)
    }

    /// The records as `line: fields`, for compact comparisons.
    private func rows(_ text: String, trimming: Bool = false) throws -> [String] {
        try table(text, trimming: trimming).records.map { "\($0.line): " + $0.fields.joined(separator: "|") }
    }

    private func assertError(_ expected: CSVError, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try table(text), file: file, line: line) { error in
            XCTAssertEqual(error as? CSVError, expected, file: file, line: line)
            XCTAssertTrue("\(error)".hasPrefix("f.csv:\(expected.line):"), "\(error)", file: file, line: line)
        }
    }

    // MARK: - RFC 4180

    func testQuotedCommasDoubledQuotesAndLineBreaks() throws {
        let t = try table("h1,h2\na,\"b,c\"\n\"say \"\"hi\"\"\",d\n\"two\nlines\",e\nf,g\n")
        XCTAssertEqual(t.header, ["h1", "h2"])
        XCTAssertEqual(t.headerLine, 1)
        XCTAssertEqual(t.records, [
            .init(line: 2, fields: ["a", "b,c"]),
            .init(line: 3, fields: ["say \"hi\"", "d"]),
            .init(line: 4, fields: ["two\nlines", "e"]),
            .init(line: 6, fields: ["f", "g"]),
        ])
    }

    func testLineEndsCRLFAndLoneCRInsideAndBetweenRecords() throws {
        // CRLF and a lone CR inside quotes each count as one line break and stay in the text.
        XCTAssertEqual(try rows("h1,h2\r\n\"a\r\nb\",x\r\n\"c\rd\",y\rlast,z"),
                       ["2: a\r\nb|x", "4: c\rd|y", "6: last|z"])
    }

    func testByteOrderMarkTrailingNewlineAndBlankLines() throws {
        XCTAssertEqual(try table("\u{FEFF}h1,h2\nx,y\n").header, ["h1", "h2"])
        XCTAssertEqual(try rows("h,i\na,b\n"), ["2: a|b"])
        XCTAssertEqual(try rows("h,i\na,b"), ["2: a|b"])
        // Empty and white-space-only lines are skipped; lines keep counting.
        XCTAssertEqual(try rows("\n  \nh,i\n\na,b\n \t\nc,d\n\n"), ["5: a|b", "7: c|d"])
        XCTAssertEqual(try table("\n  \nh,i\n").headerLine, 3)
        // A quoted empty field is a record, not a blank line.
        XCTAssertEqual(try rows("h\n\"\"\nx\n"), ["2: ", "3: x"])
    }

    func testEmptyFieldsAndTrailingCommas() throws {
        XCTAssertEqual(try table("a,b,c\n1,,3\n,,\n4,5,\n").records.map(\.fields),
                       [["1", "", "3"], ["", "", ""], ["4", "5", ""]])
    }

    func testSpacesAreKeptUnlessUnquotedFieldsAreTrimmed() throws {
        let text = " h1 ,\th2\n a b , \" q \" \n"
        XCTAssertEqual(try table(text).header, ["h1", "h2"])
        XCTAssertEqual(try table(text).records[0].fields, [" a b ", " q "])
        XCTAssertEqual(try table(text, trimming: true).records[0].fields, ["a b", " q "])
    }

    func testQuoteInsideAnUnquotedFieldIsOrdinary() throws {
        XCTAssertEqual(try table("size,name\n5\" floppy,a\"b\n").records[0].fields, ["5\" floppy", "a\"b"])
    }

    func testMultiByteTextAndCombiningMarksAfterDelimiters() throws {
        // A combining accent right after a comma belongs to the next field, not to the comma.
        XCTAssertEqual(try table("a,b\n\u{301}x,😀 ü\n").records[0].fields, ["\u{301}x", "😀 ü"])
    }

    // MARK: - Errors

    func testRaggedRowsNameTheirLine() {
        assertError(.fieldCount(path: "f.csv", line: 4, found: 1, expected: 2), "h,i\n\"a\nb\",c\nshort\n")
        assertError(.fieldCount(path: "f.csv", line: 3, found: 3, expected: 2), "h,i\na,b\nhello, world,c\n")
        XCTAssertTrue(CSVError.fieldCount(path: "f.csv", line: 3, found: 3, expected: 2).reason.contains("double quotes"))
    }

    func testUnclosedQuoteNamesTheLineWhereItOpens() {
        // The record starts on line 2; the quote that never closes opens on line 3.
        assertError(.unclosedQuote(path: "f.csv", line: 3), "h,i\n\"a\nb\",\"c\nd\ne\n")
    }

    func testTextAfterAClosingQuoteNamesItsLine() {
        assertError(.textAfterClosingQuote(path: "f.csv", line: 3), "h,i\n\"a\nb\"x,c\n")
        XCTAssertEqual(try rows("h,i\n\"a\"  ,\"b\"\t\n"), ["2: a|b"])
    }

    func testFirstProblemInFileOrderWins() {
        assertError(.fieldCount(path: "f.csv", line: 2, found: 1, expected: 2), "h,i\nshort\n\"open,x\n")
    }

    func testInvalidUTF8NamesThePhysicalLineOfTheBadByte() {
        let bytes = Array("h,i\nok,x\n\"first\nsecond ".utf8) + [0xFF] + Array("\",y\n".utf8)
        XCTAssertThrowsError(try CSVTable(bytes: bytes, path: "f.csv")) {
            XCTAssertEqual($0 as? CSVError, .invalidUTF8(path: "f.csv", line: 4))
        }
        XCTAssertThrowsError(try CSVTable(bytes: Array("h,i\n".utf8) + [0x61, 0xC3, 0x2C, 0x62], path: "f.csv")) {
            XCTAssertEqual($0 as? CSVError, .invalidUTF8(path: "f.csv", line: 2))   // a truncated sequence
        }
    }

    func testNoHeaderAndMissingColumn() throws {
        for text in ["", "\u{FEFF}", "\n \n\t\n"] {
            assertError(.noHeader(path: "f.csv"), text)
        }
        let t = try table("\nid,text\n1,a\n")
        XCTAssertEqual(try t.column("text"), 1)
        XCTAssertThrowsError(try t.column("label")) {
            XCTAssertEqual($0 as? CSVError, .missingColumn(path: "f.csv", line: 2, column: "label", available: ["id", "text"]))
            XCTAssertEqual("\($0)", "f.csv:2: no column 'label' in the header (there are: 'id', 'text')")
        }
    }

    // MARK: - Round trip

    /// Random fields with commas, quotes, line breaks of every kind, spaces and non-ASCII text,
    /// written by a minimal RFC 4180 writer (every field quoted, quotes doubled); the parser must
    /// give back every field, and each record's line must be 1 + the line breaks written before it.
    func testRoundTripThroughAnIndependentWriter() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "b c", ",", "\"", "\n", "\r\n", "\r", " ", "ü", "😀", "x,y", "\"\"", "\t"]
        let columns = 3
        var expected: [[String]] = []
        var text = "c0,c1,c2\r\n"
        var lines: [Int] = []
        func breaks(_ s: String) -> Int {                   // LF, CRLF and lone CR each one break
            var count = 0
            var previousCR = false
            for u in s.utf8 {
                if u == 10 { if !previousCR { count += 1 } } else if u == 13 { count += 1 }
                previousCR = u == 13
            }
            return count
        }
        for _ in 0..<500 {
            let fields = (0..<columns).map { _ in
                (0..<Int.random(in: 0...6, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            }
            lines.append(1 + breaks(text))
            expected.append(fields)
            text += fields.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ",")
            text += ["\n", "\r\n", "\r"].randomElement(using: &generator)!
        }
        let t = try table(text)
        XCTAssertEqual(t.header, ["c0", "c1", "c2"])
        XCTAssertEqual(t.records.map(\.fields), expected)
        XCTAssertEqual(t.records.map(\.line), lines)
    }
}
