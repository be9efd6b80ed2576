import Foundation

/// Progress on standard error: steps, loss, learning rate, items/s and ETA. On a terminal the
/// line redraws in place; otherwise (CI, a pipe) a plain line is printed every `interval` steps.
public final class ProgressBar: TrainerHook {
    public let interval: Int
    private let isTerminal: Bool
    private var start = Date()
    private var startStep = 0
    private var smoothedLoss: Double?
    private let write: (String) -> Void

    /// - Parameter output: where lines go (default: standard error).
    public init(interval: Int = 10, terminal: Bool? = nil, output: ((String) -> Void)? = nil) {
        self.interval = max(1, interval)
        self.isTerminal = terminal ?? (isatty(STDERR_FILENO) != 0)
        self.write = output ?? { FileHandle.standardError.write(Data($0.utf8)) }
    }

    public func runStarted(_ context: TrainerContext) {
        start = Date()
        startStep = context.step
    }

    public func stepEnded(_ context: TrainerContext, _ info: StepInfo) {
        smoothedLoss = smoothedLoss.map { 0.9 * $0 + 0.1 * info.loss } ?? info.loss
        guard isTerminal || info.step % interval == 0 || info.step == context.totalSteps else { return }
        let elapsed = Date().timeIntervalSince(start)
        let done = info.step - startStep
        let eta = done > 0 ? elapsed / Double(done) * Double(context.totalSteps - info.step) : 0
        let width = 24
        let filled = context.totalSteps > 0 ? width * info.step / context.totalSteps : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "step %d/%d %@ loss %.4f lr %.2e %.1f items/s ETA %@",
                          info.step, context.totalSteps, bar, smoothedLoss ?? info.loss, info.learningRate,
                          info.itemsPerSecond, Self.duration(eta))
        write(isTerminal ? "\r\u{1B}[2K" + line : line + "\n")
    }

    public func validationEnded(_ context: TrainerContext, metrics: [String: Double]) {
        let text = metrics.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }
            .joined(separator: ", ")
        write((isTerminal ? "\n" : "") + "validation after step \(context.step): \(text)\n")
    }

    public func runEnded(_ context: TrainerContext) {
        if isTerminal { write("\n") }
        if let reason = context.control.stopReason { write("stopped: \(reason)\n") }
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t % 3600 / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }
}
