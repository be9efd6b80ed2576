import Foundation
import XCTest
@testable import TextModels

/// Reading text-classification files: CSV edge cases, JSONL, labels, and errors that name the
/// file and the line. Expected values are written out by hand from the inputs.
final class TextDataTests: XCTestCase {
    private func csv(_ text: String, labels: TextLabelFormat = .automatic, classNames: [String]? = nil,
                     textColumn: String = "text", labelColumn: String = "label") throws -> TextClassificationFile {
        try TextClassificationFile(parsing: text, path: "t.csv", format: .csv, textColumn: textColumn,
                                   labelColumn: labelColumn, labels: labels, classNames: classNames)
    }

    private func jsonl(_ text: String, labels: TextLabelFormat = .automatic,
                       classNames: [String]? = nil) throws -> TextClassificationFile {
        try TextClassificationFile(parsing: text, path: "t.jsonl", format: .jsonl, labels: labels, classNames: classNames)
    }

    /// Asserts that `body` throws exactly `expected`, and that its message names file and line.
    private func assertError(_ expected: TextDataError, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected \(expected)", file: file, line: line)
        } catch let error as TextDataError {
            XCTAssertEqual(error, expected, file: file, line: line)
            if let path = expected.path {
                XCTAssertTrue(error.description.contains(path), "\(error) does not name \(path)", file: file, line: line)
            }
            if let number = expected.line {
                XCTAssertTrue(error.description.contains(":\(number):"), "\(error) does not name line \(number)",
                              file: file, line: line)
            }
        } catch {
            XCTFail("expected \(expected), got \(error)", file: file, line: line)
        }
    }

    // MARK: - CSV

    func testCSVQuotesCommasAndEmbeddedNewlines() throws {
        let f = try csv(#"""
            text,label
            plain text,a
            "with, a comma",b
            "she said ""hi""",a
            "two
            lines",b
            last,a
            """#)
        XCTAssertEqual(f.texts, ["plain text", "with, a comma", "she said \"hi\"", "two\nlines", "last"])
        XCTAssertEqual(f.classNames, ["a", "b"])
        XCTAssertEqual(f.labels, [0, 1, 0, 1, 0])
        // The record after the two-line field starts on line 7.
        XCTAssertEqual(f.examples.map(\.line), [2, 3, 4, 5, 7])
    }

    func testCSVCRLFAndByteOrderMarkAndBlankLines() throws {
        let text = "\u{FEFF}text,label\r\n\"a\r\nb\",x\r\n\r\nc,y\r\n"
        let f = try csv(text)
        XCTAssertEqual(f.texts, ["a\r\nb", "c"])
        XCTAssertEqual(f.labels, [0, 1])
        XCTAssertEqual(f.examples.map(\.line), [2, 5])
        // Without a final line break, and with a bare CR as line end.
        XCTAssertEqual(try csv("text,label\rp,x\rq,y").texts, ["p", "q"])
    }

    func testCSVColumnsByNameInAnyOrderWithExtraColumns() throws {
        let f = try csv("id,category,body\n1,sport,\"run, fast\"\n2,food,eat\n",
                        textColumn: "body", labelColumn: "category")
        XCTAssertEqual(f.texts, ["run, fast", "eat"])
        XCTAssertEqual(f.classNames, ["food", "sport"])
        XCTAssertEqual(f.labels, [1, 0])
    }

    func testCSVEmptyTextAndSpacesAroundQuotes() throws {
        let f = try csv("text,label\n,a\n  \"q\"  ,b\n")
        XCTAssertEqual(f.texts, ["", "q"])
    }

    func testCSVMissingColumnNamesTheHeaderLine() {
        assertError(.missingColumn(path: "t.csv", line: 1, column: "label", available: ["text", "class"])) {
            _ = try csv("text,class\nhello,a\n")
        }
        assertError(.missingColumn(path: "t.csv", line: 2, column: "text", available: ["body", "label"])) {
            _ = try csv("\nbody,label\nhello,a\n")
        }
    }

    func testCSVRecordWithMissingOrExtraFieldNamesItsLine() {
        assertError(.fieldCount(path: "t.csv", line: 4, found: 1, expected: 2)) {
            _ = try csv("text,label\n\"a\nb\",x\nno label here\n")
        }
        assertError(.fieldCount(path: "t.csv", line: 3, found: 3, expected: 2)) {
            _ = try csv("text,label\nok,x\nhello, world,y\n")
        }
        XCTAssertTrue(TextDataError.fieldCount(path: "t.csv", line: 3, found: 3, expected: 2).description
            .contains("double quotes"))
    }

    func testCSVUnterminatedQuoteNamesTheLineWhereItOpens() {
        assertError(.csvSyntax(path: "t.csv", line: 3,
                               reason: "a quoted field opened on this line is never closed")) {
            _ = try csv("text,label\nok,x\n\"never closed,y\nmore\ntext\n")
        }
    }

    func testCSVTextAfterClosingQuoteIsAnError() {
        do {
            _ = try csv("text,label\n\"quoted\"tail,x\n")
            XCTFail("expected an error")
        } catch let error as TextDataError {
            guard case .csvSyntax("t.csv", 2, _) = error else { return XCTFail("got \(error)") }
        } catch { XCTFail("got \(error)") }
    }

    func testEmptyFilesAreErrors() {
        for text in ["", "\n\n", "\u{FEFF}", "text,label\n", "text,label\n\n  \n"] {
            assertError(.emptyFile(path: "t.csv")) { _ = try csv(text) }
        }
        for text in ["", "\n \n"] {
            assertError(.emptyFile(path: "t.jsonl")) { _ = try jsonl(text) }
        }
    }

    func testInvalidUTF8NamesTheLine() {
        let bytes = Array("text,label\nfine,a\n".utf8) + [0x66, 0xFF, 0x2C, 0x62, 0x0A]
        assertError(.invalidUTF8(path: "t.csv", line: 3)) {
            _ = try TextClassificationFile(bytes: bytes, path: "t.csv", format: .csv)
        }
    }

    // MARK: - JSONL

    func testJSONLInvalidUTF8NamesTheLine() {
        let bytes = Array("{\"text\": \"fine\", \"label\": \"a\"}\n".utf8) + [0x7B, 0xC0, 0x7D, 0x0A]
        assertError(.invalidUTF8(path: "t.jsonl", line: 2)) {
            _ = try TextClassificationFile(bytes: bytes, path: "t.jsonl", format: .jsonl)
        }
    }

    func testJSONLNamesIntegersBlankLinesAndExtraKeys() throws {
        let f = try jsonl(#"""
            {"text": "caf\u00e9, \"ok\"", "label": "pos", "id": 7}

            {"label": "neg", "text": "line\nbreak"}
            """# + "\n  {\"text\": \"\", \"label\": \"pos\"}  \r\n")
        XCTAssertEqual(f.texts, ["café, \"ok\"", "line\nbreak", ""])
        XCTAssertEqual(f.classNames, ["neg", "pos"])
        XCTAssertEqual(f.labels, [1, 0, 1])
        XCTAssertEqual(f.examples.map(\.line), [1, 3, 4])

        let numbered = try jsonl("{\"text\": \"a\", \"label\": 2}\n{\"text\": \"b\", \"label\": 0}\n")
        XCTAssertEqual(numbered.labels, [2, 0])
        XCTAssertEqual(numbered.classNames, ["0", "1", "2"])
    }

    func testJSONLErrorsNameTheLine() {
        let good = "{\"text\": \"a\", \"label\": \"x\"}\n"
        do {
            _ = try jsonl(good + "{\"text\": \"b\", \"label\": \n")
            XCTFail("expected an error")
        } catch let error as TextDataError {
            guard case .invalidJSON("t.jsonl", 2, _) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(error.description.hasPrefix("t.jsonl:2: "), error.description)
        } catch { XCTFail("got \(error)") }
        assertError(.invalidJSON(path: "t.jsonl", line: 2, reason: "the line holds an array")) {
            _ = try jsonl(good + "[\"b\", \"x\"]\n")
        }
        assertError(.missingColumn(path: "t.jsonl", line: 3, column: "label", available: ["body", "text"])) {
            _ = try jsonl(good + good + "{\"text\": \"c\", \"body\": 1}\n")
        }
        assertError(.invalidText(path: "t.jsonl", line: 1, reason: "'text' is a number, not a string")) {
            _ = try jsonl("{\"text\": 5, \"label\": \"x\"}\n")
        }
        assertError(.invalidLabel(path: "t.jsonl", line: 2, value: "true",
                                  reason: "a label is a string or a whole number, not a boolean")) {
            _ = try jsonl(good + "{\"text\": \"b\", \"label\": true}\n")
        }
        assertError(.invalidLabel(path: "t.jsonl", line: 1, value: "1.5",
                                  reason: "a label is a string or a whole number, not a number")) {
            _ = try jsonl("{\"text\": \"b\", \"label\": 1.5}\n")
        }
    }

    func testJSONLMixingNumbersAndNamesNamesTheLine() {
        do {
            _ = try jsonl("{\"text\": \"a\", \"label\": 1}\n\n{\"text\": \"b\", \"label\": \"x\"}\n")
            XCTFail("expected an error")
        } catch let error as TextDataError {
            guard case .invalidLabel("t.jsonl", 3, "x", _) = error else { return XCTFail("got \(error)") }
        } catch { XCTFail("got \(error)") }
        // Asking for names reads the number as a name.
        XCTAssertEqual(try? jsonl("{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": \"x\"}\n",
                                  labels: .names).classNames, ["1", "x"])
    }

    // MARK: - Labels

    func testLabelNamesAreSortedByCodePointsAndTrimmed() throws {
        let f = try csv("text,label\n1,b\n2,ä\n3,B\n4, a \n5,b\n")
        XCTAssertEqual(f.classNames, ["B", "a", "b", "ä"])
        XCTAssertEqual(f.labels, [2, 3, 0, 1, 2])
    }

    func testExplicitClassNamesKeepTheirOrder() throws {
        let f = try csv("text,label\n1,pos\n2,neg\n", classNames: ["pos", "neutral", "neg"])
        XCTAssertEqual(f.classNames, ["pos", "neutral", "neg"])
        XCTAssertEqual(f.labels, [0, 2])
    }

    func testUnknownLabelWithExplicitClassNamesNamesFileAndLine() {
        assertError(.unknownLabel(path: "t.csv", line: 4, label: "maybe", classNames: ["no", "yes"])) {
            _ = try csv("text,label\n\"multi\nline\",yes\nmaybe so,maybe\n", classNames: ["no", "yes"])
        }
    }

    func testIntegerLabels() throws {
        let f = try csv("text,label\na,2\nb,0\nc, 2\n")
        XCTAssertEqual(f.labels, [2, 0, 2])
        XCTAssertEqual(f.classNames, ["0", "1", "2"])
        let named = try csv("text,label\na,1\nb,0\n", classNames: ["neg", "pos"])
        XCTAssertEqual(named.labels, [1, 0])
        XCTAssertEqual(named.classNames, ["neg", "pos"])
        assertError(.labelOutOfRange(path: "t.csv", line: 3, label: 2, classCount: 2)) {
            _ = try csv("text,label\na,1\nb,2\n", classNames: ["neg", "pos"])
        }
        assertError(.labelOutOfRange(path: "t.jsonl", line: 1, label: -1, classCount: 2)) {
            _ = try jsonl("{\"text\": \"a\", \"label\": -1}\n", classNames: ["neg", "pos"])
        }
        assertError(.invalidLabel(path: "t.csv", line: 2, value: "-1", reason: "a class index cannot be negative")) {
            _ = try csv("text,label\na,-1\n")
        }
        assertError(.invalidLabel(path: "t.csv", line: 3, value: "two",
                                  reason: "not a class index (a whole number from 0)")) {
            _ = try csv("text,label\na,1\nb,two\n", labels: .integers)
        }
    }

    func testDigitLabelsThatAreExplicitNamesStayNames() throws {
        // Star ratings "1", "2", "5" given as class names: label "5" is class 2, not index 5.
        let f = try csv("text,label\nbad,1\ngreat,5\nmeh,2\n", classNames: ["1", "2", "5"])
        XCTAssertEqual(f.labels, [0, 2, 1])
        // Forcing names sorts the digit strings as names.
        let names = try csv("text,label\na,10\nb,9\n", labels: .names)
        XCTAssertEqual(names.classNames, ["10", "9"])
        XCTAssertEqual(names.labels, [0, 1])
    }

    func testEmptyLabelIsAnError() {
        assertError(.invalidLabel(path: "t.csv", line: 3, value: "", reason: "the label is empty")) {
            _ = try csv("text,label\na,x\nb, \n")
        }
    }

    func testInvalidExplicitClassNames() {
        assertError(.invalidClassNames(reason: "'a' appears more than once")) {
            _ = try csv("text,label\nx,a\n", classNames: ["a", "b", "a"])
        }
        assertError(.invalidClassNames(reason: "the list is empty")) { _ = try csv("text,label\nx,a\n", classNames: []) }
    }

    // MARK: - Files on disk

    func testReadsFilesByExtensionAndNamesThemInErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("textdata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let csvPath = dir.appendingPathComponent("train.CSV").path
        try Data("text,label\nhi,a\n".utf8).write(to: URL(fileURLWithPath: csvPath))
        XCTAssertEqual(try TextClassificationFile(path: csvPath).format, .csv)
        let jsonlPath = dir.appendingPathComponent("train.ndjson").path
        try Data("{\"text\": \"hi\", \"label\": \"a\"}\n{oops}\n".utf8).write(to: URL(fileURLWithPath: jsonlPath))
        do {
            _ = try TextClassificationFile(path: jsonlPath)
            XCTFail("expected an error")
        } catch let error as TextDataError {
            XCTAssertEqual(error.path, jsonlPath)
            XCTAssertEqual(error.line, 2)
            XCTAssertTrue(error.description.hasPrefix("\(jsonlPath):2: "), error.description)
        }
        let txt = dir.appendingPathComponent("train.txt").path
        assertError(.unknownFormat(path: txt)) { _ = try TextClassificationFile(path: txt) }
        XCTAssertEqual(try TextClassificationFile(path: csvPath, format: .csv).count, 1)

        let missing = dir.appendingPathComponent("missing.csv").path
        do {
            _ = try TextClassificationFile(path: missing)
            XCTFail("expected an error")
        } catch let error as TextDataError {
            guard case .unreadable(let path, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(path, missing)
            XCTAssertTrue(error.description.contains(missing))
        }
    }

    func testFormatFromPath() {
        XCTAssertEqual(TextFileFormat(path: "a/b.csv"), .csv)
        XCTAssertEqual(TextFileFormat(path: "b.JSONL"), .jsonl)
        XCTAssertEqual(TextFileFormat(path: "b.ndjson"), .jsonl)
        XCTAssertNil(TextFileFormat(path: "b.json"))
        XCTAssertNil(TextFileFormat(path: "dir.csv/b"))
    }
}
