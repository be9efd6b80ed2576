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

/// One clip of the `av_clips` layout for lips from speech: its log-mel features and, per video
/// frame, the 20 mouth landmarks normalised to the crop (`x / size − 0.5`, `y / size − 0.5`).
public struct LipsClip {
    public var path: String
    /// [mels, 4 × frames].
    public var audio: Tensor
    /// frames × 40 values.
    public var landmarks: [Float]
    public var frames: Int
    public var size: Int
    /// The speaker's mouth style, for rendering the predicted landmarks.
    public var style: SpeakerStyle
}

public struct LipsBatch {
    public var clips: [LipsClip]
    /// [N, mels, Ta].
    public var audio: Tensor { Tensor.stack(clips.map(\.audio)) }
    /// [N, Tv, 40].
    public var target: Tensor {
        Tensor(clips.flatMap(\.landmarks), shape: [clips.count, clips[0].frames, clips[0].landmarks.count / clips[0].frames])
    }
}

/// Predicted and true landmarks of the frames an evaluation saw, in pixels.
public struct LipsPredictions: Codable {
    public var predicted: [Float]
    public var target: [Float]
    /// With a sync model, per clip: the SyncNet score of the predicted mouths and of the true ones,
    /// both rendered in the clip's style.
    public var sync: [SyncScore] = []
    public var truthSync: [SyncScore] = []
}

/// Landmark metrics over every frame of an evaluation pass, in pixels of the mouth crop:
/// `landmark_error` the mean distance between predicted and true points, `opening_error` the mean
/// absolute error of the inner-lip opening (points 62 and 66), `opening_correlation` Pearson's
/// correlation of predicted and true openings (how well the mouth moves with the speech). With a
/// sync model, SyncNet's scores of the predicted mouths rendered in each clip's style (`lse_d`,
/// `lse_c`, `av_offset`, `offset_accuracy`, as `SyncEvaluation`) and, to approach, those of the
/// true landmarks rendered the same way (`lse_d_truth`, …); `offset_agreement`, the share of clips
/// whose predicted mouths have the true mouths' AV offset.
public struct LipsEvaluation: TaskEvaluation {
    var predicted: [Float] = []
    var target: [Float] = []
    var sync: [SyncScore] = []
    var truthSync: [SyncScore] = []
    public init() {}
    public mutating func add(_ p: LipsPredictions) {
        predicted += p.predicted
        target += p.target
        sync += p.sync
        truthSync += p.truthSync
    }

    static func opening(_ points: ArraySlice<Float>) -> Double {
        let base = points.startIndex
        return Double(points[base + 2 * 18 + 1] - points[base + 2 * 14 + 1])
    }

    public func values() -> [String: Double] {
        let stride = 2 * MouthLandmarks.count
        guard !target.isEmpty, target.count % stride == 0 else { return [:] }
        var distance = 0.0
        for i in Swift.stride(from: 0, to: target.count, by: 2) {
            let dx = Double(predicted[i] - target[i]), dy = Double(predicted[i + 1] - target[i + 1])
            distance += (dx * dx + dy * dy).squareRoot()
        }
        let frames = target.count / stride
        let p = (0..<frames).map { Self.opening(predicted[($0 * stride)..<(($0 + 1) * stride)]) }
        let t = (0..<frames).map { Self.opening(target[($0 * stride)..<(($0 + 1) * stride)]) }
        var v = ["landmark_error": distance / Double(target.count / 2),
                 "opening_error": zip(p, t).map { abs($0 - $1) }.reduce(0, +) / Double(frames)]
        if let r = Self.pearson(p, t) { v["opening_correlation"] = r }
        v.merge(SyncEvaluation.summary(sync)) { a, _ in a }
        v.merge(SyncEvaluation.summary(truthSync, suffix: "_truth")) { a, _ in a }
        if !sync.isEmpty, sync.count == truthSync.count {
            v["offset_agreement"] = Double(zip(sync, truthSync).filter { $0.offset == $1.offset }.count) / Double(sync.count)
        }
        return v
    }

