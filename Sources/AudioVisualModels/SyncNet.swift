import Foundation
import NN
import Tensor

/// The shape of a `SyncNet`, written as `config.json` beside its weights.
public struct SyncNetConfig: Codable, Equatable, Sendable {
    public var mels: Int
    public var width: Int
    public var embedding: Int
    public var frameSize: Int

    public init(mels: Int = 80, width: Int = 128, embedding: Int = 64, frameSize: Int = 48) {
        self.mels = mels
        self.width = width
        self.embedding = embedding
        self.frameSize = frameSize
    }

    enum CodingKeys: String, CodingKey {
        case mels = "num_mel_bins", width, embedding, frameSize = "frame_size"
    }

    public var problem: String? {
        mels >= 1 && width >= 1 && embedding >= 1 && frameSize >= 8 ? nil
            : "mels, width and embedding must be positive, frame_size at least 8"
    }

    /// Cells of the video feature map after three stride-2 convolutions.
    var videoCells: Int {
        let side = (((frameSize + 1) / 2 + 1) / 2 + 1) / 2
        return side * side
    }
}

/// The audio tower: log-mel [N, mels, 4T] → `conv1` (kernel 4, stride 4: one step per video frame)
/// → `conv2` (kernel 5: the 20 log-mel frames, 0.2 s, of a five-frame video window, as SyncNet's
/// audio input) → `out` (1 × 1) = [N, T − 4, embedding]; GELU between.
public final class SyncAudioEncoder: Module {
    @Child public var conv1: Conv1d
    @Child public var conv2: Conv1d
    @Child public var out: Conv1d

    init(config c: SyncNetConfig, generator: inout RandomGenerator) {
        conv1 = Conv1d(c.mels, c.width, kernelSize: 4, stride: 4, generator: &generator)
        conv2 = Conv1d(c.width, c.width, kernelSize: 5, generator: &generator)
        out = Conv1d(c.width, c.embedding, kernelSize: 1, generator: &generator)
        super.init()
    }

    public func callAsFunction(_ a: Tensor) -> Tensor {
        out(conv2(conv1(a).gelu(.exact)).gelu(.exact)).permuted([0, 2, 1])
    }
}

/// The video tower: each grey frame through three GELU convolutions of stride 2 (1 → 16 → 32 → 64),
/// flattened into `proj` (GELU), then `temporal` (kernel 5 over frames: SyncNet's five-frame window)
/// and `out` (1 × 1) = [N, T − 4, embedding].
public final class SyncVideoEncoder: Module {
    @Child public var conv1: Conv2d
    @Child public var conv2: Conv2d
    @Child public var conv3: Conv2d
    @Child public var proj: Linear
    @Child public var temporal: Conv1d
    @Child public var out: Conv1d

