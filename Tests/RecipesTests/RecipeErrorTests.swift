import Foundation
import Recipes
import XCTest

/// Every decoding error names the key, the file, line and column, and where it can, the nearest
/// valid key or value.
final class RecipeErrorTests: XCTestCase {
    private let file = "recipes/x.yaml"
    private let loader = RecipeLoader(workingDirectory: "/work")

    private func decode(_ yaml: String) -> RecipeError? {
        recipeError { _ = try self.loader.load(yaml: yaml, path: self.file) }
    }

    /// `yaml` followed by whichever required top-level keys it lacks, so the error under test is
    /// the first one (line numbers stay those of `yaml`).
    private func decodeCompleted(_ yaml: String) -> RecipeError? {
        let required = ["task: t", "model: {architecture: a}", "data: {format: f}", "train: {epochs: 1}", "output_dir: o"]
        let present = Set(yaml.split(separator: "\n").compactMap { $0.first?.isLetter == true ? $0.split(separator: ":").first : nil })
        let missing = required.filter { !present.contains($0.split(separator: ":")[0]) }
        return decode(yaml + (yaml.hasSuffix("\n") ? "" : "\n") + missing.joined(separator: "\n") + "\n")
    }

    func testUnknownNestedKeySuggestsTheNearestKey() {
        let error = decode("""
            task: t
            model: {architecture: a}
            lora:
              target_modules: [q]
              rnak: 4
            data: {format: f}
            train: {epochs: 1}
            output_dir: out
            """)
        assertLocated(error, key: "lora.rnak", source: .file(file), line: 5, column: 3, suggestion: "rank")
        XCTAssertEqual(error?.description, "recipes/x.yaml:5:3: lora.rnak: unknown key (did you mean \"rank\"?)")
    }

    func testUnknownKeysAtEveryDepth() {
        let cases: [(String, String, Int, Int, String?)] = [
            ("taks: t\n", "taks", 1, 1, "task"),
            ("train:\n  optimizer:\n    learning_rate: 0.1\n", "train.optimizer.learning_rate", 3, 5, nil),
            ("train:\n  optimizer:\n    weight_decai: 0.1\n", "train.optimizer.weight_decai", 3, 5, "weight_decay"),
            ("hooks:\n  early_stoping: {}\n", "hooks.early_stoping", 2, 3, "early_stopping"),
            ("hooks: {checkpoint: {keep_bset: 2}}\n", "hooks.checkpoint.keep_bset", 1, 22, "keep_best"),
            ("train: {optimizer: {groups: [{name: h, patterns: [x], rl: 1}]}}\n",
             "train.optimizer.groups[0].rl", 1, 55, "lr"),
        ]
        for (yaml, key, line, column, suggestion) in cases {
            assertLocated(decodeCompleted(yaml), key: key, source: .file(file), line: line, column: column, suggestion: suggestion)
        }
    }

    func testUnknownKeyWithoutANearKeyListsTheValidOnes() {
        let error = decodeCompleted("eval: {zzzzzz: 1}\n")
        guard case let .unknownKey(key, _, nil, valid)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(key, "eval.zzzzzz")
        XCTAssertEqual(valid, ["metrics", "every_steps", "each_epoch", "monitor", "mode"])
        XCTAssertEqual(error?.description,
                       "recipes/x.yaml:1:8: eval.zzzzzz: unknown key (valid keys: metrics, every_steps, each_epoch, monitor, mode)")
    }

    func testWrongTypeNamesTheKeyTheExpectedTypeAndWhatWasFound() {
        let head = "task: t\nmodel: {architecture: a}\ndata: {format: f}\noutput_dir: o\n"
        let cases: [(String, String, Int, Int, String, String)] = [
            ("lora:\n  rank: eight\n  target_modules: [q]\ntrain: {epochs: 1}\n", "lora.rank", 6, 9,
             "an integer", "the string \"eight\""),
            ("lora:\n  rank: 2.5\n  target_modules: [q]\ntrain: {epochs: 1}\n", "lora.rank", 6, 9,
             "an integer", "the float 2.5"),
            ("lora:\n  use_dora: maybe\n  target_modules: [q]\ntrain: {epochs: 1}\n", "lora.use_dora", 6, 13,
             "a boolean (true or false)", "the string \"maybe\""),
            ("lora:\n  alpha: 1e39\n  target_modules: [q]\ntrain: {epochs: 1}\n", "lora.alpha", 6, 10,
             "a number within ±3.4e38 (32-bit float)", "the float 1e39"),
            ("lora:\n  target_modules: query\ntrain: {epochs: 1}\n", "lora.target_modules", 6, 19,
             "a list of strings", "the string \"query\""),
            ("lora:\n  target_modules: [q, [a]]\ntrain: {epochs: 1}\n", "lora.target_modules[1]", 6, 23,
             "a string", "a list"),
            ("train: {epochs: 1, optimizer: {lr: fast}}\n", "train.optimizer.lr", 5, 36, "a number", "the string \"fast\""),
            ("train: {epochs: 1, optimizer: {betas: [0.9]}}\n", "train.optimizer.betas", 5, 39,
             "a list of two numbers [beta1, beta2]", "a list"),
            ("train: {epochs: 1, seed: -1}\n", "train.seed", 5, 26, "a non-negative integer", "the integer -1"),
            ("train: [1]\n", "train", 5, 8, "a mapping", "a list"),
            ("train: {epochs: 1}\nplugins: {a: 1}\n", "plugins", 6, 10, "a list of strings", "a mapping"),
        ]
        for (tail, key, line, column, expected, found) in cases {
            let error = decode(head + tail)
            assertLocated(error, key: key, source: .file(file), line: line, column: column)
            guard case let .typeMismatch(_, _, e, f)? = error else { XCTFail("\(String(describing: error))"); continue }
            XCTAssertEqual(e, expected, key)
            XCTAssertEqual(f, found, key)
        }
        XCTAssertEqual(decode(head + "lora: {rank: eight, target_modules: [q]}\ntrain: {epochs: 1}\n")?.description,
                       "recipes/x.yaml:5:14: lora.rank: expected an integer, found the string \"eight\"")
    }