    static func pearson(_ a: [Double], _ b: [Double]) -> Double? {
        let n = Double(a.count)
        guard a.count > 1 else { return nil }
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) {
            sab += (x - ma) * (y - mb)
            saa += (x - ma) * (x - ma)
            sbb += (y - mb) * (y - mb)
        }
        guard saa > 0, sbb > 0 else { return nil }
        return sab / (saa * sbb).squareRoot()
    }
}

/// Mean squared error of the normalised landmarks, predicted from the audio alone; in evaluation,
/// with a sync model, the SyncNet scores of predicted and true mouths.
public struct LipsObjective: TrainingTask {
    public typealias Batch = LipsBatch
    public typealias Evaluation = LipsEvaluation
    public let model: AVSpeechModel
    public var scorer: SyncScorer? = nil

    public func makeEvaluation() -> LipsEvaluation { LipsEvaluation() }

    public func run(_ module: Module, on batch: LipsBatch) throws -> TaskOutput<LipsPredictions> {
        let first = batch.clips[0]
        if let other = batch.clips.first(where: { $0.audio.shape != first.audio.shape || $0.landmarks.count != first.landmarks.count }) {
            throw AudioVisualError("clips of one batch must have the same length: \(first.path) has \(first.frames) frames, "
                + "\(other.path) \(other.frames)")
        }
        let target = batch.target
        let predicted = try model.landmarks(audio: batch.audio)
        guard predicted.shape == target.shape else {
            throw AudioVisualError("the model predicts \(predicted.shape) landmarks for clips with \(target.shape) "
                + "(\(batch.clips[0].path)): audio must be 4 log-mel frames per video frame")
        }
        let loss = mseLoss(predictions: predicted, targets: target)
        // Metrics in pixels of each clip's crop.
        let per = target.count / batch.clips.count
        let values = predicted.detached().scalars
        var p: [Float] = [], t: [Float] = []
        for (n, clip) in batch.clips.enumerated() {
            let s = Float(clip.size)
            p += values[(n * per)..<((n + 1) * per)].map { ($0 + 0.5) * s }
            t += clip.landmarks.map { ($0 + 0.5) * s }
        }
        var predictions = LipsPredictions(predicted: p, target: t)
        if let scorer, !GradMode.isEnabled {
            (predictions.sync, predictions.truthSync) = try syncScores(scorer, batch: batch, predicted: p, target: t)
        }
        return TaskOutput(loss: loss, count: batch.clips.count, predictions: predictions)
    }

    /// The sync model's scores of the predicted and the true landmarks (pixels), each rendered in the
    /// clip's style and standardised as the sync model was trained.
    func syncScores(_ scorer: SyncScorer, batch: LipsBatch, predicted: [Float], target: [Float]) throws -> ([SyncScore], [SyncScore]) {
        let clip = batch.clips[0], size = clip.size, frames = clip.frames
        guard size == scorer.model.config.frameSize else {
            throw AudioVisualError("the sync model reads \(scorer.model.config.frameSize)-pixel frames, \(clip.path) has \(size)")
        }
        func render(_ values: [Float], _ clip: LipsClip, offset: Int) -> [Float] {
            (0..<frames).flatMap { f -> [Float] in
                let base = offset + f * 2 * MouthLandmarks.count
                let points = (0..<MouthLandmarks.count).map { Point2(Double(values[base + 2 * $0]), Double(values[base + 2 * $0 + 1])) }
                return MouthFrames.standardised(MouthRenderer.render(points, style: clip.style, size: size))
            }
        }
        let per = frames * 2 * MouthLandmarks.count
        let n = batch.clips.count
        let rendered = batch.clips.enumerated().flatMap { render(predicted, $1, offset: $0 * per) }
            + batch.clips.enumerated().flatMap { render(target, $1, offset: $0 * per) }
        let audio = batch.audio
        let scores = try scorer.scores(audio: Tensor.concat([audio, audio], axis: 0),
                                       video: Tensor(rendered, shape: [2 * n, frames, 1, size, size]))
        return (Array(scores[..<n]), Array(scores[n...]))
    }
}

