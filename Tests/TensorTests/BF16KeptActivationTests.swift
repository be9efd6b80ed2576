import CDNNL
@testable import Tensor
import TestSupport
import XCTest

/// Activations kept for backward in bf16 (`DNNLKeptBF16.swift`): ReLU's kept copy is the bf16
/// rounding oneDNN itself makes, its backward passes exactly the f32 gradient, batch norm's
/// gradients stay within bf16's tolerance with an unchanged forward, and a LoRA-style block
/// holds about half the memory between forward and backward.
final class BF16KeptActivationTests: XCTestCase {
    private func requireBF16Units() throws {
        try XCTSkipUnless(ComputePrecision.hasBF16Units,
                          "this CPU has no bf16 units (\(ComputePrecision.instructionSet)): nothing is kept in bf16")
    }

    private func halves(_ data: DNNL.BF16Data, count: Int) -> [UInt16] {
        let (_, _, pointer) = data.arg(DNNL_ARG_FROM)
        return Array(UnsafeBufferPointer(start: pointer.assumingMemoryBound(to: UInt16.self), count: count))
    }

    /// The copy ReLU writes beside its output is bit for bit what oneDNN's reorder makes of the
    /// output: ties to even, NaN, ±∞, the largest finite values rounding up to ∞, subnormals.
    func testReLUCopyRoundsAsOneDNN() throws {
        try requireBF16Units()
        var values: [Float] = (0..<4096).map { i in Float(sin(Double(i) * 0.37)) * Float(1 << (i % 20)) }
        values += [Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), Float(bitPattern: 0x3F80_8001),
                   .nan, .infinity, -.infinity, .greatestFiniteMagnitude, Float(bitPattern: 0x0000_0001),
                   Float(bitPattern: 0x007F_FFFF), Float(bitPattern: 0x0080_0000), -Float(bitPattern: 0x0000_8000), 0]
        let x = Tensor(values, shape: [values.count])
        let (out, kept) = Tensor.reluKeepingBF16(x)
        let relu = withNoGrad { x.relu() }
        XCTAssertEqual(out.scalars.map(\.bitPattern), relu.scalars.map(\.bitPattern), "the f32 output is ReLU's")
        let reference = DNNL.$remembersConversions.withValue(false) {
            DNNL.bf16(out, to: DNNL.desc(of: out, type: dnnl_bf16))
        }
        XCTAssertEqual(halves(kept.data, count: values.count), halves(reference, count: values.count))
        XCTAssertEqual(kept.decoded().scalars.map(\.bitPattern),
                       halves(reference, count: values.count).map { UInt32($0) << 16 }, "decoding is exact")
    }

    /// ReLU's backward from the kept copy equals the f32 backward exactly (plain, and in the
    /// channels-last layout a convolution gives), and the next convolution reads the copy.
    func testReLUBackwardFromKeptCopyIsExact() throws {
        try requireBF16Units()
        let x = randomTensor([2, 16, 6, 6], seed: 41)
        let w = randomTensor([16, 16, 3, 3], seed: 42, low: -0.3, high: 0.3)
        let g = randomTensor([2, 16, 6, 6], seed: 43)
        func reluGradient(_ input: Tensor) -> Tensor {
            let leaf = input.requiringGrad()
            (leaf.relu() * g).sum().backward()
            return leaf.grad!.plain()
        }
        let blocked = withNoGrad { x.conv2d(weight: w, padding: 1) }
        for input in [x, blocked] {
            let f32 = reluGradient(input)
            let bf16 = withComputePrecision(.bfloat16) { reluGradient(input) }
            XCTAssertEqual(bf16.scalars, f32.scalars)
        }
        // relu → conv: the convolution converts nothing, it reads ReLU's copy.
        let trace = KernelTrace()
        KernelTrace.record(into: trace) {
            withComputePrecision(.bfloat16) {
                let leaf = blocked.requiringGrad()
                _ = leaf.relu().conv2d(weight: w, padding: 1)
            }
        }
        XCTAssertEqual(trace.kernels.filter { $0 == "to-bf16" }.count, 0, "\(trace.kernels)")
        XCTAssertTrue(trace.kernels.contains("relu-keeping-bf16"), "\(trace.kernels)")
    }

    /// Batch norm in bf16 training, on a plain input (oneDNN's forward, then a conversion; decoded
    /// for oneDNN's backward) and on a channels-last one (`runBatchNormForwardKeepingBF16`,
    /// `runBatchNormBackwardKeptBF16`): the output is f32's (forward reads the f32 input), and the
    /// gradients from the bf16-kept input are within bf16's tolerance of f32's, yet not equal.
    func testBatchNormGradientsFromKeptInput() throws {
        try requireBF16Units()
        let plain = randomTensor([4, 16, 5, 5], seed: 51, low: -2, high: 3)
        let w = randomTensor([16, 16, 1, 1], seed: 55, low: -0.5, high: 0.5)
        let channelsLast = withNoGrad { plain.conv2d(weight: w) } + 0.5
        let gamma = randomTensor([16], seed: 52, low: 0.5, high: 1.5), beta = randomTensor([16], seed: 53)
        let g = randomTensor([4, 16, 5, 5], seed: 54)
        for (x, kernels) in [(plain, ["keep-bf16", "kept-bf16-to-f32"]),
                             (channelsLast, ["batchnorm.forward-keeping-bf16", "batchnorm.backward-kept-bf16"])] {
            func run() -> [Tensor] {
                let lx = x.requiringGrad(), lg = gamma.requiringGrad(), lb = beta.requiringGrad()
                let y = Tensor.batchNorm(lx, weight: lg, bias: lb, training: true).output
                (y * g).sum().backward()
                return [y.plain(), lx.grad!.plain(), lg.grad!, lb.grad!]
            }
            let f32 = run()
            let trace = KernelTrace()
            let bf16 = KernelTrace.record(into: trace) { withComputePrecision(.bfloat16) { run() } }
            for kernel in kernels { XCTAssertTrue(trace.kernels.contains(kernel), "\(kernel): \(trace.kernels)") }
            assertClose(bf16[0], f32[0], atol: 1e-5, rtol: 1e-5, "forward: the f32 input normalised")
            assertClose(bf16[1], f32[1], atol: 2e-2, rtol: 2e-2, "dL/dx (\(kernels))")
            XCTAssertNotEqual(bf16[1].scalars, f32[1].scalars, "dL/dx came from the rounded input")
            assertClose(bf16[2], f32[2], atol: 5e-2, rtol: 1e-2, "dL/dγ")
            assertClose(bf16[3], f32[3], atol: 1e-5, rtol: 1e-5, "dL/dβ = Σ dL/dy reads no input")
        }
    }

    /// The bf16-reading backward equals oneDNN's backward on the decoded (rounded) input within
    /// f32 summation error, with and without γ, and its dL/dx copy is oneDNN's rounding of dL/dx.
    func testBatchNormKeptBF16KernelMatchesOneDNN() throws {
        try requireBF16Units()
        // 32 channels: the 16-wide loop; 24: the scalar one.
        for channels in [32, 24] {
            try checkBatchNormKeptBF16Kernel(channels: channels)
        }
    }

    private func checkBatchNormKeptBF16Kernel(channels: Int) throws {
        let w = randomTensor([channels, 8, 1, 1], seed: 71, low: -0.5, high: 0.5)
        let x = withNoGrad { randomTensor([3, 8, 7, 9], seed: 72, low: -2, high: 3).conv2d(weight: w) }
        let dy = withNoGrad { randomTensor([3, 8, 7, 9], seed: 73).conv2d(weight: w) }
        let mean = randomTensor([channels], seed: 74, low: -0.2, high: 0.2)
        let variance = randomTensor([channels], seed: 75, low: 0.5, high: 2)
        let gamma = randomTensor([channels], seed: 76, low: 0.5, high: 1.5), beta = randomTensor([channels], seed: 77)
        let kept = DNNL.keepInBF16(x)
        for withScale in [true, false] {
            let geometry = BatchNormGeometry(shape: x.shape, epsilon: 1e-5, hasScale: withScale, hasShift: withScale,
                                             globalStatistics: false)
            let ours = try XCTUnwrap(DNNL.runBatchNormBackwardKeptBF16(
                geometry, kept: kept, outputGradient: dy, scale: withScale ? gamma : nil, mean: mean, variance: variance))
            let reference = DNNL.runBatchNormBackward(
                geometry, layout: kept.layout, source: kept.decoded(), outputGradient: dy,
                scale: withScale ? gamma : nil, shift: withScale ? beta : nil, mean: mean, variance: variance)
            assertClose(ours.input.plain(), reference.input.plain(), atol: 1e-4, rtol: 1e-4, "dL/dx, \(channels) channels")
            if withScale {
                assertClose(ours.scale!, reference.scale!, atol: 1e-3, rtol: 1e-4, "dL/dγ")
                assertClose(ours.shift!, reference.shift!, atol: 1e-3, rtol: 1e-4, "dL/dβ")
            }
            let trace = KernelTrace()
            let copy = KernelTrace.record(into: trace) { DNNL.bf16(ours.input, to: DNNL.desc(of: ours.input, type: dnnl_bf16)) }
            XCTAssertFalse(trace.kernels.contains("to-bf16"), "the copy written with dL/dx is remembered: \(trace.kernels)")
            let fresh = DNNL.$remembersConversions.withValue(false) {
                DNNL.bf16(ours.input, to: DNNL.desc(of: ours.input, type: dnnl_bf16))
            }
            XCTAssertEqual(halves(copy, count: x.count), halves(fresh, count: x.count))
        }
        // Running statistics, or a layout that is not channels-last: not this kernel's.
        let global = BatchNormGeometry(shape: x.shape, epsilon: 1e-5, hasScale: true, hasShift: true, globalStatistics: true)
        XCTAssertNil(DNNL.runBatchNormBackwardKeptBF16(global, kept: kept, outputGradient: dy, scale: gamma,
                                                       mean: mean, variance: variance))
        let plainGeometry = BatchNormGeometry(shape: x.shape, epsilon: 1e-5, hasScale: true, hasShift: true,
                                              globalStatistics: false)
        XCTAssertNil(DNNL.runBatchNormBackwardKeptBF16(plainGeometry, kept: DNNL.keepInBF16(x.plain()), outputGradient: dy,
                                                       scale: gamma, mean: mean, variance: variance))
    }

    /// The forward that writes the input's bf16 copy equals oneDNN's forward (output, batch mean
    /// and variance) within f32 rounding, with and without γ and β, 16-wide and scalar, and the
    /// copy is oneDNN's rounding of the input; data far from zero loses no variance.
    func testBatchNormForwardKeepingBF16MatchesOneDNN() throws {
        try requireBF16Units()
        for channels in [32, 24] {
            let w = randomTensor([channels, 8, 1, 1], seed: 81, low: -0.5, high: 0.5)
            let x = withNoGrad { randomTensor([3, 8, 7, 9], seed: 82, low: -2, high: 3).conv2d(weight: w) } + 100
            let gamma = randomTensor([channels], seed: 83, low: 0.5, high: 1.5), beta = randomTensor([channels], seed: 84)
            for withScale in [true, false] {
                let g = BatchNormGeometry(shape: x.shape, epsilon: 1e-5, hasScale: withScale, hasShift: withScale,
                                          globalStatistics: false)
                let mean = Tensor(uninitialized: [channels]), variance = Tensor(uninitialized: [channels])
                let (out, kept) = try XCTUnwrap(DNNL.runBatchNormForwardKeepingBF16(
                    g, source: x, scale: withScale ? gamma : nil, shift: withScale ? beta : nil, mean: mean, variance: variance))
                let referenceMean = Tensor(uninitialized: [channels]), referenceVariance = Tensor(uninitialized: [channels])
                let reference = DNNL.runBatchNormForward(g, source: x, scale: withScale ? gamma : nil, shift: withScale ? beta : nil,
                                                         mean: referenceMean, variance: referenceVariance, training: true)
                assertClose(out.plain(), reference.plain(), atol: 2e-3, rtol: 1e-4, "output, \(channels) channels")
                assertClose(mean, referenceMean, atol: 1e-4, rtol: 1e-6, "mean")
                assertClose(variance, referenceVariance, atol: 1e-4, rtol: 1e-4, "variance")
                let fresh = DNNL.$remembersConversions.withValue(false) { DNNL.keepInBF16(x) }
                XCTAssertEqual(halves(kept.data, count: x.count), halves(fresh.data, count: x.count))
            }
        }
        let plain = randomTensor([2, 16, 3, 3], seed: 85)
        XCTAssertNil(DNNL.runBatchNormForwardKeepingBF16(
            BatchNormGeometry(shape: plain.shape, epsilon: 1e-5, hasScale: false, hasShift: false, globalStatistics: false),
            source: plain, scale: nil, shift: nil, mean: Tensor(uninitialized: [16]), variance: Tensor(uninitialized: [16])))
    }

    /// Two ResNet basic blocks with LoRA adapters (frozen 3×3 convolutions, trainable A and B)
    /// hold, between forward and backward, at most 60 % of the activation memory they hold in f32
    /// (or in bf16 with batch norm's and ReLU's activations kept in f32), and keeping them in bf16 moves the
    /// adapter gradients less than half as much as the bf16 products themselves do.
    func testLoRABlockKeepsHalfTheActivationMemory() throws {
        try requireBF16Units()
        let x = randomTensor([4, 32, 16, 16], seed: 61)
        let w1 = randomTensor([32, 32, 3, 3], seed: 62, low: -0.1, high: 0.1)
        let w2 = randomTensor([32, 32, 3, 3], seed: 63, low: -0.1, high: 0.1)
        let a1 = randomTensor([4, 32, 3, 3], seed: 64, low: -0.1, high: 0.1), b1 = randomTensor([32, 4, 1, 1], seed: 65)
        let a2 = randomTensor([4, 32, 3, 3], seed: 66, low: -0.1, high: 0.1), b2 = randomTensor([32, 4, 1, 1], seed: 67)
        let weighting = randomTensor([4, 32, 16, 16], seed: 68)
        func block(_ input: Tensor, _ p: [Tensor]) -> Tensor {
            var h = input.conv2d(weight: w1, padding: 1)
            h.addConv2d(input.conv2d(weight: p[0], padding: 1), weight: p[1])
            h = Tensor.batchNorm(h, training: true).output.relu()
            var y = h.conv2d(weight: w2, padding: 1)
            y.addConv2d(h.conv2d(weight: p[2], padding: 1), weight: p[3])
            return (Tensor.batchNorm(y, training: true).output + input).relu()
        }
        /// Bytes held after forward (over those held before it), and the adapters' gradients.
        func step() -> (Int, [Tensor]) {
            let input = withNoGrad { x.conv2d(weight: w1, padding: 1) }.requiringGrad()
            let p = [a1, b1, a2, b2].map { $0.requiringGrad() }
            let before = MemoryPool.liveBytes
            let out = block(block(input, p), p)
            let held = MemoryPool.liveBytes - before - out.storage.byteCount
            (out * weighting).sum().backward()
            return (held, p.map { $0.grad!.plain() })
        }
        _ = step()
        let (f32Bytes, f32Grads) = step()
        _ = withComputePrecision(.bfloat16) { step() }
        let (bf16Bytes, bf16Grads) = withComputePrecision(.bfloat16) { step() }
        let (f32KeptBytes, f32KeptGrads) = DNNL.$keepsActivations.withValue(false) { withComputePrecision(.bfloat16) { step() } }
        XCTAssertLessThanOrEqual(Double(bf16Bytes), 0.6 * Double(f32Bytes), "held \(bf16Bytes) vs \(f32Bytes) bytes")
        XCTAssertLessThanOrEqual(Double(bf16Bytes), 0.6 * Double(f32KeptBytes), "held \(bf16Bytes) vs \(f32KeptBytes) bytes")
        func error(_ a: Tensor, _ b: Tensor) -> Float {
            zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()! / b.scalars.map(abs).max()!
        }
        // bf16 products alone move these gradients by up to ~10 % of their largest value (two
        // batch norms of 1,024 rows, whose backward subtracts nearly equal sums, amplify any
        // rounding); keeping the activations in bf16 moves them by well under half of that
        // (measured: a quarter).
        for (i, (kept, f32Kept)) in zip(bf16Grads, f32KeptGrads).enumerated() {
            let products = error(f32Kept, f32Grads[i]), keeping = error(kept, f32Kept)
            XCTAssertLessThan(products, 0.15, "adapter gradient \(i): bf16 products")
            XCTAssertLessThan(keeping, 0.5 * products, "adapter gradient \(i): kept activations \(keeping), products \(products)")
        }
    }
}