    func testMissingRequiredKeysPointAtTheirSection() {
        var error = decode("task: t\nmodel:\n  weights: w\n")
        assertLocated(error, key: "model.architecture", source: .file(file), line: 3, column: 3)
        XCTAssertEqual(error?.description, "recipes/x.yaml:3:3: model.architecture: missing required key")

        error = decode("model: {architecture: a}\n")
        assertLocated(error, key: "task", source: .file(file), line: 1, column: 1)

        error = decode("task: t\nmodel: {architecture: a}\nlora: {rank: 4}\n")
        assertLocated(error, key: "lora.target_modules", source: .file(file), line: 3, column: 7)

        // Required only with the step scheduler.
        error = decode("task: t\nmodel: {architecture: a}\ndata: {format: f}\ntrain:\n  scheduler: {name: step}\n")
        assertLocated(error, key: "train.scheduler.step_size", source: .file(file), line: 5, column: 14)
        XCTAssertEqual(error?.description,
                       "recipes/x.yaml:5:14: train.scheduler.step_size: missing required key (the step scheduler needs it)")

        // A mode is required when the monitor is a metric: higher is not always better.
        error = decode("task: t\nmodel: {architecture: a}\ndata: {format: f}\ntrain: {epochs: 1}\neval: {metrics: [perplexity], monitor: perplexity}\n")
        assertLocated(error, key: "eval.mode", source: .file(file), line: 5, column: 7)

        // A key written as null is missing, and the error points at the null.
        error = decode("task: t\nmodel: {architecture: a}\ndata:\n  format: null\n")
        assertLocated(error, key: "data.format", source: .file(file), line: 4, column: 11)

        error = decode("task: t\nmodel: {architecture: a}\ndata: {format: f}\ntrain: {epochs: 1}\noutptu_dir: x\n")
        assertLocated(error, key: "outptu_dir", source: .file(file), line: 5, column: 1, suggestion: "output_dir")
    }

    func testUnknownChoiceSuggestsTheNearestValue() {
        let error = decode("task: t\nmodel: {architecture: a}\nlora: {init: kaimin, target_modules: [q]}\n")
        assertLocated(error, key: "lora.init", source: .file(file), line: 3, column: 14, suggestion: "kaiming")
        XCTAssertEqual(error?.description, "recipes/x.yaml:3:14: lora.init: expected one of kaiming, gaussian, pissa, "
                       + "found \"kaimin\" (did you mean \"kaiming\"?)")
        assertLocated(decode("task: t\nmodel: {architecture: a, head: knew}\n"), key: "model.head",
                      source: .file(file), line: 2, column: 32, suggestion: "new")
        assertLocated(decode("task: t\nmodel: {architecture: a}\ndata: {format: f}\ntrain: {mode: linear-probe}\n"),
                      key: "train.mode", source: .file(file), line: 4, column: 15, suggestion: "linear_probe")
    }

    func testYAMLSyntaxErrorsCarryLineAndColumn() {
        let error = decode("task: t\nmodel:\n  architecture: [a\n")
        guard case let .syntax(location, message)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(location.file, file)
        XCTAssertEqual(location.line, 4)
        XCTAssertFalse(message.isEmpty)

        let duplicate = decode("task: t\ntask: u\n")
        guard case let .syntax(dupLocation, dupMessage)? = duplicate else { return XCTFail("\(String(describing: duplicate))") }
        XCTAssertEqual(dupLocation.line, 1)
        XCTAssertEqual(dupMessage, "duplicate key \"task\"")

        let list = decode("- task\n")
        guard case .syntax? = list else { return XCTFail("\(String(describing: list))") }
    }

    func testEmptyRecipeReportsTheFirstMissingKey() {
        assertLocated(decode(""), key: "task", source: .file(file), line: 1, column: 1)
    }
}
