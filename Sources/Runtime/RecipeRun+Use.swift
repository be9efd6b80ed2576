import Foundation
import LoRA
import NN
import Recipes
import Tasks
import Tensor
import Training

extension RecipeRun {
    /// Metrics of the chosen model on a split (the task decides which: the recipe's `eval.metrics`
    /// and the loss for classification).
    /// - Throws: `RunError` when the chosen model's files are missing or the split has no data;
    ///   the task's and the data's errors naming the file, line or shape.
    public func evaluate(_ choice: ModelChoice = .run, split: DataRole = .validation) throws -> [String: Double] {
        try inRecipePrecision { try evaluate(try task(), choice, split) }
    }

    /// Predictions of the chosen model for `inputs` (image files, texts, or files of texts, as the
    /// recipe's data format reads them).
    /// - Throws: `RunError` when the chosen model's files are missing; `PredictionError` naming an
    ///   input that cannot be read.
    public func predict(_ inputs: [String], with choice: ModelChoice = .run) throws -> [Prediction] {
        try inRecipePrecision { try predict(try task(), inputs, choice) }
    }

    /// Runs `body` in the recipe's compute precision (`train.precision`; f32 with a one-line
    /// notice, logged, where the CPU has no bf16 units).
    func inRecipePrecision<R>(_ body: () throws -> R) rethrows -> R {
        let precision = recipe.train.precision
        if let notice = ComputePrecision.fallbackNotice(for: precision) { log(notice) }
        return try withComputePrecision(precision, body)
    }

    /// Merges `adapter` into the base weights and writes them to `file` as the task writes merged
    /// models (plain safetensors under the base keys; a decoder's GGUF when `quantize` names a
    /// format); returns lines for people.
    @discardableResult
    public func merge(adapter: URL, to file: URL, quantize: String? = nil) throws -> [String] {
        try merge(try task(), adapter, file, quantize)
    }

    /// The weights a command's model starts from: the recipe's, or a replacement.
    public func weights(for choice: ModelChoice) -> ModelWeights {
        choice.weights.map { .complete($0) } ?? pretrainedWeights
    }

    private func evaluate<T: RecipeTask>(_ task: T, _ choice: ModelChoice, _ role: DataRole) throws -> [String: Double] {
        guard role != .train else { throw RunError("evaluate a validation or test split, not the training split") }
        let (session, model) = try open(task, choice)
        if role == .validation && !session.hasValidationData {
            throw RunError("\(loaded.location(of: "data")): no validation data: set data.validation or data.validation_fraction")
        }
        let objective = try session.objective(for: model)
        return try evaluateModel(model.module, task: objective, data: loader(try session.dataset(role), role: role))
    }

    private func predict<T: RecipeTask>(_ task: T, _ inputs: [String], _ choice: ModelChoice) throws -> [Prediction] {
        let (session, model) = try open(task, choice)
        model.module.eval()
        return try session.predict(inputs, with: model)
    }

    private func merge<T: RecipeTask>(_ task: T, _ adapter: URL, _ file: URL, _ quantize: String?) throws -> [String] {
        let (session, model) = try open(task, ModelChoice(adapter: adapter))
        let lora = LoRAModel(wrapping: model.module)
        guard !lora.hosts.isEmpty else { throw RunError("\(adapter.path) holds no adapter") }
        model.module.eval()
        return try session.writeMerged(lora, of: model, to: file, quantize: quantize)
    }

    /// A session and the model of `choice`.
    private func open<T: RecipeTask>(_ task: T, _ choice: ModelChoice) throws -> (T.Session, T.Session.Model) {
        let (weights, adapter) = try resolve(choice)
        let session = try task.makeSession(setup(weightsOverride: weights.completeURL))
        let model = try session.makeModel(weights: weights)
        if let adapter {
            try PEFTAdapterFile.load(into: LoRAModel(wrapping: model.module), from: adapter.path)
        }
        return (session, model)
    }

    /// The weights and adapter of `choice`: the recipe's weights (or a complete replacement), then
    /// an adapter — the one named, or the run's own. Without a choice, a LoRA recipe needs its
    /// trained adapter and a full or probe recipe its trained weights; their absence is an error
    /// naming the expected path (the base model is the explicit `.baseModel`).
    public func resolve(_ choice: ModelChoice) throws -> (weights: ModelWeights, adapter: URL?) {
        if choice.base {
            guard choice.weights == nil, choice.adapter == nil else {
                throw RunError("the base model takes no adapter or weights; drop --base, or drop --adapter/--weights")
            }
            return (pretrainedWeights, nil)
        }
        if let adapter = choice.adapter,
           !FileManager.default.fileExists(atPath: adapter.appendingPathComponent(PEFTAdapterFile.configName).path) {
            throw RunError("no adapter at \(adapter.path) (it has no \(PEFTAdapterFile.configName))")
        }
        if let weights = choice.weights, !FileManager.default.fileExists(atPath: weights.path) {
            throw RunError("no weights file at \(weights.path)")
        }
        if choice.weights != nil || choice.adapter != nil { return (weights(for: choice), choice.adapter) }
        switch recipe.train.mode {
        case .lora:
            let own = output.appendingPathComponent("adapter")
            guard FileManager.default.fileExists(atPath: own.appendingPathComponent(PEFTAdapterFile.configName).path) else {
                throw RunError("no trained adapter at \(own.path): train the recipe first, name an adapter with --adapter DIR, "
                               + "or use the base model with --base")
            }
            return (pretrainedWeights, own)
        case .full, .linearProbe:
            let own = output.appendingPathComponent("model.safetensors")
            guard FileManager.default.fileExists(atPath: own.path) else {
                throw RunError("no trained model at \(own.path): train the recipe first, name weights with --weights FILE, "
                               + "or use the base model with --base")
            }
            return (.complete(own), nil)
        }
    }
}
