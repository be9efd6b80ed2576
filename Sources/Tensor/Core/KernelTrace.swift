import Foundation

/// Records which kernels ran, for tests and profiling: a task-local recorder, not a global, so
/// it sees only the work of the task that installed it.
public final class KernelTrace: @unchecked Sendable {
    private var names: [String] = []
    private let lock = NSLock()

    public init() {}

    /// Names of the kernels run so far, in order (e.g. "conv2d.backward-weights", "sgemm").
    public var kernels: [String] { lock.lock(); defer { lock.unlock() }; return names }

    /// How many times a kernel with this name ran.
    public func count(_ name: String) -> Int { kernels.filter { $0 == name }.count }

    func append(_ name: String) { lock.lock(); names.append(name); lock.unlock() }

    @TaskLocal static var current: KernelTrace?

    /// Runs `body`, recording into `trace` every kernel it runs.
    public static func record<R>(into trace: KernelTrace, _ body: () throws -> R) rethrows -> R {
        try $current.withValue(trace, operation: body)
    }

    /// Called by kernels; costs one task-local read when no trace is installed.
    @inline(__always) static func note(_ name: String) {
        if let t = current { t.append(name) }
    }
}
