import Foundation
import Glibc

/// Directory trees for the `AtomicDirectory` tests: relative path → bytes.
enum DirectoryTrees {
    /// An adapter-like directory, with a nested file.
    static let old: [String: [UInt8]] = [
        "adapter_config.json": Array(#"{"r": 4}"#.utf8),
        "adapter_model.safetensors": (0..<100_000).map { UInt8($0 * 7 % 251) },
        "nested/notes.txt": Array("old".utf8),
    ]
    /// Other contents under the same names, and one more file.
    static let new: [String: [UInt8]] = [
        "adapter_config.json": Array(#"{"r": 8}"#.utf8),
        "adapter_model.safetensors": (0..<150_000).map { UInt8($0 * 13 % 251) },
        "nested/notes.txt": Array("new".utf8),
        "only-new.txt": Array("n".utf8),
    ]
    static let third: [String: [UInt8]] = ["adapter_config.json": Array(#"{"r": 16}"#.utf8)]

    static func write(_ tree: [String: [UInt8]], into root: String) throws {
        for (name, bytes) in tree.sorted(by: { $0.key < $1.key }) {
            let url = URL(fileURLWithPath: root + "/" + name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
    }

    /// Every regular file under `root`, by relative path; nil when `root` is not a directory.
    static func read(_ root: String) throws -> [String: [UInt8]]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        var tree: [String: [UInt8]] = [:]
        for case let name as String in FileManager.default.enumerator(atPath: root)! {
            var info = stat()
            guard lstat(root + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            tree[name] = Array(try Data(contentsOf: URL(fileURLWithPath: root + "/" + name)))
        }
        return tree
    }

    /// The name of a tree (for messages): which of the three it equals, or "neither".
    static func name(of tree: [String: [UInt8]]?) -> String {
        guard let tree else { return "absent" }
        if tree == old { return "old" }
        if tree == new { return "new" }
        if tree == third { return "third" }
        return "neither (files: \(tree.keys.sorted()))"
    }

    /// The id of a process that has exited (and been reaped), so certainly not running.
    static func deadProcessID() throws -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
