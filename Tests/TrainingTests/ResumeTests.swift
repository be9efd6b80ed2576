import Foundation
import SafeTensors
import TestSupport
import Training
import XCTest

/// A run killed with SIGKILL — mid-epoch, and in the middle of writing a checkpoint — and then
/// resumed ends with the same weights and loss curve as a run that never stopped. The runs are
/// separate processes of `examples/ResumeProbe` (built with the tests).
final class ResumeTests: XCTestCase {
    let steps = 24, every = 7          // checkpoints at 7, 14, 21; 10 batches per epoch: mid-epoch

    var probe: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("resume-probe")
    }

    func temporaryDirectory() -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lorakit-kill-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func launch(_ out: URL, _ extra: [String]) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: probe.path) else {
            throw XCTSkip("resume-probe not built next to the tests at \(probe.path)")
        }
        let p = Process()
        p.executableURL = probe
        p.arguments = ["--out", out.path, "--steps", "\(steps)", "--every", "\(every)"] + extra
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    func runToEnd(_ out: URL, _ extra: [String] = []) throws {
        let p = try launch(out, extra)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "resume-probe \(extra) failed")
    }

    func results(_ out: URL) throws -> ([String: Tensor], [Double]) {
        let weights = try SafeTensorsFile(path: out.appendingPathComponent("final.safetensors").path).tensors()
        let losses = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("losses.json"))) as! [Double]
        return (weights, losses)
    }

    /// Waits until `condition` holds (polling). After `timeout` seconds it stops `process` and
    /// throws, which fails the test with the message: the probe that should have got there is
    /// stuck or dead, and a skip would hide that. The default (5 minutes) leaves room for a debug
    /// build on two busy cores; a release build gets there within seconds.
    func wait(timeout: Double = 300, _ what: String, for process: Process, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else {
                if process.isRunning { process.terminate() }
                throw WaitTimeout(what: what, seconds: timeout)
            }
            usleep(2_000)
        }
    }

    /// A wait that ran out: fails the test that throws it.
    struct WaitTimeout: Error, CustomStringConvertible {
        let what: String
        let seconds: Double
        var description: String { "resume-probe: timed out after \(Int(seconds)) s waiting for \(what)" }
    }

    func assertSameRun(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let (wa, la) = try results(a), (wb, lb) = try results(b)
        XCTAssertEqual(wa.keys.sorted(), wb.keys.sorted(), file: file, line: line)
        for (k, t) in wa { assertClose(wb[k]!, t, atol: 1e-6, rtol: 0, k, file: file, line: line) }
        XCTAssertEqual(la.count, steps, file: file, line: line)
        XCTAssertEqual(la, lb, "loss curves differ", file: file, line: line)
    }

    func testKillMidEpochThenResumeEqualsUninterrupted() throws {
        let reference = temporaryDirectory(), killed = temporaryDirectory()
        try runToEnd(reference)
        let p = try launch(killed, ["--step-ms", "30"])
        let latest = killed.appendingPathComponent("checkpoints/latest")
        try wait("the first checkpoint", for: p) { FileManager.default.fileExists(atPath: latest.path) }
        usleep(useconds_t.random(in: 0...60_000))                       // somewhere after step 7, before 14
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("final.safetensors").path))
        try runToEnd(killed, ["--resume"])
        try assertSameRun(reference, killed)
    }

    func testKillDuringACheckpointSaveLeavesTheLastCompleteOne() throws {
        let reference = temporaryDirectory(), killed = temporaryDirectory()
        try runToEnd(reference)
        let p = try launch(killed, ["--slow-save-ms", "500"])
        let checkpoints = killed.appendingPathComponent("checkpoints")
        // Let the first save complete, then kill while the second is being written.
        try wait("the second save to start", for: p) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
            return names.contains("step-000007") && names.contains { $0.hasPrefix(".step-000014.tmp-") }
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let store = CheckpointStore(directory: checkpoints)
        XCTAssertEqual(store.latest()?.lastPathComponent, "step-000007", "latest must name the last complete checkpoint")
        try runToEnd(killed, ["--resume"])
        try assertSameRun(reference, killed)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "a resumed run removes the half-written checkpoint")
    }
}
