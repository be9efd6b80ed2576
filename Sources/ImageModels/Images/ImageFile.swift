import Glibc

/// The image container formats, told apart by their leading ("magic") bytes, never by the
/// file's extension: a PNG named `.jpg` is read as a PNG.
public enum ImageFormat: String, Sendable, Equatable {
    case png, jpeg

    /// PNG's 8-byte signature.
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The format of `bytes` (the file's start is enough), or a typed error: `emptyFile`,
    /// `unsupportedFormat` for formats recognised but not read (GIF, BMP, TIFF, WebP), and
    /// `unknownFormat` otherwise.
    static func detect<C: Collection>(_ bytes: C, path: String) throws -> ImageFormat where C.Element == UInt8 {
        let head = Array(bytes.prefix(16))
        if head.isEmpty { throw ImageError.emptyFile(path: path) }
        if head.starts(with: pngSignature) { return .png }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        let known: [(prefix: [UInt8], name: String)] = [
            (Array("GIF8".utf8), "GIF"), (Array("BM".utf8), "BMP"),
            ([0x49, 0x49, 0x2A, 0x00], "TIFF"), ([0x4D, 0x4D, 0x00, 0x2A], "TIFF"),
        ]
        for (prefix, name) in known where head.starts(with: prefix) {
            throw ImageError.unsupportedFormat(path: path, format: name)
        }
        if head.count >= 12, head.starts(with: Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) {
            throw ImageError.unsupportedFormat(path: path, format: "WebP")
        }
        throw ImageError.unknownFormat(path: path, leadingBytes: head.prefix(8).map { hex($0) }.joined(separator: " "))
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}

/// Reads and writes whole files with POSIX calls, so every failure becomes an `ImageError` that
/// names the file and the system's reason.
enum ImageFile {
    /// The file's bytes, or only its first `limit` bytes; also the file's full size.
    static func read(_ path: String, limit: Int = .max) throws -> (bytes: [UInt8], fileSize: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageError.unreadable(path: path, reason: systemError()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ImageError.unreadable(path: path, reason: systemError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ImageError.unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        let wanted = min(size, limit)
        var bytes = [UInt8](repeating: 0, count: wanted)
        var filled = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while filled < wanted {
                let n = Glibc.read(fd, buffer.baseAddress! + filled, wanted - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ImageError.unreadable(path: path, reason: systemError())
                }
                if n == 0 { break }  // the file shrank while being read
                filled += n
            }
        }
        if filled < wanted { bytes.removeLast(wanted - filled) }
        return (bytes, size)
    }

    /// Writes `bytes` so that `path` holds either its old content or all of the new one: a
    /// temporary file beside it (same file system) is written, synced and renamed over it.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let suffix = String(UInt64.random(in: 0 ... .max), radix: 16)
        let temporary = (directory == "/" ? "" : directory) + "/.\(name).tmp-\(getpid())-\(suffix)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ImageError.writeFailed(path: path, reason: "cannot create a temporary file in \(directory): \(systemError())")
        }
        var isOpen = true
        do {
            try bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ImageError.writeFailed(path: path, reason: "write: \(systemError())")
                    }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw ImageError.writeFailed(path: path, reason: "fsync: \(systemError())") }
            isOpen = false
            guard close(fd) == 0 else { throw ImageError.writeFailed(path: path, reason: "close: \(systemError())") }
            guard rename(temporary, path) == 0 else {
                throw ImageError.writeFailed(path: path, reason: "rename into place: \(systemError())")
            }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
    }

    /// An open file read at chosen offsets (for header checks that must not read everything).
    final class Reader {
        let path: String
        let size: Int
        private let fd: Int32

        init(_ path: String) throws {
            self.path = path
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ImageError.unreadable(path: path, reason: ImageFile.systemError()) }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let reason = ImageFile.systemError()
                close(fd)
                throw ImageError.unreadable(path: path, reason: reason)
            }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                throw ImageError.unreadable(path: path, reason: "not a regular file")
            }
            size = Int(info.st_size)
        }

        deinit { close(fd) }

        /// Up to `count` bytes from `offset` (fewer at the end of the file).
        func read(at offset: Int, count: Int) throws -> [UInt8] {
            let wanted = max(0, min(count, size - offset))
            var bytes = [UInt8](repeating: 0, count: wanted)
            var filled = 0
            try bytes.withUnsafeMutableBytes { buffer in
                while filled < wanted {
                    let n = pread(fd, buffer.baseAddress! + filled, wanted - filled, off_t(offset + filled))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ImageError.unreadable(path: path, reason: ImageFile.systemError())
                    }
                    if n == 0 { break }
                    filled += n
                }
            }
            if filled < wanted { bytes.removeLast(wanted - filled) }
            return bytes
        }
    }

    static func systemError() -> String { String(cString: strerror(errno)) }
}
