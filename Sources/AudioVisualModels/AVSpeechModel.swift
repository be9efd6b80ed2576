import AudioModels
import Foundation
import NN
import Tensor

/// The shape of an `AVSpeechModel`, from a recipe's `model.options` or the `config.json` a run
/// writes beside its weights.
public struct AVSpeechConfig: Codable, Equatable, Sendable {
    public var mels: Int
    public var width: Int
    public var heads: Int
    public var ffn: Int
    public var audioLayers: Int
    public var videoLayers: Int
    public var fusionLayers: Int
    /// Outputs of the landmark head per frame: 20 mouth landmarks × (x, y).
    public var landmarks: Int
    /// Side of the grey mouth frames the video encoder reads.
    public var frameSize: Int

    public init(mels: Int = 80, width: Int = 128, heads: Int = 4, ffn: Int = 512, audioLayers: Int = 4, videoLayers: Int = 2,
                fusionLayers: Int = 2, landmarks: Int = 40, frameSize: Int = 48) {
        self.mels = mels
        self.width = width
        self.heads = heads
        self.ffn = ffn
        self.audioLayers = audioLayers
        self.videoLayers = videoLayers
        self.fusionLayers = fusionLayers
        self.landmarks = landmarks
        self.frameSize = frameSize
    }

    /// Why this shape cannot be built, or nil.
    public var problem: String? {
        if mels < 1 || ffn < 1 || audioLayers < 0 || videoLayers < 0 || fusionLayers < 0 || landmarks < 1 || heads < 1 || frameSize < 8 {
            return "mels, heads, ffn and landmarks must be positive, layer counts not negative, frame_size at least 8"
        }
        return encoder.problem
    }

    /// The encoder layers' shape (shared by the audio, video and fusion stacks).
    var encoder: AudioTransformerConfig { AudioTransformerConfig(mels: mels, width: width, layers: 1, heads: heads, ffn: ffn) }

    enum CodingKeys: String, CodingKey {
        case mels = "num_mel_bins", width = "d_model", heads = "attention_heads", ffn = "ffn_dim", audioLayers = "audio_layers"
        case videoLayers = "video_layers", fusionLayers = "fusion_layers", landmarks = "landmark_outputs", frameSize = "frame_size"
    }

    /// Cells of the video feature map after three stride-2 convolutions.
    public var videoCells: Int {
        let side = (((frameSize + 1) / 2 + 1) / 2 + 1) / 2
        return side * side
    }
}

/// Pre-LN cross-attention of audio frames (queries) to video frames (keys and values), then a
/// feed-forward block: keys `cross_attn.{q,k,v,out}_proj` (`WhisperAttention`),
/// `cross_attn_layer_norm` (on the queries), `kv_layer_norm` (on the video), `fc1`, `fc2`,
/// `final_layer_norm`. Every projection is a `Linear`, so LoRA targets it by name.
public final class CrossAttentionLayer: Module {
    @Child public var crossAttention: WhisperAttention
    @Child public var crossAttentionLayerNorm: LayerNorm
    @Child public var kvLayerNorm: LayerNorm
    @Child public var fc1: Linear
    @Child public var fc2: Linear
    @Child public var finalLayerNorm: LayerNorm

    init(config c: AVSpeechConfig, generator: inout RandomGenerator) {
        _crossAttention = Child(wrappedValue: WhisperAttention(width: c.width, heads: c.heads, generator: &generator), key: "cross_attn")
        _crossAttentionLayerNorm = Child(wrappedValue: LayerNorm(c.width), key: "cross_attn_layer_norm")
        _kvLayerNorm = Child(wrappedValue: LayerNorm(c.width), key: "kv_layer_norm")
        fc1 = Linear(c.width, c.ffn, generator: &generator)
        fc2 = Linear(c.ffn, c.width, generator: &generator)
        _finalLayerNorm = Child(wrappedValue: LayerNorm(c.width), key: "final_layer_norm")
        super.init()
    }

    public func callAsFunction(_ x: Tensor, video: Tensor) -> Tensor {
        let h = x + crossAttention(crossAttentionLayerNorm(x), context: kvLayerNorm(video))
        return h + fc2(fc1(finalLayerNorm(h)).gelu(.exact))
    }
}

