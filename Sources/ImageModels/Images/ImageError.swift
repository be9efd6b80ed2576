/// Why an image file could not be read, decoded or written. Every case names the file (or the
/// name given to an in-memory buffer), so a bad file among thousands can be found and removed.
public enum ImageError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file could not be opened or read (missing, a directory, no permission, I/O error).
    case unreadable(path: String, reason: String)
    /// The file has no bytes.
    case emptyFile(path: String)
    /// The leading bytes match no image format (shown in hex).
    case unknownFormat(path: String, leadingBytes: String)
    /// A format recognised by its magic bytes that this decoder does not read (GIF, BMP, …).
    case unsupportedFormat(path: String, format: String)
    /// The file claims to be a PNG or JPEG but its data is corrupt or truncated.
    case decodeFailed(path: String, reason: String)
    /// The image could not be encoded (e.g. an unsupported channel count or bit depth).
    case encodeFailed(path: String, reason: String)
    /// The encoded image could not be written to disk; the destination is unchanged.
    case writeFailed(path: String, reason: String)

    /// The file this error is about.
    public var path: String {
        switch self {
        case .unreadable(let path, _), .emptyFile(let path), .unknownFormat(let path, _),
             .unsupportedFormat(let path, _), .decodeFailed(let path, _), .encodeFailed(let path, _),
             .writeFailed(let path, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read image \(path): \(reason)"
        case .emptyFile(let path): return "image file \(path) is empty"
        case .unknownFormat(let path, let bytes):
            return "\(path) is not a PNG or JPEG image (it starts with bytes \(bytes))"
        case .unsupportedFormat(let path, let format):
            return "\(path) is a \(format) image; only PNG and JPEG are supported"
        case .decodeFailed(let path, let reason): return "cannot decode image \(path): \(reason)"
        case .encodeFailed(let path, let reason): return "cannot encode image \(path): \(reason)"
        case .writeFailed(let path, let reason): return "cannot write image \(path): \(reason)"
        }
    }
}

/// A transform that cannot be applied to the image it was given (too small for a crop, a
/// channel count it does not handle). Datasets wrap it with the file's path.
public enum ImageTransformError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The image is smaller than the transform needs; sizes are `[height, width]`.
    case imageTooSmall(transform: String, image: [Int], required: [Int])
    /// The transform needs other channel counts than the image has.
    case unsupportedChannels(transform: String, channels: Int, supported: [Int])

    public var description: String {
        switch self {
        case .imageTooSmall(let transform, let image, let required):
            return "\(transform): the image is \(image[0])×\(image[1]) (height×width), smaller than the required \(required[0])×\(required[1])"
        case .unsupportedChannels(let transform, let channels, let supported):
            return "\(transform): the image has \(channels) channels; supported: \(supported.map(String.init).joined(separator: ", "))"
        }
    }
}
