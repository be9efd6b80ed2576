import Foundation
import XCTest

/// The `lorakit` command end to end on a tiny model: exit codes, files and JSON output. Runs the
/// binary built next to the tests.
final class CLITests: CLITestCase {
    var recipe: String { root.appendingPathComponent("recipes/examples/tiny_convnet_lora.yaml").path }

    func testTrainEvalPredictMergeInspect() throws {
        let out = temporaryDirectory()
        let train = try lorakit(["train", recipe, "output_dir=\(out)", "train.epochs=2"])
        XCTAssertEqual(train.status, 0, train.stderr)
        for file in ["adapter/adapter_config.json", "adapter/adapter_model.safetensors", "metrics.jsonl", "metrics.csv",
                     "recipe.yaml", "summary.json", "checkpoints/latest"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        XCTAssertTrue(train.stdout.contains("wrote \(out)/adapter"), train.stdout)
        XCTAssertTrue(train.stderr.contains("step 24/24"), "plain progress lines when not a terminal")

        let eval = try lorakit(["eval", recipe, "output_dir=\(out)", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let metrics = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(Set(metrics.keys), ["loss", "accuracy", "macro_f1"])
        XCTAssertGreaterThan(metrics["accuracy"] as! Double, 0.5)

        let predict = try lorakit(["predict", recipe, "output_dir=\(out)", "--input", "pattern:3", "pattern:6", "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let lines = predict.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(first["input"] as? String, "pattern:3")
        XCTAssertEqual((first["logits"] as? [Double])?.count, 4)
        let probabilities = first["probabilities"] as! [Double]
        XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertNotNil(first["label"])

        let merged = out + "/merged.safetensors"
        let merge = try lorakit(["merge", recipe, "--adapter", out + "/adapter", "--out", merged])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        let inspect = try lorakit(["inspect", merged, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let tensors = (try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [String: Any])["tensors"] as! [[String: Any]]
        XCTAssertEqual(tensors.map { $0["name"] as! String }.sorted(),
                       ["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight", "head.bias", "head.weight"])

        // The merged weights as the recipe's weights give the adapted model's metrics.
        let evalMerged = try lorakit(["eval", recipe, "output_dir=\(out)", "lora=null", "train.mode=full", "--weights", merged, "--json"])
        XCTAssertEqual(evalMerged.status, 0, evalMerged.stderr)
        let mergedMetrics = try JSONSerialization.jsonObject(with: Data(evalMerged.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(mergedMetrics["accuracy"] as! Double, metrics["accuracy"] as! Double, accuracy: 1e-9)

        let inspectRecipe = try lorakit(["inspect", recipe])
        XCTAssertEqual(inspectRecipe.status, 0, inspectRecipe.stderr)
        XCTAssertTrue(inspectRecipe.stdout.contains("* conv1 [Conv2d]"), inspectRecipe.stdout)
    }

    func testUsageAndValidationErrorsExitWithTwoAndNameTheProblem() throws {
        let typo = try lorakit(["train", recipe, "lora.rnak=4"])
        XCTAssertEqual(typo.status, 2)
        XCTAssertTrue(typo.stderr.contains("lora.rnak: unknown key (did you mean \"rank\"?)"), typo.stderr)

        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let bad = dir + "/bad.yaml"
        try String(contentsOfFile: recipe, encoding: .utf8).replacingOccurrences(of: "target_modules: [conv1, conv2]",
                                                                                 with: "target_modules: [conv1, conv9]")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let validate = try lorakit(["validate", recipe, bad])
        XCTAssertEqual(validate.status, 2)
        XCTAssertTrue(validate.stdout.contains("ok: \(recipe)"))
        XCTAssertTrue(validate.stderr.contains("conv9"), validate.stderr)
        XCTAssertTrue(validate.stderr.contains("bad.yaml:"), "the error names the file and line: \(validate.stderr)")

        let plugin = try lorakit(["train", recipe, "plugins=[squeeze_excite]"])
        XCTAssertEqual(plugin.status, 2)
        XCTAssertTrue(plugin.stderr.contains("unknown plugin 'squeeze_excite'"), plugin.stderr)

        let resume = try lorakit(["train", recipe, "output_dir=\(dir)/empty", "--resume"])
        XCTAssertEqual(resume.status, 2)
        XCTAssertTrue(resume.stderr.contains("no complete checkpoint"), resume.stderr)

        let usage = try lorakit(["predict", recipe])
        XCTAssertEqual(usage.status, 2)
        XCTAssertTrue(usage.stderr.contains("--input"), usage.stderr)
        XCTAssertEqual(try lorakit(["--help"]).status, 0)
        XCTAssertEqual(try lorakit(["train", "--help"]).status, 0)
    }

    func testSweepWritesTheTableAndPlot() throws {
        let out = temporaryDirectory()
        let sweep = try lorakit(["sweep", recipe, "--ranks", "1,3", "output_dir=\(out)", "train.epochs=1"])
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/sweep/sweep.json"))) as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["rank"] as! Int }, [1, 3])
        let params = rows.map { $0["trainableParameters"] as! Int }
        XCTAssertEqual(params[1] - params[0], 2 * (1 * 9 + 8 * 1) + 2 * (8 * 9 + 16 * 1), "two more ranks on conv1 and conv2")
        for file in ["sweep.md", "sweep.csv", "sweep.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/sweep/" + file), file)
        }
        XCTAssertTrue(try String(contentsOfFile: out + "/sweep/sweep.svg", encoding: .utf8).contains("<circle"))
    }

    func testEveryShippedRecipeValidates() throws {
        let recipes = try FileManager.default.subpathsOfDirectory(atPath: root.appendingPathComponent("recipes").path)
            .filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(recipes.isEmpty)
        for path in recipes {
            let full = root.appendingPathComponent("recipes/" + path).path
            let first = try String(contentsOfFile: full, encoding: .utf8).split(separator: "\n").first ?? ""
            XCTAssertTrue(first.hasPrefix("# lorakit ") || first.hasPrefix("# swift run "),
                          "\(path) must open with the command that runs it: \(first)")
            XCTAssertTrue(first.contains(" train ") || first.contains(" eval "), "\(path): \(first)")
            if try String(contentsOfFile: full, encoding: .utf8).contains("plugins:") { continue }   // needs its tool
            let result = try lorakit(["validate", full])
            // Data, weights and adapters that other steps produce (lorakit data, a pretraining or
            // an earlier run) may be absent here; every other problem fails the test.
            let problems = result.stderr.split(separator: "\n").filter {
                !$0.contains("no such file") && !$0.contains("no such directory") && !$0.hasPrefix("error: 1 of 1")
            }
            XCTAssertTrue(result.status == 0 || problems.isEmpty, "\(path): \(result.stderr)")
        }
    }

    /// Bad command options are usage errors (exit 2) that say what is wrong, before anything runs.
    func testCommandOptionsAreValidated() throws {
        let dir = temporaryDirectory()
        let cases: [([String], String)] = [
            (["bench", "resnet34", "--repeats", "0"], "--repeats"),
            (["bench", "resnet34", "--modes", "lora,fast"], "unknown mode fast"),
            (["bench", "lora-layers", "--rank", "0"], "--rank"),
            (["bench", "bert", "--steps", "0"], "--steps"),
            (["bench", "kernels", "--repeats", "0"], "--repeats"),
            (["sweep", recipe, "--ranks", "4,0"], "'0' is not a rank"),
            (["sweep", recipe, "--ranks", "4,4"], "rank 4 is listed twice"),
            (["data", "retina", "--count", "0", "--out", dir], "--count: expected an integer ≥ 1, got 0"),
            (["data", "retina", "--sizee", "32", "--out", dir], "did you mean \"size\""),
            (["data", "retina", "--out", dir, "--count"], "--count needs a value"),
            (["data", "fundus", "--out", dir], "unknown data generator 'fundus'"),
            (["eval", recipe, "--split", "train"], "--split must be validation or test"),
            (["predict", recipe, "--base", "--adapter", dir, "--input", "pattern:0"], "--base takes no --adapter"),
            (["train", recipe, "--force"], "--force applies with --resume only"),
            (["data", "retina", "--site", "bogus_site", "--out", dir], "got bogus_site"),
            (["predict", recipe, "--weights", dir + "/none.safetensors", "--input", "pattern:0"], "no weights file at \(dir)/none.safetensors"),
            (["eval", recipe, "--adapter", dir + "/none"], "no adapter at \(dir)/none"),
        ]
        for (arguments, message) in cases {
            let result = try lorakit(arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "nothing was written")
    }

    /// `lorakit data retina` is the retina module's registered generator, options checked.
    func testDataGeneratorWritesTheRetinaSet() throws {
        let dir = temporaryDirectory()
        let result = try lorakit(["data", "retina", "--site", "target", "--count", "6", "--size", "32", "--seed", "3", "--out", dir])
        XCTAssertEqual(result.status, 0, result.stderr)
        let rows = try String(contentsOfFile: dir + "/labels.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.first, "id_code,diagnosis")
        XCTAssertEqual(rows.count, 7)
        let images = try FileManager.default.contentsOfDirectory(atPath: dir + "/images").filter { $0.hasSuffix(".png") }
        XCTAssertEqual(images.count, 6)
        let listing = try lorakit(["data"])
        XCTAssertTrue(listing.stdout.contains("retina:") && listing.stdout.contains("--site"), listing.stdout)
    }
}
