import Foundation
import Recipes
import XCTest

/// `yaml()` writes a recipe that decodes back to an equal one; `flattened()` lists every leaf.
final class RecipeRenderingTests: XCTestCase {
    private let loader = RecipeLoader(workingDirectory: "/work")

    private func roundTrip(_ recipe: Recipe, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = recipe.yaml()
        let decoded = try loader.load(yaml: text, path: "/elsewhere/recipe.yaml").recipe
        XCTAssertEqual(decoded, recipe, "\n" + text, file: file, line: line)
    }

    func testExamplesRoundTrip() throws {
        for example in [ExampleRecipes.retinaLoRA, ExampleRecipes.textLoRA, ExampleRecipes.syntheticFull, minimalRecipe] {
            try roundTrip(loader.load(yaml: example, path: "/recipes/run.yaml").recipe)
        }
    }

    func testValuesThatNeedQuotingRoundTrip() throws {
        let awkward = ["yes", "no", "true", "null", "~", "", "1.5", "007", "-3", "a: b", "#hash", "- dash", "[x]", "{y}",
                       "multi\nline", "tab\tand \"quotes\" and \\", "ünïcödé", " padded ", "1e5", "@at", "*star", "&amp",
                       "%percent", "!bang", "`tick`", "a,b", "x\u{7}bell"]
        var recipe = Recipe(
            task: "yes",
            model: .init(architecture: "1.5", weights: "/weights dir/w #1.safetensors", classes: awkward.count,
                         classNames: awkward, head: .keep, inputSize: 7,
                         options: ["int": .int(-3), "big": .int(Int.max), "float": .double(1e-20), "whole": .double(2),
                                   "neg": .double(-0.5), "bool": .bool(false), "string": .string("true"),
                                   "list": .list([.int(1), .string("two"), .list([.bool(true)]), .map(["k": .string("v")])]),
                                   "map": .map(["nested": .map(["deeper": .string("a: b")])]), "key with space": .int(1)]),
            lora: .init(rank: 3, alpha: 0.1, dropout: 0.3, useRSLoRA: true, initialization: .pissa, useDoRA: true,
                        rankPattern: ["layer4\\..*": 16, "^fc$": 2], alphaPattern: ["(a|b)": 1.5], bias: .loraOnly,
                        targetModules: ["re:layer\\d+\\.conv[12]", "*.conv?"], excludeModules: ["a: b"], modulesToSave: []),
            data: .init(format: "image_csv", train: "/d/train.csv", validation: nil, test: "/d/test set.csv",
                        imageDirectory: "/d/img", imageColumn: "path", labelColumn: "on", textColumn: "null",
                        validationFraction: 0.25, badFiles: .skip,
                        transforms: [.init(name: "resize", parameters: ["size": .int(8), "mode": .string("no")]),
                                     .init(name: "flip")],
                        batchSize: 3, evalBatchSize: 5, prefetch: 0, readThreads: 4,
                        options: ["site": .string("1"), "count": .int(3)]),
            train: .init(mode: .lora, epochs: 2, maxSteps: 9,
                         optimizer: .init(name: .sgd, learningRate: 0.1 + 0.2, weightDecay: 1e-4, momentum: 0.9,
                                          nesterov: true, beta1: 0.8, beta2: 0.99, epsilon: 1e-6,
                                          groups: [.init(name: "head", patterns: ["fc.", "*.bias"], learningRate: 1,
                                                         weightDecay: 0)]),
                         scheduler: .init(name: .step, warmupSteps: 3, stepSize: 4, gamma: 0.5, minLRRatio: 0.1),
                         gradientAccumulation: 2, clipGradNorm: 0.7, seed: UInt64.max, threads: 2, labelSmoothing: 0.05),
            eval: .init(metrics: ["top5_accuracy", "qwk"], everySteps: 10, eachEpoch: false, monitor: "qwk", mode: .max),
            hooks: .init(progress: .init(interval: 1), earlyStopping: .init(monitor: "loss", mode: .min, patience: 2, minDelta: 0.01),
                         checkpoint: .init(everySteps: 5, eachEpoch: false, keepBest: 0, monitor: "top5_accuracy", mode: .max),
                         nonFinite: .skip, metricsLog: false),
            plugins: ["se_block", "yes"],
            outputDirectory: "/runs/out dir")
        try roundTrip(recipe)
        recipe.lora = nil
        recipe.train.mode = .linearProbe
        recipe.hooks.earlyStopping = nil
        try roundTrip(recipe)
    }

