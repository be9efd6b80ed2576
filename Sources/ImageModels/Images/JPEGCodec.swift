import CTurboJPEG

/// JPEG through libjpeg-turbo's TurboJPEG API, which catches libjpeg's errors in C and returns
/// them as codes (jpeglib.h's default handler calls exit(), and recovering needs longjmp, which
/// Swift cannot do).
///
/// Decoding uses the accurate integer IDCT and fancy upsampling, libjpeg's defaults and Pillow's,
/// so pixels agree with Pillow's to within a unit or two (libjpeg-turbo versions differ in SIMD
/// code paths). Warnings count as failures: libjpeg warns, for example, on a truncated file and
/// then fills the missing rows with gray, which must not reach training as if it were data.
/// EXIF orientation is not applied (Pillow's `open` does not either). CMYK JPEGs are refused.
enum JPEGCodec {
    static func header(_ bytes: [UInt8], path: String) throws -> ImageHeader {
        try withDecompressor(path: path) { handle in
            let info = try readHeader(handle, bytes, path: path)
            return ImageHeader(format: .jpeg, width: info.width, height: info.height,
                               channels: info.gray ? 1 : 3, bitDepth: 8)
        }
    }

    /// Decodes to RGB (gray JPEGs to one channel), samples scaled to [0, 1].
    static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        try withDecompressor(path: path) { handle in
            let info = try readHeader(handle, bytes, path: path)
            let channels = info.gray ? 1 : 3
            let (count, overflow) = (info.width * channels).multipliedReportingOverflow(by: info.height)
            guard !overflow, count < 1 << 31 else {
                throw ImageError.decodeFailed(path: path, reason: "JPEG of \(info.width)×\(info.height) is too large")
            }
            var buffer = [UInt8](repeating: 0, count: count)
            let format = info.gray ? TJPF_GRAY : TJPF_RGB
            let status = bytes.withUnsafeBufferPointer { source in
                buffer.withUnsafeMutableBufferPointer { target in
                    tjDecompress2(handle, source.baseAddress, UInt(source.count), target.baseAddress,
                                  Int32(info.width), Int32(info.width * channels), Int32(info.height),
                                  Int32(format.rawValue), TJFLAG_ACCURATEDCT)
                }
            }
            guard status == 0 else { throw failure(handle, path: path, stage: "JPEG data") }
            let plane = info.width * info.height
            var pixels = [Float](repeating: 0, count: count)
            for p in 0..<plane {
                for c in 0..<channels { pixels[c * plane + p] = Float(buffer[p * channels + c]) / 255 }
            }
            return Image(height: info.height, width: info.width, channels: channels, pixels: pixels)
        }
    }

    private static func withDecompressor<R>(path: String, _ body: (tjhandle) throws -> R) throws -> R {
        guard let handle = tjInitDecompress() else {
            throw ImageError.decodeFailed(path: path, reason: "cannot create a TurboJPEG decompressor")
        }
        defer { tjDestroy(handle) }
        return try body(handle)
    }

    private static func readHeader(_ handle: tjhandle, _ bytes: [UInt8], path: String) throws
        -> (width: Int, height: Int, gray: Bool) {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let status = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsampling, &colorspace)
        }
        guard status == 0 else { throw failure(handle, path: path, stage: "JPEG header") }
        if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
            throw ImageError.unsupportedFormat(path: path, format: "CMYK JPEG")
        }
        guard width > 0, height > 0 else {
            throw ImageError.decodeFailed(path: path, reason: "JPEG header gives an empty image (\(width)×\(height))")
        }
        return (Int(width), Int(height), colorspace == Int32(TJCS_GRAY.rawValue))
    }

    private static func failure(_ handle: tjhandle, path: String, stage: String) -> ImageError {
        let message = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
        let kind = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) ? " (libjpeg warning, treated as an error)" : ""
        return .decodeFailed(path: path, reason: "\(stage): \(message)\(kind)")
    }

    /// Checks cheaply that the file ends with an end-of-image marker (FF D9) in its last 4 KiB
    /// (some writers append padding after it): a truncated file does not.
    static func checkEnd(_ file: ImageFile.Reader) throws {
        let tailLength = min(file.size, 4096)
        let tail = try file.read(at: file.size - tailLength, count: tailLength)
        var found = false
        for i in stride(from: tail.count - 2, through: 0, by: -1) where tail[i] == 0xFF && tail[i + 1] == 0xD9 {
            found = true
            break
        }
        guard found else {
            throw ImageError.decodeFailed(path: file.path, reason: "JPEG truncated: no end-of-image marker")
        }
    }
}
