import Foundation
import Recipes
import Tensor
import Training

/// One run of a classification task: the classes, the classifier, the splits and predictions.
public final class ClassificationSession: TaskSession {
    public typealias Model = Classifier
    public typealias Item = ClassificationItem
    public typealias Batch = ClassificationBatch
    public typealias Objective = ClassificationTask

    /// The file a training run writes its class names to (a JSON array), beside its outputs, so
    /// that `eval` and `predict` use the head's classes without the training data.
    public static let labelsFile = "labels.json"

    public let task: ClassificationRecipeTask
    public let setup: RunSetup
    public let architecture: ClassifierArchitecture
    public let format: ClassificationFormat
    private var splits: DatasetSplits<ClassificationItem, ClassificationBatch>?
    /// The class names the training split gave (once read).
    private var trainingClassNames: [String]??

    init(task: ClassificationRecipeTask, setup: RunSetup) throws {
        let recipe = setup.recipe
        self.task = task
        self.setup = setup
        architecture = try setup.registry.lookup(Classifiers.self, recipe.model.architecture)
        format = try setup.registry.lookup(ClassificationFormats.self, recipe.data.format)
        guard architecture.input == task.input, format.input == task.input else {
            throw RegistryError.mismatch("\(task.name) needs a model and data of \(task.input); \(recipe.model.architecture) reads "
                                         + "\(architecture.input) and \(recipe.data.format) yields \(format.input)")
        }
        splits = DatasetSplits(recipe: recipe, readsFiles: format.readsFiles) { [unowned self] role, path in
            try self.read(role, path: path)
        }
    }

    private var recipe: Recipe { setup.recipe }

    // MARK: - Classes

    /// The classes, in label order: `model.class_names`, else those the training data names, else
    /// (for `eval`/`predict`, not for training) those a training run recorded in its output
    /// directory; nil when none of them does.
    public func classNames() throws -> [String]? {
        if let names = recipe.model.classNames { return names }
        if !format.readsFiles || recipe.data.train.map({ FileManager.default.fileExists(atPath: $0) }) == true {
            if trainingClassNames == nil { _ = try dataset(.train) }
            if let names = trainingClassNames ?? nil { return names }
        }
        return setup.training ? nil : try recordedClassNames()
    }

    /// The head's size: `model.classes`, else the number of class names.
    public func classCount() throws -> Int {
        if let classes = recipe.model.classes { return classes }
        let names: [String]?
        do { names = try classNames() } catch {
            throw setup.error("model.classes", "not set, and the training data cannot count the classes: \(error)")
        }
        guard let names else {
            if format.readsFiles, let train = recipe.data.train, !FileManager.default.fileExists(atPath: train) {
                throw setup.error("model.classes", "not set, and data.train (\(train)) does not exist to count the classes from")
            }
            throw setup.error("model.classes", "is needed: the data does not name its classes")
        }
        return names.count
    }

