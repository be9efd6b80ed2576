import Foundation
import XCTest

/// A test case that runs the `lorakit` binary built next to the tests, from the repository root.
class CLITestCase: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lorakit")
    }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    func lorakit(_ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("lorakit not built next to the tests at \(binary.path)")
        }
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.currentDirectoryURL = root
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// A fresh directory path, removed when the test ends.
    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "lorakit-cli-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}
