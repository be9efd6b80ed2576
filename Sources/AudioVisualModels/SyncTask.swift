import Audio
import Foundation
import Recipes
import Tasks
import Tensor
import Training
import NN
import SafeTensors

/// One clip for the sync model: log-mel features and standardised grey frames.
public struct SyncClip {
    public var path: String
    /// [mels, Ta].
    public var audio: Tensor
    /// [T, 1, S, S].
    public var video: Tensor
}

public struct SyncBatch {
    public var clips: [SyncClip]
}

/// Per clip, the SyncNet score; over all windows, how many matched their own audio.
public struct SyncPredictions: Codable {
    public var scores: [SyncScore]
    public var correct: Int
    public var windows: Int
}

/// The sync metrics of an evaluation pass, means over clips: `lse_d` and `lse_c` (SyncNet's
/// distance and confidence, `SyncScore`), `av_offset` the mean absolute offset in frames,
/// `offset_accuracy` the share of clips whose offset is 0; and `match_accuracy`, the share of
/// windows whose own audio is the nearest of the training shifts.
public struct SyncEvaluation: TaskEvaluation {
    var scores: [SyncScore] = []
    var correct = 0, windows = 0
    public init() {}
    public mutating func add(_ p: SyncPredictions) {
        scores += p.scores
        correct += p.correct
        windows += p.windows
    }

    public func values() -> [String: Double] {
        var v = Self.summary(scores)
        if windows > 0 { v["match_accuracy"] = Double(correct) / Double(windows) }
        return v
    }

    static func summary(_ scores: [SyncScore], suffix: String = "") -> [String: Double] {
        guard !scores.isEmpty else { return [:] }
        let n = Double(scores.count)
        return ["lse_d" + suffix: scores.map(\.distance).reduce(0, +) / n,
                "lse_c" + suffix: scores.map(\.confidence).reduce(0, +) / n,
                "av_offset" + suffix: scores.map { Double(abs($0.offset)) }.reduce(0, +) / n,
                "offset_accuracy" + suffix: Double(scores.filter { $0.offset == 0 }.count) / n]
    }
}

/// Multi-way matching loss (`SyncNet.matchingLoss`); in evaluation also each clip's SyncNet score.
public struct SyncObjective: TrainingTask {
    public typealias Batch = SyncBatch
    public typealias Evaluation = SyncEvaluation
    public let model: SyncNet
    public let shifts: Int

    public func makeEvaluation() -> SyncEvaluation { SyncEvaluation() }

    public func run(_ module: Module, on batch: SyncBatch) throws -> TaskOutput<SyncPredictions> {
        let first = batch.clips[0]
        if let other = batch.clips.first(where: { $0.audio.shape != first.audio.shape || $0.video.shape != first.video.shape }) {
            throw AudioVisualError("clips of one batch must have the same length and frame size: \(first.path) \(first.video.shape), "
                + "\(other.path) \(other.video.shape)")
        }
        let (a, v) = try model(audio: Tensor.stack(batch.clips.map(\.audio)), video: Tensor.stack(batch.clips.map(\.video)))
        let (loss, correct, windows) = try SyncNet.matchingLoss(video: v, audio: a, shifts: shifts)
        var scores: [SyncScore] = []
        if !GradMode.isEnabled {
            let (n, w, e) = (v.shape[0], v.shape[1], v.shape[2])
            let vs = v.detached().scalars, as_ = a.detached().scalars
            scores = (0..<n).map { SyncScore(video: Array(vs[($0 * w * e)..<(($0 + 1) * w * e)]), audio: Array(as_[($0 * w * e)..<(($0 + 1) * w * e)]), dimension: e) }
        }
        return TaskOutput(loss: loss, count: batch.clips.count, predictions: SyncPredictions(scores: scores, correct: correct, windows: windows))
    }
}

public final class SyncModelHandle: TaskModel {
    public let model: SyncNet
    init(model: SyncNet) { self.model = model }
    public var module: Module { model }
    public var headKeys: [String] { ["audio.out", "video.out"] }

    public func writeCompanions(to directory: URL) throws {
        try SyncNetFiles.writeConfig(model.config, to: directory)
    }
}

/// Reading and writing a sync model: `model.safetensors` with `config.json` beside it.
public enum SyncNetFiles {
    static func writeConfig(_ config: SyncNetConfig, to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(contentsOf: Array(try encoder.encode(config)), to: directory.appendingPathComponent("config.json").path)
    }

