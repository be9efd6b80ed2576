import Foundation
import NN
import Tensor

/// Silero VAD (silero-vad 6.2, MIT), the 16 kHz voice-activity detector, as the package's
/// `silero_vad_16k.safetensors` holds it and its `tinygrad_model.py` runs it, under that file's keys:
///
///     x = [64 samples of context | 512 new samples], reflect-padded by 64 on the right   [N, 640]
///     s = stft_conv(x)             Conv1d 1 → 258, kernel 256, stride 128 (a fixed DFT basis)
///     m = √(re² + im²)             129 bins × 4 frames
///     conv1 … conv4 + ReLU         129 → 128 → 64 (stride 2) → 64 (stride 2) → 128: one frame
///     (h, c) = lstm_cell(m, state) LSTMCell(128, 128)
///     p = σ(final_conv(ReLU(h)))   Conv1d 128 → 1, kernel 1: the chunk's speech probability
///
/// 309,633 parameters. `stream` runs a recording chunk by chunk with the streaming state, as the
/// package does; the forward takes batches of windows for training (LoRA on the Conv1d layers).
public final class SileroVAD: Module {
    public static let sampleRate = 16_000
    /// New samples per chunk.
    public static let chunk = 512
    /// Samples of the previous chunk each window starts with.
    public static let context = 64
    public static var window: Int { chunk + context }

    @Child(key: "stft_conv") public var stftConv: Conv1d
    @Child(key: "conv1") public var conv1: Conv1d
    @Child(key: "conv2") public var conv2: Conv1d
    @Child(key: "conv3") public var conv3: Conv1d
    @Child(key: "conv4") public var conv4: Conv1d
    @Child(key: "lstm_cell") public var lstmCell: LSTMCell
    @Child(key: "final_conv") public var finalConv: Conv1d

    /// A model with PyTorch's default initialisation (load `silero_vad_16k.safetensors` into it).
    public init(generator: inout RandomGenerator) {
        _stftConv = Child(wrappedValue: Conv1d(1, 258, kernelSize: 256, stride: 128, bias: false, generator: &generator), key: "stft_conv")
        _conv1 = Child(wrappedValue: Conv1d(129, 128, kernelSize: 3, padding: 1, generator: &generator), key: "conv1")
        _conv2 = Child(wrappedValue: Conv1d(128, 64, kernelSize: 3, stride: 2, padding: 1, generator: &generator), key: "conv2")
        _conv3 = Child(wrappedValue: Conv1d(64, 64, kernelSize: 3, stride: 2, padding: 1, generator: &generator), key: "conv3")
        _conv4 = Child(wrappedValue: Conv1d(64, 128, kernelSize: 3, padding: 1, generator: &generator), key: "conv4")
        _lstmCell = Child(wrappedValue: LSTMCell(128, 128, generator: &generator), key: "lstm_cell")
        _finalConv = Child(wrappedValue: Conv1d(128, 1, kernelSize: 1, generator: &generator), key: "final_conv")
        super.init()
    }

    /// The model in a safetensors file with the package's keys (every tensor, nothing else).
    /// - Throws: an error naming the file and the missing, unexpected or misshapen tensor.
    public static func load(from path: String) throws -> SileroVAD {
        var rng = RandomGenerator(seed: 0)
        let model = SileroVAD(generator: &rng)
        try model.loadSafeTensors(path: path, strict: true)
        model.eval()
        return model
    }

    /// The reflect padding's source index for each of the 640 padded positions.
    static let paddedIndices: [Int] = (0..<(window + context)).map { $0 < window ? $0 : 2 * (window - 1) - $0 }

    /// Speech logits [N] of windows `x` [N, 576] (context then chunk; the probability is their
    /// sigmoid, as the reference's `σ(final_conv(…))` over its one frame) and the new LSTM state
    /// (zeros when `state` is nil).
    /// - Throws: `SileroVADError` for windows of another shape.
    public func logits(_ x: Tensor, state: (h: Tensor, c: Tensor)? = nil) throws -> (logit: Tensor, state: (h: Tensor, c: Tensor)) {
        guard x.rank == 2, x.shape[1] == Self.window else {
            throw SileroVADError(message: "windows must be [N, \(Self.window)] (64 samples of context, then 512), got \(x.shape)")
        }
        let padded = try x.indexSelect(axis: 1, indices: Self.paddedIndices).unsqueezed(1)       // [N, 1, 640]
        let s = stftConv(padded)                                                                  // [N, 258, 4]
        let halves = s.split(size: 129, axis: 1)
        var h = (halves[0] * halves[0] + halves[1] * halves[1]).sqrt()                            // [N, 129, 4]
        h = conv1(h).relu()
        h = conv2(h).relu()
        h = conv3(h).relu()
        h = conv4(h).relu().squeezed(2)                                                           // [N, 128]
        let next = lstmCell(h, state: state)
        let z = finalConv(next.h.relu().unsqueezed(2))                                            // [N, 1, 1]
        return (z.reshaped([x.shape[0]]), next)
    }

    /// Speech probabilities [N] of windows `x` [N, 576] and the new LSTM state (see `logits`).
    public func callAsFunction(_ x: Tensor, state: (h: Tensor, c: Tensor)? = nil) throws -> (probability: Tensor, state: (h: Tensor, c: Tensor)) {
        let (z, next) = try logits(x, state: state)
        return (z.sigmoid(), next)
    }

    /// The probability of each 512-sample chunk of `samples` (16 kHz mono; the last chunk padded
    /// with zeros), run in order with the streaming state and 64 samples of context (zeros
    /// before the first), as the package's model runs a recording.
    public func stream(_ samples: [Float]) throws -> [Float] {
        var padded = samples
        if padded.count % Self.chunk != 0 { padded += [Float](repeating: 0, count: Self.chunk - padded.count % Self.chunk) }
        padded = [Float](repeating: 0, count: Self.context) + padded
        var state: (h: Tensor, c: Tensor)?
        var out: [Float] = []
        try withNoGrad {
            for start in stride(from: 0, to: padded.count - Self.context, by: Self.chunk) {
                let window = Tensor(Array(padded[start..<(start + Self.window)]), shape: [1, Self.window])
                let (p, s) = try self(window, state: state)
                out.append(p.item)
                state = s
            }
        }
        return out
    }
}

/// A misuse of `SileroVAD`'s forward, saying what was expected.
public struct SileroVADError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { "Silero VAD: \(message)" }
}
