import Foundation
import LoRAKit

/// Multi-label classification: every example has any number of labels. The model is one of
/// LoRAKit's classifier architectures with one output per label; the loss is binary
/// cross-entropy per label (`binaryCrossEntropyWithLogits`); a label is predicted when its
/// sigmoid probability exceeds 0.5; metrics are per-label, micro and macro F1, subset accuracy
/// and Hamming loss (`MultiLabelMetrics`).
public struct MultiLabelTask: RecipeTask {
    public let name = "multilabel_classification"
    public let summary = "any number of labels per example; binary cross-entropy per label; per-label, micro and macro F1"

    public init() {}

    public func makeSession(_ setup: RunSetup) throws -> MultiLabelSession { try MultiLabelSession(setup: setup) }

    public func listing(in registry: Registry) -> [String] {
        ["architectures (model.architecture): LoRAKit's classifier architectures, one output per label: "
            + registry.names(Classifiers.self).joined(separator: ", "),
         "data formats (data.format; data.options):"]
            + registry.entries(MultiLabelFormats.self).flatMap { name, f in ["  \(name): \(f.summary)"] + optionListing(f.options) }
            + ["metrics (eval.metrics): " + MultiLabelMetrics.names.joined(separator: ", ")]
    }

    public func validation(of recipe: Recipe, registry: Registry) -> TaskValidation {
        let architecture = registry.entry(Classifiers.self, recipe.model.architecture)
        let format = registry.entry(MultiLabelFormats.self, recipe.data.format)
        return TaskValidation(
            architectures: RecipeNames(registry.names(Classifiers.self)),
            dataFormats: RecipeNames(registry.names(MultiLabelFormats.self)),
            metrics: RecipeNames(MultiLabelMetrics.names),
            checks: [{ recipe in
                var list: [RecipeProblem] = []
                if let architecture { list += RecipeChecks.modelOptions(recipe, specs: architecture.options) }
                if let format {
                    list += RecipeChecks.dataOptions(recipe, specs: format.options)
                    list += RecipeChecks.transforms(recipe, accepted: format.transforms(registry))
                }
                if let architecture, let format {
                    list += RecipeChecks.inputKinds(recipe, model: architecture.input, data: format.input, task: name, needs: nil)
                }
                if recipe.train.labelSmoothing != 0 {
                    list.append(.invalid("train.label_smoothing", "applies to single-label classification only"))
                }
                if recipe.model.head == .keep && recipe.model.weights == nil {
                    list.append(.invalid("model.head", "keep needs model.weights with a head for these labels"))
                }
                return list
            }],
            pathOptions: RecipeChecks.pathOptions(recipe, model: architecture?.options ?? [], data: format?.options ?? [],
                                                  transforms: format?.transforms(registry) ?? []))
    }
}

/// One run of the multi-label task.
public final class MultiLabelSession: TaskSession {
    public typealias Model = Classifier
    public typealias Item = MultiLabelItem
    public typealias Batch = MultiLabelBatch
    public typealias Objective = MultiLabelObjective

    let setup: RunSetup
    let architecture: ClassifierArchitecture
    let format: MultiLabelFormat
    private var splits: DatasetSplits<MultiLabelItem, MultiLabelBatch>?
    private var trainingLabels: [String]?

    init(setup: RunSetup) throws {
        self.setup = setup
        architecture = try setup.registry.lookup(Classifiers.self, setup.recipe.model.architecture)
        format = try setup.registry.lookup(MultiLabelFormats.self, setup.recipe.data.format)
        splits = DatasetSplits(recipe: setup.recipe, readsFiles: format.readsFiles) { [unowned self] role, path in
            let request = setup.dataRequest(role, path: path, formatOptions: format.options,
                                            transforms: format.transforms(setup.registry),
                                            classNames: role == .train ? setup.recipe.model.classNames : try labelNames())
            let data = try format.read(request)
            if role == .train { trainingLabels = data.labelNames }
            return data.dataset
        }
    }

