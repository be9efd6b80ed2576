import Foundation

/// The arithmetic of frozen layers' products: convolutions and fully connected layers whose
/// weight requires no gradient (a LoRA model's base, a probe's backbone).
///
/// - `float32` (the default): everything in f32, equal to the reference implementations.
/// - `bfloat16`: a frozen weight is held once in bf16 (a packed copy beside its f32 storage),
///   the layer's input (forward) or output gradient (backward-data) is rounded to bf16, and the
///   product runs on the CPU's bf16 units (AMX tiles or AVX-512-BF16 `vdpbf16ps`) with f32
///   accumulation and an f32 result. Everything trainable — adapters, heads, norms, their
///   gradients and the optimizer's state — stays f32, as do reductions (softmax, norms, losses)
///   and every activation between layers, so no loss scaling is needed: bf16 keeps f32's
///   exponent range and loses only mantissa (8 bits, relative error ≤ 2⁻⁹ per operand).
///   Products with a trainable weight stay f32 too (full fine-tuning's master weights are its
///   f32 weights; nothing is rounded that an update reads).
///
/// Chosen per task (`withComputePrecision`), like `withNoGrad`: a value of the calling scope.
/// Where the CPU has no bf16 units (AVX2), `bfloat16` runs as `float32`: `effective` says which
/// runs, and `withoutBF16Units` lets a test take that path on any machine.
public enum ComputePrecision: String, Sendable, CaseIterable, Codable {
    case float32 = "f32"
    case bfloat16 = "bf16"

    /// The precision asked for by the current task.
    @TaskLocal public static var current: ComputePrecision = .float32

    /// Set by `withoutBF16Units`: the CPU is treated as having no bf16 units.
    @TaskLocal static var unitsHidden = false

    /// Whether this CPU runs bf16 products on bf16 units (AVX-512-BF16 or AMX, detected at run
    /// time by oneDNN), unless a test hides them (`withoutBF16Units`, or `LORAKIT_NO_BF16=1` in
    /// the environment for a whole process).
    public static var hasBF16Units: Bool { !unitsHidden && !hiddenByEnvironment && DNNL.hasBF16Units }

    /// `LORAKIT_NO_BF16=1`: the process behaves as on a CPU without bf16 units (tests of the
    /// fallback through the command line).
    static let hiddenByEnvironment = ProcessInfo.processInfo.environment["LORAKIT_NO_BF16"] == "1"

    /// Whether `precision` runs as asked on this CPU.
    public static func isAvailable(_ precision: ComputePrecision) -> Bool {
        precision == .float32 || hasBF16Units
    }

    /// The precision that actually runs for the current task.
    public static var effective: ComputePrecision { isAvailable(current) ? current : .float32 }

    /// The one-line notice for asking `bfloat16` on a CPU without bf16 units (nil otherwise).
    public static func fallbackNotice(for precision: ComputePrecision) -> String? {
        guard !isAvailable(precision) else { return nil }
        return "notice: precision bf16 needs AVX-512-BF16 or AMX, which this CPU lacks (oneDNN \(DNNL.effectiveISA)); running in f32"
    }

    /// The CPU's effective oneDNN instruction set, for messages.
    public static var instructionSet: String { DNNL.effectiveISA }
}

/// Runs `body` with frozen layers' products in `precision` (`ComputePrecision`).
public func withComputePrecision<R>(_ precision: ComputePrecision, _ body: () throws -> R) rethrows -> R {
    try ComputePrecision.$current.withValue(precision, operation: body)
}

/// Runs `body` as on a CPU without bf16 units: `bfloat16` then falls back to `float32`, as it
/// does on AVX2 machines. For tests of that path on any machine.
public func withoutBF16Units<R>(_ body: () throws -> R) rethrows -> R {
    try ComputePrecision.$unitsHidden.withValue(true, operation: body)
}
