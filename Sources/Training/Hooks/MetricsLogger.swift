import Foundation
import Tensor

/// Writes every event as one JSON line to `metrics.jsonl`, and step and validation rows to
/// `metrics.csv`, in the run's output directory. Lines are appended and flushed as they happen,
/// so a killed run keeps its log; a resumed run appends to it.
public final class MetricsLogger: TrainerHook {
    public let directory: URL
    private var jsonl: FileHandle?
    private var csv: FileHandle?

    public init(directory: URL) { self.directory = directory }

    private func open(_ name: String, header: String?) -> FileHandle? {
        let url = directory.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let exists = FileManager.default.fileExists(atPath: url.path)
        if !exists { _ = FileManager.default.createFile(atPath: url.path, contents: header.map { Data(($0 + "\n").utf8) }) }
        let handle = try? FileHandle(forWritingTo: url)
        _ = try? handle?.seekToEnd()
        return handle
    }

    private func log(_ event: String, _ fields: [String: Any]) {
        var object = fields
        object["event"] = event
        object["time"] = Date().timeIntervalSince1970
        let clean = object.mapValues { v -> Any in
            if let d = v as? Double, !d.isFinite { return d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity") }
            return v
        }
        guard let data = try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys]) else { return }
        jsonl?.write(data + Data("\n".utf8))
    }

    public func runStarted(_ context: TrainerContext) {
        jsonl = open("metrics.jsonl", header: nil)
        csv = open("metrics.csv", header: "kind,step,epoch,name,value")
        log("run_start", ["step": context.step, "total_steps": context.totalSteps])
    }

    public func stepEnded(_ context: TrainerContext, _ info: StepInfo) {
        var fields: [String: Any] = ["step": info.step, "epoch": info.epoch, "loss": info.loss, "lr": info.learningRate,
                                     "items_per_second": info.itemsPerSecond, "skipped": info.skipped,
                                     "step_seconds": info.seconds,
                                     // The most tensor memory held at once since the run started, and the
                                     // process's resident memory now.
                                     "peak_tensor_mib": Double(MemoryPool.peakBytes) / 1_048_576]
        if let rss = Self.residentMiB() { fields["rss_mib"] = rss }
        if let n = info.gradientNorm { fields["grad_norm"] = n }
        log("step", fields)
        row("train", info.step, info.epoch, "loss", info.loss)
        row("train", info.step, info.epoch, "lr", info.learningRate)
    }

    public func validationEnded(_ context: TrainerContext, metrics: [String: Double]) {
        log("validation", ["step": context.step, "epoch": context.epoch, "metrics": metrics])
        for (k, v) in metrics.sorted(by: { $0.key < $1.key }) { row("validation", context.step, context.epoch, k, v) }
    }

    public func epochEnded(_ context: TrainerContext) { log("epoch_end", ["step": context.step, "epoch": context.epoch]) }

    public func checkpointSaved(_ context: TrainerContext, directory: URL) {
        log("checkpoint", ["step": context.step, "path": directory.path])
    }

    public func errorOccurred(_ context: TrainerContext, error: Error) {
        log("error", ["step": context.step, "message": "\(error)"])
    }

    public func runEnded(_ context: TrainerContext) {
        var fields: [String: Any] = ["step": context.step]
        if let r = context.control.stopReason { fields["stop_reason"] = r }
        log("run_end", fields)
        try? jsonl?.close()
        try? csv?.close()
        jsonl = nil
        csv = nil
    }

    /// The process's resident memory in MiB (`/proc/self/statm`), if readable.
    static func residentMiB() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return nil }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    private func row(_ kind: String, _ step: Int, _ epoch: Int, _ name: String, _ value: Double) {
        csv?.write(Data("\(kind),\(step),\(epoch),\(name),\(value)\n".utf8))
    }
}
