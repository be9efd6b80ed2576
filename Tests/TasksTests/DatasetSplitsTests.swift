import Recipes
import Tasks
import Training
import XCTest

/// The held-out part of `validation_fraction` is read as evaluation data: its items come from the
/// training file built for the validation role (no random augmentation).
final class DatasetSplitsTests: XCTestCase {
    struct Items: Dataset {
        let role: DataRole
        let count = 20
        func item(at index: Int, context: inout ItemContext) throws -> (role: DataRole, index: Int) { (role, index) }
    }

    func testTheHoldOutIsReadForTheValidationRole() throws {
        let recipe = try RecipeLoader().load(yaml: """
            task: t
            model: {architecture: a}
            data: {format: f, train: train.csv, validation_fraction: 0.25}
            train: {epochs: 1}
            output_dir: out
            """, path: "/tmp/run.yaml").recipe
        var built: [(DataRole, String?)] = []
        let splits = DatasetSplits<(role: DataRole, index: Int), [Int]>(recipe: recipe, readsFiles: true) { role, path in
            built.append((role, path?.lastPathComponent))
            return TaskDataset(Items(role: role), collate: { $0.map(\.index) }, strata: (0..<20).map { $0 % 2 })
        }
        let train = try splits.dataset(.train), validation = try splits.dataset(.validation)
        XCTAssertEqual(train.count + validation.count, 20)
        XCTAssertEqual(validation.count, 6, "round(0.25 · 10) held out of each of two classes")
        var context = ItemContext(epoch: 0, index: 0, seed: 0)
        var trainIndices = Set<Int>()
        for i in 0..<train.count {
            let item = try train.item(at: i, context: &context)
            XCTAssertEqual(item.role, .train)
            trainIndices.insert(item.index)
        }
        for i in 0..<validation.count {
            let item = try validation.item(at: i, context: &context)
            XCTAssertEqual(item.role, .validation, "held-out items are read for evaluation")
            XCTAssertFalse(trainIndices.contains(item.index), "disjoint from training")
        }
        XCTAssertEqual(built.map(\.0), [.train, .validation])
        XCTAssertEqual(built.map(\.1), ["train.csv", "train.csv"])
    }
}