public final class AVModel: TaskModel {
    public let model: AVSpeechModel
    public let headKeys: [String]
    init(model: AVSpeechModel, headKeys: [String]) {
        self.model = model
        self.headKeys = headKeys
    }
    public var module: Module { model }

    public func writeCompanions(to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(contentsOf: Array(try encoder.encode(model.config)), to: directory.appendingPathComponent("config.json").path)
    }
}

/// `task: lips_from_speech`: the mouth landmarks of every video frame predicted from the speech
/// alone (`model.architecture: av_speech`, the audio encoder and `landmark_head` of
/// `AVSpeechModel`). Data (`data.format: av_clips`): the JSON Lines manifests of `lorakit data
/// av-speech` (or real clips in the same layout), `{"path": clip folder}` with `audio.wav` and
/// `meta.json` (landmarks per frame). Metrics: `landmark_error`, `opening_error` (pixels) and
/// `opening_correlation`; with `model.options.sync_model` (a trained `av_sync` model, frozen) the
/// lip-sync metrics of `LipsEvaluation` (LSE-D, LSE-C, AV offset of predicted and true mouths).
/// `predict` takes clip folders or WAV files and writes, beside the JSON, a PNG strip of the
/// predicted mouth (top) over the reference frames (bottom) and the speech as a WAV into
/// `OUTPUT_DIR/predictions/`.
public struct LipsRecipeTask: RecipeTask {
    public let name = "lips_from_speech"
    public let summary = "mouth landmarks per video frame from speech alone; landmark and opening error, opening correlation, lip sync (LSE-D, LSE-C)"
    public static let architectures = ["av_speech"]
    public static let formats = ["av_clips"]
    public static let metrics = ["landmark_error", "opening_error", "opening_correlation"] + syncMetrics
    /// The metrics that need `model.options.sync_model`.
    static let syncMetrics = ["lse_d", "lse_c", "av_offset", "offset_accuracy"].flatMap { [$0, $0 + "_truth"] } + ["offset_agreement"]
    static let modelOptions: [OptionSpec] = [
        .integer("mels", min: 1, help: "mel bins (default 80)"), .integer("width", min: 4, help: "model width (default 128)"),
        .integer("heads", min: 1, help: "attention heads (default 4)"), .integer("ffn", min: 1, help: "feed-forward width (default 4 × width)"),
        .integer("audio_layers", min: 0, help: "audio encoder layers (default 4)"),
        .integer("video_layers", min: 0, help: "video encoder layers (default 2)"),
        .integer("fusion_layers", min: 0, help: "cross-attention layers (default 2)"),
        .integer("frame_size", min: 8, help: "side of the mouth frames the video encoder reads (default 48)"),
        .integer("classes", min: 1, help: "classes of the recognition head, kept for the audio-visual recognition task (default 10)"),
        .path("config", help: "a config.json giving the shape (default: beside model.weights)"),
    ]
    /// The lips task's options: the model's, and the frozen sync model that scores lip sync.
    static let lipsOptions = modelOptions + [
        .path("sync_model", help: "a trained av_sync model (safetensors, config.json beside it) for the sync metrics lse_d, lse_c, av_offset, …"),
    ]

    public init() {}

    public func makeSession(_ setup: RunSetup) throws -> LipsSession { try LipsSession(setup: setup) }

    public func validation(of recipe: Recipe, registry: Registry) -> TaskValidation {
        TaskValidation(architectures: RecipeNames(Self.architectures), dataFormats: RecipeNames(Self.formats),
                       metrics: RecipeNames(Self.metrics), checks: [{ recipe in
                           var list = RecipeChecks.modelOptions(recipe, specs: Self.lipsOptions) + RecipeChecks.dataOptions(recipe, specs: [])
                           if !recipe.data.transforms.isEmpty { list.append(.invalid("data.transforms", "lips_from_speech data takes no transforms")) }
                           if recipe.model.options["sync_model"] == nil {
                               for (i, metric) in recipe.eval.metrics.enumerated() where Self.syncMetrics.contains(metric) {
                                   list.append(.invalid("eval.metrics[\(i)]", "\(metric) is scored by a sync model: set model.options.sync_model "
                                       + "to a trained av_sync model (recipes/av/sync.yaml)"))
                               }
                           }
                           return list
                       }],
                       pathOptions: RecipeChecks.pathOptions(recipe, model: Self.lipsOptions, data: [], transforms: []))
    }

