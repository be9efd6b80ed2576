import Audio
import Foundation
import NN
import Recipes
import SafeTensors
import Tasks
import Tensor
import Training

/// One labelled recording: 16 kHz mono samples (a whole number of 512-sample chunks) and a label
/// per chunk (1: speech).
public struct VADClip: Sendable {
    public var samples: [Float]
    public var labels: [Int]
}

/// Clips of one batch padded to the longest with silence; `mask` marks the chunks that count.
public struct VADBatch {
    public var clips: [VADClip]
    /// Chunks per clip after padding.
    public var steps: Int

    public init(_ clips: [VADClip]) {
        self.clips = clips
        steps = clips.map(\.labels.count).max() ?? 0
    }

    /// The windows of step `t` [N, 576]: each clip's 64 samples before the chunk (zeros before
    /// the first) and the chunk (zeros past the clip's end).
    func windows(_ t: Int) -> Tensor {
        var values = [Float](repeating: 0, count: clips.count * SileroVAD.window)
        for (n, clip) in clips.enumerated() {
            let start = t * SileroVAD.chunk - SileroVAD.context
            for j in 0..<SileroVAD.window {
                let i = start + j
                if i >= 0 && i < clip.samples.count { values[n * SileroVAD.window + j] = clip.samples[i] }
            }
        }
        return Tensor(values, shape: [clips.count, SileroVAD.window])
    }
}

/// Speech probabilities and labels of the chunks an evaluation saw.
public struct VADPredictions: Codable {
    public var probabilities: [Float]
    public var labels: [Int]
}

/// Frame (chunk) metrics of a VAD: `f1` and `accuracy` at probability 0.5, `roc_auc` over the
/// probabilities, each over every labelled chunk of the pass.
public struct VADEvaluation: TaskEvaluation {
    var probabilities: [Float] = []
    var labels: [Int] = []
    public init() {}
    public mutating func add(_ p: VADPredictions) {
        probabilities += p.probabilities
        labels += p.labels
    }

    public func values() -> [String: Double] {
        guard !labels.isEmpty else { return [:] }
        var tp = 0, fp = 0, fn = 0, correct = 0
        for (p, l) in zip(probabilities, labels) {
            let speech = p >= 0.5
            if speech && l == 1 { tp += 1 } else if speech { fp += 1 } else if l == 1 { fn += 1 }
            if speech == (l == 1) { correct += 1 }
        }
        var v = ["accuracy": Double(correct) / Double(labels.count)]
        if tp + fp + fn > 0 { v["f1"] = 2 * Double(tp) / Double(2 * tp + fp + fn) }
        if let auc = Metrics.rocAUC(scores: probabilities, labels: labels) { v["roc_auc"] = auc }
        return v
    }
}

/// Binary cross-entropy of each chunk's speech logit (`binaryCrossEntropyWithLogits`), the clip
/// run chunk by chunk with the LSTM state carried (and differentiated) through it.
public struct VADObjective: TrainingTask {
    public typealias Batch = VADBatch
    public typealias Evaluation = VADEvaluation
    public let model: SileroVAD

    public func makeEvaluation() -> VADEvaluation { VADEvaluation() }

    public func run(_ module: Module, on batch: VADBatch) throws -> TaskOutput<VADPredictions> {
        var state: (h: Tensor, c: Tensor)?
        var losses: [Tensor] = []
        var probabilities: [Float] = [], labels: [Int] = []
        var counted = 0
        for t in 0..<batch.steps {
            let (z, s) = try model.logits(batch.windows(t), state: state)
            state = s
            var target = [Float](repeating: 0, count: batch.clips.count), weight = [Float](repeating: 0, count: batch.clips.count)
            for (n, clip) in batch.clips.enumerated() where t < clip.labels.count {
                target[n] = Float(clip.labels[t])
                weight[n] = 1
            }
            // Padding chunks past a clip's end weigh 0.
            losses.append(binaryCrossEntropyWithLogits(logits: z, targets: Tensor(target), weights: Tensor(weight), reduction: .sum))
            let values = z.detached().sigmoid().scalars
            for (n, clip) in batch.clips.enumerated() where t < clip.labels.count {
                probabilities.append(values[n])
                labels.append(clip.labels[t])
            }
            counted += Int(weight.reduce(0, +))
        }
        let total = losses.dropFirst().reduce(losses[0], +)
        return TaskOutput(loss: total / Float(max(counted, 1)), count: batch.clips.count,
                          predictions: VADPredictions(probabilities: probabilities, labels: labels))
    }
}

