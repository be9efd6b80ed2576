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

    /// Records the checkpoint about to be written with the monitored value of its own model: the
    /// last evaluation's, when it was measured at this step (a value from an earlier step is
    /// another model's, and such a checkpoint competes for the last place only).
    public func checkpointWillSave(_ context: TrainerContext) {
        kept.removeAll { $0.step == context.step }
        let value = context.lastEvaluationStep == context.step ? context.lastMetrics[monitor] : nil
        kept.append((context.step, value))
    }

    public func checkpointSaved(_ context: TrainerContext, directory: URL) {
        if !kept.contains(where: { $0.step == context.step }) { checkpointWillSave(context) }
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

    /// The best checkpoint by the monitored metric so far (the earliest of equals), among those
    /// whose model was evaluated.
    public var bestStep: Int? { best()?.step }

    /// The best evaluated checkpoint among `steps` (those on disk; nil: any kept), with its value;
    /// the earliest of equals.
    public func best(among steps: Set<Int>? = nil) -> (step: Int, value: Double)? {
        var result: (step: Int, value: Double)?
        for (step, value) in kept.sorted(by: { $0.step < $1.step }) {
            guard let value, steps.map({ $0.contains(step) }) ?? true else { continue }
            if let current = result, !isBetter(value, than: current.value) { continue }
            result = (step, value)
        }
        return result
    }

    /// Whether `value` is better than `other` in this hook's mode.
    public func isBetter(_ value: Double, than other: Double) -> Bool {
        mode == .min ? value < other : value > other
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
