import Glibc

/// Writes a file so that the destination holds either its old content or the complete new one,
/// never a partial file: the bytes go to a temporary file in the same directory (same file
/// system, so the rename is atomic), which is synced to disk and then renamed over the
/// destination. On any failure the temporary file is removed and the destination is untouched.
/// (`AtomicDirectory` does the same for a directory.)
public struct AtomicFileWriter {
    /// The destination, named in every error.
    public let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Creates a temporary file beside `path`, lets `body` fill it, then moves it into place.
    /// - Throws: `SafeTensorsError.io` naming `path` and the failing call, or whatever `body`
    ///   throws; in both cases nothing is left behind.
    public static func write(to path: String, _ body: (AtomicFileWriter) throws -> Void) throws {
        let directory: String
        let fileName: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
            fileName = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            fileName = path
        }
        let suffix = String(UInt64.random(in: 0 ... .max), radix: 16)
        let temporary = (directory == "/" ? "" : directory) + "/.\(fileName).tmp-\(getpid())-\(suffix)"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SafeTensorsError.io(path: path, operation: "create a temporary file in \(directory)", errno: errno)
        }
        var isOpen = true
        do {
            try body(AtomicFileWriter(path: path, fd: fd))
            guard fsync(fd) == 0 else { throw SafeTensorsError.io(path: path, operation: "fsync", errno: errno) }
            isOpen = false
            guard close(fd) == 0 else { throw SafeTensorsError.io(path: path, operation: "close", errno: errno) }
            guard rename(temporary, path) == 0 else {
                throw SafeTensorsError.io(path: path, operation: "rename into place", errno: errno)
            }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
        // Make the rename itself durable. The file is complete and in place whatever happens
        // here, and some file systems cannot sync a directory, so a failure is not reported.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Writes `bytes` to `path` atomically (old content or all of the new, never a part).
    /// - Throws: `SafeTensorsError.io` naming `path` and the failing call.
    public static func write(contentsOf bytes: [UInt8], to path: String) throws {
        try write(to: path) { file in try bytes.withUnsafeBytes { try file.write($0) } }
    }

    /// Appends `bytes`, retrying partial writes and interruptions.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            // Linux writes at most about 2 GiB per call; chunking keeps each call well inside.
            let written = Glibc.write(fd, pointer, min(remaining, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError.io(path: path, operation: "write", errno: errno)
            }
            if written == 0 { throw SafeTensorsError.io(path: path, operation: "write", errno: EIO) }
            pointer += written
            remaining -= written
        }
    }
}