    /// The labels in target order: `model.class_names`, else the training data's.
    public func labelNames() throws -> [String] {
        if let names = setup.recipe.model.classNames { return names }
        if trainingLabels == nil { _ = try dataset(.train) }
        guard let names = trainingLabels else { throw MultiLabelError("the training data names no labels; set model.class_names") }
        return names
    }

    public var hasValidationData: Bool { splits?.hasValidation ?? false }

    public func dataset(_ role: DataRole) throws -> TaskDataset<MultiLabelItem, MultiLabelBatch> {
        guard let splits else { preconditionFailure("splits are set in init") }
        return try splits.dataset(role)
    }

    public func makeModel(weights: ModelWeights) throws -> Classifier {
        let recipe = setup.recipe
        let request = ClassifierRequest(
            architecture: recipe.model.architecture, classes: try labelNames().count, inputSize: recipe.model.inputSize,
            options: setup.modelOptions(owner: "architecture \(recipe.model.architecture)", specs: architecture.options),
            seed: recipe.train.seed, weights: weights, pretrained: recipe.model.weights.map { URL(fileURLWithPath: $0) },
            replaceHead: recipe.model.head == .new)
        let model = try architecture.build(request)
        if !model.loadedWeights {
            try WeightLoading.load(weights, into: model.module, headKeys: model.headKeys, replaceHead: recipe.model.head == .new)
        }
        return model
    }

    public func objective(for model: Classifier) throws -> MultiLabelObjective {
        let names = try labelNames(), metrics = setup.recipe.eval.metrics, architecture = setup.recipe.model.architecture
        return MultiLabelObjective(labels: names.count, forward: { x in
            try model.input?.check(x, architecture: architecture)
            return try model.forward(x)
        }, evaluation: { MultiLabelEvaluation(labelNames: names, metrics: metrics) })
    }

    public func predict(_ inputs: [String], with model: Classifier) throws -> [Prediction] {
        guard let makeReader = format.inputReader else {
            throw MultiLabelError("data format \(setup.recipe.data.format) cannot read single inputs for predict")
        }
        let read = try makeReader(setup.dataRequest(.validation, path: nil, formatOptions: format.options,
                                                    transforms: format.transforms(setup.registry), classNames: try labelNames()))
        let names = try labelNames()
        let objective = try objective(for: model)
        return try inputs.map { input in
            let x: Tensor
            do { x = try read(input) } catch { throw PredictionError(input: input, reason: "\(error)") }
            let logits = try withNoGrad { try objective.forward(x.unsqueezed(0)) }
            let probabilities = logits.sigmoid().scalars
            let predicted = names.indices.filter { logits.scalars[$0] > 0 }.map { names[$0] }
            var object: [String: JSONValue] = [:]
            for (name, p) in zip(names, probabilities) { object[name] = .number(Double(p)) }
            return Prediction(input: input, fields: ["labels": .array(predicted.map { .string($0) }), "probabilities": .object(object)],
                              summary: "\(input): \(predicted.isEmpty ? "(no label)" : predicted.joined(separator: ", "))")
        }
    }

    public func writeRunFiles(to directory: URL) throws {
        try JSONEncoder().encode(try labelNames()).write(to: directory.appendingPathComponent("labels.json"), options: .atomic)
    }
}

/// Binary cross-entropy per label on a classifier's logits `[N, labels]`.
public struct MultiLabelObjective: TrainingTask {
    public let labels: Int
    public let forward: (Tensor) throws -> Tensor
    public let evaluation: () -> MultiLabelEvaluation

    public func makeEvaluation() -> MultiLabelEvaluation { evaluation() }

    public func run(_ model: Module, on batch: MultiLabelBatch) throws -> TaskOutput<MultiLabelPredictions> {
        let logits = try forward(batch.inputs)
        guard logits.shape == batch.targets.shape else {
            throw TensorError.shapeMismatch(operation: "multi-label logits vs targets", lhs: logits.shape, rhs: batch.targets.shape)
        }
        let loss = binaryCrossEntropyWithLogits(logits: logits, targets: batch.targets)
        return TaskOutput(loss: loss, count: batch.targets.shape[0],
                          predictions: MultiLabelPredictions(logits: logits.detached(), targets: batch.targets))
    }
}
