import Foundation
import LoRA
import NN
import Tasks
import Tensor

/// The base model of a recipe loaded once for serving, with the task's batch predictions.
public final class ServedModel {
    /// The model (adapted layers become LoRA hosts as adapters are loaded).
    public let module: Module
    /// Adapters by name on `module`.
    public let lora: LoRAModel
    public let predictor: ServingPredictor
    public let task: String

    init(module: Module, predictor: ServingPredictor, task: String) {
        self.module = module
        lora = LoRAModel(wrapping: module)
        self.predictor = predictor
        self.task = task
    }
}

extension RecipeRun {
    /// The recipe's base model (its pretrained weights, or `weights` in their place), in
    /// evaluation mode, with the task's batch predictor.
    /// - Throws: `RunError` when the task cannot be served (it has no single-input reader).
    public func servedModel(weights: URL? = nil) throws -> ServedModel {
        try served(try task(), weights: weights)
    }

    private func served<T: RecipeTask>(_ task: T, weights: URL?) throws -> ServedModel {
        let choice = weights.map { ModelChoice(weights: $0) } ?? ModelChoice(base: true)
        let (resolved, _) = try resolve(choice)
        let session = try task.makeSession(setup(weightsOverride: resolved.completeURL))
        let model = try session.makeModel(weights: resolved)
        guard let predictor = try session.servingPredictor(for: model) else {
            throw RunError("task \(recipe.task) with data format \(recipe.data.format) cannot be served: it reads no single inputs")
        }
        model.module.eval()
        return ServedModel(module: model.module, predictor: predictor, task: recipe.task)
    }
}

extension RecipeRun {
    /// The recipe's model as a generator when a registered generative format reads its weights
    /// (a causal_lm recipe's GGUF or checkpoint), to serve generations with adapters; nil otherwise.
    public func servedGenerator() throws -> AdapterServingGenerator? {
        guard let weights = recipe.model.weights else { return nil }
        let url = URL(fileURLWithPath: weights)
        guard let format = registry.entries(GenerativeModels.self).first(where: { $0.entry.accepts(url) }) else { return nil }
        guard let generator = try format.entry.load(url) as? AdapterServingGenerator else {
            throw RunError("\(weights): this generative model takes no adapters, so it cannot be served with them")
        }
        return generator
    }
}
