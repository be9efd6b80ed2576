/// Never trains on garbage: when the loss or a gradient is NaN or ±∞, the update is skipped, or
/// the run stops (as a failure) with a message saying where.
public final class NonFiniteGuard: TrainerHook {
    public enum Policy: String, Sendable { case skip, stop }
    public let policy: Policy
    /// Steps skipped so far, with the reason.
    public private(set) var skippedSteps: [(step: Int, reason: String)] = []

    public init(policy: Policy = .stop) { self.policy = policy }

    public func beforeOptimizerStep(_ context: TrainerContext, loss: Double, gradients: GradientInfo) {
        var reason: String?
        if !loss.isFinite {
            reason = "loss is \(loss) at step \(context.step + 1) (epoch \(context.epoch + 1))"
        } else if !gradients.nonFiniteKeys.isEmpty {
            let keys = gradients.nonFiniteKeys
            reason = "non-finite gradient at step \(context.step + 1) (epoch \(context.epoch + 1)) in "
                + keys.prefix(5).joined(separator: ", ") + (keys.count > 5 ? " and \(keys.count - 5) more" : "")
        }
        guard let reason else { return }
        context.control.skipStep(reason)
        switch policy {
        case .skip: skippedSteps.append((context.step + 1, reason))
        case .stop: context.control.fail("stopped: " + reason)
        }
    }
}