    public func listing(in registry: Registry) -> [String] {
        ["architectures (model.architecture): av_speech — audio encoder (Conv1d stem to 25 Hz, pre-LN layers), video encoder, "
            + "cross-attention fusion; options:"] + optionListing(Self.lipsOptions)
            + ["data formats (data.format): av_clips (JSON lines {path: clip folder with audio.wav, meta.json, frames/})",
               "metrics (eval.metrics): " + Self.metrics.joined(separator: ", ")]
    }
}

public final class LipsSession: TaskSession {
    public typealias Model = AVModel
    public typealias Item = LipsClip
    public typealias Batch = LipsBatch
    public typealias Objective = LipsObjective

    public let setup: RunSetup
    private var splits: DatasetSplits<LipsClip, LipsBatch>?
    let options: Options

    init(setup: RunSetup) throws {
        self.setup = setup
        options = setup.modelOptions(owner: "architecture av_speech", specs: LipsRecipeTask.lipsOptions)
        splits = DatasetSplits(recipe: setup.recipe, readsFiles: true) { [unowned self] role, path in try self.read(role, path: path) }
    }

    /// The shape: `model.options.config`, else `config.json` beside the weights, else the size options.
    func configuration(_ weights: URL?) throws -> AVSpeechConfig {
        let fm = FileManager.default
        let beside = [weights, setup.recipe.model.weights.map { URL(fileURLWithPath: $0) }].compactMap { $0 }
            .map { $0.deletingLastPathComponent().appendingPathComponent("config.json") }.first { fm.fileExists(atPath: $0.path) }
        if let file = try options.path("config") ?? beside {
            do { return try JSONDecoder().decode(AVSpeechConfig.self, from: Data(contentsOf: file)) } catch {
                throw setup.error("model.options.config", "\(file.path) is not an av_speech config.json: \(error)")
            }
        }
        let width = try options.int("width", default: 128)
        let config = AVSpeechConfig(mels: try options.int("mels", default: 80), width: width, heads: try options.int("heads", default: 4),
                                    ffn: try options.int("ffn", default: 4 * width), audioLayers: try options.int("audio_layers", default: 4),
                                    videoLayers: try options.int("video_layers", default: 2),
                                    fusionLayers: try options.int("fusion_layers", default: 2),
                                    frameSize: try options.int("frame_size", default: 48))
        if let problem = config.problem { throw setup.error("model.options", problem) }
        return config
    }

    public func makeModel(weights: ModelWeights) throws -> AVModel { try makeModel(weights: weights, head: "landmark_head") }

    /// The model of both audio-visual tasks, shaped by `configuration`, loaded strictly from
    /// `weights` when given; `head` is what a linear probe trains.
    func makeModel(weights: ModelWeights, head: String) throws -> AVModel {
        var rng = RandomGenerator(seed: setup.recipe.train.seed)
        let model = AVSpeechModel(config: try configuration(weights.url), classes: try options.int("classes", default: 10), generator: &rng)
        if let url = weights.url { try model.loadSafeTensors(path: url.path, strict: true) }
        model.train()
        return AVModel(model: model, headKeys: [head])
    }

    public func objective(for model: AVModel) throws -> LipsObjective {
        var objective = LipsObjective(model: model.model)
        if let path = try options.path("sync_model") {
            do { objective.scorer = SyncScorer(model: try SyncNetFiles.load(path)) } catch {
                throw setup.error("model.options.sync_model", "\(error)")
            }
        }
        return objective
    }