    func testYAMLIsExplicitAndInSchemaOrder() throws {
        let recipe = try loader.load(yaml: minimalRecipe, path: "/recipes/run.yaml").recipe
        XCTAssertEqual(recipe.yaml(), """
            task: image_classification
            model:
              architecture: tiny_convnet
              head: new
              options: {}
            data:
              format: synthetic_patterns
              bad_files: fail
              transforms: []
              batch_size: 32
              eval_batch_size: 32
              prefetch: 1
              read_threads: 1
              options: {}
            train:
              mode: full
              epochs: 1
              optimizer:
                name: adamw
                lr: 0.001
                weight_decay: 0.01
                momentum: 0.0
                nesterov: false
                betas: [0.9, 0.999]
                eps: 1e-08
                groups: []
              scheduler:
                name: constant
                warmup_steps: 0
                gamma: 0.1
                min_lr_ratio: 0.0
              gradient_accumulation: 1
              seed: 0
              label_smoothing: 0.0
              precision: f32
            eval:
              metrics: []
              each_epoch: true
              monitor: loss
              mode: min
            hooks:
              progress:
                interval: 10
              checkpoint:
                each_epoch: true
                keep_best: 1
                monitor: loss
                mode: min
                final: best
              non_finite: stop
              metrics_log: true
              extra: []
            plugins: []
            output_dir: /recipes/runs/minimal

            """)
        let retina = try loader.load(yaml: ExampleRecipes.retinaLoRA, path: "/recipes/run.yaml").recipe.yaml()
        XCTAssertTrue(retina.contains("""
              transforms:
                - name: resize
                  size: 256
                - name: center_crop
                  size: 224
                - name: normalize
                  mean: [0.485, 0.456, 0.406]
                  std: [0.229, 0.224, 0.225]

            """), retina)
        XCTAssertTrue(retina.contains("  rank_pattern:\n    \"layer4\\\\..*\": 32\n"), retina)
    }

    func testLoadedYAMLRecordsFilesAndOverrides() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("base.yaml", ExampleRecipes.syntheticFull)
        try directory.write("run.yaml", "extends: base.yaml\n")
        let loaded = try RecipeLoader(workingDirectory: directory.path)
            .load(path: "run.yaml", overrides: ["train.epochs=1", "data.batch_size=4"])
        let text = loaded.yaml()
        XCTAssertTrue(text.hasPrefix("# Resolved recipe from run.yaml (extends base.yaml)\n"
                                     + "# Overrides: train.epochs=1 data.batch_size=4\ntask: image_classification\n"), text)
        XCTAssertEqual(try RecipeLoader().load(yaml: text, path: "/x/recipe.yaml").recipe, loaded.recipe)
    }

    func testFlattenedListsEveryLeaf() throws {
        let r = try loader.load(yaml: ExampleRecipes.retinaLoRA, path: "/recipes/run.yaml").recipe
        let flat = r.flattened()
        let expected: [String: String] = [
            "task": "image_classification",
            "model.weights": "/recipes/weights/resnet34.safetensors",
            "model.classes": "5",
            "model.class_names": "[none, mild, moderate, severe, proliferative]",
            "lora.rank": "16",
            "lora.alpha": "32.0",
            "lora.rank_pattern.\"layer4\\\\..*\"": "32",
            "lora.target_modules": "[conv1, conv2, \"re:layer[34]\\\\.\\\\d+\\\\.downsample\\\\.0\"]",
            "lora.modules_to_save": "[fc]",
            "data.transforms[0].name": "resize",
            "data.transforms[0].size": "256",
            "data.transforms[2].mean": "[0.485, 0.456, 0.406]",
            "train.optimizer.betas": "[0.9, 0.999]",
            "train.optimizer.groups[0].patterns": "[fc.]",
            "train.optimizer.groups[0].weight_decay": "0.05",
            "train.seed": "42",
            "hooks.early_stopping.mode": "max",
            "hooks.checkpoint.keep_best": "2",
            "plugins": "[]",
        ]
        for (key, value) in expected { XCTAssertEqual(flat[key], value, key) }
        XCTAssertNil(flat["model.options"], "an empty mapping has no leaves")
        XCTAssertNil(flat["train.max_steps"], "unset optionals are absent")
        XCTAssertFalse(flat.keys.contains { $0.hasPrefix("lora.alpha_pattern") })
        // Leaves counted by hand in the written YAML: task 1, model 6, lora 11 (one rank_pattern
        // entry, no alpha_pattern), data 7 + transforms 7 + 4, train 2 + optimizer 7 + group 4 +
        // scheduler 4 + 5 (with precision), eval 4, hooks 1 + 4 + 5 + 3 (extra: []), plugins 1, output_dir 1.
        XCTAssertEqual(flat.count, 1 + 6 + 11 + 18 + 22 + 4 + 13 + 2)

        // Changing one key changes exactly that entry.
        var changed = r
        changed.lora?.dropout = 0.1
        let differing = Set(flat.keys).union(changed.flattened().keys).filter { flat[$0] != changed.flattened()[$0] }
        XCTAssertEqual(differing, ["lora.dropout"])
    }

    func testFlattenedEntriesAreOverridesThatRebuildTheRecipe() throws {
        for example in [ExampleRecipes.retinaLoRA, ExampleRecipes.textLoRA, ExampleRecipes.syntheticFull] {
            let recipe = try loader.load(yaml: example, path: "/recipes/run.yaml").recipe
            let overrides = recipe.flattened().sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            // A skeleton with no leaves of its own (train's keys are all optional).
            let skeleton = "task: x\nmodel: {architecture: x}\ndata: {format: x}\ntrain: {}\noutput_dir: x\n"
            let rebuilt = try loader.load(yaml: skeleton, path: "/other/min.yaml", overrides: overrides).recipe
            XCTAssertEqual(rebuilt, recipe)
        }
    }
}
