import Foundation
import LoRA
import Recipes
import Tensor
import Training
import XCTest

final class RecipeDecodingTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory() }
    override func tearDown() { directory.remove() }

    private func load(_ yaml: String, file: String = "recipes/run.yaml", overrides: [String] = []) throws -> LoadedRecipe {
        try RecipeLoader(workingDirectory: directory.path).load(yaml: yaml, path: file, overrides: overrides)
    }

    /// `train.precision` takes f32 or bf16, from the file or the command line; anything else is
    /// refused naming the key, with the nearest choice.
    func testPrecisionDecodesAndRefusesTypos() throws {
        let yaml = ExampleRecipes.retinaLoRA
        XCTAssertEqual(try load(yaml, overrides: ["train.precision=bf16"]).recipe.train.precision, .bfloat16)
        XCTAssertEqual(try load(yaml, overrides: ["train.precision=f32"]).recipe.train.precision, .float32)
        XCTAssertThrowsError(try load(yaml, overrides: ["train.precision=bf61"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("train.precision") && text.contains("f32, bf16") && text.contains("bf16"), text)
        }
    }

    func testFullRecipeDecodesEveryKey() throws {
        let loaded = try load(ExampleRecipes.retinaLoRA)
        let r = loaded.recipe
        let base = directory.absolute("recipes")
        XCTAssertEqual(r.task, "image_classification")

        XCTAssertEqual(r.model.architecture, "resnet34")
        XCTAssertEqual(r.model.weights, base + "/weights/resnet34.safetensors")
        XCTAssertEqual(r.model.classNames, ["none", "mild", "moderate", "severe", "proliferative"])
        XCTAssertEqual(r.model.classes, 5, "filled from class_names")
        XCTAssertEqual(r.model.head, .new)
        XCTAssertEqual(r.model.inputSize, 224)
        XCTAssertEqual(r.model.options, [:])

        let lora = try XCTUnwrap(r.lora)
        XCTAssertEqual(lora.rank, 16)
        XCTAssertEqual(lora.alpha, 32)
        XCTAssertEqual(lora.dropout, 0.05)
        XCTAssertFalse(lora.useRSLoRA)
        XCTAssertFalse(lora.useDoRA)
        XCTAssertEqual(lora.initialization, .gaussian)
        XCTAssertEqual(lora.rankPattern, ["layer4\\..*": 32])
        XCTAssertEqual(lora.alphaPattern, [:])
        XCTAssertEqual(lora.bias, LoRABiasMode.none)
        XCTAssertEqual(lora.targetModules, ["conv1", "conv2", "re:layer[34]\\.\\d+\\.downsample\\.0"])
        XCTAssertEqual(lora.excludeModules, ["layer1.0.conv1"])
        XCTAssertEqual(lora.modulesToSave, ["fc"])

        let data = r.data
        XCTAssertEqual(data.format, "image_csv")
        XCTAssertEqual(data.train, base + "/data/train.csv")
        XCTAssertEqual(data.validation, base + "/data/val.csv")
        XCTAssertNil(data.test)
        XCTAssertEqual(data.imageDirectory, base + "/data/images")
        XCTAssertEqual(data.imageColumn, "image")
        XCTAssertEqual(data.labelColumn, "grade")
        XCTAssertNil(data.textColumn)
        XCTAssertNil(data.validationFraction)
        XCTAssertEqual(data.badFiles, .skip)
        XCTAssertEqual(data.transforms, [
            .init(name: "resize", parameters: ["size": .int(256)]),
            .init(name: "center_crop", parameters: ["size": .int(224)]),
            .init(name: "normalize", parameters: ["mean": .list([.double(0.485), .double(0.456), .double(0.406)]),
                                                  "std": .list([.double(0.229), .double(0.224), .double(0.225)])]),
        ])
        XCTAssertEqual(data.batchSize, 16)
        XCTAssertEqual(data.evalBatchSize, 64)
        XCTAssertEqual(data.prefetch, 1)
        XCTAssertEqual(data.readThreads, 2)

        let train = r.train
        XCTAssertEqual(train.mode, .lora, "a lora section makes lora the default mode")
        XCTAssertEqual(train.epochs, 10)
        XCTAssertNil(train.maxSteps)
        XCTAssertEqual(train.optimizer.name, .adamw)
        XCTAssertEqual(train.optimizer.learningRate, 5e-4)
        XCTAssertEqual(train.optimizer.weightDecay, 0.05)
        XCTAssertEqual(train.optimizer.beta1, 0.9)
        XCTAssertEqual(train.optimizer.beta2, 0.999)
        XCTAssertEqual(train.optimizer.epsilon, 1e-8)
        XCTAssertEqual(train.optimizer.groups, [.init(name: "head", patterns: ["fc."], learningRate: 1e-3, weightDecay: 0.05)],
                       "a group's weight_decay defaults to the optimizer's")
        XCTAssertEqual(train.optimizer.parameterGroupRules(),
                       [ParameterGroupRule(name: "head", patterns: ["fc."], learningRate: 1e-3, weightDecay: 0.05)])
        XCTAssertEqual(train.scheduler, .init(name: .cosine, warmupSteps: 100, stepSize: nil, gamma: 0.1, minLRRatio: 0.01))
        XCTAssertEqual(train.gradientAccumulation, 2)
        XCTAssertEqual(train.clipGradNorm, 1.0)
        XCTAssertEqual(train.seed, 42)
        XCTAssertNil(train.threads)
        XCTAssertEqual(train.labelSmoothing, 0.1)
        XCTAssertEqual(train.precision, .float32, "the default precision is f32")

        XCTAssertEqual(r.eval, .init(metrics: ["accuracy", "qwk"], everySteps: nil, eachEpoch: true, monitor: "qwk", mode: .max))
        XCTAssertEqual(r.hooks.progress.interval, 20)
        XCTAssertEqual(r.hooks.earlyStopping, .init(monitor: "qwk", mode: .max, patience: 4, minDelta: 0.001),
                       "early stopping watches eval's monitor, in eval's mode")
        XCTAssertEqual(r.hooks.checkpoint, .init(everySteps: nil, eachEpoch: true, keepBest: 2, monitor: "qwk", mode: .max))
        XCTAssertEqual(r.hooks.nonFinite, .stop)
        XCTAssertTrue(r.hooks.metricsLog)
        XCTAssertEqual(r.plugins, [])
        XCTAssertEqual(r.outputDirectory, base + "/runs/retina_lora")

        XCTAssertEqual(loaded.files, ["recipes/run.yaml"])
        XCTAssertEqual(loaded.location(of: "lora.rank"), .file("recipes/run.yaml", line: 10, column: 9))
        XCTAssertEqual(loaded.location(of: "data.transforms[2].mean"), .file("recipes/run.yaml", line: 31, column: 31))
    }

    func testMinimalRecipeGetsTheDocumentedDefaults() throws {
        let r = try load(minimalRecipe).recipe
        XCTAssertNil(r.lora)
        XCTAssertEqual(r.train.mode, .full, "no lora section: full fine-tuning")
        XCTAssertEqual(r.model, .init(architecture: "tiny_convnet", head: .new))
        XCTAssertEqual(r.data.batchSize, 32)
        XCTAssertEqual(r.data.evalBatchSize, 32, "eval_batch_size defaults to batch_size")
        XCTAssertEqual(r.data.prefetch, 1)
        XCTAssertEqual(r.data.readThreads, 1)
        XCTAssertEqual(r.data.badFiles, .fail)
        XCTAssertEqual(r.train.optimizer, .init(name: .adamw, learningRate: 1e-3, weightDecay: 0.01, momentum: 0,
                                                nesterov: false, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, groups: []))
        XCTAssertEqual(r.train.scheduler, .init(name: .constant, warmupSteps: 0, stepSize: nil, gamma: 0.1, minLRRatio: 0))
        XCTAssertEqual(r.train.gradientAccumulation, 1)
        XCTAssertNil(r.train.clipGradNorm)
        XCTAssertEqual(r.train.seed, 0)
        XCTAssertEqual(r.train.labelSmoothing, 0)
        XCTAssertEqual(r.eval, .init(metrics: [], everySteps: nil, eachEpoch: true, monitor: "loss", mode: .min))
        XCTAssertEqual(r.hooks, .init(progress: .init(interval: 10), earlyStopping: nil,
                                      checkpoint: .init(everySteps: nil, eachEpoch: true, keepBest: 1, monitor: "loss", mode: .min),
                                      nonFinite: .stop, metricsLog: true))
        XCTAssertEqual(r.plugins, [])
    }

    func testSchemaTypesNotYAMLTypes() throws {
        // `8` is a string for `task`, `yes` a boolean for `use_rslora`, `1e4` an integer for
        // `max_steps`, and a SGD optimizer gets SGD's default weight decay (0).
        let r = try load("""
            task: 8
            model: {architecture: "007", options: {quoted: "12", plain: 12, ratio: 0.5, flag: true, word: no}}
            lora: {target_modules: [q], use_rslora: yes, alpha: 16}
            data: {format: x}
            train: {max_steps: 1e4, optimizer: {name: sgd}}
            output_dir: out
            """).recipe
        XCTAssertEqual(r.task, "8")
        XCTAssertEqual(r.model.architecture, "007")
        XCTAssertEqual(r.model.options, ["quoted": .string("12"), "plain": .int(12), "ratio": .double(0.5),
                                         "flag": .bool(true), "word": .string("no")])
        XCTAssertEqual(r.lora?.useRSLoRA, true)
        XCTAssertEqual(r.lora?.alpha, 16)
        XCTAssertEqual(r.train.maxSteps, 10_000)
        XCTAssertEqual(r.train.optimizer.weightDecay, 0)
    }

    /// The `lora:` section is the core's `LoRAConfig`: its numbers are Floats, written back in
    /// their shortest decimal form, not the Double nearest the Float.
    func testLoRASectionIsTheCoresConfigWithShortestDecimals() throws {
        let loaded = try load("""
            task: t
            model: {architecture: a}
            lora: {target_modules: [q], alpha: 0.1, dropout: 0.05, alpha_pattern: {k: 1.7}}
            data: {format: x}
            train: {epochs: 1}
            output_dir: out
            """)
        let lora: LoRAConfig = try XCTUnwrap(loaded.recipe.lora)
        XCTAssertEqual(lora.alpha, Float(0.1))
        XCTAssertEqual(lora.alphaPattern, ["k": Float(1.7)])
        let yaml = loaded.yaml()
        for line in ["  alpha: 0.1\n", "  dropout: 0.05\n", "    k: 1.7\n"] {
            XCTAssertTrue(yaml.contains(line), "\(line) in\n\(yaml)")
        }
        XCTAssertEqual(loaded.recipe.flattened()["lora.alpha"], "0.1")
    }

    func testPathsResolveAgainstTheRecipeDirectory() throws {
        let r = try load("""
            task: t
            model: {architecture: a, weights: ../weights/w.safetensors}
            data: {format: f, train: ./data/../data/train.csv, test: /abs/test.csv}
            train: {epochs: 1}
            output_dir: out
            """, file: "recipes/sub/run.yaml").recipe
        XCTAssertEqual(r.model.weights, directory.absolute("recipes/weights/w.safetensors"))
        XCTAssertEqual(r.data.train, directory.absolute("recipes/sub/data/train.csv"))
        XCTAssertEqual(r.data.test, "/abs/test.csv")
        XCTAssertEqual(r.outputDirectory, directory.absolute("recipes/sub/out"))
    }

    func testNullMeansAbsent() throws {
        let r = try load("""
            task: t
            model: {architecture: a, weights: null, input_size: ~}
            lora: null
            data: {format: f}
            train: {epochs: 1}
            output_dir: out
            """).recipe
        XCTAssertNil(r.model.weights)
        XCTAssertNil(r.model.inputSize)
        XCTAssertNil(r.lora)
    }

    func testLoRAConfigConversion() throws {
        let r = try load(ExampleRecipes.textLoRA).recipe
        let config = try XCTUnwrap(r.lora)
        XCTAssertEqual(config, LoRAConfig(rank: 8, alpha: 16, dropout: 0, useRSLoRA: true, initialization: .kaiming,
                                          useDoRA: false, rankPattern: [:], alphaPattern: ["value": 32], bias: .loraOnly,
                                          targetModules: ["query", "key", "value"], excludeModules: [],
                                          modulesToSave: ["classifier"]))
        XCTAssertNoThrow(try config.validate())
        XCTAssertEqual(config.settings(for: "encoder.layer.0.attention.self.value").scaling, 32 / Float(8).squareRoot())
    }

    func testLoadingAFileByPath() throws {
        try directory.write("recipes/run.yaml", minimalRecipe)
        let loaded = try RecipeLoader(workingDirectory: directory.path).load(path: "recipes/run.yaml")
        XCTAssertEqual(loaded.recipe.outputDirectory, directory.absolute("recipes/runs/minimal"))

        let error = recipeError { _ = try RecipeLoader(workingDirectory: self.directory.path).load(path: "recipes/nope.yaml") }
        guard case let .unreadableFile(path, reason, nil)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(path, "recipes/nope.yaml")
        XCTAssertTrue(reason.contains("no such file"), reason)
    }
}
