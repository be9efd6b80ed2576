import Foundation
import LoRA
import NN
import Tasks

extension RecipeRun {
    /// The recipe's model (with its weights when the file exists) and the layers its LoRA
    /// targets match; nothing is injected.
    public func inspect() throws -> ModelInspection { try inspect(try task()) }

    private func inspect<T: RecipeTask>(_ task: T) throws -> ModelInspection {
        let session = try task.makeSession(setup())
        let weights = recipe.model.weights.map { FileManager.default.fileExists(atPath: $0) } == true ? pretrainedWeights : .none
        let model = try session.makeModel(weights: weights)
        let module = model.module
        var report: InjectionReport?
        if let settings = recipe.lora, recipe.train.mode == .lora {
            report = try LoRAModel(wrapping: module).dryRun(try loraConfig(settings, headKeys: model.headKeys))
        }
        let leaves = module.namedModules().filter { !$0.key.isEmpty && $0.module.children().isEmpty }
        return ModelInspection(architecture: recipe.model.architecture, parameters: module.parameterCount,
                               modules: leaves.map { .init(key: $0.key, type: "\(type(of: $0.module))", parameters: $0.module.parameterCount) },
                               lora: report)
    }
}
