import Foundation
import Tensor
import Training
import XCTest
@testable import ImageModels

/// `ImageFolderDataset` on temporary folders written with the PNG encoder.
final class ImageDatasetFolderTests: XCTestCase {
    /// A 2×3 image whose every sample is `value` (gray or RGB).
    private func solid(_ value: Float, channels: Int = 3) -> Image {
        Image(height: 2, width: 3, channels: channels, repeating: value)
    }

    /// root/b_dog/{x.png, nested/y.png}, root/a_cat/{m.png, z.jpg (a JPEG), notes.txt, .hidden.png},
    /// root/.git/ (hidden folder).
    private func makeTree() throws -> String {
        let root = try makeTemporaryDirectory()
        let fm = FileManager.default
        for folder in ["a_cat", "b_dog/nested", ".git"] {
            try fm.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        try solid(0.2).writePNG(to: root + "/a_cat/m.png")
        try writeBytes(try ImageFixtures.bytes("rgb.jpg"), to: root + "/a_cat/z.JPG")
        try writeBytes(Array("not an image".utf8), to: root + "/a_cat/notes.txt")
        try writeBytes([1, 2, 3], to: root + "/a_cat/.hidden.png")
        try solid(0.6, channels: 1).writePNG(to: root + "/b_dog/x.png")
        try solid(0.8).writePNG(to: root + "/b_dog/nested/y.png")
        return root
    }

    func testClassesAreSortedFoldersAndFilesFollowTorchvisionsOrder() throws {
        let root = try makeTree()
        let dataset = try ImageFolderDataset(root: root)
        XCTAssertEqual(dataset.classNames, ["a_cat", "b_dog"])
        XCTAssertEqual(dataset.samples.map { String($0.path.dropFirst(root.count + 1)) },
                       ["a_cat/m.png", "a_cat/z.JPG", "b_dog/x.png", "b_dog/nested/y.png"])
        XCTAssertEqual(dataset.labels, [0, 0, 1, 1])
        XCTAssertEqual(dataset.count, 4)
        XCTAssertTrue(dataset.skipped.isEmpty)
    }

    func testItemsAreDecodedRGBTensorsWithTheirLabels() throws {
        let dataset = try ImageFolderDataset(root: try makeTree())
        var context = ItemContext(epoch: 0, index: 2, seed: 1)
        let gray = try dataset.item(at: 2, context: &context)   // a 1-channel file, read as RGB
        XCTAssertEqual(gray.input.shape, [3, 2, 3])
        XCTAssertEqual(gray.label, 1)
        XCTAssertTrue(gray.input.scalars.allSatisfy { $0 == Float(153) / 255 })   // 0.6 → 153
        let jpeg = try dataset.item(at: 1, context: &context)
        XCTAssertEqual(jpeg.input.shape, [3, 12, 16])
        XCTAssertEqual(jpeg.label, 0)
    }

    func testTransformsUseTheItemsGenerator() throws {
        let root = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: root + "/only", withIntermediateDirectories: true)
        let ramp = Image(height: 1, width: 8, channels: 3, pixels: (0..<24).map { Float($0 % 8) / 8 })
        try ramp.writePNG(to: root + "/only/ramp.png")
        let dataset = try ImageFolderDataset(root: root, transform: Compose([RandomHorizontalFlip(), Resize(height: 2, width: 4)]))
        func read(epoch: Int) throws -> [Float] {
            var context = ItemContext(epoch: epoch, index: 0, seed: 42)
            return try dataset.item(at: 0, context: &context).input.scalars
        }
        XCTAssertEqual(try read(epoch: 3), try read(epoch: 3))
        let epochs = try (0..<20).map { try read(epoch: $0) }
        XCTAssertEqual(Set(epochs.map { $0[0] < $0[3] }).count, 2, "both flipped and unflipped epochs")
        XCTAssertEqual(epochs[0].count, 3 * 2 * 4)
    }

    func testBatchesThroughTheDataLoader() throws {
        let dataset = try ImageFolderDataset(root: try makeTree(), transform: CenterCrop(height: 2, width: 2))
        let loader = DataLoader(dataset: dataset, batchSize: 3, shuffle: true, seed: 5, prefetch: 1,
                                collate: ClassificationBatch.collate)
        var labels: [Int] = []
        for result in loader.epoch(0) {
            let batch = try result.get()
            XCTAssertEqual(Array(batch.inputs.shape.dropFirst()), [3, 2, 2])
            labels += batch.labels
        }
        XCTAssertEqual(labels.sorted(), [0, 0, 1, 1])
    }

