import XCTest
import Foundation
import ImageModels
import Tensor
import Training

/// The synthetic fundus set on disk (APTOS layout) and in memory.
final class FundusDatasetTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fundus-\(UUID().uuidString)", isDirectory: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A binary PPM (P6), the simplest encoder, standing in for PNG.
    private static func ppm(_ pixels: [Float], _ width: Int, _ height: Int) throws -> Data {
        var data = Data("P6\n\(width) \(height)\n255\n".utf8)
        data.append(contentsOf: FundusGenerator.interleavedRGB8(pixels, width: width, height: height))
        return data
    }

    /// Decodes a P6 file written by `ppm` back to planar floats.
    private static func readPPM(_ data: Data) throws -> (width: Int, height: Int, pixels: [Float]) {
        let bytes = [UInt8](data)
        var fields: [String] = [], position = 0, current = ""
        while fields.count < 4 {
            let c = Character(UnicodeScalar(bytes[position]))
            position += 1
            if c.isWhitespace { if !current.isEmpty { fields.append(current); current = "" } } else { current.append(c) }
        }
        XCTAssertEqual(fields[0], "P6")
        let width = Int(fields[1])!, height = Int(fields[2])!, n = width * height
        XCTAssertEqual(bytes.count - position, 3 * n)
        var planar = [Float](repeating: 0, count: 3 * n)
        for i in 0..<n { for c in 0..<3 { planar[c * n + i] = Float(bytes[position + 3 * i + c]) / 255 } }
        return (width, height, planar)
    }

    func testGradesFollowTheDistributionExactly() throws {
        // 37 × [0.5, 0.1, 0.25, 0.05, 0.1] = 18.5, 3.7, 9.25, 1.85, 3.7: floors 18, 3, 9, 1, 3 (34),
        // the three largest remainders (.85, .7, .7) add one each.
        let grades = try FundusDataset.grades(count: 37, distribution: [0.5, 0.1, 0.25, 0.05, 0.1], seed: 3)
        XCTAssertEqual((0..<5).map { g in grades.filter { $0 == g }.count }, [18, 4, 9, 2, 4])
        XCTAssertEqual(grades, try FundusDataset.grades(count: 37, distribution: [0.5, 0.1, 0.25, 0.05, 0.1], seed: 3))
        XCTAssertNotEqual(grades, try FundusDataset.grades(count: 37, distribution: [0.5, 0.1, 0.25, 0.05, 0.1], seed: 4))
        XCTAssertNotEqual(grades, grades.sorted(), "shuffled")
        // Weights need not sum to one; APTOS's default is skewed to grade 0.
        let aptos = try FundusDataset.grades(count: 1000, seed: 1)
        XCTAssertEqual((0..<5).map { g in aptos.filter { $0 == g }.count }, [493, 101, 273, 53, 80])
        let scaled = try FundusDataset.grades(count: 10, distribution: [2, 2, 2, 2, 2], seed: 1)
        XCTAssertEqual((0..<5).map { g in scaled.filter { $0 == g }.count }, [2, 2, 2, 2, 2])
    }

    func testInvalidSettingsAreTypedErrors() {
        for bad in [[0.5, 0.5], [1, -1, 1, 1, 1], [0, 0, 0, 0, 0], [1, .nan, 1, 1, 1]] {
            XCTAssertThrowsError(try FundusDataset.grades(count: 10, distribution: bad, seed: 0)) { error in
                guard case .invalidGradeDistribution(let weights)? = error as? FundusDatasetError else {
                    return XCTFail("unexpected \(error)")
                }
                XCTAssertEqual(weights.count, bad.count)
            }
        }
        XCTAssertThrowsError(try FundusDataset.grades(count: 0, seed: 0)) {
            XCTAssertEqual($0 as? FundusDatasetError, .invalidCount(0))
        }
        XCTAssertThrowsError(try SyntheticFundusDataset(count: 4, site: .source, size: 4, seed: 0)) {
            XCTAssertEqual($0 as? FundusDatasetError, .invalidSize(4))
        }
        XCTAssertThrowsError(try FundusDataset.write(to: directory, count: 2, site: .source, size: 2, seed: 0, encode: Self.ppm)) {
            XCTAssertEqual($0 as? FundusDatasetError, .invalidSize(2))
        }
    }

    func testIdCodesLookLikeAPTOSAndAreDistinct() {
        let ids = (0..<5000).map { FundusDataset.idCode(index: $0, seed: 42) }
        XCTAssertEqual(Set(ids).count, ids.count)
        let hex = Set("0123456789abcdef")
        XCTAssertTrue(ids.allSatisfy { $0.count == 12 && $0.allSatisfy(hex.contains) })
        XCTAssertEqual(FundusDataset.idCode(index: 7, seed: 42), ids[7])
        XCTAssertNotEqual(FundusDataset.idCode(index: 7, seed: 43), ids[7])
    }

    func testWritesTheAPTOSLayout() throws {
        let count = 12, size = 24, seed: UInt64 = 77
        let rows = try FundusDataset.write(to: directory, count: count, site: .target, size: size, seed: seed,
                                           fileExtension: "ppm", encode: Self.ppm)
        let grades = try FundusDataset.grades(count: count, seed: seed)

        let csv = try String(contentsOf: directory.appendingPathComponent("labels.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "id_code,diagnosis")
        XCTAssertEqual(lines.count, count + 1)
        let generator = FundusGenerator(site: .target, size: size, seed: seed)
        for i in 0..<count {
            let fields = lines[i + 1].split(separator: ",").map(String.init)
            XCTAssertEqual(fields, [FundusDataset.idCode(index: i, seed: seed), String(grades[i])])
            XCTAssertEqual(rows[i].idCode, fields[0])
            XCTAssertEqual(rows[i].grade, grades[i])
            let file = directory.appendingPathComponent("images/\(fields[0]).ppm")
            let image = try Self.readPPM(Data(contentsOf: file))
            XCTAssertEqual(image.width, size)
            XCTAssertEqual(image.height, size)
            let expected = generator.image(index: i, grade: grades[i])
            XCTAssertLessThanOrEqual(zip(image.pixels, expected).map { abs($0 - $1) }.max()!, 0.5 / 255 + 1e-6, "row \(i)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("images").path)
        XCTAssertEqual(files.count, count)

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("dataset.json")))
        let meta = try XCTUnwrap(json as? [String: Any])
        XCTAssertEqual(meta["site"] as? String, "target")
        XCTAssertEqual(meta["size"] as? Int, size)
        XCTAssertEqual(meta["count"] as? Int, count)
        XCTAssertEqual(meta["seed"] as? String, "77")
        XCTAssertEqual(meta["grade_counts"] as? [Int], (0..<5).map { g in grades.filter { $0 == g }.count })
    }

    func testEncoderFailureNamesTheImage() {
        struct Broken: Error {}
        XCTAssertThrowsError(try FundusDataset.write(to: directory, count: 3, site: .source, size: 16, seed: 1) { _, _, _ in
            throw Broken()
        }) { error in
            guard case .encodingFailed(let id, _)? = error as? FundusDatasetError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertTrue((0..<3).map { FundusDataset.idCode(index: $0, seed: 1) }.contains(id))
        }
        // No labels.csv: an incomplete set is not mistaken for a complete one.
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("labels.csv").path))
    }

    func testInMemoryDatasetMatchesTheFiles() throws {
        let data = try SyntheticFundusDataset(count: 9, site: .source, size: 20, seed: 5)
        let cached = try SyntheticFundusDataset(count: 9, site: .source, size: 20, seed: 5, precompute: true)
        XCTAssertEqual(data.count, 9)
        XCTAssertEqual(data.labels, try FundusDataset.grades(count: 9, seed: 5))
        let generator = FundusGenerator(site: .source, size: 20, seed: 5)
        for i in [0, 4, 8] {
            var context = ItemContext(epoch: 0, index: i, seed: 1)
            let item = try data.item(at: i, context: &context)
            XCTAssertEqual(item.input.shape, [3, 20, 20])
            XCTAssertEqual(item.label, data.labels[i])
            XCTAssertEqual(item.input.scalars, generator.image(index: i, grade: data.labels[i]))
            XCTAssertEqual(try cached.item(at: i, context: &context).input.scalars, item.input.scalars)
        }
        // Works with the loader and collation used in training.
        let loader = DataLoader(dataset: data, batchSize: 4, shuffle: true, seed: 2, prefetch: 0) { items in
            try ClassificationBatch.collate(items)
        }
        let batch = try loader.batch(at: LoaderPosition(epoch: 0, batch: 0))
        XCTAssertEqual(batch.inputs.shape, [4, 3, 20, 20])
    }
}
