import Foundation
import Glibc
import XCTest
@testable import SafeTensors

/// A process killed with SIGKILL between the steps of `AtomicDirectory.write` leaves, under the
/// destination's name, the complete old directory or the complete new one (file by file), and
/// the next write succeeds and leaves no leftovers.
///
/// The killed process is this test binary itself, run with a filter that selects
/// `testChildProcessHelper` and an environment variable that tells it where to kill itself.
final class AtomicDirectoryKillTests: XCTestCase {
    private static let childVariable = "LORAKIT_ATOMIC_DIRECTORY_CHILD"

    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory() }
    override func tearDown() { directory.remove() }

    private var target: String { directory.file("adapter") }

    private func tree(_ path: String) throws -> String { DirectoryTrees.name(of: try DirectoryTrees.read(path)) }

    /// Runs in the child only: writes `DirectoryTrees.new` over the target and kills itself at
    /// the step named in the environment (`body`: halfway through writing the files).
    func testChildProcessHelper() throws {
        guard let spec = ProcessInfo.processInfo.environment[Self.childVariable] else {
            throw XCTSkip("runs only as the child process of the other tests of this class")
        }
        let parts = spec.split(separator: ":", maxSplits: 2).map(String.init)
        let (mode, step, path) = (parts[0], parts[1], parts[2])
        let options = AtomicDirectory.Options(exchange: mode == "exchange", hook: { reached in
            if "\(reached)" == step { kill(getpid(), SIGKILL) }
        })
        try AtomicDirectory.write(path, options: options) { staging in
            if step == "body" {
                try DirectoryTrees.write(["adapter_config.json": DirectoryTrees.new["adapter_config.json"]!], into: staging)
                kill(getpid(), SIGKILL)
            }
            try DirectoryTrees.write(DirectoryTrees.new, into: staging)
        }
        exit(3)                                                            // the step never came
    }

    /// Writes the old tree, then runs a child that replaces it and dies at `step`; returns the
    /// child's pid. Fails unless the child was killed by SIGKILL.
    private func killChild(mode: String, at step: String, file: StaticString = #filePath, line: UInt = #line) throws -> pid_t {
        try AtomicDirectory.write(target) { try DirectoryTrees.write(DirectoryTrees.old, into: $0) }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        child.arguments = ["SafeTensorsTests.AtomicDirectoryKillTests/testChildProcessHelper"]
        child.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: "\(mode):\(step):\(target)"]) { $1 }
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        let deadline = Date().addingTimeInterval(120)
        while child.isRunning && Date() < deadline { usleep(5_000) }
        if child.isRunning {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            XCTFail("the child did not finish within 120 s", file: file, line: line)
        }
        XCTAssertEqual(child.terminationReason, .uncaughtSignal, "the child exited instead of being killed", file: file, line: line)
        XCTAssertEqual(child.terminationStatus, SIGKILL, file: file, line: line)
        return child.processIdentifier
    }

    /// The next write succeeds, and only the destination is left.
    private func assertNextWriteSucceeds(file: StaticString = #filePath, line: UInt = #line) throws {
        try AtomicDirectory.write(target) { try DirectoryTrees.write(DirectoryTrees.third, into: $0) }
        XCTAssertEqual(try tree(target), "third", file: file, line: line)
        XCTAssertEqual(try directory.contents(), ["adapter"], "leftovers were not cleaned", file: file, line: line)
    }

    func testKilledWhileWritingTheNewDirectory() throws {
        _ = try killChild(mode: "exchange", at: "body")
        XCTAssertEqual(try tree(target), "old")
        XCTAssertEqual(try directory.contents().count, 2, "the half-written staging directory is left, hidden")
        try assertNextWriteSucceeds()
    }

    func testKilledBetweenTheWriteAndTheExchange() throws {
        _ = try killChild(mode: "exchange", at: "staged")
        XCTAssertEqual(try tree(target), "old")
        try assertNextWriteSucceeds()
    }

    func testKilledBetweenTheExchangeAndTheCleanup() throws {
        let pid = try killChild(mode: "exchange", at: "exchanged")
        XCTAssertEqual(try tree(target), "new")
        let staging = try XCTUnwrap(try directory.contents().first { $0.hasPrefix(".adapter.tmp-\(pid)-") })
        XCTAssertEqual(try tree(directory.file(staging)), "old", "the exchange put the old directory under the staging name")
        try assertNextWriteSucceeds()
    }

    func testFallbackKilledWithTheOldDirectorySetAside() throws {
        let pid = try killChild(mode: "fallback", at: "setAside")
        // The fallback's window: the name is absent, the old directory complete under its aside name.
        XCTAssertEqual(try tree(target), "absent")
        let aside = try XCTUnwrap(try directory.contents().first { $0.hasPrefix(".adapter.old-\(pid)-") })
        XCTAssertEqual(try tree(directory.file(aside)), "old")
        AtomicDirectory.removeLeftovers(in: directory.path)
        XCTAssertEqual(try tree(target), "old", "cleaning leftovers puts the old directory back")
        XCTAssertEqual(try directory.contents(), ["adapter"])
        try assertNextWriteSucceeds()
    }

    func testFallbackKilledWithTheOldDirectorySetAsideThenWrittenAgain() throws {
        _ = try killChild(mode: "fallback", at: "setAside")
        try assertNextWriteSucceeds()
    }

    func testFallbackKilledBeforeTheCleanup() throws {
        _ = try killChild(mode: "fallback", at: "placed")
        XCTAssertEqual(try tree(target), "new")
        try assertNextWriteSucceeds()
    }
}