    func testABadFileFailsTheBuildNamingIt() throws {
        let root = try makeTree()
        let bad = root + "/b_dog/broken.png"
        try writeBytes(Array("<html>404</html>".utf8), to: bad)
        XCTAssertThrowsError(try ImageFolderDataset(root: root)) { error in
            XCTAssertEqual((error as? ImageError)?.path, bad)
            XCTAssertTrue("\(error)".contains(bad))
        }
    }

    func testSkipLeavesBadFilesOutAndReportsThem() throws {
        let root = try makeTree()
        try writeBytes(Array("<html>404</html>".utf8), to: root + "/b_dog/broken.png")
        let png = try ImageFixtures.bytes("rgb8.png")
        try writeBytes(Array(png.prefix(png.count / 2)), to: root + "/a_cat/truncated.png")
        try writeBytes([], to: root + "/a_cat/empty.jpg")
        let dataset = try ImageFolderDataset(root: root, badFiles: .skip)
        XCTAssertEqual(dataset.count, 4)
        XCTAssertEqual(dataset.skipped.map { String($0.path.dropFirst(root.count + 1)) },
                       ["a_cat/empty.jpg", "a_cat/truncated.png", "b_dog/broken.png"])
        XCTAssertTrue(dataset.skipped[1].reason.contains("truncated"), dataset.skipped[1].reason)
    }

    func testCorruptDataPastTheHeaderCheckFailsTheItemNamingTheFile() throws {
        let root = try makeTree()
        var bytes = try ImageFixtures.bytes("rgb8_interlaced.png")
        let idat = (0..<(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == Array("IDAT".utf8) }!
        for i in (idat + 10)..<(idat + 40) { bytes[i] ^= 0x5A }
        let path = root + "/b_dog/zz-corrupt.png"
        try writeBytes(bytes, to: path)
        // The header check accepts it (its chunks are whole); reading the item fails with its name.
        let dataset = try ImageFolderDataset(root: root, badFiles: .skip)
        XCTAssertEqual(dataset.count, 5)
        let index = try XCTUnwrap(dataset.samples.firstIndex { $0.path == path })
        var context = ItemContext(epoch: 0, index: index, seed: 0)
        XCTAssertThrowsError(try dataset.item(at: index, context: &context)) { error in
            guard case .decodeFailed(let p, _)? = error as? ImageError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
        }
        // A full check at construction catches it.
        let checked = try ImageFolderDataset(root: root, badFiles: .skip, verification: .full)
        XCTAssertEqual(checked.count, 4)
        XCTAssertEqual(checked.skipped.map(\.path), [path])
    }

    func testTransformErrorsNameTheFile() throws {
        let dataset = try ImageFolderDataset(root: try makeTree(), transform: RandomCrop(size: 5))
        var context = ItemContext(epoch: 0, index: 0, seed: 0)
        XCTAssertThrowsError(try dataset.item(at: 0, context: &context)) { error in
            guard case .transformFailed(let path, let reason)? = error as? ImageDatasetError else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("a_cat/m.png"))
            XCTAssertTrue(reason.contains("RandomCrop"))
        }
    }

    func testFolderErrors() throws {
        let root = try makeTemporaryDirectory()
        XCTAssertThrowsError(try ImageFolderDataset(root: root + "/missing")) {
            XCTAssertEqual($0 as? ImageDatasetError, .notADirectory(path: root + "/missing"))
        }
        XCTAssertThrowsError(try ImageFolderDataset(root: root)) {
            XCTAssertEqual($0 as? ImageDatasetError, .noClasses(root: root))
        }
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolderDataset(root: root)) {
            XCTAssertEqual($0 as? ImageDatasetError, .emptyClass(path: root + "/empty", extensions: ["jpeg", "jpg", "png"]))
        }
        try FileManager.default.removeItem(atPath: root + "/empty")
        try FileManager.default.createDirectory(atPath: root + "/bad", withIntermediateDirectories: true)
        try writeBytes([0], to: root + "/bad/a.png")
        XCTAssertThrowsError(try ImageFolderDataset(root: root, badFiles: .skip)) {
            XCTAssertEqual($0 as? ImageDatasetError, .noImages(path: root, skipped: 1))
        }
    }
}