public final class VADModel: TaskModel {
    public let vad: SileroVAD
    init(vad: SileroVAD) { self.vad = vad }
    public var module: Module { vad }
    public var headKeys: [String] { [] }
}

/// `task: vad`: a voice-activity detector (Silero VAD, `model.architecture: silero_vad`, its
/// `silero_vad_16k.safetensors` as `model.weights`) adapted to labelled clips. Data
/// (`data.format: vad_jsonl`): JSON lines `{"path": audio file (relative to the manifest), "labels":
/// [0 or 1 per 512-sample chunk]}`, audio at any rate and channel count (downmixed, resampled to
/// 16 kHz). Metrics: `f1`, `accuracy`, `roc_auc` over chunks. `predict` gives each file's chunk
/// probabilities and speech segments.
public struct VADRecipeTask: RecipeTask {
    public let name = "vad"
    public let summary = "voice activity detection per 512-sample chunk (Silero VAD); chunk F1, accuracy, ROC-AUC"
    public static let architectures = ["silero_vad"]
    public static let formats = ["vad_jsonl"]
    public static let metrics = ["accuracy", "f1", "roc_auc"]

    public init() {}

    public func makeSession(_ setup: RunSetup) throws -> VADSession { VADSession(setup: setup) }

    public func validation(of recipe: Recipe, registry: Registry) -> TaskValidation {
        TaskValidation(architectures: RecipeNames(Self.architectures), dataFormats: RecipeNames(Self.formats),
                       metrics: RecipeNames(Self.metrics), checks: [{ recipe in self.problems(in: recipe) }],
                       pathOptions: RecipeChecks.pathOptions(recipe, model: [], data: [], transforms: []))
    }

    public func listing(in registry: Registry) -> [String] {
        ["architectures (model.architecture): silero_vad — Silero VAD 16 kHz from the silero-vad package's safetensors",
         "data formats (data.format): vad_jsonl (path, labels per 512-sample chunk)",
         "metrics (eval.metrics): " + Self.metrics.joined(separator: ", ")]
    }

    func problems(in recipe: Recipe) -> [RecipeProblem] {
        var list = RecipeChecks.modelOptions(recipe, specs: []) + RecipeChecks.dataOptions(recipe, specs: [])
        if recipe.model.weights == nil {
            list.append(RecipeProblem(key: "model.weights", kind: .missingKey(reason: "vad starts from Silero VAD's silero_vad_16k.safetensors (scripts/fetch_silero_vad)")))
        }
        if recipe.train.mode == .linearProbe { list.append(.invalid("train.mode", "vad has no separate head for a linear probe; use lora or full")) }
        if !recipe.data.transforms.isEmpty { list.append(.invalid("data.transforms", "vad data takes no transforms")) }
        return list
    }
}

public final class VADSession: TaskSession {
    public typealias Model = VADModel
    public typealias Item = VADClip
    public typealias Batch = VADBatch
    public typealias Objective = VADObjective

    public let setup: RunSetup
    private var splits: DatasetSplits<VADClip, VADBatch>?

    init(setup: RunSetup) {
        self.setup = setup
        splits = DatasetSplits(recipe: setup.recipe, readsFiles: true) { [unowned self] role, path in try self.read(role, path: path) }
    }

