import Glibc

/// A whole file mapped copy-on-write (`MAP_PRIVATE`, readable and writable), unmapped when the
/// last reference goes away.
///
/// Tensors loaded without a copy keep this object alive through their storage's `owner`, so
/// they stay valid after the `SafeTensorsFile` that produced them is gone. Writes through such a
/// tensor change private pages only, never the file. As with any mapping, truncating the file
/// while it is mapped makes later reads of the lost pages fault (SIGBUS). Package-visible: the
/// GGUF reader maps its files the same way.
package final class MemoryMappedFile: @unchecked Sendable {
    /// Start of the mapping (nil for an empty file, which cannot be mapped).
    package let base: UnsafeMutableRawPointer?
    package let byteCount: Int

    /// Opens and maps `path`.
    /// - Throws: `SafeTensorsError.io` naming the failing call.
    package init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError.io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SafeTensorsError.io(path: path, operation: "fstat", errno: errno)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let code = (info.st_mode & S_IFMT) == S_IFDIR ? EISDIR : EINVAL
            throw SafeTensorsError.io(path: path, operation: "open (not a regular file)", errno: code)
        }
        byteCount = Int(info.st_size)
        guard byteCount > 0 else { base = nil; return }
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw SafeTensorsError.io(path: path, operation: "mmap", errno: errno)
        }
        base = p
    }

    deinit {
        if let base { munmap(base, byteCount) }
    }

    /// The mapped bytes.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }
}
