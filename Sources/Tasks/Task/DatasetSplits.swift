import Foundation
import Recipes
import Training

/// The usual rules for a recipe's splits, for sessions to share: `data.train`, `data.validation`
/// and `data.test` are read as given; without a validation file, `data.validation_fraction` holds
/// out a stratified part of the training data (the same items for every run with the seed), read
/// as evaluation data — the training file is built a second time for the validation role, so the
/// held-out items get no random augmentation; a format that reads no files makes every split
/// itself. Datasets are built once per split.
public final class DatasetSplits<Item, Batch> {
    public typealias Build = (_ role: DataRole, _ path: URL?) throws -> TaskDataset<Item, Batch>

    private let recipe: Recipe
    private let readsFiles: Bool
    private let build: Build
    private var cache: [DataRole: TaskDataset<Item, Batch>] = [:]
    private var full: TaskDataset<Item, Batch>?

    /// - Parameters:
    ///   - readsFiles: whether the format reads the recipe's files; a generator (false) makes
    ///     every split itself.
    ///   - build: the dataset of a split from its file (nil for generated formats).
    public init(recipe: Recipe, readsFiles: Bool, build: @escaping Build) {
        self.recipe = recipe
        self.readsFiles = readsFiles
        self.build = build
    }

    /// Whether there is validation data: a file, a held-out fraction, or a generator's own split.
    public var hasValidation: Bool {
        !readsFiles || recipe.data.validation != nil || (recipe.data.validationFraction != nil && recipe.data.train != nil)
    }

    /// Whether there is test data.
    public var hasTest: Bool { !readsFiles || recipe.data.test != nil }

    public func dataset(_ role: DataRole) throws -> TaskDataset<Item, Batch> {
        if let cached = cache[role] { return cached }
        let d = recipe.data
        let result: TaskDataset<Item, Batch>
        if readsFiles, role != .test, d.validation == nil, let fraction = d.validationFraction, d.train != nil {
            let all = try fullTraining()
            // Stratified by class when the format knows each item's class cheaply.
            let split = try DatasetSplit.trainValidation(labels: all.strata ?? [Int](repeating: 0, count: all.count),
                                                         validationFraction: fraction, seed: recipe.train.seed,
                                                         stratified: all.strata != nil)
            if role == .train {
                result = try all.subset(split.train)
            } else {
                // The held-out items read as evaluation data (no random augmentation): the same
                // file built for the validation role, the split's indices taken from it.
                let evaluation = try build(.validation, d.train.map { URL(fileURLWithPath: $0) })
                guard evaluation.count == all.count else {
                    throw TaskError.invalid(key: "data.validation_fraction", message:
                        "the training file read \(all.count) items for training but \(evaluation.count) for evaluation")
                }
                result = try evaluation.subset(split.validation)
            }
        } else {
            let path: String? = role == .train ? d.train : role == .validation ? d.validation : d.test
            if readsFiles && path == nil {
                throw TaskError.missingSplit(role: role, key: "data.\(role.rawValue)")
            }
            result = try build(role, path.map { URL(fileURLWithPath: $0) })
        }
        cache[role] = result
        return result
    }

    private func fullTraining() throws -> TaskDataset<Item, Batch> {
        if let full { return full }
        let d = try build(.train, recipe.data.train.map { URL(fileURLWithPath: $0) })
        full = d
        return d
    }
}
