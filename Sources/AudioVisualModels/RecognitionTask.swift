import Audio
import AudioModels
import Foundation
import ImageModels
import NN
import Recipes
import SafeTensors
import Tasks
import Tensor
import Training

/// One clip for audio-visual recognition: log-mel features, grey mouth frames (each standardised)
/// and the class.
public struct AVRecognitionClip {
    public var path: String
    /// [mels, Ta].
    public var audio: Tensor
    /// [Tv, 1, S, S].
    public var video: Tensor
    public var label: Int
}

public struct AVRecognitionBatch {
    public var clips: [AVRecognitionClip]
}

/// The evaluation's predicted and true classes.
public struct AVRecognitionPredictions: Codable {
    public var predicted: [Int]
    public var labels: [Int]
}

/// `accuracy` over the clips of an evaluation pass.
public struct AVRecognitionEvaluation: TaskEvaluation {
    var correct = 0, total = 0
    public init() {}
    public mutating func add(_ p: AVRecognitionPredictions) {
        correct += zip(p.predicted, p.labels).filter { $0 == $1 }.count
        total += p.labels.count
    }
    public func values() -> [String: Double] { total == 0 ? [:] : ["accuracy": Double(correct) / Double(total)] }
}

/// Cross-entropy of the fused logits.
public struct AVRecognitionObjective: TrainingTask {
    public typealias Batch = AVRecognitionBatch
    public typealias Evaluation = AVRecognitionEvaluation
    public let model: AVSpeechModel

    public func makeEvaluation() -> AVRecognitionEvaluation { AVRecognitionEvaluation() }

    public func run(_ module: Module, on batch: AVRecognitionBatch) throws -> TaskOutput<AVRecognitionPredictions> {
        let first = batch.clips[0]
        if let other = batch.clips.first(where: { $0.audio.shape != first.audio.shape || $0.video.shape != first.video.shape }) {
            throw AudioVisualError("clips of one batch must have the same length and frame size: \(first.path) \(first.video.shape), "
                + "\(other.path) \(other.video.shape)")
        }
        let labels = batch.clips.map(\.label)
        let (_, logits) = try model(audio: Tensor.stack(batch.clips.map(\.audio)), video: Tensor.stack(batch.clips.map(\.video)))
        let loss = crossEntropy(logits: logits, targets: Tensor(indices: labels, shape: [labels.count]))
        let c = logits.shape[1], values = logits.detached().scalars
        let predicted = (0..<labels.count).map { n in (0..<c).max { values[n * c + $0] < values[n * c + $1] }! }
        return TaskOutput(loss: loss, count: labels.count, predictions: AVRecognitionPredictions(predicted: predicted, labels: labels))
    }
}

/// `task: av_recognition`: the word of a clip from its audio and its mouth frames (`av_speech`:
/// audio frames attend to video frames, mean-pooled into `classifier`). Data `av_clips` (labels
/// from the manifest). `data.options`:
/// - `modality_dropout` (training): the probability that a clip's audio, or else its video, is
///   zeroed, so the model learns to use either stream alone;
/// - `modality` (evaluation and predict): `both`, `audio` (video zeroed) or `video` (audio zeroed);
/// - `babble_snr`: babble (four other clips of the split, summed) added to the audio at this SNR in
///   dB, in every split — the noisy condition where the lips help.
/// Metric: `accuracy`.
public struct AVRecognitionRecipeTask: RecipeTask {
    public let name = "av_recognition"
    public let summary = "the word of a clip from audio and mouth frames (cross-attention fusion, modality dropout); accuracy"
    public static let dataOptions: [OptionSpec] = [
        .number("modality_dropout", atLeast: 0, atMost: 1, default: 0, help: "training: chance that one stream (audio or video, evenly) is zeroed"),
        .choice("modality", ["both", "audio", "video"], default: "both", help: "evaluation and predict: the streams the model sees"),
        .number("babble_snr", help: "babble from four other clips of the split added to the audio at this SNR (dB), every split"),
    ]

    public init() {}

    public func makeSession(_ setup: RunSetup) throws -> AVRecognitionSession { try AVRecognitionSession(setup: setup) }

    public func validation(of recipe: Recipe, registry: Registry) -> TaskValidation {
        TaskValidation(architectures: RecipeNames(LipsRecipeTask.architectures), dataFormats: RecipeNames(LipsRecipeTask.formats),
                       metrics: RecipeNames(["accuracy"]), checks: [{ recipe in
                           RecipeChecks.modelOptions(recipe, specs: LipsRecipeTask.modelOptions)
                               + RecipeChecks.dataOptions(recipe, specs: Self.dataOptions)
                       }],
                       pathOptions: RecipeChecks.pathOptions(recipe, model: LipsRecipeTask.modelOptions, data: [], transforms: []))
    }

    public func listing(in registry: Registry) -> [String] {
        ["architectures (model.architecture): av_speech (see lips_from_speech)",
         "data formats (data.format): av_clips with labels; options:"] + optionListing(Self.dataOptions) + ["metrics (eval.metrics): accuracy"]
    }
}

public final class AVRecognitionSession: TaskSession {
    public typealias Model = AVModel
    public typealias Item = AVRecognitionClip
    public typealias Batch = AVRecognitionBatch
    public typealias Objective = AVRecognitionObjective

    public let setup: RunSetup
    private var splits: DatasetSplits<AVRecognitionClip, AVRecognitionBatch>?
    private let lips: LipsSession
    private let data: Options
    private var classNames: [String]?

    init(setup: RunSetup) throws {
        self.setup = setup
        lips = try LipsSession(setup: setup)
        data = setup.dataOptions(owner: "task av_recognition", specs: AVRecognitionRecipeTask.dataOptions)
        splits = DatasetSplits(recipe: setup.recipe, readsFiles: true) { [unowned self] role, path in try self.read(role, path: path) }
    }

