import Foundation

/// What went wrong with a sound file or an audio operation; every case names the file (or the
/// operation) and says what is wrong.
public enum AudioError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// libsndfile cannot open the file: missing, unreadable, not a sound file, or a format it does not know.
    case cannotOpen(path: String, reason: String)
    /// The file holds no samples.
    case empty(path: String)
    /// Fewer frames could be decoded than the header announces (a cut or corrupt file).
    case truncated(path: String, announced: Int, decoded: Int)
    /// Decoding failed partway.
    case decodeFailed(path: String, frame: Int, reason: String)
    /// Writing failed (a full disk, a format that cannot hold the samples); nothing is left at the path.
    case writeFailed(path: String, reason: String)
    /// A request that cannot be met: a sample rate, a range, a channel count.
    case invalid(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot read it as audio: \(reason)"
        case let .empty(path): return "\(path): the file holds no audio samples"
        case let .truncated(path, announced, decoded):
            return "\(path): truncated or corrupt: the header announces \(announced) frames, \(decoded) could be decoded"
        case let .decodeFailed(path, frame, reason): return "\(path): decoding failed at frame \(frame): \(reason)"
        case let .writeFailed(path, reason): return "\(path): cannot write audio: \(reason)"
        case let .invalid(reason): return reason
        }
    }

    public var errorDescription: String? { description }
}
