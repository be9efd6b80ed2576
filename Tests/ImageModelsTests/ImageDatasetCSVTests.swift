import Foundation
import Tensor
import Training
import XCTest
@testable import ImageModels

/// `ImageCSVDataset`: `image,label` files, the APTOS layout, CSV syntax and bad files.
final class ImageDatasetCSVTests: XCTestCase {
    private func folder(with names: [String]) throws -> String {
        let dir = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        for (i, name) in names.enumerated() {
            try Image(height: 2, width: 2, channels: 3, repeating: Float(i + 1) / 10).writePNG(to: dir + "/images/" + name)
        }
        return dir
    }

    private func write(_ text: String, to path: String) throws { try writeBytes(Array(text.utf8), to: path) }

    func testImageLabelCSVWithQuotesCRLFAndBOM() throws {
        let dir = try folder(with: ["a.png", "b, c.png", "d \"e\".png"])
        try write("\u{FEFF}image,label\r\n a.png , 2\r\n\"b, c.png\",0\r\n\r\n\"d \"\"e\"\".png\",1\r\n", to: dir + "/list.csv")
        let dataset = try ImageCSVDataset(csv: dir + "/list.csv", imageDirectory: dir + "/images")
        XCTAssertEqual(dataset.samples.map { String($0.path.dropFirst(dir.count + 8)) }, ["a.png", "b, c.png", "d \"e\".png"])
        XCTAssertEqual(dataset.labels, [2, 0, 1])
        XCTAssertEqual(dataset.classNames, ["0", "1", "2"])
        var context = ItemContext(epoch: 0, index: 1, seed: 0)
        let item = try dataset.item(at: 1, context: &context)
        XCTAssertEqual(item.label, 0)
        XCTAssertEqual(item.input.shape, [3, 2, 2])
        XCTAssertEqual(item.input.scalars[0], Float(51) / 255)   // 0.2 → 51
    }

    func testAPTOSLayout() throws {
        let dir = try folder(with: ["000c1434d8d7.png", "001639a390f0.png", "0024cdab0c1e.png"])
        try write("id_code,diagnosis\n000c1434d8d7,2\n001639a390f0,4\n0024cdab0c1e,1\n", to: dir + "/train.csv")
        let dataset = try ImageCSVDataset.aptos(csv: dir + "/train.csv", imageDirectory: dir + "/images",
                                                transform: Resize(height: 4, width: 4))
        XCTAssertEqual(dataset.count, 3)
        XCTAssertEqual(dataset.labels, [2, 4, 1])
        XCTAssertEqual(dataset.classNames, ["0", "1", "2", "3", "4"])
        XCTAssertTrue(dataset.samples[0].path.hasSuffix("/images/000c1434d8d7.png"))
        var context = ItemContext(epoch: 0, index: 2, seed: 0)
        XCTAssertEqual(try dataset.item(at: 2, context: &context).input.shape, [3, 4, 4])
    }

    func testExtensionsAreTriedInOrderAndNameLabels() throws {
        let dir = try folder(with: ["x.jpeg", "x.png", "y.png"])
        try write("file,kind\nx,zebra\ny,ant\nx.png,zebra\n", to: dir + "/l.csv")
        let dataset = try ImageCSVDataset(csv: dir + "/l.csv", imageDirectory: dir + "/images", imageColumn: "file",
                                          labelColumn: "kind", extensions: ["png", "", "jpeg"], labels: .names)
        XCTAssertEqual(dataset.samples.map { String($0.path.dropFirst(dir.count + 8)) }, ["x.png", "y.png", "x.png"])
        XCTAssertEqual(dataset.classNames, ["ant", "zebra"])
        XCTAssertEqual(dataset.labels, [1, 0, 1])
    }

    func testMissingColumnNamesTheFileAndTheColumnsThereAre() throws {
        let dir = try folder(with: ["a.png"])
        try write("id_code,grade\na,1\n", to: dir + "/t.csv")
        XCTAssertThrowsError(try ImageCSVDataset.aptos(csv: dir + "/t.csv", imageDirectory: dir + "/images")) {
            XCTAssertEqual($0 as? ImageDatasetError,
                           .missingColumn(path: dir + "/t.csv", column: "diagnosis", available: ["id_code", "grade"]))
            XCTAssertTrue("\($0)".contains("id_code, grade"))
        }
    }

