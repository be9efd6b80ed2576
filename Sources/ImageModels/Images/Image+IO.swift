/// What a file's header says about its image: enough to check a dataset without decoding it.
public struct ImageHeader: Equatable, Sendable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int
    /// The file's channels: 1 gray, 2 gray + alpha, 3 RGB (palette files too), 4 RGBA.
    public var channels: Int
    /// 8 or 16: the precision the decoder keeps.
    public var bitDepth: Int

    public init(format: ImageFormat, width: Int, height: Int, channels: Int, bitDepth: Int) {
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
    }
}

/// How thoroughly a dataset checks its files when it is built.
public enum ImageVerification: String, Sendable, Codable {
    /// Parse the header and check the file's structure without decoding pixels: PNG chunks must
    /// run to IEND (read chunk headers only), a JPEG must end with its end-of-image marker.
    /// Catches empty, garbage, wrong-format and truncated files at a small fraction of a decode.
    case header
    /// Decode every file completely (slow; also catches corrupt compressed data).
    case full
}

extension Image {
    /// Reads and decodes the PNG or JPEG file at `path`; the format comes from the file's magic
    /// bytes, not its extension.
    /// - Parameter mode: the channels to return (default: the file's own).
    /// - Throws: `ImageError` naming `path`, for a missing, empty, unknown, unsupported, corrupt
    ///   or truncated file.
    public init(contentsOfFile path: String, mode: ColorMode = .original) throws {
        let (bytes, _) = try ImageFile.read(path)
        try self.init(decoding: bytes, name: path, mode: mode)
    }

    /// Decodes PNG or JPEG bytes; `name` stands for the file in errors.
    public init(decoding bytes: [UInt8], name: String = "<memory>", mode: ColorMode = .original) throws {
        let image: Image
        switch try ImageFormat.detect(bytes, path: name) {
        case .png: image = try PNGCodec.decode(bytes, path: name)
        case .jpeg: image = try JPEGCodec.decode(bytes, path: name)
        }
        self = image.converted(to: mode)
    }

    /// The image encoded as PNG, samples clamped to [0, 1] and rounded to `bitDepth` (8 or 16;
    /// 16 only without alpha). Channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public func pngData(bitDepth: Int = 8) throws -> [UInt8] {
        try PNGCodec.encode(self, bitDepth: bitDepth, path: "<memory>")
    }

    /// Writes the image as a PNG file atomically: the bytes go to a temporary file in the same
    /// directory, which is synced and renamed over `path`, so a reader (or a crash) never sees
    /// a partial file.
    /// - Throws: `ImageError.encodeFailed` or `.writeFailed` naming `path`.
    public func writePNG(to path: String, bitDepth: Int = 8) throws {
        let bytes = try PNGCodec.encode(self, bitDepth: bitDepth, path: path)
        try ImageFile.writeAtomically(bytes, to: path)
    }
}

extension ImageHeader {
    /// How much of a file the header read takes first; PNG and JPEG headers almost always fit
    /// (large ICC profiles or EXIF blocks may not: then the whole file is read).
    static let prefixLength = 64 * 1024

    /// Reads the header of the image file at `path` (its first 64 KiB, usually), checking with
    /// `verification` as a dataset does at construction.
    /// - Throws: `ImageError` naming `path`.
    public init(contentsOfFile path: String, verification: ImageVerification = .header) throws {
        let file = try ImageFile.Reader(path)
        var bytes = try file.read(at: 0, count: verification == .full ? file.size : Self.prefixLength)
        let format = try ImageFormat.detect(bytes, path: path)
        func parse(_ bytes: [UInt8]) throws -> ImageHeader {
            switch format {
            case .png: return try PNGCodec.header(bytes, path: path)
            case .jpeg: return try JPEGCodec.header(bytes, path: path)
            }
        }
        var header: ImageHeader
        do {
            header = try parse(bytes)
        } catch is ImageError where bytes.count < file.size {
            // The header did not fit in the prefix: read it all.
            bytes = try file.read(at: 0, count: file.size)
            header = try parse(bytes)
        }
        if verification == .full {
            if bytes.count < file.size { bytes = try file.read(at: 0, count: file.size) }
            _ = try Image(decoding: bytes, name: path)
            self = header
            return
        }
        switch format {
        case .png: try PNGCodec.checkChunkStructure(file)
        case .jpeg: try JPEGCodec.checkEnd(file)
        }
        self = header
    }
}