    public var hasValidationData: Bool { splits?.hasValidation ?? false }

    public func dataset(_ role: DataRole) throws -> TaskDataset<LipsClip, LipsBatch> {
        guard let splits else { preconditionFailure("splits are set in init") }
        return try splits.dataset(role)
    }

    /// Reads a manifest; every clip's metadata is read and checked now, its audio when an item is.
    private func read(_ role: DataRole, path: URL?) throws -> TaskDataset<LipsClip, LipsBatch> {
        guard let path else { throw TaskError.missingSplit(role: role, key: "data.\(role.rawValue)") }
        let folders = try AVClipManifest.read(path)
        let mels = try configuration(setup.weightsOverride).mels
        return TaskDataset(LipsDataset(folders: folders, mels: mels), collate: { LipsBatch(clips: $0) })
    }

    public func predict(_ inputs: [String], with model: AVModel) throws -> [Prediction] {
        let folder = URL(fileURLWithPath: setup.recipe.outputDirectory).appendingPathComponent("predictions")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        model.model.eval()
        return try inputs.map { input in
            var isDirectory: ObjCBool = false
            let clipFolder = FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) && isDirectory.boolValue
            let meta = clipFolder ? try? AVClipManifest.meta(URL(fileURLWithPath: input)) : nil
            let audioPath = clipFolder ? URL(fileURLWithPath: input).appendingPathComponent("audio.wav").path : input
            let samples: [Float]
            do {
                let clip = try AudioFile.read(audioPath).mono()
                samples = clip.sampleRate == 16_000 ? clip.samples : try clip.resampled(to: 16_000).samples
            } catch { throw PredictionError(input: input, reason: "\(error)") }
            let features = try WhisperFeatures.logMel(samples, mels: model.model.config.mels)
            let predicted = try model.model.landmarks(audio: features.reshaped([1] + features.shape)).detached()
            let frames = predicted.shape[1], size = meta?.size ?? 48
            let style = meta?.speaker.style ?? SpeakerStyle()
            let values = predicted.scalars.map { Double(($0 + 0.5) * Float(size)) }
            let points = (0..<frames).map { f in (0..<20).map { Point2(values[f * 40 + 2 * $0], values[f * 40 + 2 * $0 + 1]) } }
            // The strip: predicted mouths on top, the reference frames (when the input is a clip) below.
            let rows = meta == nil ? 1 : 2
            var strip = [Float](repeating: 0, count: rows * size * frames * size)
            for f in 0..<frames {
                let rendered = MouthRenderer.render(points[f], style: style, size: size)
                for y in 0..<size { for x in 0..<size { strip[y * frames * size + f * size + x] = rendered[y * size + x] } }
                if meta != nil {
                    let file = URL(fileURLWithPath: input).appendingPathComponent(String(format: "frames/%04d.png", f)).path
                    if let image = try? Image(contentsOfFile: file, mode: .gray), image.width == size, image.height == size {
                        for y in 0..<size { for x in 0..<size { strip[(size + y) * frames * size + f * size + x] = image.pixels[y * size + x] } }
                    }
                }
            }
            let name = (input as NSString).lastPathComponent.replacingOccurrences(of: ".wav", with: "")
            let stripPath = folder.appendingPathComponent("\(name).png").path
            try Image(height: rows * size, width: frames * size, channels: 1, pixels: strip).writePNG(to: stripPath)
            // The speech beside it, to play with the strip.
            let speechPath = folder.appendingPathComponent("\(name).wav").path
            try AudioFile.write(AudioClip(samples: samples, sampleRate: 16_000), to: speechPath)
            let openings = points.map { MouthLandmarks.opening($0) }
            return Prediction(input: input, fields: [
                "landmarks": .array(points.map { .array($0.flatMap { [.number($0.x), .number($0.y)] }) }),
                "opening": .array(openings.map { .number($0) }), "strip": .string(stripPath), "audio": .string(speechPath), "fps": .integer(25),
            ], summary: String(format: "%@: %d frames, mouth opening up to %.1f px; %@", input, frames, openings.max() ?? 0, stripPath))
        }
    }
}

