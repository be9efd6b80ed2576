import Foundation
import ImageModels
import XCTest

/// Data-parallel training under Open MPI's `mpirun` (installed by scripts/setup; skipped where it
/// is missing): two ranks with batch b train as one process with batch 2b; a recipe that differs
/// between ranks, a rank that fails and a rank that is killed each end the whole job in bounded
/// time, naming the rank; a job killed with SIGKILL and resumed under mpirun ends with the adapter
/// of a run that never stopped.
final class DistributedTests: CLITestCase {
    let recipe = "recipes/examples/tiny_convnet_lora.yaml"
    /// Two ranks on this machine, whatever its cores; as root where CI runs so.
    var mpirunFlags: [String] {
        ["--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none"] + (getuid() == 0 ? ["--allow-run-as-root"] : [])
    }

    func mpirun() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        let why = "mpirun not installed (scripts/setup installs openmpi-bin)"
        if ProcessInfo.processInfo.environment["LORAKIT_REQUIRE_MPI"] != nil { XCTFail(why) }
        throw XCTSkip(why)
    }

    /// Runs `arguments` under mpirun; fails the test if the job outlives `timeout` seconds (a hang).
    func mpi(_ arguments: [String], timeout: Double = 120, started: ((Process) throws -> Void)? = nil) throws -> (Output, Double) {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("lorakit not built at \(binary.path)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try mpirun())
        p.arguments = mpirunFlags + arguments.map { $0 == "LORAKIT" ? binary.path : $0 }
        p.currentDirectoryURL = root
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let start = Date()
        try p.run()
        try started?(p)
        // Both pipes drained while the job runs (a full pipe would stall it).
        let captured = [Captured(), Captured()]
        let group = DispatchGroup()
        for (pipe, box) in zip([out, err], captured) {
            group.enter()
            DispatchQueue.global().async {
                box.data = pipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        while p.isRunning && Date().timeIntervalSince(start) < timeout { usleep(20_000) }
        if p.isRunning {
            killAll(matching: arguments.first { $0.contains("output_dir=") } ?? "lorakit")
            p.terminate()
            XCTFail("mpirun \(arguments) still running after \(timeout) s: a hang")
        }
        p.waitUntilExit()
        group.wait()
        return (Output(status: p.terminationStatus, stdout: String(decoding: captured[0].data, as: UTF8.self),
                       stderr: String(decoding: captured[1].data, as: UTF8.self)),
                Date().timeIntervalSince(start))
    }

    /// The process ids whose command line contains `text` (this test's unique output directory).
    func processes(matching text: String) -> [Int32] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
        }
    }

    func killAll(matching text: String) {
        for pid in processes(matching: text) { kill(pid, SIGKILL) }
    }

    func losses(_ dir: String) throws -> [Double] {
        try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            return o?["event"] as? String == "step" ? o?["loss"] as? Double : nil
        }
    }

    func validationLosses(_ dir: String) throws -> [Double] {
        try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            return o?["event"] as? String == "validation" ? (o?["metrics"] as? [String: Any])?["loss"] as? Double : nil
        }
    }

    func adapter(_ dir: String) throws -> [String: [Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/adapter/adapter_model.safetensors"))
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: data[8..<(8 + headerLength)]) as? [String: Any])
        var out: [String: [Float]] = [:]
        for (name, entry) in header where name != "__metadata__" {
            let offsets = try XCTUnwrap((entry as? [String: Any])?["data_offsets"] as? [Int])
            let bytes = data[(8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1])]
            out[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        return out
    }

    func testTwoRanksTrainAsOneProcessWithTheWholeBatch() throws {
        let dir = temporaryDirectory()
        // 63 validation items: the ranks' evaluation shards differ in size.
        let common = ["hooks.early_stopping=null", "data.options.validation_count=63", "train.epochs=2"]
        let (two, _) = try mpi(["-np", "2", "LORAKIT", "train", recipe, "data.batch_size=8", "output_dir=\(dir)/two"] + common)
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertTrue(two.stdout.contains("data-parallel over 2 ranks: 8 items per rank and step, 16 in all") || two.stderr.contains("16 in all"),
                      two.stdout + two.stderr)
        XCTAssertEqual(two.stdout.components(separatedBy: "trained 24 steps").count - 1, 1, "rank 0 alone reports: \(two.stdout)")
        let one = try lorakit(["train", recipe, "data.batch_size=16", "output_dir=\(dir)/one"] + common)
        XCTAssertEqual(one.status, 0, one.stderr)
        // The same curve and adapter up to float summation order (relative 1e-5 per step, 1e-4 after 24 steps).
        let (a, b) = (try losses("\(dir)/one"), try losses("\(dir)/two"))
        XCTAssertEqual(a.count, 24)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x))) }
        let (va, vb) = (try validationLosses("\(dir)/one"), try validationLosses("\(dir)/two"))
        XCTAssertEqual(va.count, 2)
        XCTAssertEqual(va.count, vb.count)
        for (x, y) in zip(va, vb) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(x))) }
        let (wa, wb) = (try adapter("\(dir)/one"), try adapter("\(dir)/two"))
        XCTAssertEqual(Set(wa.keys), Set(wb.keys))
        for (k, x) in wa {
            let y = try XCTUnwrap(wb[k]), scale = max(x.map(abs).max() ?? 0, 1e-6)
            XCTAssertLessThan(zip(x, y).map { abs($0 - $1) }.max() ?? 0, 1e-4 * scale, k)
        }
    }

    /// Another task the registry has: the sync model (audio-visual clips made by eSpeak NG), whose
    /// evaluation gathers per-clip SyncNet scores from both ranks.
    func testAnAudioVisualTaskTrainsAndEvaluatesAsOneProcess() throws {
        let dir = temporaryDirectory()
        let data = try lorakit(["data", "av-speech", "--out", "\(dir)/data", "--count", "4", "--eval-count", "3", "--words", "map,you",
                                "--seconds", "1.2"])
        XCTAssertEqual(data.status, 0, data.stderr)
        let common = ["data.train=\(dir)/data/train.jsonl", "data.validation=\(dir)/data/validation.jsonl",
                      "data.test=\(dir)/data/test.jsonl", "model.options.width=16",
                      "model.options.embedding=8", "model.options.shifts=2", "train.epochs=2", "train.scheduler.warmup_steps=0"]
        let (two, _) = try mpi(["-np", "2", "LORAKIT", "train", "recipes/av/sync.yaml", "data.batch_size=2", "output_dir=\(dir)/two"] + common)
        XCTAssertEqual(two.status, 0, two.stderr)
        let one = try lorakit(["train", "recipes/av/sync.yaml", "data.batch_size=4", "output_dir=\(dir)/one"] + common)
        XCTAssertEqual(one.status, 0, one.stderr)
        let (a, b) = (try losses("\(dir)/one"), try losses("\(dir)/two"))
        XCTAssertEqual(a.count, 4)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x))) }
        func lastValidation(_ run: String) throws -> [String: Double] {
            let lines = try String(contentsOfFile: "\(dir)/\(run)/metrics.jsonl", encoding: .utf8).split(separator: "\n")
            let events = try lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return try XCTUnwrap(events.last { $0["event"] as? String == "validation" }?["metrics"] as? [String: Double])
        }
        let (va, vb) = (try lastValidation("one"), try lastValidation("two"))
        for key in ["loss", "lse_d", "lse_c", "av_offset", "match_accuracy"] {
            let x = try XCTUnwrap(va[key], key), y = try XCTUnwrap(vb[key], key)
            XCTAssertEqual(x, y, accuracy: 1e-3 * max(1, abs(x)), key)
        }
    }

    func testARecipeThatDiffersBetweenRanksIsRefused() throws {
        let dir = temporaryDirectory()
        let (out, seconds) = try mpi(["-np", "1", "LORAKIT", "train", recipe, "output_dir=\(dir)/run", ":",
                                      "-np", "1", "LORAKIT", "train", recipe, "output_dir=\(dir)/run", "train.seed=6"], timeout: 60)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("the recipe of rank 1 differs from rank 0's"), out.stderr)
        XCTAssertLessThan(seconds, 60)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/run/adapter"))
    }

    /// A corrupt mouth frame in one clip (clip folders are checked when listed, frames read when a
    /// clip is): only the rank whose shard holds the clip meets it, and its error ends every rank.
    func testARankThatFailsEndsTheJob() throws {
        let dir = temporaryDirectory()
        let data = try lorakit(["data", "av-speech", "--out", "\(dir)/data", "--count", "4", "--eval-count", "1", "--words", "map,you",
                                "--seconds", "1.2"])
        XCTAssertEqual(data.status, 0, data.stderr)
        let frame = "\(dir)/data/train/clip_00007/frames/0005.png"
        try Data(try Data(contentsOf: URL(fileURLWithPath: frame)).prefix(60)).write(to: URL(fileURLWithPath: frame))
        let (out, seconds) = try mpi(["-np", "2", "LORAKIT", "train", "recipes/av/sync.yaml", "data.train=\(dir)/data/train.jsonl",
                                      "data.validation=\(dir)/data/validation.jsonl", "data.test=\(dir)/data/test.jsonl",
                                      "model.options.width=16", "model.options.embedding=8",
                                      "model.options.shifts=2", "data.batch_size=2", "train.epochs=20", "train.scheduler.warmup_steps=0",
                                      "output_dir=\(dir)/run"], timeout: 90)
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("clip_00007/frames/0005.png"), out.stderr)
        XCTAssertEqual(out.stderr.components(separatedBy: " of 2: error").count - 1, 1, "one rank failed, the other was ended: \(out.stderr)")
        XCTAssertLessThan(seconds, 90)
    }

    func testAKilledRankEndsTheJobAndAKilledJobResumesExactly() throws {
        let dir = temporaryDirectory()
        let run = ["-np", "2", "LORAKIT", "train", recipe, "data.batch_size=8", "hooks.early_stopping=null", "train.epochs=40",
                   "hooks.checkpoint={every_steps: 25, each_epoch: false, keep_best: 0}"]
        let (reference, _) = try mpi(run + ["output_dir=\(dir)/reference"])
        XCTAssertEqual(reference.status, 0, reference.stderr)

        // One rank killed: mpirun ends the other and names the rank.
        let (lost, seconds) = try mpi(run + ["output_dir=\(dir)/lost"], timeout: 90) { _ in
            try self.wait(for: "\(dir)/lost/checkpoints/latest")
            let ranks = self.processes(matching: "output_dir=\(dir)/lost").filter {
                (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8))?.hasPrefix("lorakit") == true
            }
            XCTAssertEqual(ranks.count, 2)
            if let victim = ranks.last { kill(victim, SIGKILL) }
        }
        XCTAssertNotEqual(lost.status, 0)
        XCTAssertTrue(lost.stderr.contains("signal 9") || lost.stderr.contains("Killed"), lost.stderr)
        XCTAssertLessThan(seconds, 90)

        // The whole job killed, then resumed under mpirun: the uninterrupted run's adapter.
        let (killed, _) = try mpi(run + ["output_dir=\(dir)/killed"], timeout: 90) { _ in
            try self.wait(for: "\(dir)/killed/checkpoints/latest")
            self.killAll(matching: "output_dir=\(dir)/killed")
        }
        XCTAssertNotEqual(killed.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/killed/summary.json"), "the job must be killed before it ends")
        let (resumed, _) = try mpi(run + ["output_dir=\(dir)/killed", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from step-"), resumed.stderr)
        let (a, b) = (try adapter("\(dir)/reference"), try adapter("\(dir)/killed"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, x) in a { XCTAssertEqual(x, b[k], k) }
    }

    final class Captured: @unchecked Sendable { var data = Data() }

    func wait(for path: String, timeout: Double = 60) throws {
        let start = Date()
        while !FileManager.default.fileExists(atPath: path) {
            guard Date().timeIntervalSince(start) < timeout else { throw XCTSkip("\(path) never appeared") }
            usleep(2_000)
        }
    }
}
