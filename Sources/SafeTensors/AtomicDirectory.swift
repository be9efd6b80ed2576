import Foundation
import Glibc

/// Puts a directory in place of another so that, at every instant, the destination name holds
/// either the complete old directory or the complete new one: never neither, never a
/// half-written one. Adapter directories and training checkpoints are written this way.
///
/// How: the new directory is built beside the destination (same parent, so same file system)
/// under a hidden staging name `.<name>.tmp-<pid>-<hex>`; every file and directory in it is
/// synced to disk; then one `renameat2(…, RENAME_EXCHANGE)` swaps the two names atomically
/// (Linux 3.15 and later), the parent is synced, and the old directory, now under the staging
/// name, is removed. When nothing is at the destination yet, a plain `rename` moves the new
/// directory in.
///
/// Fallback: where the exchange is not available (`EINVAL` from a file system that does not
/// implement it, such as some network or FUSE file systems; `ENOSYS` from an old kernel; or a C
/// library without `renameat2`), the old directory is first renamed aside to
/// `.<name>.old-<pid>-<hex>`, the new one renamed in, and the old one removed. Each rename is
/// atomic and no directory is ever half-written, but between the two renames the destination
/// name is briefly absent; a process killed in that window leaves the complete old directory
/// under the `.old-` name, and the next `write`, `replace` or `removeLeftovers` for that
/// destination renames it back. So the fallback guarantees "old or new, complete" for every
/// reader that goes through these functions, and "old or new, or briefly missing" for a
/// reader that looks at the name on its own.
///
/// Leftovers: staging and set-aside directories of a killed process carry its pid. Each
/// `write` and `replace` first cleans those of its destination whose process no longer runs
/// (restoring a set-aside directory if the destination is missing, removing the rest); the
/// directories of a process that still runs are left alone, so two processes never delete each
/// other's work. Hidden names keep leftovers out of listings that skip dot-files.
public enum AtomicDirectory {
    /// The points between the steps of a replacement, where tests kill the process.
    enum Step: Equatable, Sendable {
        /// The new directory is complete and synced under its staging name; nothing moved yet.
        case staged
        /// (Exchange) The destination holds the new directory; the old one is under the staging name.
        case exchanged
        /// (Fallback) The old directory is set aside; the destination name is absent.
        case setAside
        /// (Fallback, or nothing was at the destination) The new directory is in place; the old
        /// one, if any, is not yet removed.
        case placed
    }

    /// Test seams: a hook called at each step, and a switch that forces the fallback.
    struct Options {
        var exchange = true
        var hook: (Step) -> Void = { _ in }
    }

    // MARK: - Public API

    /// Builds a directory with `body` and puts it at `path`, replacing any directory there
    /// atomically (see the type's notes for the guarantees and the fallback).
    ///
    /// - Parameters:
    ///   - path: the destination; its parent is created if needed.
    ///   - body: fills the directory whose path it is given (a hidden staging directory beside
    ///     `path`); files written there need not be synced, this function syncs them all.
    /// - Throws: `SafeTensorsError.io` naming `path` and the failing call, or whatever `body`
    ///   throws. In every case the destination is as it was and the staging directory is removed.
    public static func write(_ path: String, _ body: (String) throws -> Void) throws {
        try write(path, options: Options(), body)
    }

    /// Puts the complete directory `newDirectory` at `path`, replacing any directory there
    /// atomically; `newDirectory`'s name is gone afterwards.
    ///
    /// - Parameters:
    ///   - path: the destination.
    ///   - newDirectory: a complete directory on the same file system as `path`; it is first
    ///     renamed to a staging name beside `path`, then synced and exchanged.
    /// - Throws: `SafeTensorsError.io` naming `path` (for example `EXDEV` when `newDirectory`
    ///   is on another file system, `ENOTDIR` when `path` is a file); the destination is as it
    ///   was, and `newDirectory` is where it was.
    public static func replace(at path: String, with newDirectory: String) throws {
        try replace(at: path, with: newDirectory, options: Options())
    }