/// The audio stream: log-mel [N, mels, Ta] through three GELU convolutions, two of stride 2 (100
/// → 25 frames per second, the video's rate), sinusoidal positions and pre-LN encoder layers.
/// Keys `conv1`–`conv3`, `layers.i.…` (as `AudioTransformerLayer`), `layer_norm`.
public final class AVAudioEncoder: Module {
    @Child public var conv1: Conv1d
    @Child public var conv2: Conv1d
    @Child public var conv3: Conv1d
    @ChildList public var layers: [AudioTransformerLayer]
    @Child public var layerNorm: LayerNorm

    init(config c: AVSpeechConfig, generator: inout RandomGenerator) {
        conv1 = Conv1d(c.mels, c.width, kernelSize: 3, padding: 1, generator: &generator)
        conv2 = Conv1d(c.width, c.width, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        conv3 = Conv1d(c.width, c.width, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        _layers = ChildList(wrappedValue: (0..<c.audioLayers).map { _ in AudioTransformerLayer(config: c.encoder, generator: &generator) },
                            key: "layers")
        _layerNorm = Child(wrappedValue: LayerNorm(c.width), key: "layer_norm")
        super.init()
    }

    /// [N, mels, Ta] → [N, ⌈⌈Ta/2⌉/2⌉, d].
    public func callAsFunction(_ a: Tensor) -> Tensor {
        let h = conv3(conv2(conv1(a).gelu(.exact)).gelu(.exact)).gelu(.exact).permuted([0, 2, 1])
        var y = h + AudioTransformer.sinusoids(length: h.shape[1], channels: h.shape[2])
        for layer in layers { y = layer(y) }
        return layerNorm(y)
    }
}

/// The video stream: each grey mouth frame through three GELU convolutions of stride 2 (1 → 16 →
/// 32 → 64 channels), the feature map flattened (where the lips are matters: a global average
/// left a trained model blind to the mouth), projected to `d` and layer-normalised (so that the
/// image features are not drowned by the sinusoidal positions added next); then a temporal GELU convolution across frames, sinusoidal
/// positions and pre-LN encoder layers. Keys `conv1`–`conv3` (Conv2d), `proj`, `frame_norm`,
/// `temporal` (Conv1d), `layers.i.…`, `layer_norm`.
public final class AVVideoEncoder: Module {
    @Child public var conv1: Conv2d
    @Child public var conv2: Conv2d
    @Child public var conv3: Conv2d
    @Child public var proj: Linear
    @Child public var frameNorm: LayerNorm
    @Child public var temporal: Conv1d
    @ChildList public var layers: [AudioTransformerLayer]
    @Child public var layerNorm: LayerNorm

    init(config c: AVSpeechConfig, generator: inout RandomGenerator) {
        conv1 = Conv2d(1, 16, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        conv2 = Conv2d(16, 32, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        conv3 = Conv2d(32, 64, kernelSize: 3, stride: 2, padding: 1, generator: &generator)
        proj = Linear(64 * c.videoCells, c.width, generator: &generator)
        _frameNorm = Child(wrappedValue: LayerNorm(c.width), key: "frame_norm")
        temporal = Conv1d(c.width, c.width, kernelSize: 3, padding: 1, generator: &generator)
        _layers = ChildList(wrappedValue: (0..<c.videoLayers).map { _ in AudioTransformerLayer(config: c.encoder, generator: &generator) },
                            key: "layers")
        _layerNorm = Child(wrappedValue: LayerNorm(c.width), key: "layer_norm")
        super.init()
    }

    /// [N, Tv, 1, S, S] → [N, Tv, d].
    public func callAsFunction(_ v: Tensor) -> Tensor {
        let (n, t) = (v.shape[0], v.shape[1])
        let x = v.reshaped([n * t, 1, v.shape[3], v.shape[4]])
        let map = conv3(conv2(conv1(x).gelu(.exact)).gelu(.exact)).gelu(.exact)
        let features = map.reshaped([n * t, map.count / (n * t)])
        let frames = frameNorm(proj(features)).reshaped([n, t, proj.weight.shape[0]])
        let h = temporal(frames.permuted([0, 2, 1])).gelu(.exact).permuted([0, 2, 1])
        var y = h + AudioTransformer.sinusoids(length: t, channels: h.shape[2])
        for layer in layers { y = layer(y) }
        return layerNorm(y)
    }
}

/// An audio-visual speech model with two heads:
/// - `landmarks(audio:)`: lips from speech, the mouth landmarks of every video frame from the
///   audio alone (`landmark_head` on the audio encoder, 25 frames per second);
/// - `logits(audio:video:)`: audio-visual recognition, audio frames attending to video frames
///   through `fusion.layers`, mean-pooled into `classifier`.
///
/// Keys: `audio.…`, `video.…`, `fusion.layers.i.…`, `fusion.layer_norm`, `landmark_head`,
/// `classifier`. `scripts/reference/av_peft.py` defines the same model in PyTorch, and
/// `scripts/make_av_goldens.py` makes the tests' goldens from it.
public final class AVSpeechModel: Module {
    public final class Fusion: Module {
        @ChildList public var layers: [CrossAttentionLayer]
        @Child public var layerNorm: LayerNorm

        init(config c: AVSpeechConfig, generator: inout RandomGenerator) {
            _layers = ChildList(wrappedValue: (0..<c.fusionLayers).map { _ in CrossAttentionLayer(config: c, generator: &generator) },
                                key: "layers")
            _layerNorm = Child(wrappedValue: LayerNorm(c.width), key: "layer_norm")
            super.init()
        }
    }

    @Child public var audio: AVAudioEncoder
    @Child public var video: AVVideoEncoder
    @Child public var fusion: Fusion
    @Child public var landmarkHead: Linear
    @Child public var classifier: Linear
    public let config: AVSpeechConfig
    public let classes: Int

    public init(config: AVSpeechConfig, classes: Int, generator: inout RandomGenerator) {
        precondition(config.problem == nil, "AVSpeechModel: \(config.problem ?? "")")
        self.config = config
        self.classes = classes
        audio = AVAudioEncoder(config: config, generator: &generator)
        video = AVVideoEncoder(config: config, generator: &generator)
        fusion = Fusion(config: config, generator: &generator)
        _landmarkHead = Child(wrappedValue: Linear(config.width, config.landmarks, generator: &generator), key: "landmark_head")
        classifier = Linear(config.width, classes, generator: &generator)
        super.init()
    }

    /// Video frames for `audioFrames` log-mel frames: ⌈⌈Ta / 2⌉ / 2⌉.
    public static func videoFrames(audioFrames t: Int) -> Int { ((t + 1) / 2 + 1) / 2 }

    /// Checks the inputs: audio [N, mels, Ta]; video (when given) [N, Tv, 1, S, S] with Tv the
    /// audio's frame count at 25 per second.
    public func validate(audio a: [Int], video v: [Int]?) throws {
        guard a.count == 3, a[0] >= 1, a[1] == config.mels, a[2] >= 1 else {
            throw AudioVisualError("the audio-visual model reads log-mel features [N, \(config.mels), frames]; got \(a)")
        }
        guard let v else { return }
        let tv = Self.videoFrames(audioFrames: a[2])
        let s = config.frameSize
        guard v.count == 5, v[0] == a[0], v[1] == tv, v[2] == 1, v[3] == s, v[4] == s else {
            throw AudioVisualError("the audio-visual model reads grey frames [N, \(tv), 1, \(s), \(s)] beside audio \(a); got \(v)")
        }
    }

    /// Mouth landmarks [N, Tv, landmarks] from audio [N, mels, Ta] alone.
    public func landmarks(audio a: Tensor) throws -> Tensor {
        try validate(audio: a.shape, video: nil)
        return landmarkHead(audio(a))
    }

    /// Both heads: landmarks from the audio, and class logits [N, classes] from audio attending to video.
    public func callAsFunction(audio a: Tensor, video v: Tensor) throws -> (landmarks: Tensor, logits: Tensor) {
        try validate(audio: a.shape, video: v.shape)
        let encodedAudio = audio(a), encodedVideo = video(v)
        var f = encodedAudio
        for layer in fusion.layers { f = layer(f, video: encodedVideo) }
        return (landmarkHead(encodedAudio), classifier(fusion.layerNorm(f).mean(axis: 1)))
    }
}

/// A misshapen input of an audio-visual model, or bad audio-visual data.
public struct AudioVisualError: Error, CustomStringConvertible, LocalizedError {
    public var description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}