/// The `av_clips` layout: a JSON Lines manifest of clip folders (relative to it), each with
/// `audio.wav`, `meta.json` and `frames/`.
enum AVClipManifest {
    static func read(_ manifest: URL) throws -> [URL] {
        let text: String
        do { text = try String(contentsOf: manifest, encoding: .utf8) } catch {
            throw AudioVisualError("\(manifest.path): cannot read the manifest: \(error.localizedDescription)")
        }
        var folders: [URL] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard case let .object(o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)), case let .string(path)? = o["path"] else {
                throw AudioVisualError("\(manifest.path):\(i + 1): expected {\"path\": clip folder, …}")
            }
            let folder = path.hasPrefix("/") ? URL(fileURLWithPath: path) : manifest.deletingLastPathComponent().appendingPathComponent(path)
            for file in ["audio.wav", "meta.json"] where !FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path) {
                throw AudioVisualError("\(manifest.path):\(i + 1): \(folder.path) has no \(file)")
            }
            folders.append(folder)
        }
        guard !folders.isEmpty else { throw AudioVisualError("\(manifest.path): no clips") }
        return folders
    }

    /// The clip's audio, mono at 16 kHz.
    static func audio(_ folder: URL) throws -> [Float] {
        let clip = try AudioFile.read(folder.appendingPathComponent("audio.wav").path).mono()
        return clip.sampleRate == 16_000 ? clip.samples : try clip.resampled(to: 16_000).samples
    }

    /// The clip's grey frames, each standardised (`MouthFrames.standardised`): [frames, 1, size, size].
    static func frames(_ folder: URL, meta: AVSpeechData.ClipMeta) throws -> Tensor {
        var frames: [Float] = []
        frames.reserveCapacity(meta.frames * meta.size * meta.size)
        for f in 0..<meta.frames {
            let file = folder.appendingPathComponent(String(format: "frames/%04d.png", f)).path
            let image = try Image(contentsOfFile: file, mode: .gray)
            guard image.width == meta.size, image.height == meta.size else {
                throw AudioVisualError("\(file): \(image.width)×\(image.height), the clip's frames are \(meta.size)×\(meta.size)")
            }
            frames += MouthFrames.standardised(image.pixels)
        }
        return Tensor(frames, shape: [meta.frames, 1, meta.size, meta.size])
    }

    static func meta(_ folder: URL) throws -> AVSpeechData.ClipMeta {
        let file = folder.appendingPathComponent("meta.json")
        do { return try JSONDecoder().decode(AVSpeechData.ClipMeta.self, from: Data(contentsOf: file)) } catch {
            throw AudioVisualError("\(file.path): not an av-speech meta.json: \(error)")
        }
    }
}

struct LipsDataset: Dataset {
    let folders: [URL]
    let mels: Int
    var count: Int { folders.count }

    func item(at index: Int, context: inout ItemContext) throws -> LipsClip {
        let folder = folders[index]
        let meta = try AVClipManifest.meta(folder)
        let samples = try AVClipManifest.audio(folder)
        let features = try WhisperFeatures.logMel(samples, mels: mels)
        guard AVSpeechModel.videoFrames(audioFrames: features.shape[1]) == meta.frames, meta.landmarks.count == meta.frames,
              meta.landmarks.allSatisfy({ $0.count == MouthLandmarks.count && $0.allSatisfy { $0.count == 2 } }) else {
            throw AudioVisualError("\(folder.path): \(features.shape[1]) log-mel frames (\(samples.count) samples) do not match "
                + "\(meta.frames) video frames of 20 landmarks at 4 audio frames each")
        }
        let s = Double(meta.size)
        let landmarks = meta.landmarks.flatMap { $0.flatMap { $0.map { Float($0 / s - 0.5) } } }
        return LipsClip(path: folder.path, audio: features, landmarks: landmarks, frames: meta.frames, size: meta.size, style: meta.speaker.style)
    }
}
