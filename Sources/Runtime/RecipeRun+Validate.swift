import Foundation
import LoRA
import Recipes
import Tasks
import Tensor
import Training

extension RecipeRun {
    /// Checks the recipe before anything runs: its keys and values (with file, line and column),
    /// the names it uses against the registry, the options of its architecture, data format,
    /// transforms and hooks against what they accept, and — when that is all in order — that the
    /// model builds from its weights and that every LoRA target matches a layer of it. With
    /// `checkingData`, one batch of each split is read and run through the model, so that a
    /// data/model mismatch (channels, input size, token ids) is reported before training starts.
    ///
    /// - Parameters:
    ///   - unused: keys whose files the command does not read (`predict` reads no data split);
    ///     their absence is not an error.
    ///   - weights: the weights the command builds the model from (default: the recipe's).
    ///   - training: whether a training run follows (an earlier run's files in the output
    ///     directory then decide nothing, as in `train`).
    /// - Throws: a `RecipeError` (`.several` for more than one) located in the recipe; a
    ///   `RunError` for weights a command named that cannot be loaded.
    public func validate(ignoringMissingFilesOf unused: Set<String> = [], weights: ModelWeights? = nil,
                         checkingData: Bool = false, training: Bool = false) throws {
        let problems = recipe.problems(in: context).filter { problem in
            if case .missingFile = problem.kind, unused.contains(problem.key) { return false }
            return true
        }
        let errors = problems.map(loaded.error(for:))
        if errors.count == 1 { throw errors[0] }
        if errors.count > 1 { throw RecipeError.several(errors) }
        let task = try task()
        try checkModel(task, weights: weights ?? pretrainedWeights, training: training)
        if checkingData { try checkBatches(task, training: training) }
    }

    /// The recipe keys of data files, which commands that read no split (`predict`, `merge`,
    /// `inspect`) do not need to exist.
    public static let dataFileKeys: Set<String> = ["data.train", "data.validation", "data.test", "data.image_directory"]

    /// The recipe's own weights: pretrained (`model.weights`), or none.
    public var pretrainedWeights: ModelWeights {
        recipe.model.weights.map { .pretrained(URL(fileURLWithPath: $0)) } ?? .none
    }

    /// Builds the model and checks the LoRA targets against it (a dry run: nothing is injected).
    private func checkModel<T: RecipeTask>(_ task: T, weights: ModelWeights, training: Bool) throws {
        let model: T.Session.Model
        do {
            model = try task.makeSession(setup(weightsOverride: weights.completeURL, training: training)).makeModel(weights: weights)
        } catch let error as RecipeError {
            throw error
        } catch let error as WeightLoadingError {
            // Weights the command named are not the recipe's key.
            if let url = weights.completeURL, url.path != recipe.model.weights { throw RunError("weights \(error)") }
            throw located("model.weights", "\(error)")
        } catch {
            throw located("model.architecture", "cannot build \(recipe.model.architecture): \(error)")
        }
        guard recipe.train.mode == .lora, let settings = recipe.lora else { return }
        do { _ = try LoRAModel(wrapping: model.module).dryRun(try loraConfig(settings, headKeys: model.headKeys)) } catch {
            throw located("lora.target_modules", "\(error)")
        }
    }

    /// Reads the first batch of the training split (and of the validation split) and runs it
    /// through the model in evaluation mode, without gradients.
    private func checkBatches<T: RecipeTask>(_ task: T, training: Bool) throws {
        let session = try task.makeSession(setup(training: training))
        let model = try session.makeModel(weights: pretrainedWeights)
        let objective = try session.objective(for: model)
        model.module.eval()
        var roles: [DataRole] = [.train]
        if session.hasValidationData { roles.append(.validation) }
        for role in roles {
            let key = recipe.data.train == nil ? "data.format" : "data.\(role.rawValue)"
            do {
                let data = try session.dataset(role)
                guard data.count > 0 else { throw RunError("the \(role.rawValue) split has no items") }
                let size = min(role == .train ? recipe.data.batchSize : recipe.data.evalBatchSize, data.count)
                var items: [T.Session.Item] = []
                for i in 0..<size {
                    var context = ItemContext(epoch: 0, index: i, seed: recipe.train.seed)
                    items.append(try data.item(at: i, context: &context))
                }
                let batch = try data.collate(items)
                _ = try withNoGrad { try objective.run(model.module, on: batch) }
            } catch {
                throw located(recipe.data.validationFraction != nil && role == .validation ? "data.validation_fraction" : key,
                              "one batch of the \(role.rawValue) data through \(recipe.model.architecture): \(error)")
            }
        }
    }

    /// An error at `key`'s place in the recipe.
    func located(_ key: String, _ message: String) -> RecipeError {
        .invalidValue(key: key, location: loaded.location(of: key), message: message, suggestion: nil)
    }

    /// The adapter configuration of the recipe; a new head (and anything else the model calls its
    /// head) is trained and saved in full with it.
    func loraConfig(_ settings: LoRAConfig, headKeys: [String]) throws -> LoRAConfig {
        var config = settings
        if recipe.model.head == .new {
            for key in headKeys where !config.modulesToSave.contains(key) { config.modulesToSave.append(key) }
        }
        return config
    }
}

extension ModelWeights {
    /// The file of a complete model, if this is one.
    var completeURL: URL? {
        if case let .complete(url) = self { return url }
        return nil
    }
}
