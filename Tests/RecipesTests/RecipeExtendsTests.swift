import Foundation
import Recipes
import XCTest

final class RecipeExtendsTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var loader: RecipeLoader!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        loader = RecipeLoader(workingDirectory: directory.path)
    }

    override func tearDown() { directory.remove() }

    private let base = """
        task: image_classification
        model:
          architecture: resnet34
          weights: weights/base.safetensors
          class_names: [a, b, c]
          options: {depth: 34, zero_init: true}
        lora:
          rank: 8
          alpha: 16
          target_modules: [conv1, conv2]
        data:
          format: image_folder
          train: data/train
          transforms:
            - {name: resize, size: 256}
        train:
          epochs: 5
          optimizer: {lr: 0.001, weight_decay: 0.05}
        eval: {metrics: [accuracy]}
        output_dir: runs/base

        """

    func testChildKeysDeepMergeOverTheBase() throws {
        try directory.write("recipes/base/resnet.yaml", base)
        try directory.write("recipes/child.yaml", """
            extends: base/resnet.yaml
            model:
              options: {depth: 50}
            lora:
              rank: 32
              target_modules: [conv3]
            data:
              transforms: []
            train:
              optimizer: {lr: 0.01}
            output_dir: runs/child

            """)
        let loaded = try loader.load(path: "recipes/child.yaml")
        let r = loaded.recipe
        XCTAssertEqual(loaded.files, ["recipes/child.yaml", "recipes/base/resnet.yaml"])
        // Mappings merge key by key …
        XCTAssertEqual(r.model.architecture, "resnet34")
        XCTAssertEqual(r.model.options, ["depth": .int(50), "zero_init": .bool(true)])
        XCTAssertEqual(r.lora?.rank, 32)
        XCTAssertEqual(r.lora?.alpha, 16)
        XCTAssertEqual(r.train.optimizer.learningRate, 0.01)
        XCTAssertEqual(r.train.optimizer.weightDecay, 0.05)
        XCTAssertEqual(r.train.epochs, 5)
        XCTAssertEqual(r.eval.metrics, ["accuracy"])
        // … lists and scalars replace.
        XCTAssertEqual(r.lora?.targetModules, ["conv3"])
        XCTAssertEqual(r.data.transforms, [])
        XCTAssertEqual(r.model.classNames, ["a", "b", "c"])
        // Each path resolves against the directory of the file that wrote it.
        XCTAssertEqual(r.model.weights, directory.absolute("recipes/base/weights/base.safetensors"))
        XCTAssertEqual(r.data.train, directory.absolute("recipes/base/data/train"))
        XCTAssertEqual(r.outputDirectory, directory.absolute("recipes/runs/child"))
        // Locations point into the file that wrote each key.
        XCTAssertEqual(loaded.location(of: "lora.rank"), .file("recipes/child.yaml", line: 5, column: 9))
        XCTAssertEqual(loaded.location(of: "lora.alpha"), .file("recipes/base/resnet.yaml", line: 9, column: 10))
    }

    func testNullInTheChildRemovesABaseSection() throws {
        try directory.write("base.yaml", base)
        try directory.write("full.yaml", "extends: base.yaml\nlora: null\nmodel: {weights: ~}\n")
        let r = try loader.load(path: "full.yaml").recipe
        XCTAssertNil(r.lora)
        XCTAssertEqual(r.train.mode, .full)
        XCTAssertNil(r.model.weights)
    }

    func testChainsOfBases() throws {
        try directory.write("a/base.yaml", base)
        try directory.write("a/b/middle.yaml", "extends: ../base.yaml\ntrain: {epochs: 2}\n")
        try directory.write("top.yaml", "extends: a/b/middle.yaml\nlora: {rank: 4}\n")
        let loaded = try loader.load(path: "top.yaml")
        XCTAssertEqual(loaded.files, ["top.yaml", "a/b/middle.yaml", "a/base.yaml"])
        XCTAssertEqual(loaded.recipe.train.epochs, 2)
        XCTAssertEqual(loaded.recipe.lora?.rank, 4)
        XCTAssertEqual(loaded.recipe.lora?.alpha, 16)
    }

    func testCyclesAreReported() throws {
        try directory.write("r/a.yaml", "extends: b.yaml\ntask: t\n")
        try directory.write("r/b.yaml", "task: u\nextends: ./a.yaml\n")
        let error = recipeError { _ = try self.loader.load(path: "r/a.yaml") }
        guard case let .extendsCycle(files, location)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(files, ["r/a.yaml", "r/b.yaml", "r/a.yaml"])
        XCTAssertEqual(location, .file("r/b.yaml", line: 2, column: 10), "the extends that closes the cycle")
        XCTAssertEqual(error?.description, "r/b.yaml:2:10: extends: cycle: r/a.yaml -> r/b.yaml -> r/a.yaml")

        try directory.write("self.yaml", "extends: self.yaml\n")
        let selfError = recipeError { _ = try self.loader.load(path: "self.yaml") }
        guard case let .extendsCycle(selfFiles, _)? = selfError else { return XCTFail("\(String(describing: selfError))") }
        XCTAssertEqual(selfFiles, ["self.yaml", "self.yaml"])
    }

    func testErrorsPointIntoTheFileThatWroteTheKey() throws {
        try directory.write("base.yaml", base.replacingOccurrences(of: "  alpha: 16", with: "  alpah: 16"))
        try directory.write("child.yaml", "extends: base.yaml\nlora: {rank: 4}\n")
        let error = recipeError { _ = try self.loader.load(path: "child.yaml") }
        assertLocated(error, key: "lora.alpah", source: .file("base.yaml"), line: 9, column: 3, suggestion: "alpha")

        try directory.write("child2.yaml", "extends: base2.yaml\n")
        try directory.write("base2.yaml", "task: t\nmodel: {architecture: a}\ndata: {format: f}\ntrain: {epochs: x}\n")
        assertLocated(recipeError { _ = try self.loader.load(path: "child2.yaml") }, key: "train.epochs",
                      source: .file("base2.yaml"), line: 4, column: 17)

        try directory.write("syntax.yaml", "extends: broken.yaml\n")
        try directory.write("broken.yaml", "task: t\nmodel: [a\n")
        let syntax = recipeError { _ = try self.loader.load(path: "syntax.yaml") }
        XCTAssertEqual(syntax?.location?.file, "broken.yaml")
    }

    func testMissingBaseNamesThePathAndTheExtendsLine() throws {
        try directory.write("sub/child.yaml", "task: t\nextends: ../missing.yaml\n")
        let error = recipeError { _ = try self.loader.load(path: "sub/child.yaml") }
        guard case let .unreadableFile(path, _, location)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(path, "missing.yaml")
        XCTAssertEqual(location, .file("sub/child.yaml", line: 2, column: 10))

        try directory.write("typed.yaml", "extends: [a.yaml]\n")
        let typed = recipeError { _ = try self.loader.load(path: "typed.yaml") }
        assertLocated(typed, key: "extends", source: .file("typed.yaml"), line: 1, column: 10)
    }

    func testExtendsIsOnlyATopLevelKey() throws {
        try directory.write("base.yaml", base)
        let error = recipeError {
            _ = try self.loader.load(yaml: "extends: base.yaml\nlora: {extends: x}\n", path: "c.yaml")
        }
        assertLocated(error, key: "lora.extends", source: .file("c.yaml"), line: 2, column: 8)
    }
}
