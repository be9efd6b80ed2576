import Foundation
import Glibc
import XCTest

/// The fixtures of scripts/make_gguf_fixtures.py: GGUF files written by the `gguf` package and,
/// next to each, what that package read back from it (JSON).
enum GGUFFixtures {
    struct Missing: Error, CustomStringConvertible { var description: String }

    /// The path of `Fixtures/<name>`.
    static func path(_ name: String) throws -> String {
        let base = (name as NSString).deletingPathExtension
        let ext = (name as NSString).pathExtension
        guard let url = Bundle.module.url(forResource: base, withExtension: ext, subdirectory: "Fixtures") else {
            throw Missing(description: "fixture \(name) is missing: run scripts/make_gguf_fixtures.py")
        }
        return url.path
    }

    /// `Fixtures/<name>` decoded from JSON.
    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: try path(name)))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Missing(description: "\(name) is not a JSON object")
        }
        return object
    }

    /// The bytes of `Fixtures/<name>`.
    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: try path(name))))
    }
}

/// A temporary directory for corrupted copies of the fixtures, removed by `tearDown`.
final class ScratchDirectory {
    let url: URL
    private var counter = 0

    init() throws {
        // tmpfs where there is one: thousands of small files are written and opened.
        let shm = URL(fileURLWithPath: "/dev/shm", isDirectory: true)
        let base = FileManager.default.isWritableFile(atPath: shm.path) ? shm : FileManager.default.temporaryDirectory
        url = base.appendingPathComponent("gguf-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to a new file and returns its path. Plain POSIX calls: Foundation's
    /// `Data.write` takes milliseconds a file here, and the truncation tests write thousands.
    func write(_ bytes: [UInt8]) throws -> String {
        counter += 1
        let path = url.appendingPathComponent("file\(counter).gguf").path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GGUFFixtures.Missing(description: "cannot create \(path)") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw GGUFFixtures.Missing(description: "cannot write \(path)") }
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

extension Array where Element == UInt8 {
    /// Overwrites the little-endian bytes of `value` at `offset`.
    mutating func patch<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, byte) in raw.enumerated() { self[offset + i] = byte }
        }
    }
}