    /// The frozen sync model of `weights` (a safetensors file with `config.json` beside it), in evaluation mode.
    public static func load(_ weights: URL) throws -> SyncNet {
        let file = weights.deletingLastPathComponent().appendingPathComponent("config.json")
        let config: SyncNetConfig
        do { config = try JSONDecoder().decode(SyncNetConfig.self, from: Data(contentsOf: file)) } catch {
            throw AudioVisualError("\(file.path): the sync model \(weights.path) needs its config.json beside it: \(error)")
        }
        if let problem = config.problem { throw AudioVisualError("\(file.path): \(problem)") }
        var rng = RandomGenerator(seed: 0)
        let model = SyncNet(config: config, generator: &rng)
        try model.loadSafeTensors(path: weights.path, strict: true)
        model.eval()
        model.freeze()
        return model
    }
}

/// `task: av_sync`: a SyncNet (`model.architecture: sync_net`) trained contrastively on clips
/// whose lips are in sync, to score the lip sync of other video with SyncNet's LSE-D, LSE-C and AV
/// offset (`lips_from_speech` uses one frozen, `model.options.sync_model`). Data `av_clips`;
/// `data.options.audio_shift` delays the audio by whole video frames (negative: advances it), to
/// check that the offset is found. `predict` takes clip folders and gives each one's offset,
/// LSE-D and LSE-C.
public struct SyncRecipeTask: RecipeTask {
    public let name = "av_sync"
    public let summary = "a SyncNet that scores lip sync (LSE-D, LSE-C, AV offset), trained contrastively on in-sync clips"
    public static let metrics = ["lse_d", "lse_c", "av_offset", "offset_accuracy", "match_accuracy"]
    static let modelOptions: [OptionSpec] = [
        .integer("mels", min: 1, help: "mel bins (default 80)"), .integer("width", min: 1, help: "hidden width (default 128)"),
        .integer("embedding", min: 1, help: "embedding size (default 64)"),
        .integer("frame_size", min: 8, help: "side of the mouth frames (default 48)"),
        .integer("shifts", min: 1, help: "training: each window is matched against audio shifted by up to this many frames either way (default 6)"),
    ]
    static let dataOptions: [OptionSpec] = [
        .integer("audio_shift", help: "delay the audio by this many video frames (negative: advance it), zero-padded; every split"),
    ]

    public init() {}

    public func makeSession(_ setup: RunSetup) throws -> SyncSession { try SyncSession(setup: setup) }

    public func validation(of recipe: Recipe, registry: Registry) -> TaskValidation {
        TaskValidation(architectures: RecipeNames(["sync_net"]), dataFormats: RecipeNames(LipsRecipeTask.formats),
                       metrics: RecipeNames(Self.metrics), checks: [{ recipe in
                           var list = RecipeChecks.modelOptions(recipe, specs: Self.modelOptions) + RecipeChecks.dataOptions(recipe, specs: Self.dataOptions)
                           if !recipe.data.transforms.isEmpty { list.append(.invalid("data.transforms", "av_sync data takes no transforms")) }
                           return list
                       }],
                       pathOptions: RecipeChecks.pathOptions(recipe, model: Self.modelOptions, data: Self.dataOptions, transforms: []))
    }

    public func listing(in registry: Registry) -> [String] {
        ["architectures (model.architecture): sync_net — audio and video towers embedding five-frame windows; options:"]
            + optionListing(Self.modelOptions)
            + ["data formats (data.format): av_clips; options:"] + optionListing(Self.dataOptions)
            + ["metrics (eval.metrics): " + Self.metrics.joined(separator: ", ")]
    }
}

public final class SyncSession: TaskSession {
    public typealias Model = SyncModelHandle
    public typealias Item = SyncClip
    public typealias Batch = SyncBatch
    public typealias Objective = SyncObjective

    public let setup: RunSetup
    private var splits: DatasetSplits<SyncClip, SyncBatch>?
    let options: Options
    let data: Options

    init(setup: RunSetup) throws {
        self.setup = setup
        options = setup.modelOptions(owner: "architecture sync_net", specs: SyncRecipeTask.modelOptions)
        data = setup.dataOptions(owner: "task av_sync", specs: SyncRecipeTask.dataOptions)
        splits = DatasetSplits(recipe: setup.recipe, readsFiles: true) { [unowned self] role, path in try self.read(role, path: path) }
    }

    func configuration(_ weights: URL?) throws -> SyncNetConfig {
        let beside = [weights, setup.recipe.model.weights.map { URL(fileURLWithPath: $0) }].compactMap { $0 }
            .map { $0.deletingLastPathComponent().appendingPathComponent("config.json") }.first { FileManager.default.fileExists(atPath: $0.path) }
        if let file = beside {
            do { return try JSONDecoder().decode(SyncNetConfig.self, from: Data(contentsOf: file)) } catch {
                throw setup.error("model.weights", "\(file.path) is not a sync_net config.json: \(error)")
            }
        }
        let config = SyncNetConfig(mels: try options.int("mels", default: 80), width: try options.int("width", default: 128),
                                   embedding: try options.int("embedding", default: 64), frameSize: try options.int("frame_size", default: 48))
        if let problem = config.problem { throw setup.error("model.options", problem) }
        return config
    }

