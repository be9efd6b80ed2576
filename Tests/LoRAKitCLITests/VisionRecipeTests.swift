import Foundation
import ImageModels
import NN
import Tensor
import TestSupport
import XCTest

/// `recipes/vision/resnet34_lora.yaml` end to end against torchvision: `lorakit predict` with the
/// recipe's evaluation preprocessing and `--weights` reproduces torchvision's ResNet-34 logits for a
/// 224 × 224 image (`Fixtures/vision_resnet34_golden.json`, made by scripts/make_vision_golden.py
/// with the closed-formula weights of `FormulaWeights` and an integer-formula image).
final class VisionRecipeTests: CLITestCase {
    var recipe: String { root.appendingPathComponent("recipes/vision/resnet34_lora.yaml").path }

    struct Golden: Decodable {
        var size: Int
        var pixel_sum: Int
        var logits: [Float]
        var torch_float32_error: Float
    }

    /// The script's image: `(7x + 13y + 50c + (x·y mod 37)) mod 256`, as bytes in [C, H, W] order.
    static func formulaPixels(size: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 3 * size * size)
        for c in 0..<3 {
            for y in 0..<size {
                for x in 0..<size { bytes[(c * size + y) * size + x] = UInt8((x * 7 + y * 13 + c * 50 + (x * y) % 37) % 256) }
            }
        }
        return bytes
    }

    func testPredictWithWeightsReproducesTorchvisionLogits() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "vision_resnet34_golden", withExtension: "json",
                                                  subdirectory: "Fixtures"), "run scripts/make_vision_golden.py")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        XCTAssertEqual(golden.logits.count, 1000)
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        // The image, written as an 8-bit PNG, decodes to exactly the formula's bytes.
        let bytes = Self.formulaPixels(size: golden.size)
        XCTAssertEqual(bytes.reduce(0) { $0 + Int($1) }, golden.pixel_sum, "the script's image formula")
        let image = Image(height: golden.size, width: golden.size, channels: 3, pixels: bytes.map { Float($0) / 255 })
        let png = directory + "/formula.png"
        try image.writePNG(to: png)
        let decoded = try Image(contentsOfFile: png, mode: .rgb)
        XCTAssertEqual(decoded.pixels.map { UInt8(($0 * 255).rounded()) }, bytes)
        // The eval pipeline's resizes and crop are identities at 224 × 224 (the script relies on it).
        var rng = RandomGenerator(seed: 0)
        XCTAssertEqual(try Resize(shorterSide: 224).apply(decoded, generator: &rng), decoded)
        XCTAssertEqual(try Resize(size: 224).apply(decoded, generator: &rng), decoded)
        XCTAssertEqual(try CenterCrop(size: 224).apply(decoded, generator: &rng), decoded)

        // torchvision's ResNet-34 (1000 classes) with the formula weights, as a user's converted checkpoint.
        let weights = directory + "/resnet34.safetensors"
        let model = ResNet.forLoading(configuration: .resnet34, classes: 1000)
        try model.load(FormulaWeights.stateDict(for: model))
        try model.saveSafeTensors(path: weights)

        // The recipe's data folders and weights path do not exist: predict needs neither.
        let predict = try lorakit(["predict", recipe, "model.classes=1000", "--weights", weights, "--input", png, "--json"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let lines = predict.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, predict.stdout)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(lines.first).utf8)) as? [String: Any])
        let logits = try XCTUnwrap(object["logits"] as? [Double]).map(Float.init)
        XCTAssertEqual(logits.count, golden.logits.count)
        let scale = golden.logits.map(abs).max() ?? 1
        let error = zip(logits, golden.logits).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error / scale, 1e-4,
                                 "max |Δ| \(error) against max |logit| \(scale) (PyTorch float32: \(golden.torch_float32_error))")
        let best = golden.logits.indices.max { golden.logits[$0] < golden.logits[$1] }
        XCTAssertEqual(object["class_index"] as? Int, best)
        print("vision recipe: max relative error \(error / scale) (PyTorch's own float32: \(golden.torch_float32_error))")
    }

    /// Without the user's data and weights the recipe is valid except for those paths, and the
    /// errors name them.
    func testValidateNamesOnlyTheMissingUserPaths() throws {
        let result = try lorakit(["validate", recipe])
        if result.status == 0 { return }
        XCTAssertEqual(result.status, 2)
        for missing in ["weights/resnet34.safetensors", "data/my_images/train", "data/my_images/validation"] {
            XCTAssertTrue(result.stderr.contains(missing), "names \(missing): \(result.stderr)")
        }
        let problems = result.stderr.split(separator: "\n").filter {
            !$0.contains("no such file") && !$0.hasPrefix("error: 1 of 1")
        }
        XCTAssertTrue(problems.isEmpty, "only missing files: \(result.stderr)")
    }
}