    init(config c: SyncNetConfig, generator: inout RandomGenerator) {
        conv1 = Conv2d(1, 16, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        conv2 = Conv2d(16, 32, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        conv3 = Conv2d(32, 64, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        proj = Linear(64 * c.videoCells, c.width, generator: &generator)
        temporal = Conv1d(c.width, c.width, kernelSize: 5, generator: &generator)
        out = Conv1d(c.width, c.embedding, kernelSize: 1, generator: &generator)
        super.init()
    }

    public func callAsFunction(_ v: Tensor) -> Tensor {
        let (n, t) = (v.shape[0], v.shape[1])
        let x = v.reshaped([n * t, 1, v.shape[3], v.shape[4]])
        let map = conv3(conv2(conv1(x).gelu(.exact)).gelu(.exact)).gelu(.exact)
        let frames = proj(map.reshaped([n * t, map.count / (n * t)])).gelu(.exact).reshaped([n, t, proj.weight.shape[0]])
        return out(temporal(frames.permuted([0, 2, 1])).gelu(.exact)).permuted([0, 2, 1])
    }
}

/// A small SyncNet (Chung & Zisserman, "Out of time", 2016): an audio tower and a video tower that
/// embed every five-frame window of a clip (frames t … t + 4, log-mel frames 4t … 4t + 19) so that
/// the windows of in-sync audio and video are close. Trained contrastively by multi-way matching
/// (`matchingLoss`, as "Perfect match", Chung et al. 2019) on speakers whose lips are known to be
/// in sync, then frozen, it scores the lip sync of other video (`SyncScore`, LSE-D and LSE-C).
/// Frames are standardised one by one (`MouthFrames.standardised`). Keys `audio.{conv1, conv2,
/// out}`, `video.{conv1, conv2, conv3, proj, temporal, out}`; `scripts/reference/av_peft.py`
/// defines the same model in PyTorch.
public final class SyncNet: Module {
    @Child public var audio: SyncAudioEncoder
    @Child public var video: SyncVideoEncoder
    public let config: SyncNetConfig

    public init(config: SyncNetConfig, generator: inout RandomGenerator) {
        precondition(config.problem == nil, "SyncNet: \(config.problem ?? "")")
        self.config = config
        audio = SyncAudioEncoder(config: config, generator: &generator)
        video = SyncVideoEncoder(config: config, generator: &generator)
        super.init()
    }

    /// The window embeddings of audio [N, mels, Ta] and video [N, T, 1, S, S], each [N, T − 4, e];
    /// Ta must give T steps of 4 log-mel frames and T at least 5.
    public func callAsFunction(audio a: Tensor, video v: Tensor) throws -> (audio: Tensor, video: Tensor) {
        try validate(audio: a.shape, video: v.shape)
        return (audio(a), video(v))
    }

    public func validate(audio a: [Int], video v: [Int]) throws {
        let s = config.frameSize
        guard v.count == 5, v[0] >= 1, v[1] >= 5, v[2] == 1, v[3] == s, v[4] == s else {
            throw AudioVisualError("the sync model reads grey frames [N, T ≥ 5, 1, \(s), \(s)]; got \(v)")
        }
        guard a.count == 3, a[0] == v[0], a[1] == config.mels, a[2] / 4 == v[1] else {
            throw AudioVisualError("the sync model reads log-mel [N, \(config.mels), 4 × \(v[1]) (+ up to 3)] beside video \(v); got \(a)")
        }
    }

    /// Multi-way matching: each video window t (of those with every shift inside the clip) against
    /// the audio windows t + k, k ∈ −shifts … shifts, logits the negative Euclidean distances
    /// √(‖v − a‖² + 1e-6), cross-entropy towards k = 0. Returns the mean loss and how many windows
    /// pick k = 0, of how many.
    public static func matchingLoss(video v: Tensor, audio a: Tensor, shifts: Int) throws -> (loss: Tensor, correct: Int, windows: Int) {
        let (n, w) = (v.shape[0], v.shape[1])
        guard v.shape == a.shape, w > 2 * shifts else {
            throw AudioVisualError("matching over ±\(shifts) frames needs more than \(2 * shifts) windows of equal shape; got video \(v.shape), audio \(a.shape)")
        }
        let m = w - 2 * shifts
        let anchors = v.slice(axis: 1, start: shifts, end: shifts + m)
        let distances = (-shifts...shifts).map { k -> Tensor in
            let d = anchors - a.slice(axis: 1, start: shifts + k, end: shifts + k + m)
            return ((d * d).sum(axis: 2) + 1e-6).sqrt().reshaped([n, m, 1])
        }
        let logits = (-Tensor.concat(distances, axis: 2)).reshaped([n * m, 2 * shifts + 1])
        let loss = crossEntropy(logits: logits, targets: Tensor(indices: [Int](repeating: shifts, count: n * m), shape: [n * m]))
        let values = logits.detached().scalars, c = 2 * shifts + 1
        let correct = (0..<(n * m)).filter { r in (0..<c).max { values[r * c + $0] < values[r * c + $1] } == shifts }.count
        return (loss, correct, n * m)
    }
}

/// SyncNet's score of one clip from its window embeddings, with the formulas of the reference
/// implementation (syncnet_python's `calc_pdist` and `SyncNetInstance.evaluate`): the distance of
/// every video window t to the audio windows t + j − vshift (j = 0 … 2 vshift; windows beyond the clip
/// are zero vectors, as its padding), `pairwise_distance` ‖v − a + 1e-6‖; their mean over t per
/// shift; LSE-D the smallest mean, LSE-C the median of the means minus that smallest, the AV offset
/// vshift − (the shift of the smallest).
public struct SyncScore: Codable, Equatable, Sendable {
    public var distance: Double
    public var confidence: Double
    public var offset: Int

    public init(distance: Double, confidence: Double, offset: Int) {
        self.distance = distance
        self.confidence = confidence
        self.offset = offset
    }

    /// - Parameters: video and audio embeddings, windows × dimension, row-major.
    public init(video: [Float], audio: [Float], dimension e: Int, vshift: Int = 15) {
        let windows = video.count / e
        precondition(windows > 0 && video.count == audio.count && video.count % e == 0, "SyncScore: embeddings of unequal shape")
        var mean = [Double](repeating: 0, count: 2 * vshift + 1)
        for t in 0..<windows {
            for j in 0...(2 * vshift) {
                let u = t + j - vshift
                var sum = 0.0
                for c in 0..<e {
                    let a = u >= 0 && u < windows ? Double(audio[u * e + c]) : 0
                    let d = Double(video[t * e + c]) - a + 1e-6
                    sum += d * d
                }
                mean[j] += sum.squareRoot() / Double(windows)
            }
        }
        let best = mean.indices.min { mean[$0] < mean[$1] }!      // the first of equal minima, as torch.min
        let median = mean.sorted()[(mean.count - 1) / 2]             // torch.median: the lower middle value
        self.init(distance: mean[best], confidence: median - mean[best], offset: vshift - best)
    }
}

/// The grey mouth frames the visual models read.
public enum MouthFrames {
    /// A frame standardised to zero mean and unit variance: what differs between frames is the
    /// mouth, not the speaker's skin or the light.
    public static func standardised(_ pixels: [Float]) -> [Float] {
        let mean = pixels.reduce(0, +) / Float(pixels.count)
        let variance = pixels.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(pixels.count)
        let scale = 1 / max(variance.squareRoot(), 1e-3)
        return pixels.map { ($0 - mean) * scale }
    }
}
