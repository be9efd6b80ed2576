/// The arithmetic of products with a quantised weight on the GEMM path (more input rows than
/// `Tensor.fusedRowLimit`: a prompt, a training batch), forward and backward-data.
///
/// - `float32` (the default): the weight decoded to Float32, oneDNN's sgemm. Results equal the
///   product of the decoded weight to float rounding, as `transformers` computes it.
/// - `bfloat16`: the weight decoded to BF16 and the input rounded to BF16, multiplied on the CPU's
///   bf16 units (AVX-512-BF16 or AMX) with Float32 accumulation, at the cost of BF16's 8-bit
///   mantissa in every operand. Measured on SmolLM2-135M's 256-token prompt (2 threads, Zen 4
///   with AVX-512-BF16): the projections take 0.68× the time of `float32`, the time to first
///   token 0.89×; decoding (few rows, the fused kernel) is the same in both. On AMX, oneDNN's bf16
///   matmuls run 2–4× as fast as its f32 ones (KERNELS.md). Where the CPU has no bf16 units it
///   runs as `float32` (`QuantizedMatmulPrecision.isAvailable`).
///
/// `float32` is the default because it keeps the model within 1e-3 of `transformers`' logits
/// (BF16 operands cannot) and because decoding, where generation spends its time, gains nothing.
///
/// Chosen per task (`withQuantizedMatmulPrecision`), like `withNoGrad`: a value of the calling
/// scope, not a global setting.
public enum QuantizedMatmulPrecision: String, Sendable, CaseIterable {
    case float32
    case bfloat16

    /// The precision in effect for the current task.
    @TaskLocal public static var current: QuantizedMatmulPrecision = .float32

    /// Whether this CPU runs `precision` as asked (bf16 needs AVX-512-BF16 or AMX, detected at run time).
    public static func isAvailable(_ precision: QuantizedMatmulPrecision) -> Bool {
        precision == .float32 || DNNL.hasBF16Units
    }

    /// The precision that actually runs for the current task.
    static var effective: QuantizedMatmulPrecision { isAvailable(current) ? current : .float32 }
}

/// Runs `body` with quantised products on the GEMM path in `precision`.
public func withQuantizedMatmulPrecision<R>(_ precision: QuantizedMatmulPrecision, _ body: () throws -> R) rethrows -> R {
    try QuantizedMatmulPrecision.$current.withValue(precision, operation: body)
}
