import Demos
import Foundation
import ImageModels
import Runtime
import Tasks
import Training
import XCTest

/// Image folders map class folders to the training split's classes by name: a validation split
/// that lacks a class keeps the right indices, and an unknown class is an error naming it.
final class ImageFolderRecipeTests: XCTestCase {
    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "lorakit-folders-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Writes `count` 8×8 PNGs per class under `root/<class>/`, each a flat grey of the class's index.
    func writeImages(_ root: String, classes: [String], count: Int = 2) throws {
        for (k, name) in classes.enumerated() {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
            for i in 0..<count {
                let image = Image(height: 8, width: 8, channels: 3, pixels: [Float](repeating: Float(k + 1) / 10, count: 192))
                try image.writePNG(to: "\(root)/\(name)/\(i).png")
            }
        }
    }

    func writeRecipe(_ dir: String) throws -> String {
        let recipe = """
        task: image_classification
        model: {architecture: tiny_convnet, input_size: 8, options: {channels: 3}}
        data: {format: image_folder, train: train, validation: validation, batch_size: 4, transforms: [{name: resize, size: 8}]}
        train: {mode: full, epochs: 1}
        output_dir: out
        """
        try recipe.write(toFile: dir + "/recipe.yaml", atomically: true, encoding: .utf8)
        return dir + "/recipe.yaml"
    }

    func session(_ path: String) throws -> ClassificationSession {
        let run = try RecipeRun(path: path, builtIns: [DemosPlugin.self])
        let task = try XCTUnwrap(try run.task() as? ClassificationRecipeTask)
        return try task.makeSession(RunSetup(loaded: run.loaded, registry: run.registry))
    }

    func testAValidationSplitWithoutAClassKeepsTheTrainingIndices() throws {
        let dir = temporaryDirectory()
        try writeImages(dir + "/train", classes: ["apple", "banana", "cherry"])
        try writeImages(dir + "/validation", classes: ["apple", "cherry"])
        let session = try session(try writeRecipe(dir))
        XCTAssertEqual(try session.classNames(), ["apple", "banana", "cherry"])
        XCTAssertEqual(try session.classCount(), 3)
        let validation = try session.dataset(.validation)
        var labels: [Int] = []
        for i in 0..<validation.count {
            var context = ItemContext(epoch: 0, index: i, seed: 0)
            labels.append(try validation.item(at: i, context: &context).label)
        }
        XCTAssertEqual(labels.sorted(), [0, 0, 2, 2], "cherry is class 2 of the training split, not 1 of the validation folders")
        // And a run over it trains and evaluates.
        let run = try RecipeRun(path: dir + "/recipe.yaml", builtIns: [DemosPlugin.self])
        try run.validate(checkingData: true)
        _ = try run.train()
        XCTAssertEqual(try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/out/labels.json"))),
                       ["apple", "banana", "cherry"])
    }

    func testAnUnknownClassInTheValidationSplitIsAnErrorNamingIt() throws {
        let dir = temporaryDirectory()
        try writeImages(dir + "/train", classes: ["apple", "banana"])
        try writeImages(dir + "/validation", classes: ["apple", "durian"])
        let session = try session(try writeRecipe(dir))
        XCTAssertThrowsError(try session.dataset(.validation)) { error in
            XCTAssertTrue("\(error)".contains("durian"), "\(error)")
            XCTAssertTrue("\(error)".contains("apple") && "\(error)".contains("banana"), "lists the known classes: \(error)")
        }
    }
}