    public func makeModel(weights: ModelWeights) throws -> VADModel {
        guard let path = setup.recipe.model.weights else { throw setup.error("model.weights", "vad needs Silero VAD's weights") }
        let vad = try SileroVAD.load(from: path)
        if case let .complete(file) = weights { try vad.loadSafeTensors(path: file.path, strict: true) }
        vad.train()
        return VADModel(vad: vad)
    }

    public func objective(for model: VADModel) throws -> VADObjective { VADObjective(model: model.vad) }

    public var hasValidationData: Bool { splits?.hasValidation ?? false }

    public func dataset(_ role: DataRole) throws -> TaskDataset<VADClip, VADBatch> {
        guard let splits else { preconditionFailure("splits are set in init") }
        return try splits.dataset(role)
    }

    /// Reads a manifest: every line's file is checked to exist and its labels to be 0/1 now; the
    /// audio is read when an item is.
    private func read(_ role: DataRole, path: URL?) throws -> TaskDataset<VADClip, VADBatch> {
        guard let path else { throw TaskError.missingSplit(role: role, key: "data.\(role.rawValue)") }
        let text: String
        do { text = try String(contentsOf: path, encoding: .utf8) } catch {
            throw AudioError.cannotOpen(path: path.path, reason: "cannot read the manifest: \(error.localizedDescription)")
        }
        var entries: [(URL, [Int])] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let place = "\(path.path):\(i + 1)"
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let file = object["path"] as? String, let labels = object["labels"] as? [Int] else {
                throw AudioError.invalid("\(place): expected {\"path\": …, \"labels\": [0 or 1 per 512-sample chunk]}")
            }
            guard !labels.isEmpty, labels.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                throw AudioError.invalid("\(place): labels must be a non-empty list of 0 and 1")
            }
            let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : path.deletingLastPathComponent().appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { throw AudioError.cannotOpen(path: url.path, reason: "no such file (\(place))") }
            entries.append((url, labels))
        }
        guard !entries.isEmpty else { throw AudioError.invalid("\(path.path): no clips") }
        return TaskDataset(VADDataset(entries: entries), collate: { VADBatch($0) })
    }

    public func predict(_ inputs: [String], with model: VADModel) throws -> [Prediction] {
        try inputs.map { input in
            let clip: AudioClip
            do { clip = try AudioFile.read(input).mono().resampled(to: SileroVAD.sampleRate) } catch {
                throw PredictionError(input: input, reason: "\(error)")
            }
            let p = try model.vad.stream(clip.samples)
            let seconds = Double(SileroVAD.chunk) / Double(SileroVAD.sampleRate)
            var segments: [JSONValue] = []
            var start: Int?
            for (t, v) in (p + [0]).enumerated() {
                if v >= 0.5, start == nil { start = t }
                if v < 0.5, let s = start {
                    segments.append(.object(["start_s": .number(Double(s) * seconds), "end_s": .number(Double(t) * seconds)]))
                    start = nil
                }
            }
            let speech = p.filter { $0 >= 0.5 }.count
            return Prediction(input: input, fields: ["probabilities": .array(p.map { .number(Double($0)) }), "segments": .array(segments),
                                                     "chunk_seconds": .number(seconds)],
                              summary: String(format: "%@: speech in %d of %d chunks, %d segments", input, speech, p.count, segments.count))
        }
    }
}

struct VADDataset: Dataset {
    let entries: [(URL, [Int])]
    var count: Int { entries.count }
    func item(at index: Int, context: inout ItemContext) throws -> VADClip {
        let (url, labels) = entries[index]
        let clip = try AudioFile.read(url.path).mono().resampled(to: SileroVAD.sampleRate)
        let chunks = (clip.frames + SileroVAD.chunk - 1) / SileroVAD.chunk
        guard chunks == labels.count else {
            throw AudioError.invalid("\(url.path): \(chunks) chunks of 512 samples at 16 kHz, but \(labels.count) labels")
        }
        return VADClip(samples: clip.samples, labels: labels)
    }
}
