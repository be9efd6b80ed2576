import Tensor

/// What a model reads, checked on every batch before the model runs, so that a data/model
/// mismatch (a grey-scale format for an RGB network, a wrong `input_size`, token ids beyond the
/// vocabulary or rows longer than the position table) is an error naming both sides instead of a
/// crash inside a kernel.
public enum InputSpec: Sendable, Equatable {
    /// Float images `[N, channels, H, W]`; `height`/`width` fixed when the model needs them (a
    /// head sized for the feature map), any size otherwise.
    case image(channels: Int, height: Int? = nil, width: Int? = nil)
    /// Integer token ids `[N, T]` with `0 ≤ id < vocabulary` and `T ≤ maxLength`.
    case tokens(vocabulary: Int, maxLength: Int)

    /// What the model reads, in words: "float images [N, 3, H, W]".
    public var description: String {
        switch self {
        case let .image(channels, height, width):
            return "float images [N, \(channels), \(height.map(String.init) ?? "H"), \(width.map(String.init) ?? "W")]"
        case let .tokens(vocabulary, maxLength):
            return "token ids [N, T ≤ \(maxLength)] in 0..<\(vocabulary)"
        }
    }

    /// Throws `TaskError.inputMismatch` when `x` is not what the model reads.
    public func check(_ x: Tensor, architecture: String) throws {
        func mismatch(_ got: String) -> TaskError {
            .inputMismatch(architecture: architecture, expected: description, got: got)
        }
        switch self {
        case let .image(channels, height, width):
            guard x.dtype == .float32 else { throw mismatch("\(x.dtype) tensors of shape \(x.shape)") }
            guard x.rank == 4, x.shape[0] > 0 else { throw mismatch("shape \(x.shape)") }
            guard x.shape[1] == channels else { throw mismatch("\(x.shape[1]) channels (shape \(x.shape))") }
            if let height, x.shape[2] != height { throw mismatch("height \(x.shape[2]) (shape \(x.shape)); check model.input_size and the transforms") }
            if let width, x.shape[3] != width { throw mismatch("width \(x.shape[3]) (shape \(x.shape)); check model.input_size and the transforms") }
            guard x.shape[2] > 0, x.shape[3] > 0 else { throw mismatch("empty images (shape \(x.shape))") }
        case let .tokens(vocabulary, maxLength):
            guard x.dtype == .int64 || x.dtype == .int32 else { throw mismatch("\(x.dtype) tensors of shape \(x.shape)") }
            guard x.rank == 2, x.shape[0] > 0, x.shape[1] > 0 else { throw mismatch("shape \(x.shape)") }
            guard x.shape[1] <= maxLength else {
                throw mismatch("rows of \(x.shape[1]) tokens; lower data.options.max_length to ≤ \(maxLength)")
            }
            if let bad = x.indexScalars.first(where: { $0 < 0 || $0 >= vocabulary }) {
                throw mismatch("token id \(bad); is the tokenizer the model's?")
            }
        }
    }
}