    /// Removes the directory at `path` so that it is never seen half-deleted: it is renamed to a
    /// hidden staging name first (one atomic step), then deleted. A process killed during the
    /// deletion leaves only the hidden name, which `removeLeftovers` deletes later. Nothing at
    /// `path` is not an error.
    /// - Throws: `SafeTensorsError.io` naming `path` when the rename fails.
    public static func remove(_ path: String) throws {
        let (parent, name) = split(path)
        let hidden = stagingName(parent, name, kind: "tmp")
        guard rename(path, hidden) == 0 else {
            if errno == ENOENT { return }
            throw SafeTensorsError.io(path: path, operation: "rename it aside to remove it", errno: errno)
        }
        syncDirectory(parent)
        try? FileManager.default.removeItem(atPath: hidden)
    }

    /// Cleans what killed replacements left in `directory`: for every destination there (or
    /// only `name`), a set-aside old directory comes back when the destination is missing, and
    /// the other staging and set-aside directories of processes that no longer run are removed.
    /// Failures are ignored: a leftover that cannot be removed stays hidden and harmless.
    public static func removeLeftovers(in directory: String, name: String? = nil) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let leftovers = entries.compactMap(Leftover.init(entry:))
            .filter { (name == nil || $0.target == name) && !isRunning($0.pid) }
        let prefix = directory == "/" ? "" : directory
        // Set-aside directories first: one may have to come back before the others go.
        for leftover in leftovers.sorted(by: { $0.isSetAside && !$1.isSetAside }) {
            let path = prefix + "/" + leftover.entry
            let target = prefix + "/" + leftover.target
            if leftover.isSetAside && !exists(target) && rename(path, target) == 0 {
                syncDirectory(directory)
                continue
            }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    // MARK: - Steps

    static func write(_ path: String, options: Options, _ body: (String) throws -> Void) throws {
        let (parent, name) = split(path)
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw SafeTensorsError.io(path: path, operation: "create the parent directory \(parent)", errno: errnoOf(error))
        }
        removeLeftovers(in: parent, name: name)
        let staging = stagingName(parent, name, kind: "tmp")
        guard mkdir(staging, 0o755) == 0 else {
            throw SafeTensorsError.io(path: path, operation: "create a staging directory in \(parent)", errno: errno)
        }
        do {
            try body(staging)
            try place(staging, at: path, parent: parent, name: name, options: options)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    static func replace(at path: String, with newDirectory: String, options: Options) throws {
        let (parent, name) = split(path)
        removeLeftovers(in: parent, name: name)
        guard isDirectory(newDirectory) else {
            throw SafeTensorsError.io(path: path, operation: "replace it with \(newDirectory), which is not a directory",
                                      errno: ENOTDIR)
        }
        let staging = stagingName(parent, name, kind: "tmp")
        guard rename(newDirectory, staging) == 0 else {
            throw SafeTensorsError.io(path: path, operation: "move \(newDirectory) beside it", errno: errno)
        }
        do {
            try place(staging, at: path, parent: parent, name: name, options: options)
        } catch {
            _ = rename(staging, newDirectory)
            throw error
        }
    }

    /// Syncs `staging` and swaps it into `path`, then removes the old directory.
    private static func place(_ staging: String, at path: String, parent: String, name: String,
                              options: Options) throws {
        try syncTree(staging, reportingAs: path)
        syncDirectory(parent)
        options.hook(.staged)

        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { throw SafeTensorsError.io(path: path, operation: "stat", errno: errno) }
            guard rename(staging, path) == 0 else {
                throw SafeTensorsError.io(path: path, operation: "rename the new directory into place", errno: errno)
            }
            syncDirectory(parent)
            options.hook(.placed)
            return
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw SafeTensorsError.io(path: path, operation: "replace it (it exists and is not a directory)", errno: ENOTDIR)
        }

        if options.exchange, let result = exchange(staging, path) {
            if result == 0 {
                syncDirectory(parent)
                options.hook(.exchanged)
                try? FileManager.default.removeItem(atPath: staging)      // the old directory now
                syncDirectory(parent)
                return
            }
            let code = errno
            guard code == EINVAL || code == ENOSYS else {
                throw SafeTensorsError.io(path: path, operation: "renameat2(RENAME_EXCHANGE)", errno: code)
            }
        }

        // Fallback: old aside, new in, old removed.
        let aside = stagingName(parent, name, kind: "old")
        guard rename(path, aside) == 0 else {
            throw SafeTensorsError.io(path: path, operation: "rename the old directory aside", errno: errno)
        }
        options.hook(.setAside)
        guard rename(staging, path) == 0 else {
            let code = errno
            _ = rename(aside, path)
            throw SafeTensorsError.io(path: path, operation: "rename the new directory into place", errno: code)
        }
        syncDirectory(parent)
        options.hook(.placed)
        try? FileManager.default.removeItem(atPath: aside)
        syncDirectory(parent)
    }

    // MARK: - System calls

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32) -> Int32

