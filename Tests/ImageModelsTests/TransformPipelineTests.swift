import Tensor
import Training
import XCTest
@testable import ImageModels

/// Composition and reproducibility of pipelines.
final class TransformPipelineTests: XCTestCase {
    private func image(height: Int, width: Int) -> Image {
        Image(height: height, width: width, channels: 3,
              pixels: (0..<(3 * height * width)).map { Float($0 % 17) / 16 })
    }

    func testComposeAppliesInOrder() throws {
        let source = image(height: 4, width: 6)
        let pipeline = Compose([CenterCrop(height: 2, width: 2), HorizontalFlip()])
        XCTAssertEqual(try pipeline.apply(source),
                       try HorizontalFlip().apply(try CenterCrop(height: 2, width: 2).apply(source)))
        XCTAssertEqual(try Compose().apply(source), source)
    }

    func testImageNetEvaluationShape() throws {
        let out = try Compose.imageNetEvaluation(size: 8, resize: 10).apply(image(height: 20, width: 30))
        XCTAssertEqual(out.tensor().shape, [3, 8, 8])
        let train = try Compose.imageNetTraining(size: 6).apply(image(height: 20, width: 30))
        XCTAssertEqual(train.tensor().shape, [3, 6, 6])
    }

    func testRandomPipelineDependsOnlyOnTheGenerator() throws {
        let pipeline = Compose([RandomResizedCrop(size: 8), RandomHorizontalFlip(), RandomRotation(degrees: 20),
                                ColorJitter(brightness: 0.3, contrast: 0.3, saturation: 0.3), Normalize()])
        let source = image(height: 16, width: 12)
        func run(epoch: Int) throws -> Image {
            var context = ItemContext(epoch: epoch, index: 3, seed: 5)
            return try pipeline.apply(source, generator: &context.generator)
        }
        let a = try run(epoch: 1), b = try run(epoch: 1), c = try run(epoch: 2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }
}

