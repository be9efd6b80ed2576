/// Stops training when a validation metric has not improved by `minDelta` for `patience`
/// evaluations in a row.
public final class EarlyStopping: TrainerHook {
    public enum Mode: String, Sendable { case min, max }
    public let monitor: String
    public let mode: Mode
    public let patience: Int
    public let minDelta: Double
    public private(set) var best: Double?
    public private(set) var badEvaluations = 0

    public init(monitor: String = "loss", mode: Mode = .min, patience: Int = 3, minDelta: Double = 0) {
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.minDelta = minDelta
    }

    public func validationEnded(_ context: TrainerContext, metrics: [String: Double]) {
        guard let value = metrics[monitor], value.isFinite else { return }
        if let best, !isImprovement(value, over: best) {
            badEvaluations += 1
            if badEvaluations >= patience {
                context.control.requestStop("early stopping: \(monitor) did not improve on \(best) for \(patience) evaluations")
            }
        } else {
            best = value
            badEvaluations = 0
        }
    }

    func isImprovement(_ value: Double, over best: Double) -> Bool {
        mode == .min ? value < best - minDelta : value > best + minDelta
    }

    public func savedState() -> [String: Double]? {
        var s = ["bad": Double(badEvaluations)]
        if let best { s["best"] = best }
        return s
    }

    public func restore(_ state: [String: Double]) {
        best = state["best"]
        badEvaluations = Int(state["bad"] ?? 0)
    }
}
