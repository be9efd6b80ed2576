import Foundation
import ImageModels
import Recipes
import Runtime
import Tasks
import Tensor
import XCTest

/// `recipes/vision/resnet34_lora.yaml`'s transforms as the runtime builds them for each split, and
/// their options checked with file, line and column.
final class ImagePipelineRecipeTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var recipe: String { root.appendingPathComponent("recipes/vision/resnet34_lora.yaml").path }

    func request(_ run: RecipeRun, _ role: DataRole) throws -> DataRequest {
        let task = try XCTUnwrap(try run.task() as? ClassificationRecipeTask)
        let session = try task.makeSession(RunSetup(loaded: run.loaded, registry: run.registry))
        return try session.dataRequest(role, path: nil)
    }

    /// Evaluation is torchvision's resize (shorter side 224) + center crop 224 + ImageNet
    /// normalisation; training draws random crops and flips.
    func testRecipePipelineResizesTheShorterSideThenCrops() throws {
        let run = try RecipeRun(path: recipe)
        let pixels: [Float] = (0..<(3 * 200 * 300)).map { (i: Int) -> Float in Float((i * 37) % 251) / 250 }
        let image = Image(height: 200, width: 300, channels: 3, pixels: pixels)
        var rng = RandomGenerator(seed: 1)
        let evaluation = try ImageModelsPlugin.pipeline(try request(run, .validation)).apply(image, generator: &rng)
        let resized = image.resized(height: 224, width: 336)          // 300 · 224 / 200
        let expected = try Normalize().apply(resized.cropped(top: 0, left: 56, height: 224, width: 224), generator: &rng)
        XCTAssertEqual(evaluation, expected)

        let training = try ImageModelsPlugin.pipeline(try request(run, .train))
        var seen: Set<[Float]> = []
        for seed in 0..<4 {
            var g = RandomGenerator(seed: UInt64(seed))
            let out = try training.apply(image, generator: &g)
            XCTAssertEqual([out.channels, out.height, out.width], [3, 224, 224])
            seen.insert(Array(out.pixels.prefix(64)))
        }
        XCTAssertGreaterThan(seen.count, 1, "training crops are random")
    }

    /// Transform options are checked before anything runs, each error at the line and column that
    /// wrote the value (or the override that set it).
    func testTransformOptionsAreCheckedWhereTheyAreWritten() throws {
        func errors(_ overrides: [String]) throws -> [String] {
            let run = try RecipeRun(path: recipe, overrides: overrides)
            return run.recipe.problems(in: run.context).map { run.loaded.error(for: $0).description }
        }
        let both = try errors(["data.transforms[0]={name: resize, size: 224, shorter_side: 224}"])
        XCTAssertTrue(both.contains { $0.contains("data.transforms[0].shorter_side: give size or shorter_side, not both") }, "\(both)")
        let zero = try errors(["data.transforms[0].shorter_side=0"])
        XCTAssertTrue(zero.contains("override 'data.transforms[0].shorter_side=0': data.transforms[0].shorter_side: expected an integer ≥ 1, got 0"),
                      "\(zero)")
        let std = try errors(["data.transforms[4]={name: normalize, mean: [0.5, 0.5, 0.5], std: [0.2, 0, 0.2]}"])
        XCTAssertTrue(std.contains { $0.contains("data.transforms[4].std: expected a list of 3 numbers, each > 0") }, "\(std)")
        let typo = try errors(["data.transforms[3].name=random_horizontal_flp"])
        XCTAssertTrue(typo.contains { $0.contains("unknown transform \"random_horizontal_flp\"") && $0.contains("did you mean \"random_horizontal_flip\"") },
                      "\(typo)")

        // In the file: the line and column of the value.
        let dir = NSTemporaryDirectory() + "lorakit-pipeline-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: recipe, encoding: .utf8)
            .replacingOccurrences(of: "{name: random_resized_crop, size: 224, min_scale: 0.35}",
                                  with: "{name: random_resized_crop, size: 224, min_scale: 1.5}")
        try text.write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let run = try RecipeRun(path: dir + "/bad.yaml")
        let messages = run.recipe.problems(in: run.context).map { run.loaded.error(for: $0).description }
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("min_scale: 1.5") }! + 1
        let column = text.split(separator: "\n", omittingEmptySubsequences: false)[line - 1].distance(
            from: text.split(separator: "\n", omittingEmptySubsequences: false)[line - 1].startIndex,
            to: text.split(separator: "\n", omittingEmptySubsequences: false)[line - 1].range(of: "1.5")!.lowerBound) + 1
        XCTAssertTrue(messages.contains("\(dir)/bad.yaml:\(line):\(column): data.transforms[2].min_scale: expected a number > 0 and ≤ 1, got 1.5"),
                      "\(messages)")
    }
}
