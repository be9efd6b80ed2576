import Foundation
import Recipes
import XCTest

final class RecipeValidationTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var loader: RecipeLoader!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        loader = RecipeLoader(workingDirectory: directory.path)
        for file in ExampleRecipes.files { try directory.write("recipes/" + file, "x") }
        for folder in ExampleRecipes.directories { try directory.makeDirectory("recipes/" + folder) }
    }

    override func tearDown() { directory.remove() }

    /// Registries as the command line would fill them, with a check for `image_csv`.
    private var context: RecipeContext {
        RecipeContext(
            tasks: RecipeNames(["image_classification", "text_classification"]),
            architectures: RecipeNames(["resnet18", "resnet34", "tiny_convnet", "minilm"]),
            dataFormats: RecipeNames(["image_folder", "image_csv", "text_csv", "synthetic_patterns"], checks: [
                "image_csv": { recipe, _ in
                    recipe.data.imageColumn == nil
                        ? [RecipeProblem(key: "data.image_column", kind: .missingKey(reason: "image_csv reads it"))] : []
                },
            ]),
            transforms: RecipeNames(["resize", "center_crop", "normalize", "flip"]),
            metrics: RecipeNames(["accuracy", "macro_f1", "qwk", "perplexity"],
                                 families: [.init("top<k>_accuracy") { $0.hasPrefix("top") && $0.hasSuffix("_accuracy") }]),
            plugins: RecipeNames(["se_block"]))
    }

    private func load(_ yaml: String, overrides: [String] = []) throws -> LoadedRecipe {
        try loader.load(yaml: yaml, path: "recipes/run.yaml", overrides: overrides)
    }

    /// The validation errors of the retina example with `overrides` applied.
    private func errors(_ overrides: String..., base: String = ExampleRecipes.retinaLoRA) throws -> [RecipeError] {
        try load(base, overrides: overrides).validationErrors(in: context)
    }

    func testExamplesAreValid() throws {
        for example in [ExampleRecipes.retinaLoRA, ExampleRecipes.textLoRA, ExampleRecipes.syntheticFull] {
            let loaded = try load(example)
            XCTAssertEqual(loaded.validationErrors(in: context), [])
            XCTAssertNoThrow(try loaded.validate(in: context))
        }
    }

    func testRangesAreCheckedAndLocated() throws {
        let cases: [(String, String, String)] = [
            ("lora.rank=0", "lora.rank", "must be ≥ 1, got 0"),
            ("lora.alpha=0", "lora.alpha", "must be > 0.0, got 0.0"),
            ("lora.dropout=1", "lora.dropout", "must be ≥ 0.0 and < 1.0, got 1.0"),
            ("lora.dropout=-0.1", "lora.dropout", "must be ≥ 0.0 and < 1.0, got -0.1"),
            ("train.optimizer.lr=0", "train.optimizer.lr", "must be > 0.0, got 0.0"),
            ("data.batch_size=0", "data.batch_size", "must be ≥ 1, got 0"),
            ("data.eval_batch_size=-2", "data.eval_batch_size", "must be ≥ 1, got -2"),
            ("train.epochs=0", "train.epochs", "must be ≥ 1, got 0"),
            ("train.gradient_accumulation=0", "train.gradient_accumulation", "must be ≥ 1, got 0"),
            ("train.clip_grad_norm=0", "train.clip_grad_norm", "must be > 0.0, got 0.0"),
            ("train.label_smoothing=1", "train.label_smoothing", "must be ≥ 0.0 and < 1.0, got 1.0"),
            ("train.optimizer.betas=[0.9, 1]", "train.optimizer.betas[1]", "must be ≥ 0.0 and < 1.0, got 1.0"),
            ("train.scheduler.min_lr_ratio=2", "train.scheduler.min_lr_ratio", "must be ≥ 0.0 and ≤ 1.0, got 2.0"),
            ("train.optimizer.groups[0].lr=-1", "train.optimizer.groups[0].lr", "must be > 0.0, got -1.0"),
            ("hooks.early_stopping.patience=0", "hooks.early_stopping.patience", "must be ≥ 1, got 0"),
        ]
        for (override, key, message) in cases {
            let found = try errors(override)
            XCTAssertEqual(found.count, 1, "\(override): \(found)")
            guard case let .invalidValue(k, location, m, _)? = found.first(where: { $0.key == key }) else {
                XCTFail("\(override): \(found)"); continue
            }
            XCTAssertEqual(k, key)
            XCTAssertEqual(m, message)
            XCTAssertEqual(location, .override(override), "the error points at the override that set the value")
        }
        // A value from the file points at its line and column.
        let rank = try load(ExampleRecipes.retinaLoRA.replacingOccurrences(of: "rank: 16", with: "rank: 0"))
            .validationErrors(in: context)
        XCTAssertEqual(rank.map(\.description), ["recipes/run.yaml:10:9: lora.rank: must be ≥ 1, got 0"])
    }

    func testRequiredCombinations() throws {
        // Neither epochs nor max_steps.
        var found = try errors("train.epochs=null")
        XCTAssertEqual(found.map(\.key), ["train.epochs"])
        guard case let .missingKey(_, location, reason)? = found.first else { return XCTFail("\(found)") }
        XCTAssertEqual(location, .override("train.epochs=null"))
        XCTAssertEqual(reason, "give train.epochs or train.max_steps")

        // train.mode lora without a lora section, and a lora section with full fine-tuning.
        found = try errors("lora=null", "train.mode=lora")
        XCTAssertEqual(found.map(\.key), ["lora"])
        XCTAssertEqual(found.first?.description, "override 'lora=null': lora: missing required key "
                       + "(train.mode is lora; add a lora section or set train.mode to full)")
        found = try errors("train.mode=full")
        XCTAssertEqual(found.map(\.key), ["lora"])
        XCTAssertEqual(found.first?.location, .file("recipes/run.yaml", line: 10, column: 3))

        // (classes against class_names is the classification task's check: TasksTests.)

        // validation_fraction with a validation file; nesterov without momentum; momentum with AdamW.
        XCTAssertEqual(try errors("data.validation_fraction=0.2").map(\.key), ["data.validation_fraction"])
        XCTAssertEqual(try errors("train.optimizer.name=sgd", "train.optimizer.nesterov=true").map(\.key),
                       ["train.optimizer.nesterov"])
        XCTAssertEqual(try errors("train.optimizer.momentum=0.9").map(\.key), ["train.optimizer.momentum"])
        XCTAssertEqual(try errors("lora.use_dora=true", "lora.init=pissa").map(\.key), ["lora.use_dora"])
        XCTAssertEqual(try errors("lora.target_modules=[]").map(\.key), ["lora.target_modules"])
        XCTAssertEqual(try errors("lora.rank_pattern={\"(unclosed\": 4}").map(\.key), ["lora.rank_pattern.(unclosed"])
        XCTAssertEqual(try errors("lora.target_modules=[\"re:[a-\"]").map(\.key), ["lora.target_modules[0]"])
        XCTAssertEqual(try errors("train.optimizer.groups[1].name=head", "train.optimizer.groups[1].patterns=[x]").map(\.key),
                       ["train.optimizer.groups[1].name"])
    }

    func testMissingFilesNameTheResolvedPathAndTheKey() throws {
        try FileManager.default.removeItem(atPath: directory.absolute("recipes/data/val.csv"))
        try FileManager.default.removeItem(atPath: directory.absolute("recipes/data/images"))
        try directory.write("recipes/data/images", "a file, not a directory")
        let found = try errors("model.weights=nowhere.safetensors")
        XCTAssertEqual(found.map(\.key), ["model.weights", "data.validation", "data.image_directory"])
        XCTAssertEqual(found[0], .missingFile(key: "model.weights", location: .override("model.weights=nowhere.safetensors"),
                                              path: directory.absolute("nowhere.safetensors"), expected: "file"))
        XCTAssertEqual(found[1], .missingFile(key: "data.validation", location: .file("recipes/run.yaml", line: 21, column: 15),
                                              path: directory.absolute("recipes/data/val.csv"), expected: "file or directory"))
        XCTAssertEqual(found[1].description, "recipes/run.yaml:21:15: data.validation: no such file or directory: "
                       + directory.absolute("recipes/data/val.csv"))
        guard case let .invalidValue(_, location, message, _) = found[2] else { return XCTFail("\(found[2])") }
        XCTAssertEqual(location, .file("recipes/run.yaml", line: 22, column: 20))
        XCTAssertEqual(message, directory.absolute("recipes/data/images") + " is a file, expected a directory")
    }

    func testNamesAreCheckedAgainstTheRegistriesPassedIn() throws {
        let found = try errors("task=image_clasification", "model.architecture=resnet43", "data.format=imagecsv",
                               "data.transforms[1].name=center_crp", "eval.metrics=[accuracy, qwk, top5_accuracy, acuracy]",
                               "plugins=[se_blok]")
        XCTAssertEqual(found.map(\.key), ["task", "model.architecture", "data.format", "data.transforms[1].name",
                                          "eval.metrics[3]", "plugins[0]"])
        XCTAssertEqual(found.map(\.suggestion), ["image_classification", "resnet34", "image_csv", "center_crop",
                                                 "accuracy", "se_block"])
        XCTAssertEqual(found[1].description, "override 'model.architecture=resnet43': model.architecture: unknown architecture "
                       + "\"resnet43\" (known: minilm, resnet18, resnet34, tiny_convnet) (did you mean \"resnet34\"?)")
        // Metric families are accepted: top5_accuracy raised nothing above.

        // With no registries (the default context), any name passes.
        XCTAssertEqual(try load(ExampleRecipes.retinaLoRA, overrides: ["model.architecture=anything"]).validationErrors(), [])
    }

    func testMonitorsMustBeMeasured() throws {
        let found = try errors("eval.monitor=qwq", "hooks.checkpoint.monitor=accuray", "hooks.checkpoint.mode=max")
        XCTAssertEqual(found.map(\.key), ["eval.monitor", "hooks.early_stopping.monitor", "hooks.checkpoint.monitor"],
                       "early stopping inherits eval's (bad) monitor")
        XCTAssertEqual(found.map(\.suggestion), ["qwk", "qwk", "accuracy"])
    }

    func testRegistryChecksContextChecksAndTheModelHook() throws {
        // The image_csv check registered with the data format runs for recipes using it.
        let csv = try errors("data.image_column=null")
        XCTAssertEqual(csv.map(\.key), ["data.image_column"])
        XCTAssertEqual(csv.first?.location, .override("data.image_column=null"))

        // A model hook, as the trainer's wiring would supply after building the model: here it
        // rejects the one target pattern that matches no layer.
        let layers = ["conv1", "conv2", "layer3.0.downsample.0", "fc"]
        let loaded = try load(ExampleRecipes.retinaLoRA)
        var context = self.context
        context.checks = [{ recipe in recipe.data.batchSize > 8 ? [.invalid("data.batch_size", "too big for this test")] : [] }]
        let errors = loaded.validationErrors(in: context) { recipe in
            (recipe.lora?.targetModules ?? []).enumerated().compactMap { i, pattern in
                pattern.hasPrefix("re:") || layers.contains(pattern) ? nil
                    : .invalid("lora.target_modules[\(i)]", "matches no layer of \(recipe.model.architecture)")
            } + [.invalid("lora.exclude_modules[0]", "matches no layer of \(recipe.model.architecture)")]
        }
        XCTAssertEqual(errors.map(\.description), [
            "recipes/run.yaml:32:15: data.batch_size: too big for this test",
            "recipes/run.yaml:16:21: lora.exclude_modules[0]: matches no layer of resnet34",
        ])

        // `validate` throws one error as itself, more as `.several`.
        XCTAssertThrowsError(try loaded.validate(in: context)) { error in
            XCTAssertEqual(error as? RecipeError, errors.first)
        }
        XCTAssertThrowsError(try loaded.validate(in: context) { _ in [.invalid("lora.alpha", "no")] }) { error in
            guard case let .several(all)? = error as? RecipeError else { return XCTFail("\(error)") }
            XCTAssertEqual(all.map(\.key), ["data.batch_size", "lora.alpha"])
            XCTAssertEqual((error as? RecipeError)?.all.count, 2)
        }
        let one = recipeError { try loaded.validate(in: self.context) { _ in [.invalid("lora.rank", "no")] } }
        XCTAssertEqual(one?.description, "recipes/run.yaml:10:9: lora.rank: no")
    }
}
