import CPNG

/// PNG through libpng's simplified `png_image_*` API: it reports errors through a return code
/// and a message instead of longjmp, which Swift cannot catch (see KERNELS.md).
///
/// Samples are returned as stored in the file, as Pillow returns them: 8-bit files (and palette,
/// 1/2/4-bit gray, tRNS transparency, Adam7 interlacing, all expanded by libpng) keep their 8-bit
/// values, 16-bit files their 16-bit values. To get there through an API built for colour-managed
/// display, two of its conversions are undone:
/// - Colour-management chunks (gAMA, sRGB, iCCP, cHRM) are removed before decoding. Otherwise a
///   file whose gAMA differs from sRGB would be gamma-converted, which neither Pillow nor
///   torchvision does, and a model would see different pixels than the reference.
/// - 16-bit files are read in the API's "linear" format, which holds them unchanged (without
///   colour chunks libpng takes 16-bit data as linear), but with alpha the API premultiplies the
///   colour by alpha; the decoder divides it back out, exactly where alpha is 1 and to within
///   1/(2·alpha·65535) elsewhere (a fully transparent pixel's colour is lost: it reads as 0).
enum PNGCodec {
    /// Width, height, channels and bit depth (8 or 16, what the decoder returns) from the header.
    static func header(_ bytes: [UInt8], path: String) throws -> ImageHeader {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let ok = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        defer { png_image_free(&image) }
        guard ok != 0 else { throw ImageError.decodeFailed(path: path, reason: "PNG header: \(message(of: image))") }
        return ImageHeader(format: .png, width: Int(image.width), height: Int(image.height),
                           channels: Int(image.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)) + 1,
                           bitDepth: image.format & PNG_FORMAT_FLAG_LINEAR != 0 ? 16 : 8)
    }

    /// Decodes a whole PNG to an image with the file's channels (palette becomes RGB, or RGBA
    /// with tRNS) and samples scaled to [0, 1].
    static func decode(_ bytes: [UInt8], path: String) throws -> Image {
        let data = strippingColorManagement(bytes) ?? bytes
        // libpng keeps the pointer from begin_read and reads through it in finish_read, so the
        // whole decode runs inside one withUnsafeBytes: outside it an optimised build may free
        // `data` after its last visible use (debug builds happen to keep it alive).
        return try data.withUnsafeBytes { memory in try decode(memory, file: bytes, path: path) }
    }

    private static func decode(_ memory: UnsafeRawBufferPointer, file bytes: [UInt8], path: String) throws -> Image {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let begun = png_image_begin_read_from_memory(&image, memory.baseAddress, memory.count)
        guard begun != 0 else {
            png_image_free(&image)
            throw ImageError.decodeFailed(path: path, reason: "PNG header: \(message(of: image))")
        }
        defer { png_image_free(&image) }  // finish_read frees it too; a second call does nothing
        try checkChunkStructure(bytes, path: path)  // after the header, to report as the header check does
        // The file's own sample layout, without the colour map: libpng expands palettes.
        image.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA | PNG_FORMAT_FLAG_LINEAR
        let channels = Int(image.format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)) + 1
        let sixteen = image.format & PNG_FORMAT_FLAG_LINEAR != 0
        let width = Int(image.width), height = Int(image.height)
        let (count, overflow) = (width * channels).multipliedReportingOverflow(by: height)
        guard !overflow, count < 1 << 31 else {
            throw ImageError.decodeFailed(path: path, reason: "PNG of \(width)×\(height) is too large")
        }
        let stride = Int32(width * channels)
        let plane = width * height
        var pixels = [Float](repeating: 0, count: count)
        if sixteen {
            var buffer = [UInt16](repeating: 0, count: count)
            let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, stride, nil) }
            guard ok != 0 else { throw ImageError.decodeFailed(path: path, reason: message(of: image)) }
            let alpha = channels == 2 || channels == 4
            for p in 0..<plane {
                let a = alpha ? Float(buffer[p * channels + channels - 1]) : 65535
                for c in 0..<channels {
                    var v = Float(buffer[p * channels + c])
                    if alpha && c < channels - 1 {
                        // Undo the API's premultiplication (see the type's comment).
                        v = a > 0 ? min(65535, (v * 65535 / a).rounded()) : 0
                    }
                    pixels[c * plane + p] = v / 65535
                }
            }
        } else {
            var buffer = [UInt8](repeating: 0, count: count)
            let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, stride, nil) }
            guard ok != 0 else { throw ImageError.decodeFailed(path: path, reason: message(of: image)) }
            for p in 0..<plane {
                for c in 0..<channels { pixels[c * plane + p] = Float(buffer[p * channels + c]) / 255 }
            }
        }
        return Image(height: height, width: width, channels: channels, pixels: pixels)
    }

    /// Encodes an image with 1–4 channels as an 8- or 16-bit PNG, samples clamped to [0, 1] and
    /// rounded. 16-bit output is limited to images without alpha (the API would want
    /// premultiplied 16-bit colour, which loses the colour of transparent pixels).
    static func encode(_ source: Image, bitDepth: Int, path: String) throws -> [UInt8] {
        guard (1...4).contains(source.channels) else {
            throw ImageError.encodeFailed(path: path, reason: "PNG holds 1 to 4 channels, the image has \(source.channels)")
        }
        guard bitDepth == 8 || bitDepth == 16 else {
            throw ImageError.encodeFailed(path: path, reason: "bit depth must be 8 or 16, got \(bitDepth)")
        }
        guard bitDepth == 8 || !source.hasAlpha else {
            throw ImageError.encodeFailed(path: path, reason: "16-bit PNGs with alpha are not supported; drop alpha or write 8-bit")
        }
        guard source.width > 0, source.height > 0 else {
            throw ImageError.encodeFailed(path: path, reason: "the image is empty (\(source.height)×\(source.width))")
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(source.width)
        image.height = UInt32(source.height)
        image.format = UInt32(source.channels - 1) | (bitDepth == 16 ? PNG_FORMAT_FLAG_LINEAR : 0)
        let interleaved = source.interleaved
        let scale: Float = bitDepth == 16 ? 65535 : 255
        func quantize(_ v: Float) -> Float { (min(max(v.isNaN ? 0 : v, 0), 1) * scale).rounded() }

        func write(_ samples: UnsafeRawPointer) throws -> [UInt8] {
            var size = 0
            guard png_image_write_to_memory(&image, nil, &size, 0, samples, 0, nil) != 0 else {
                throw ImageError.encodeFailed(path: path, reason: message(of: image))
            }
            var out = [UInt8](repeating: 0, count: size)
            let ok = out.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, samples, 0, nil) }
            guard ok != 0 else { throw ImageError.encodeFailed(path: path, reason: message(of: image)) }
            out.removeLast(out.count - size)
            return out
        }
        if bitDepth == 16 {
            let samples = interleaved.map { UInt16(quantize($0)) }
            return try samples.withUnsafeBytes { try write($0.baseAddress!) }
        }
        let samples = interleaved.map { UInt8(quantize($0)) }
        return try samples.withUnsafeBytes { try write($0.baseAddress!) }
    }

    /// libpng's message for the last failure.
    private static func message(of image: png_image) -> String {
        var copy = image.message
        let text = withUnsafeBytes(of: &copy) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return text.isEmpty ? "libpng reported an error" : text
    }

    // MARK: - Chunks

    /// The chunk types that make libpng's simplified API convert colours.
    private static let colorManagementChunks: Set<String> = ["gAMA", "sRGB", "iCCP", "cHRM"]

    /// `bytes` without its colour-management chunks, or nil when it has none (or when its chunk
    /// structure is broken: libpng then reports the error).
    static func strippingColorManagement(_ bytes: [UInt8]) -> [UInt8]? {
        var offset = 8
        var spans: [Range<Int>] = []
        while offset + 8 <= bytes.count {
            let length = Int(readBigEndian32(bytes, at: offset))
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let end = offset + 12 + length
            guard end <= bytes.count else { return nil }
            if colorManagementChunks.contains(type) { spans.append(offset..<end) }
            if type == "IDAT" || type == "IEND" { break }  // colour chunks must come before IDAT
            offset = end
        }
        if spans.isEmpty { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var start = 0
        for span in spans {
            out.append(contentsOf: bytes[start..<span.lowerBound])
            start = span.upperBound
        }
        out.append(contentsOf: bytes[start...])
        return out
    }

    /// Checks, reading only chunk headers, that the file's chunks run from the signature to an
    /// IEND chunk: a truncated file fails here without decompressing anything. (libpng itself
    /// accepts a file that ends after its last IDAT; such a file was cut short too, and both the
    /// decoder and the header check refuse it, so that they agree.)
    static func checkChunkStructure(_ file: ImageFile.Reader) throws {
        try checkChunkStructure(path: file.path, size: file.size) { try file.read(at: $0, count: $1) }
    }

    /// The same check on bytes in memory.
    static func checkChunkStructure(_ bytes: [UInt8], path: String) throws {
        try checkChunkStructure(path: path, size: bytes.count) { Array(bytes[min($0, bytes.count)..<min($0 + $1, bytes.count)]) }
    }

    private static func checkChunkStructure(path: String, size: Int, read: (Int, Int) throws -> [UInt8]) throws {
        var offset = 8
        while true {
            let header = try read(offset, 8)
            guard header.count == 8 else {
                throw ImageError.decodeFailed(path: path, reason: "PNG truncated: no IEND chunk (the file ends at byte \(size))")
            }
            let length = Int(readBigEndian32(header, at: 0))
            let type = String(decoding: header[4..<8], as: UTF8.self)
            guard length < 1 << 31, header[4..<8].allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw ImageError.decodeFailed(path: path, reason: "PNG corrupt: invalid chunk header at byte \(offset)")
            }
            let end = offset + 12 + length
            guard end <= size else {
                throw ImageError.decodeFailed(path: path, reason: "PNG truncated: chunk \(type) at byte \(offset) needs \(end) bytes, the file has \(size)")
            }
            if type == "IEND" { return }
            offset = end
        }
    }

    private static func readBigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (UInt32(bytes[offset]) << 24) | (UInt32(bytes[offset + 1]) << 16) | (UInt32(bytes[offset + 2]) << 8) | UInt32(bytes[offset + 3])
    }
}