    private func recordedClassNames() throws -> [String]? {
        let url = URL(fileURLWithPath: recipe.outputDirectory).appendingPathComponent(Self.labelsFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let names = try? JSONDecoder().decode([String].self, from: Data(contentsOf: url)) else {
            throw TaskError.invalid(key: "output_dir", message: "\(url.path) is not a JSON array of class names")
        }
        return names
    }

    /// Writes the class names (`labels.json`); without names, removes an earlier run's file.
    public func writeRunFiles(to directory: URL) throws {
        let url = directory.appendingPathComponent(Self.labelsFile)
        guard let names = try classNames() else {
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        try encoder.encode(names).write(to: url, options: .atomic)
    }

    // MARK: - Model

    public func makeModel(weights: ModelWeights) throws -> Classifier {
        let name = recipe.model.architecture
        let request = ClassifierRequest(
            architecture: name, classes: try classCount(), inputSize: recipe.model.inputSize,
            options: setup.modelOptions(owner: "architecture \(name)", specs: architecture.options),
            seed: recipe.train.seed, weights: weights, pretrained: recipe.model.weights.map { URL(fileURLWithPath: $0) },
            replaceHead: recipe.model.head == .new)
        let classifier = try architecture.build(request)
        if !classifier.loadedWeights {
            try WeightLoading.load(weights, into: classifier.module, headKeys: classifier.headKeys,
                                   replaceHead: recipe.model.head == .new)
        }
        return classifier
    }

    public func objective(for model: Classifier) throws -> ClassificationTask {
        let names = recipe.eval.metrics
        let registry = setup.registry.metrics
        _ = try registry.make(names)                      // unknown names fail before training
        let architecture = recipe.model.architecture
        return ClassificationTask(classCount: try classCount(), labelSmoothing: Float(recipe.train.labelSmoothing),
                                  metrics: { (try? registry.make(names)) ?? [] },
                                  forward: { _, x in
                                      try model.input?.check(x, architecture: architecture)
                                      return try model.forward(x)
                                  })
    }

    // MARK: - Data

    public var hasValidationData: Bool { splits?.hasValidation ?? false }

    public func dataset(_ role: DataRole) throws -> TaskDataset<ClassificationItem, ClassificationBatch> {
        guard let splits else { preconditionFailure("splits are set in init") }
        return try splits.dataset(role)
    }

    /// What the format is asked for a split: the recipe's data section, the model's input size
    /// and, for evaluation splits, the training classes.
    public func dataRequest(_ role: DataRole, path: URL?) throws -> DataRequest {
        setup.dataRequest(role, path: path, formatOptions: format.options, transforms: format.transforms(setup.registry),
                          classNames: role == .train ? recipe.model.classNames : try classNames())
    }

    private func read(_ role: DataRole, path: URL?) throws -> TaskDataset<ClassificationItem, ClassificationBatch> {
        let data = try format.read(try dataRequest(role, path: path))
        if role == .train { trainingClassNames = .some(data.classNames) }
        return data.dataset
    }

    // MARK: - Predict

    public func predict(_ inputs: [String], with model: Classifier) throws -> [Prediction] {
        guard let serving = try servingPredictor(for: model) else {
            throw RegistryError.mismatch("data format \(recipe.data.format) cannot read single inputs for predict")
        }
        return try (format.textInputs ? Self.texts(from: inputs) : inputs).map { input in
            let x: Tensor
            do { x = try serving.read(input) } catch { throw PredictionError(input: input, reason: "\(error)") }
            return try serving.predict([x], [input])[0]
        }
    }

    /// Inputs read by the format's single-input reader; a batch of one shape through the model,
    /// each row's logits, probabilities and label.
    public func servingPredictor(for model: Classifier) throws -> ServingPredictor? {
        guard let makeReader = format.inputReader else { return nil }
        let read = try makeReader(try dataRequest(.validation, path: nil))
        let names = try classNames()
        let objective = try objective(for: model)
        return ServingPredictor(textInputs: format.textInputs, read: read) { items, inputs in
            let logits = try withNoGrad { try objective.forward(model.module, Tensor.stack(items)) }
            let probabilities = logits.softmax(axis: -1).scalars, values = logits.scalars
            let c = logits.shape[1]
            return inputs.indices.map { n in
                let p = Array(probabilities[(n * c)..<((n + 1) * c)])
                let best = p.indices.max { p[$0] < p[$1] } ?? 0
                let label = names.map { $0.indices.contains(best) ? $0[best] : String(best) } ?? String(best)
                return Prediction(input: inputs[n], fields: [
                    "label": names == nil ? .integer(best) : .string(label), "class_index": .integer(best),
                    "logits": .array(values[(n * c)..<((n + 1) * c)].map { .number(Double($0)) }),
                    "probabilities": .array(p.map { .number(Double($0)) }),
                ], summary: "\(inputs[n]): \(label) (p = \(String(format: "%.3f", p[best])))")
            }
        }
    }

    /// Inputs of a text format: as given, except that an input naming an existing file stands for
    /// its lines (one text per line; blank lines skipped).
    static func texts(from inputs: [String]) throws -> [String] {
        var texts: [String] = []
        for item in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: item, isDirectory: &isDirectory), !isDirectory.boolValue else {
                texts.append(item)
                continue
            }
            let content: String
            do { content = try String(contentsOfFile: item, encoding: .utf8) } catch {
                throw PredictionError(input: item, reason: "cannot read it as UTF-8 text (\(error.localizedDescription))")
            }
            texts += content.split(whereSeparator: \.isNewline).map(String.init)
                .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        }
        return texts
    }
}

/// An input `predict` could not read: the input and why.
public struct PredictionError: Error, CustomStringConvertible, Equatable {
    public var input: String
    public var reason: String

    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    public var description: String { "\(input): \(reason)" }
}
