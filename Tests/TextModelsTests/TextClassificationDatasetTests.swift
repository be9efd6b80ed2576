import Foundation
import Tensor
import Training
import XCTest
@testable import TextModels

/// The encoded dataset, the padding collate, and the fortunes script's output read back.
final class TextClassificationDatasetTests: XCTestCase {
    /// A stand-in tokenizer: 1 (a "[CLS]"), then each character's code point.
    private static func characterIds(_ text: String) -> [Int] {
        [1] + text.unicodeScalars.map { Int($0.value) }
    }

    private func ids(_ values: [Int]) throws -> Tensor { try Tensor(shape: [values.count], indices: values) }

    // MARK: - Padding collate

    func testPadShapesValuesAndLabels() throws {
        let items = [(input: try ids([5, 6, 7]), label: 1), (input: try ids([8]), label: 0),
                     (input: try ids([9, 10]), label: 2)]
        let batch = try TextBatchCollation.pad(items)
        XCTAssertEqual(batch.inputs.shape, [3, 3])
        XCTAssertEqual(batch.inputs.dtype, .int64)
        XCTAssertEqual(batch.inputs.indexScalars, [5, 6, 7,
                                                   8, 0, 0,
                                                   9, 10, 0])
        XCTAssertEqual(batch.labels, [1, 0, 2])

        let padded = try TextBatchCollation.pad(items, padId: 99)
        XCTAssertEqual(padded.inputs.indexScalars, [5, 6, 7, 8, 99, 99, 9, 10, 99])
    }

    func testPadEqualLengthsAndEmptyRows() throws {
        let same = try TextBatchCollation.pad([(input: try ids([1, 2]), label: 0), (input: try ids([3, 4]), label: 1)])
        XCTAssertEqual(same.inputs.shape, [2, 2])
        XCTAssertEqual(same.inputs.indexScalars, [1, 2, 3, 4])
        let withEmpty = try TextBatchCollation.pad([(input: try ids([]), label: 0), (input: try ids([7]), label: 1)], padId: 3)
        XCTAssertEqual(withEmpty.inputs.shape, [2, 1])
        XCTAssertEqual(withEmpty.inputs.indexScalars, [3, 7])
    }

    func testPadAcceptsInt32Rows() throws {
        let values: [Int32] = [4, 5]
        let row = try values.withUnsafeBytes { try Tensor(shape: [2], dtype: .int32, bytes: $0) }
        let batch = try TextBatchCollation.pad([(input: row, label: 0), (input: try ids([6]), label: 1)])
        XCTAssertEqual(batch.inputs.dtype, .int64)
        XCTAssertEqual(batch.inputs.indexScalars, [4, 5, 6, 0])
    }

    func testPadRejectsBadBatches() throws {
        XCTAssertThrowsError(try TextBatchCollation.pad([])) { error in
            guard case TrainingError.invalidConfiguration = error else { return XCTFail("got \(error)") }
        }
        XCTAssertThrowsError(try TextBatchCollation.pad([(input: try ids([]), label: 0)])) { error in
            guard case TrainingError.invalidConfiguration = error else { return XCTFail("got \(error)") }
        }
        let matrix = try Tensor(shape: [1, 2], indices: [1, 2])
        XCTAssertThrowsError(try TextBatchCollation.pad([(input: try ids([1]), label: 0), (input: matrix, label: 0)])) { error in
            guard case TensorError.invalidShape("pad item 1", [1, 2], _) = error else { return XCTFail("got \(error)") }
        }
        XCTAssertThrowsError(try TextBatchCollation.pad([(input: Tensor([1, 2]), label: 0)])) { error in
            guard case TensorError.unsupportedDType(_, .float32) = error else { return XCTFail("got \(error)") }
        }
    }

    // MARK: - Dataset

    func testDatasetEncodesEveryTextAndReadsItems() throws {
        let file = try TextClassificationFile(parsing: "text,label\nab,y\n\"c,\nd\",x\n", path: "t.csv", format: .csv)
        let dataset = try TextClassificationDataset(file: file, encode: Self.characterIds)
        XCTAssertEqual(dataset.count, 2)
        XCTAssertEqual(dataset.classNames, ["x", "y"])
        XCTAssertEqual(dataset.labels, [1, 0])
        XCTAssertEqual(dataset.ids, [[1, 97, 98], [1, 99, 44, 10, 100]])
        var context = ItemContext(epoch: 0, index: 1, seed: 0)
        let item = try dataset.item(at: 1, context: &context)
        XCTAssertEqual(item.input.shape, [5])
        XCTAssertEqual(item.input.dtype, .int64)
        XCTAssertEqual(item.input.indexScalars, [1, 99, 44, 10, 100])
        XCTAssertEqual(item.label, 0)
    }

    func testDatasetWithLoaderAndPadding() throws {
        let text = "text,label\na,p\nbbb,q\ncc,p\nd,q\neeeee,p\n"
        let file = try TextClassificationFile(parsing: text, path: "t.csv", format: .csv)
        let dataset = try TextClassificationDataset(file: file, encode: Self.characterIds)
        let loader = DataLoader(dataset: dataset, batchSize: 2, shuffle: false, prefetch: 0) {
            try TextBatchCollation.pad($0)
        }
        var shapes: [[Int]] = []
        var firstBatch: [Int] = []
        for result in loader.epoch(0) {
            let batch = try result.get()
            if shapes.isEmpty { firstBatch = batch.inputs.indexScalars }
            shapes.append(batch.inputs.shape)
        }
        XCTAssertEqual(shapes, [[2, 4], [2, 3], [1, 6]])
        XCTAssertEqual(firstBatch, [1, 97, 0, 0, 1, 98, 98, 98])

        // A stratified split of the file's labels views the same dataset.
        let split = try DatasetSplit.trainValidation(labels: dataset.labels, validationFraction: 0.4, seed: 1)
        let validation = try Subset(dataset, indices: split.validation)
        XCTAssertEqual(validation.count, 2)
        XCTAssertEqual(Set(split.validation.map { dataset.labels[$0] }), [0, 1])
    }