    func testSyntaxErrorsNameTheLine() throws {
        let dir = try folder(with: ["a.png"])
        let cases: [(String, Int, String)] = [
            ("image,label\na.png,1\n\"multi\nline.png\",1\na.png\n", 5, "1 field, the header has 2"),
            ("image,label\na.png,1\n\"open.png,1\n", 3, "never closed"),
            ("image,label\n\"a.png\"x,1\n", 2, "after the closing quote"),
            ("", 1, "no header"),
        ]
        for (text, line, reason) in cases {
            try write(text, to: dir + "/s.csv")
            XCTAssertThrowsError(try ImageCSVDataset(csv: dir + "/s.csv", imageDirectory: dir + "/images")) { error in
                guard case .csvSyntax(let path, let l, let r)? = error as? ImageDatasetError else { return XCTFail("\(error)") }
                XCTAssertEqual(path, dir + "/s.csv")
                XCTAssertEqual(l, line, text)
                XCTAssertTrue(r.contains(reason), r)
            }
        }
    }

    func testInvalidLabelsNameTheLine() throws {
        let dir = try folder(with: ["a.png"])
        let notIndex = "not a class index (a whole number from 0)"
        for (bad, reason) in [("two", notIndex), ("-1", "a class index cannot be negative"), ("1.5", notIndex), ("", notIndex)] {
            try write("image,label\na.png,0\na.png,\(bad)\n", to: dir + "/b.csv")
            XCTAssertThrowsError(try ImageCSVDataset(csv: dir + "/b.csv", imageDirectory: dir + "/images")) {
                XCTAssertEqual($0 as? ImageDatasetError, .invalidLabel(path: dir + "/b.csv", line: 3, value: bad, reason: reason))
                XCTAssertTrue("\($0)".contains("line 3"), "\($0)")
            }
        }
    }

    func testMissingAndCorruptImagesInBothModes() throws {
        let dir = try folder(with: ["good.png"])
        try writeBytes(Array("GIF89a......".utf8), to: dir + "/images/gif.png")
        try write("image,label\ngood,0\nabsent,1\ngif,1\n", to: dir + "/m.csv")
        let csv = dir + "/m.csv", images = dir + "/images"
        XCTAssertThrowsError(try ImageCSVDataset(csv: csv, imageDirectory: images)) {
            XCTAssertEqual($0 as? ImageDatasetError,
                           .missingImage(csv: csv, line: 3, tried: ["", ".png", ".jpg", ".jpeg"].map { images + "/absent" + $0 }))
        }
        try write("image,label\ngood,0\ngif,1\n", to: csv)
        XCTAssertThrowsError(try ImageCSVDataset(csv: csv, imageDirectory: images)) {
            XCTAssertEqual($0 as? ImageError, .unsupportedFormat(path: images + "/gif.png", format: "GIF"))
        }
        try write("image,label\ngood,0\nabsent,1\ngif,1\n", to: csv)
        let dataset = try ImageCSVDataset(csv: csv, imageDirectory: images, badFiles: .skip)
        XCTAssertEqual(dataset.samples, [ImageSample(path: images + "/good.png", label: 0)])
        XCTAssertEqual(dataset.skipped.map(\.path), [images + "/absent", images + "/gif.png"])
        XCTAssertTrue(dataset.skipped[0].reason.contains("line 3"))
    }

    func testUnreadableCSV() throws {
        let dir = try makeTemporaryDirectory()
        XCTAssertThrowsError(try ImageCSVDataset(csv: dir + "/none.csv", imageDirectory: dir)) {
            guard case .unreadable(let path, _)? = $0 as? ImageDatasetError else { return XCTFail("\($0)") }
            XCTAssertEqual(path, dir + "/none.csv")
        }
    }
}