    public func makeModel(weights: ModelWeights) throws -> AVModel { try lips.makeModel(weights: weights, head: "classifier") }

    public func objective(for model: AVModel) throws -> AVRecognitionObjective { AVRecognitionObjective(model: model.model) }

    public var hasValidationData: Bool { splits?.hasValidation ?? false }

    public func dataset(_ role: DataRole) throws -> TaskDataset<AVRecognitionClip, AVRecognitionBatch> {
        guard let splits else { preconditionFailure("splits are set in init") }
        return try splits.dataset(role)
    }

    private func read(_ role: DataRole, path: URL?) throws -> TaskDataset<AVRecognitionClip, AVRecognitionBatch> {
        guard let path else { throw TaskError.missingSplit(role: role, key: "data.\(role.rawValue)") }
        let listed = try AudioListing.manifest(path, jsonLines: true, pathColumn: "path", labelColumn: "label", classNames: try trainingClasses())
        let classes = try lips.options.int("classes", default: 10)
        guard listed.classNames.count <= classes else {
            throw setup.error("model.options.classes", "the data has \(listed.classNames.count) classes (\(listed.classNames.joined(separator: ", "))), "
                + "the model's head \(classes)")
        }
        let dataset = AVRecognitionDataset(folders: listed.samples.map { URL(fileURLWithPath: $0.path) }, labels: listed.samples.map(\.label),
                                           mels: try lips.configuration(setup.weightsOverride).mels, training: role == .train,
                                           dropout: try data.double("modality_dropout", default: 0),
                                           modality: role == .train ? "both" : try data.string("modality", default: "both"),
                                           babbleSNR: try data.double("babble_snr"))
        return TaskDataset(dataset, collate: { AVRecognitionBatch(clips: $0) }, strata: dataset.labels)
    }

    /// The classes, in index order: the training manifest's labels (sorted names), whichever split
    /// is read, so that a test file lacking a word still numbers the others as training did.
    func trainingClasses() throws -> [String]? {
        if let classNames { return classNames }
        guard let train = setup.recipe.data.train else { return nil }
        classNames = try AudioListing.manifest(URL(fileURLWithPath: train), jsonLines: true, pathColumn: "path", labelColumn: "label",
                                               classNames: nil).classNames
        return classNames
    }

    public func predict(_ inputs: [String], with model: AVModel) throws -> [Prediction] {
        model.model.eval()
        let names = try trainingClasses() ?? []
        let reader = AVRecognitionDataset(folders: inputs.map { URL(fileURLWithPath: $0) }, labels: inputs.map { _ in 0 },
                                          mels: model.model.config.mels, training: false, dropout: 0,
                                          modality: try data.string("modality", default: "both"), babbleSNR: nil)
        return try inputs.indices.map { i in
            var context = ItemContext(epoch: 0, index: i, seed: 0)
            let clip: AVRecognitionClip
            do { clip = try reader.item(at: i, context: &context) } catch { throw PredictionError(input: inputs[i], reason: "\(error)") }
            let (_, logits) = try model.model(audio: clip.audio.reshaped([1] + clip.audio.shape), video: clip.video.reshaped([1] + clip.video.shape))
            let p = logits.detached().softmax(axis: 1).scalars
            let best = p.indices.max { p[$0] < p[$1] }!
            let label = best < names.count ? names[best] : String(best)
            return Prediction(input: inputs[i], fields: ["label": .string(label), "class_index": .integer(best),
                                                         "probabilities": .array(p.map { .number(Double($0)) })],
                              summary: String(format: "%@: %@ (p = %.2f)", inputs[i], label, p[best]))
        }
    }
}

struct AVRecognitionDataset: Dataset {
    let folders: [URL]
    let labels: [Int]
    let mels: Int
    let training: Bool
    let dropout: Double
    let modality: String
    let babbleSNR: Double?
    var count: Int { folders.count }

    func item(at index: Int, context: inout ItemContext) throws -> AVRecognitionClip {
        let folder = folders[index]
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("meta.json").path) else {
            throw AudioVisualError("\(folder.path): not a clip folder (audio.wav, meta.json, frames/)")
        }
        let meta = try AVClipManifest.meta(folder)
        var samples = try AVClipManifest.audio(folder)
        if let snr = babbleSNR {
            guard folders.count > 4 else {
                throw AudioVisualError("data.options.babble_snr mixes four other clips of the split, but it has \(folders.count)")
            }
            // Four other clips of the split, chosen from the index (the same babble every epoch in evaluation).
            var g = RandomGenerator(seed: UInt64(index) &* 0x9E37_79B9 &+ (training ? UInt64(context.epoch) : 0))
            var others: [[Float]] = []
            while others.count < 4 {
                let k = Int(g.next() % UInt64(folders.count))
                if k != index { others.append(try AVClipManifest.audio(folders[k])) }
            }
            let babble = AudioAugmentation.babble(others.map { o in (0..<samples.count).map { $0 < o.count ? o[$0] : 0 } })
            samples = try AudioAugmentation.addNoise(samples, noise: babble, snr: snr)
        }
        var features = try WhisperFeatures.logMel(samples, mels: mels)
        var video = try AVClipManifest.frames(folder, meta: meta)
        var keep = modality
        if training && dropout > 0 && Double(context.generator.nextUniform()) < dropout {
            keep = context.generator.next() % 2 == 0 ? "video" : "audio"
        }
        if keep == "video" { features = Tensor.zeros(features.shape) }
        if keep == "audio" { video = Tensor.zeros(video.shape) }
        return AVRecognitionClip(path: folder.path, audio: features, video: video, label: labels[index])
    }
}