    func testEncodingErrorsNameFileAndLine() throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "no digits, please" } }
        let file = try TextClassificationFile(parsing: "text,label\nfine,a\n\"two\nlines\",a\nr2d2,b\n",
                                              path: "robots.csv", format: .csv)
        XCTAssertThrowsError(try TextClassificationDataset(file: file) { text in
            if text.contains(where: \.isNumber) { throw Refused() }
            return Self.characterIds(text)
        }) { error in
            XCTAssertEqual(error as? TextDataError,
                           .encodingFailed(path: "robots.csv", line: 5, reason: "no digits, please"))
            XCTAssertTrue("\(error)".hasPrefix("robots.csv:5: "), "\(error)")
        }
        XCTAssertThrowsError(try TextClassificationDataset(file: file) { $0 == "fine" ? [] : [1] }) { error in
            XCTAssertEqual(error as? TextDataError,
                           .encodingFailed(path: "robots.csv", line: 2, reason: "the encoder returned no ids"))
        }
    }

    // MARK: - The fortunes dataset

    private static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Reads DEST/{train,validation}.csv with the names of DEST/labels.json.
    private func readFortunes(_ dest: URL) throws -> (classNames: [String], train: TextClassificationFile,
                                                      validation: TextClassificationFile) {
        let names = try JSONDecoder().decode([String].self, from: Data(contentsOf: dest.appendingPathComponent("labels.json")))
        let train = try TextClassificationFile(path: dest.appendingPathComponent("train.csv").path, classNames: names)
        let validation = try TextClassificationFile(path: dest.appendingPathComponent("validation.csv").path,
                                                    classNames: names)
        return (names, train, validation)
    }

    private func classCounts(_ file: TextClassificationFile, classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for label in file.labels { counts[label] += 1 }
        return counts
    }

    /// Runs the script into a temporary folder and checks the files against the counts it prints.
    func testFortunesScriptOutputParses() throws {
        let script = Self.repositoryRoot.appendingPathComponent("scripts/make_fortunes_dataset")
        guard FileManager.default.fileExists(atPath: "/usr/share/games/fortunes/computers") else {
            throw XCTSkip("the Debian fortunes package is not installed (scripts/setup installs it)")
        }
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("fortunes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dest) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--max-per-class", "40", "--seed", "3", dest.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)

        let (names, train, validation) = try readFortunes(dest)
        XCTAssertGreaterThanOrEqual(names.count, 5)
        XCTAssertEqual(names, names.sorted())
        XCTAssertEqual(train.classNames, names)
        // The script's printed table: "<category> <train> <validation>  (<dropped>)".
        var printed: [String: (Int, Int)] = [:]
        for line in output.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count >= 3, let t = Int(words[1]), let v = Int(words[2]) { printed[String(words[0])] = (t, v) }
        }
        let trainCounts = classCounts(train, classes: names.count)
        let validationCounts = classCounts(validation, classes: names.count)
        for (k, name) in names.enumerated() {
            XCTAssertEqual(trainCounts[k], printed[name]?.0, name)
            XCTAssertEqual(validationCounts[k], printed[name]?.1, name)
            // 40 per class, round(0.2 · 40) = 8 held out.
            XCTAssertEqual(trainCounts[k], 32, name)
            XCTAssertEqual(validationCounts[k], 8, name)
        }
        XCTAssertTrue(Set(train.texts).isDisjoint(with: validation.texts), "a text is in both train and validation")
        XCTAssertFalse(train.texts.contains { $0.isEmpty || $0.count > 1000 || $0 != $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        XCTAssertTrue(train.texts.contains { $0.contains("\n") }, "multi-line fortunes should survive the CSV round trip")
    }

    /// Checks `data/fortunes` as built by `scripts/make_fortunes_dataset`, when it is there.
    func testBuiltFortunesDatasetParses() throws {
        let dest = Self.repositoryRoot.appendingPathComponent("data/fortunes")
        guard FileManager.default.fileExists(atPath: dest.appendingPathComponent("labels.json").path) else {
            throw XCTSkip("run scripts/make_fortunes_dataset to build data/fortunes")
        }
        let (names, train, validation) = try readFortunes(dest)
        XCTAssertGreaterThanOrEqual(names.count, 5)
        let trainCounts = classCounts(train, classes: names.count)
        let validationCounts = classCounts(validation, classes: names.count)
        for k in names.indices {
            XCTAssertGreaterThan(trainCounts[k], 0, names[k])
            XCTAssertGreaterThan(validationCounts[k], 0, names[k])
            // Stratified 80/20 (the default): each class's share held out is about a fifth.
            let share = Double(validationCounts[k]) / Double(trainCounts[k] + validationCounts[k])
            XCTAssertEqual(share, 0.2, accuracy: 0.02, names[k])
        }
        XCTAssertTrue(Set(train.texts).isDisjoint(with: validation.texts))
    }
}
