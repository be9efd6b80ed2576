import Foundation

/// Saves checkpoints every N steps and/or each epoch, keeps the best K by a monitored validation
/// metric and the last one, and deletes the rest.
public final class Checkpointing: TrainerHook {
    public let everySteps: Int?
    public let eachEpoch: Bool
    public let keepBest: Int
    public let monitor: String
    public let mode: EarlyStopping.Mode
    /// Checkpoints kept, with the monitored value at the time (nil: no evaluation yet).
    public private(set) var kept: [(step: Int, value: Double?)] = []

    public init(everySteps: Int? = nil, eachEpoch: Bool = true, keepBest: Int = 1, monitor: String = "loss",
                mode: EarlyStopping.Mode = .min) {
        self.everySteps = everySteps
        self.eachEpoch = eachEpoch
        self.keepBest = keepBest
        self.monitor = monitor
        self.mode = mode
    }

    public func stepEnded(_ context: TrainerContext, _ info: StepInfo) {
        if let n = everySteps, info.step % n == 0 { context.control.requestSave() }
    }

    public func epochEnded(_ context: TrainerContext) {
        if eachEpoch { context.control.requestSave() }
    }

    public func runEnded(_ context: TrainerContext) {}

    public func checkpointSaved(_ context: TrainerContext, directory: URL) {
        kept.removeAll { $0.step == context.step }
        kept.append((context.step, context.lastMetrics[monitor]))
        prune(directory.deletingLastPathComponent())
    }

    /// Keeps the newest checkpoint and the best `keepBest` by the monitored value.
    private func prune(_ root: URL) {
        guard let last = kept.map(\.step).max() else { return }
        let ranked = kept.filter { $0.value != nil }.sorted {
            mode == .min ? $0.value! < $1.value! : $0.value! > $1.value!
        }
        let keep = Set(ranked.prefix(keepBest).map(\.step)).union([last])
        let store = CheckpointStore(directory: root)
        for (step, _) in kept where !keep.contains(step) {
            store.remove(root.appendingPathComponent(CheckpointStore.name(step: step)))
        }
        kept.removeAll { !keep.contains($0.step) }
    }

    /// The best checkpoint by the monitored metric so far.
    public var bestStep: Int? {
        kept.filter { $0.value != nil }.min { mode == .min ? $0.value! < $1.value! : $0.value! > $1.value! }?.step
    }

    public func savedState() -> [String: Double]? {
        var s: [String: Double] = [:]
        for (step, value) in kept { s["\(step)"] = value ?? .nan }
        return s
    }

    public func restore(_ state: [String: Double]) {
        kept = state.compactMap { k, v in Int(k).map { ($0, v.isNaN ? nil : v) } }.sorted { $0.step < $1.step }
    }
}
