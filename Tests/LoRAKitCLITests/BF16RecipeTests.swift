import Foundation
import XCTest

/// `train.precision: bf16` through the command line: on a CPU without bf16 units (forced with
/// `LORAKIT_NO_BF16=1`, so this runs on any machine) it prints one notice and trains exactly as f32
/// does; with bf16 units it trains the frozen layers in bf16, holds them in BF16, and ends close to
/// the f32 run; evaluation follows the recipe's precision.
final class BF16RecipeTests: CLITestCase {
    var recipe: String { root.appendingPathComponent("recipes/examples/tiny_convnet_lora.yaml").path }

    private func adapterBytes(_ run: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: run + "/adapter/adapter_model.safetensors"))
    }

    private func metrics(_ output: Output) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
        return try XCTUnwrap(object as? [String: Double], output.stdout)
    }

    func testBF16TrainsOrFallsBackToExactlyF32() throws {
        let f32 = temporaryDirectory(), fallback = temporaryDirectory(), bf16 = temporaryDirectory()
        let reference = try lorakit(["train", recipe, "output_dir=\(f32)", "train.epochs=1"])
        XCTAssertEqual(reference.status, 0, reference.stderr)

        let forced = try lorakit(["train", recipe, "output_dir=\(fallback)", "train.epochs=1", "train.precision=bf16"],
                                 environment: ["LORAKIT_NO_BF16": "1"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        let notices = forced.stderr.split(separator: "\n").filter { $0.contains("precision bf16 needs") }
        XCTAssertEqual(notices.count, 1, forced.stderr)
        XCTAssertTrue(notices.first?.contains("running in f32") ?? false)
        XCTAssertFalse(forced.stderr.contains("frozen layers in bf16"))
        XCTAssertEqual(try adapterBytes(fallback), try adapterBytes(f32), "the fallback is f32, bit for bit")
        let resolved = try String(contentsOfFile: fallback + "/recipe.yaml", encoding: .utf8)
        XCTAssertTrue(resolved.contains("precision: bf16"), "the run records what was asked")

        let evalF32 = try lorakit(["eval", recipe, "output_dir=\(f32)", "--json"])
        XCTAssertEqual(evalF32.status, 0, evalF32.stderr)
        let evalForced = try lorakit(["eval", recipe, "output_dir=\(f32)", "train.precision=bf16", "--json"],
                                     environment: ["LORAKIT_NO_BF16": "1"])
        XCTAssertEqual(try metrics(evalForced), try metrics(evalF32))

        let probe = try lorakit(["train", recipe, "output_dir=\(bf16)", "train.epochs=1", "train.precision=bf16"])
        XCTAssertEqual(probe.status, 0, probe.stderr)
        guard !probe.stderr.contains("running in f32") else {
            throw XCTSkip("this CPU has no bf16 units: the bf16 path itself is not run here")
        }
        XCTAssertTrue(probe.stderr.contains("frozen layers in bf16"), probe.stderr)
        XCTAssertTrue(probe.stderr.contains("held in BF16"), probe.stderr)
        XCTAssertNotEqual(try adapterBytes(bf16), try adapterBytes(f32), "bf16 rounding changes the run")
        let evalBF16 = try metrics(try lorakit(["eval", recipe, "output_dir=\(bf16)", "train.precision=bf16", "--json"]))
        let evalBF16AsF32 = try metrics(try lorakit(["eval", recipe, "output_dir=\(bf16)", "--json"]))
        let loss = try XCTUnwrap(evalBF16["loss"]), lossF32 = try XCTUnwrap(evalBF16AsF32["loss"])
        XCTAssertEqual(loss, lossF32, accuracy: 0.02 * max(abs(lossF32), 1), "bf16 evaluation is close to f32's")
        XCTAssertNotEqual(loss, lossF32, "and is not f32's")
        let reference1 = try metrics(evalF32)["loss"]!
        XCTAssertEqual(lossF32, reference1, accuracy: 0.25 * max(abs(reference1), 1), "bf16 training lands near f32's")
    }
}
