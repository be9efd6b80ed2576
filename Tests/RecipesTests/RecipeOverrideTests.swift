import Foundation
import Recipes
import XCTest

final class RecipeOverrideTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var loader: RecipeLoader!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        loader = RecipeLoader(workingDirectory: directory.path)
        try directory.write("recipes/base.yaml", ExampleRecipes.textLoRA)
        try directory.write("recipes/run.yaml", "extends: base.yaml\nlora: {rank: 4}\n")
    }

    override func tearDown() { directory.remove() }

    private func load(_ overrides: String...) throws -> LoadedRecipe {
        try loader.load(path: "recipes/run.yaml", overrides: overrides)
    }

    func testOverridesAreTypedByTheSchema() throws {
        let loaded = try load("lora.rank=32", "lora.alpha=12.5", "lora.use_dora=true", "train.epochs=1",
                              "data.train=other.csv", "task=2024", "train.seed=18446744073709551615")
        let r = loaded.recipe
        XCTAssertEqual(r.lora?.rank, 32, "applied after extends: wins over the child's 4")
        XCTAssertEqual(r.lora?.alpha, 12.5)
        XCTAssertEqual(r.lora?.useDoRA, true)
        XCTAssertEqual(r.train.epochs, 1)
        XCTAssertEqual(r.train.maxSteps, 2000, "untouched keys keep the base's value")
        XCTAssertEqual(r.data.train, directory.absolute("other.csv"), "override paths resolve against the working directory")
        XCTAssertEqual(r.task, "2024", "a string key takes digits as a string")
        XCTAssertEqual(r.train.seed, UInt64.max)
        XCTAssertEqual(loaded.overrides.map(\.text), ["lora.rank=32", "lora.alpha=12.5", "lora.use_dora=true", "train.epochs=1",
                                                      "data.train=other.csv", "task=2024", "train.seed=18446744073709551615"])
        XCTAssertEqual(loaded.location(of: "lora.rank"), .override("lora.rank=32"))
    }

    func testListsMappingsAndQuotedValuesUseFlowSyntax() throws {
        let r = try load("lora.target_modules=[query, value]", "model.options={pooling: mean, layers: [1, 2]}",
                         "eval.metrics=[]", "model.class_names=[neg, \"pos itive\"]", "task=\"a: b\"").recipe
        XCTAssertEqual(r.lora?.targetModules, ["query", "value"])
        XCTAssertEqual(r.model.options, ["pooling": .string("mean"), "layers": .list([.int(1), .int(2)])])
        XCTAssertEqual(r.eval.metrics, [])
        XCTAssertEqual(r.model.classNames, ["neg", "pos itive"])
        XCTAssertEqual(r.task, "a: b")
    }

    func testOverridesReachIntoListsAndNewKeys() throws {
        try directory.write("recipes/t.yaml", ExampleRecipes.retinaLoRA)
        let r = try loader.load(path: "recipes/t.yaml", overrides: [
            "data.transforms[0].size=320", "data.transforms.1.size=300", "data.transforms[3].name=flip",
            "model.options.depth=50", "hooks.early_stopping.patience=9", "train.optimizer.groups[0].lr=0.1",
        ]).recipe
        XCTAssertEqual(r.data.transforms.map(\.name), ["resize", "center_crop", "normalize", "flip"])
        XCTAssertEqual(r.data.transforms[0].parameters["size"], .int(320))
        XCTAssertEqual(r.data.transforms[1].parameters["size"], .int(300))
        XCTAssertEqual(r.model.options, ["depth": .int(50)])
        XCTAssertEqual(r.hooks.earlyStopping?.patience, 9)
        XCTAssertEqual(r.train.optimizer.groups[0].learningRate, 0.1)
    }

    func testNullOrEmptyRemovesAKey() throws {
        let r = try load("model.weights=null", "data.validation_fraction=", "lora=null", "train.mode=full").recipe
        XCTAssertNil(r.model.weights)
        XCTAssertNil(r.data.validationFraction)
        XCTAssertNil(r.lora)
    }

    func testUnknownOverrideKeySuggestsTheNearestKey() {
        let error = recipeError { _ = try self.load("lora.rnak=16") }
        assertLocated(error, key: "lora.rnak", source: .override("lora.rnak=16"), line: nil, column: nil, suggestion: "rank")
        XCTAssertEqual(error?.description, "override 'lora.rnak=16': lora.rnak: unknown key (did you mean \"rank\"?)")

        let nested = recipeError { _ = try self.load("train.optimizer.momentun=0.9") }
        assertLocated(nested, key: "train.optimizer.momentun", source: .override("train.optimizer.momentun=0.9"),
                      line: nil, column: nil, suggestion: "momentum")
        let root = recipeError { _ = try self.load("epochs=3") }
        XCTAssertEqual(root?.key, "epochs")
    }

    func testBadlyTypedOverrideNamesTheKeyAndType() {
        let error = recipeError { _ = try self.load("lora.rank=sixteen") }
        assertLocated(error, key: "lora.rank", source: .override("lora.rank=sixteen"), line: nil, column: nil)
        XCTAssertEqual(error?.description,
                       "override 'lora.rank=sixteen': lora.rank: expected an integer, found the string \"sixteen\"")
        let list = recipeError { _ = try self.load("lora.target_modules=query") }
        guard case let .typeMismatch(key, _, expected, _)? = list else { return XCTFail("\(String(describing: list))") }
        XCTAssertEqual(key, "lora.target_modules")
        XCTAssertEqual(expected, "a list of strings")
        let element = recipeError { _ = try self.load("lora.target_modules=[q, {a: 1}]") }
        XCTAssertEqual(element?.key, "lora.target_modules[1]")
        let bool = recipeError { _ = try self.load("hooks.metrics_log=sometimes") }
        XCTAssertEqual(bool?.description, "override 'hooks.metrics_log=sometimes': hooks.metrics_log: "
                       + "expected a boolean (true or false), found the string \"sometimes\"")
    }

    func testMalformedOverrides() {
        let cases: [(String, String)] = [
            ("lora.rank", "expected dotted.key=value"),
            ("=3", "the key is empty"),
            ("lora..rank=3", "has an empty part"),
            ("data.transforms[x].size=3", "malformed index"),
            ("data.transforms[7].size=3", "past the end"),
            ("task.name=x", "not a mapping"),
            ("lora.rank[0]=1", "not a list"),
            ("extends=other.yaml", "extends cannot be overridden"),
            ("lora.target_modules=[a, b", "not valid YAML flow syntax"),
        ]
        for (text, reason) in cases {
            let error = recipeError { _ = try self.load(text) }
            guard case let .invalidOverride(t, r)? = error else { XCTFail("\(text): \(String(describing: error))"); continue }
            XCTAssertEqual(t, text)
            XCTAssertTrue(r.contains(reason), "\(text): \(r)")
        }
    }
}