    /// glibc 2.28+ exports `renameat2`, but Swift's Glibc module does not import it (it is
    /// declared only under `_GNU_SOURCE`), and `syscall` is variadic; so it is looked up by
    /// name. Nil where the C library lacks it.
    private static let renameat2: RenameAt2? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    /// `RENAME_EXCHANGE` from `<linux/fs.h>` (part of the kernel's stable ABI).
    private static let renameExchange: UInt32 = 1 << 1

    /// Swaps two names; nil when `renameat2` is not in the C library, else its result (errno set).
    private static func exchange(_ a: String, _ b: String) -> Int32? {
        guard let renameat2 else { return nil }
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, renameExchange)
    }

    /// Syncs every file and directory under `root` (directories after their contents).
    private static func syncTree(_ root: String, reportingAs path: String) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else {
            throw SafeTensorsError.io(path: path, operation: "list the staging directory \(root)", errno: EIO)
        }
        for entry in names {
            let child = root + "/" + entry
            var info = stat()
            guard lstat(child, &info) == 0 else { throw SafeTensorsError.io(path: path, operation: "stat \(child)", errno: errno) }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try syncTree(child, reportingAs: path)
            case S_IFREG:
                let fd = open(child, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw SafeTensorsError.io(path: path, operation: "open \(child) to sync it", errno: errno) }
                let result = fsync(fd)
                let code = errno
                close(fd)
                guard result == 0 else { throw SafeTensorsError.io(path: path, operation: "fsync \(child)", errno: code) }
            default:
                continue                                                   // links, fifos: nothing to sync
            }
        }
        syncDirectory(root)
    }

    /// Makes renames in `directory` durable. Some file systems cannot sync a directory; the
    /// renames are done whatever happens here, so a failure is not reported.
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    // MARK: - Names

    /// A staging (`tmp`) or set-aside (`old`) name beside `name`: `.<name>.<kind>-<pid>-<hex>`.
    private static func stagingName(_ parent: String, _ name: String, kind: String) -> String {
        let suffix = String(UInt64.random(in: 0 ... .max), radix: 16)
        return (parent == "/" ? "" : parent) + "/.\(name).\(kind)-\(getpid())-\(suffix)"
    }

    /// An entry of a directory that is a staging or set-aside name.
    private struct Leftover {
        var entry: String
        var target: String
        var pid: pid_t
        var isSetAside: Bool

        init?(entry: String) {
            guard entry.hasPrefix(".") else { return nil }
            let parts = entry.dropFirst().split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count >= 3, UInt64(parts[parts.count - 1], radix: 16) != nil,
                  let pid = pid_t(parts[parts.count - 2]), pid > 0 else { return nil }
            let head = parts[0 ..< parts.count - 2].joined(separator: "-")     // `<name>.tmp` or `<name>.old`
            if head.hasSuffix(".tmp") { isSetAside = false } else if head.hasSuffix(".old") { isSetAside = true } else { return nil }
            let target = String(head.dropLast(4))
            guard !target.isEmpty else { return nil }
            self.entry = entry
            self.target = target
            self.pid = pid
        }
    }

    private static func split(_ path: String) -> (parent: String, name: String) {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        return (url.deletingLastPathComponent().path, url.lastPathComponent)
    }

    /// Whether a process with this id runs (or exists, as a zombie). Our own pid counts as
    /// running: another thread of this process may be mid-replacement.
    private static func isRunning(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func errnoOf(_ error: Error) -> Int32 {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return Int32(underlying.code)
        }
        return EIO
    }
}