    public func makeModel(weights: ModelWeights) throws -> SyncModelHandle {
        var rng = RandomGenerator(seed: setup.recipe.train.seed)
        let model = SyncNet(config: try configuration(weights.url), generator: &rng)
        if let url = weights.url { try model.loadSafeTensors(path: url.path, strict: true) }
        model.train()
        return SyncModelHandle(model: model)
    }

    public func objective(for model: SyncModelHandle) throws -> SyncObjective {
        SyncObjective(model: model.model, shifts: try options.int("shifts", default: 6))
    }

    public var hasValidationData: Bool { splits?.hasValidation ?? false }

    public func dataset(_ role: DataRole) throws -> TaskDataset<SyncClip, SyncBatch> {
        guard let splits else { preconditionFailure("splits are set in init") }
        return try splits.dataset(role)
    }

    private func read(_ role: DataRole, path: URL?) throws -> TaskDataset<SyncClip, SyncBatch> {
        guard let path else { throw TaskError.missingSplit(role: role, key: "data.\(role.rawValue)") }
        let dataset = SyncDataset(folders: try AVClipManifest.read(path), mels: try configuration(setup.weightsOverride).mels,
                                  shift: try data.int("audio_shift", default: 0))
        return TaskDataset(dataset, collate: { SyncBatch(clips: $0) })
    }

    public func predict(_ inputs: [String], with model: SyncModelHandle) throws -> [Prediction] {
        model.model.eval()
        let reader = SyncDataset(folders: inputs.map { URL(fileURLWithPath: $0) }, mels: model.model.config.mels,
                                 shift: try data.int("audio_shift", default: 0))
        return try inputs.indices.map { i in
            var context = ItemContext(epoch: 0, index: i, seed: 0)
            let score: SyncScore
            do {
                let clip = try reader.item(at: i, context: &context)
                score = try SyncScorer(model: model.model).score(audio: clip.audio, video: clip.video)
            } catch { throw PredictionError(input: inputs[i], reason: "\(error)") }
            return Prediction(input: inputs[i], fields: ["av_offset": .integer(score.offset), "lse_d": .number(score.distance),
                                                         "lse_c": .number(score.confidence)],
                              summary: String(format: "%@: AV offset %d frames, LSE-D %.3f, LSE-C %.3f", inputs[i], score.offset,
                                              score.distance, score.confidence))
        }
    }
}

/// A frozen sync model scoring clips.
public struct SyncScorer {
    public let model: SyncNet

    /// The score of one clip: audio [mels, Ta], standardised frames [T, 1, S, S].
    public func score(audio: Tensor, video: Tensor) throws -> SyncScore {
        try scores(audio: audio.reshaped([1] + audio.shape), video: video.reshaped([1] + video.shape))[0]
    }

    /// Scores of clips of one shape: audio [N, mels, Ta], video [N, T, 1, S, S].
    public func scores(audio: Tensor, video: Tensor) throws -> [SyncScore] {
        let (a, v) = try withNoGrad { try model(audio: audio, video: video) }
        let (n, w, e) = (v.shape[0], v.shape[1], v.shape[2])
        let vs = v.scalars, as_ = a.scalars
        return (0..<n).map { k in
            SyncScore(video: Array(vs[(k * w * e)..<((k + 1) * w * e)]), audio: Array(as_[(k * w * e)..<((k + 1) * w * e)]), dimension: e)
        }
    }
}

struct SyncDataset: Dataset {
    let folders: [URL]
    let mels: Int
    let shift: Int
    var count: Int { folders.count }

    func item(at index: Int, context: inout ItemContext) throws -> SyncClip {
        let folder = folders[index]
        let meta = try AVClipManifest.meta(folder)
        var samples = try AVClipManifest.audio(folder)
        if shift != 0 {
            let n = min(abs(shift) * 16_000 / meta.fps, samples.count)
            samples = shift > 0 ? [Float](repeating: 0, count: n) + samples.dropLast(n) : Array(samples.dropFirst(n)) + [Float](repeating: 0, count: n)
        }
        let features = try WhisperFeatures.logMel(samples, mels: mels)
        return SyncClip(path: folder.path, audio: features, video: try AVClipManifest.frames(folder, meta: meta))
    }
}
