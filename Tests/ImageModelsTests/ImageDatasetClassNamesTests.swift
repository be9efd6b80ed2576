import Foundation
import Tensor
import Training
import XCTest
@testable import ImageModels

/// Image datasets map labels by class name when the class names are given (the recipe's
/// `model.class_names`, or the training split's classes for a validation split), as text
/// datasets do. Expected indices are written out by hand from the given names.
final class ImageDatasetClassNamesTests: XCTestCase {
    /// A folder with one subfolder per name, each holding one small PNG.
    private func classFolder(_ names: [String]) throws -> String {
        let root = try makeTemporaryDirectory()
        for name in names {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            try Image(height: 2, width: 2, channels: 3, repeating: 0.5).writePNG(to: root + "/" + name + "/1.png")
        }
        return root
    }

    /// A folder `images/` with the named PNGs and a CSV file with `text`; returns (csv, images).
    private func csvList(_ text: String, images: [String]) throws -> (csv: String, images: String) {
        let dir = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        for name in images {
            try Image(height: 2, width: 2, channels: 3, repeating: 0.5).writePNG(to: dir + "/images/" + name)
        }
        try writeBytes(Array(text.utf8), to: dir + "/list.csv")
        return (dir + "/list.csv", dir + "/images")
    }

    // MARK: - Folders

    func testValidationFolderMissingAClassKeepsTheTrainingIndices() throws {
        let train = try ImageFolderDataset(root: try classFolder(["cat", "dog", "fox"]))
        XCTAssertEqual(train.classNames, ["cat", "dog", "fox"])
        let root = try classFolder(["cat", "fox"])
        // On its own the folder would call fox class 1 — the training split's dog.
        XCTAssertEqual(try ImageFolderDataset(root: root).labels, [0, 1])
        let validation = try ImageFolderDataset(root: root, classNames: train.classNames)
        XCTAssertEqual(validation.labels, [0, 2])
        XCTAssertEqual(validation.classNames, ["cat", "dog", "fox"])
    }

    func testGivenClassNamesKeepTheirOrder() throws {
        let dataset = try ImageFolderDataset(root: try classFolder(["cat", "dog"]), classNames: ["dog", "cat", "eel"])
        XCTAssertEqual(dataset.samples.map { URL(fileURLWithPath: $0.path).deletingLastPathComponent().lastPathComponent },
                       ["cat", "dog"])
        XCTAssertEqual(dataset.labels, [1, 0])
        XCTAssertEqual(dataset.classNames, ["dog", "cat", "eel"])
    }

    func testUnknownClassFolderIsAnErrorNamingItAndTheClasses() throws {
        let root = try classFolder(["cat", "wolf"])
        XCTAssertThrowsError(try ImageFolderDataset(root: root, classNames: ["cat", "dog"])) { error in
            XCTAssertEqual(error as? ImageDatasetError,
                           .unknownClassFolder(path: root + "/wolf", name: "wolf", classNames: ["cat", "dog"]))
            let message = "\(error)"
            XCTAssertTrue(message.contains(root + "/wolf") && message.contains("'cat', 'dog'"), message)
        }
    }

    func testFolderNamesThatLookLikeIntegersAreNames() throws {
        let root = try classFolder(["10", "2", "9"])
        // Sorted as text without names (torchvision's rule), by the given names with them.
        let sorted = try ImageFolderDataset(root: root)
        XCTAssertEqual(sorted.classNames, ["10", "2", "9"])
        XCTAssertEqual(sorted.labels, [0, 1, 2])
        let named = try ImageFolderDataset(root: root, classNames: ["2", "9", "10"])
        XCTAssertEqual(named.labels, [2, 0, 1])                // folders in sorted order: 10, 2, 9
    }

    func testInvalidGivenClassNames() throws {
        let root = try classFolder(["a"])
        XCTAssertThrowsError(try ImageFolderDataset(root: root, classNames: ["a", "b", "a"])) {
            XCTAssertEqual($0 as? ImageDatasetError, .invalidClassNames(reason: "'a' appears more than once"))
        }
        XCTAssertThrowsError(try ImageFolderDataset(root: root, classNames: [])) {
            XCTAssertEqual($0 as? ImageDatasetError, .invalidClassNames(reason: "the list is empty"))
        }
    }

    // MARK: - CSV lists

    func testValidationCSVMissingAClassKeepsIndicesByName() throws {
        let list = try csvList("image,label\na.png,ant\nc.png,cat\n", images: ["a.png", "c.png"])
        let alone = try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, labels: .names)
        XCTAssertEqual(alone.labels, [0, 1])
        let dataset = try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, labels: .names,
                                          classNames: ["ant", "bee", "cat"])
        XCTAssertEqual(dataset.labels, [0, 2])
        XCTAssertEqual(dataset.classNames, ["ant", "bee", "cat"])
    }

    func testUnknownLabelNamesFileLineValueAndClasses() throws {
        let list = try csvList("image,label\na.png,ant\n\"a.png\",\"wasp\"\n", images: ["a.png"])
        for format in [CSVLabelEncoding.names, .automatic] {
            XCTAssertThrowsError(try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, labels: format,
                                                     classNames: ["ant", "bee"])) { error in
                XCTAssertEqual(error as? ImageDatasetError,
                               .unknownLabel(path: list.csv, line: 3, label: "wasp", classNames: ["ant", "bee"]))
                let message = "\(error)"
                XCTAssertTrue(message.contains(list.csv) && message.contains("line 3") && message.contains("'ant', 'bee'"),
                              message)
            }
        }
    }

    func testIntegerLabelsIndexTheGivenNames() throws {
        let list = try csvList("image,label\na.png,1\na.png,0\n", images: ["a.png"])
        let dataset = try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, classNames: ["neg", "pos"])
        XCTAssertEqual(dataset.labels, [1, 0])
        XCTAssertEqual(dataset.classNames, ["neg", "pos"])
        try writeBytes(Array("image,label\na.png,1\na.png,2\n".utf8), to: list.csv)
        XCTAssertThrowsError(try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, classNames: ["neg", "pos"])) {
            XCTAssertEqual($0 as? ImageDatasetError, .labelOutOfRange(path: list.csv, line: 3, label: 2, classCount: 2))
        }
    }

    func testNamesThatLookLikeIntegers() throws {
        // Star ratings: the labels are the names "1", "2", "5", not the indices 1, 2, 5.
        let list = try csvList("image,label\na.png,5\na.png,1\na.png,2\n", images: ["a.png"])
        let stars = ["1", "2", "5"]
        for format in [CSVLabelEncoding.names, .automatic] {
            let dataset = try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, labels: format, classNames: stars)
            XCTAssertEqual(dataset.labels, [2, 0, 1], "\(format)")
        }
        // Read as indices, 5 is past the three classes.
        XCTAssertThrowsError(try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, labels: .integers,
                                                 classNames: stars)) {
            XCTAssertEqual($0 as? ImageDatasetError, .labelOutOfRange(path: list.csv, line: 2, label: 5, classCount: 3))
        }
        // Without names, digits are indices: classes "0" … "5".
        let indices = try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, labels: .automatic)
        XCTAssertEqual(indices.labels, [5, 1, 2])
        XCTAssertEqual(indices.classNames, ["0", "1", "2", "3", "4", "5"])
    }

    func testAPTOSSplitWithoutTheHighestGradeHasFiveClasses() throws {
        let list = try csvList("id_code,diagnosis\na,0\nb,3\n", images: ["a.png", "b.png"])
        let dataset = try ImageCSVDataset.aptos(csv: list.csv, imageDirectory: list.images)
        XCTAssertEqual(dataset.classNames, ["0", "1", "2", "3", "4"])
        XCTAssertEqual(dataset.labels, [0, 3])
        let grades = ["No DR", "Mild", "Moderate", "Severe", "Proliferative"]
        let named = try ImageCSVDataset.aptos(csv: list.csv, imageDirectory: list.images, classNames: grades)
        XCTAssertEqual(named.classNames, grades)
        XCTAssertEqual(named.labels, [0, 3])
        try writeBytes(Array("id_code,diagnosis\na,0\nb,5\n".utf8), to: list.csv)
        XCTAssertThrowsError(try ImageCSVDataset.aptos(csv: list.csv, imageDirectory: list.images)) {
            XCTAssertEqual($0 as? ImageDatasetError, .labelOutOfRange(path: list.csv, line: 3, label: 5, classCount: 5))
        }
    }

    func testHeaderOnlyCSVHasNoImages() throws {
        let list = try csvList("image,label\n", images: [])
        XCTAssertThrowsError(try ImageCSVDataset(csv: list.csv, imageDirectory: list.images, classNames: ["a"])) {
            XCTAssertEqual($0 as? ImageDatasetError, .noImages(path: list.csv, skipped: 0))
        }
    }
}
