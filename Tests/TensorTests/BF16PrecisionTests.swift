@testable import Tensor
import TestSupport
import XCTest

/// Frozen layers in bf16 (`ComputePrecision.bfloat16`): a convolution's or a linear layer's
/// forward and backward-data with a frozen weight equal the f32 computation on operands rounded
/// to bf16 (to nearest, ties to even) — f32 accumulation, so within f32 summation error of that —
/// and stay within bf16's tolerance of the unrounded f32 result; so do trainable weights' products,
/// with F32 weights and gradients. The fallback on CPUs without bf16 units, and the default
/// precision, give exactly the f32 results.
final class BF16PrecisionTests: XCTestCase {
    /// `t` rounded to bf16 and back (round to nearest even, as oneDNN's reorder rounds).
    private func roundedToBF16(_ t: Tensor) -> Tensor {
        let values = t.plain().scalars.map { v -> Float in
            let bits = v.bitPattern
            let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
            return Float(bitPattern: rounded)
        }
        return Tensor(values, shape: t.shape)
    }

    private func requireBF16Units() throws {
        try XCTSkipUnless(ComputePrecision.hasBF16Units,
                          "this CPU has no bf16 units (\(ComputePrecision.instructionSet)): the bf16 path falls back to f32, tested below")
    }

    /// The largest absolute difference, relative to the largest magnitude of `expected`.
    private func relativeError(_ a: Tensor, _ expected: Tensor) -> Float {
        let x = a.plain().scalars, y = expected.plain().scalars
        let scale = y.map(abs).max() ?? 1
        return zip(x, y).map { abs($0 - $1) }.max()! / scale
    }

    /// Forward output and input gradient of `layer(x)` under L = Σ layer(x) · g.
    private func run(_ x: Tensor, _ g: Tensor, _ layer: (Tensor) -> Tensor) -> (Tensor, Tensor) {
        let leaf = x.requiringGrad()
        let y = layer(leaf)
        (y * g).sum().backward()
        return (y.plain(), leaf.grad!.plain())
    }

    private struct ConvCase {
        let input: [Int], weight: [Int], stride: IntPair, padding: IntPair
    }

    /// ResNet-like shapes: 3×3 stride 1 (backward-data as a forward convolution), 3×3 stride 2,
    /// a 1×1 stride-2 downsample, and a 3-channel stem with a bias.
    private let convCases = [
        ConvCase(input: [2, 32, 8, 8], weight: [32, 32, 3, 3], stride: 1, padding: 1),
        ConvCase(input: [2, 16, 9, 9], weight: [32, 16, 3, 3], stride: 2, padding: 1),
        ConvCase(input: [2, 16, 8, 8], weight: [32, 16, 1, 1], stride: 2, padding: 0),
        ConvCase(input: [2, 3, 16, 16], weight: [16, 3, 7, 7], stride: 2, padding: 3),
    ]

    func testFrozenConvolutionInBF16EqualsF32OnRoundedOperands() throws {
        try requireBF16Units()
        for (i, c) in convCases.enumerated() {
            let x = randomTensor(c.input, seed: UInt64(10 + i))
            let w = randomTensor(c.weight, seed: UInt64(20 + i), low: -0.3, high: 0.3)
            let bias = c.input[1] == 3 ? randomTensor([c.weight[0]], seed: 30) : nil
            let out = Tensor.convolutionGeometry(input: c.input, weight: c.weight, bias: nil, stride: c.stride.array,
                                                 padding: c.padding.array, dilation: [1, 1], groups: 1, op: "test")
            let g = randomTensor(out.destinationShape, seed: UInt64(40 + i))
            func conv(_ x: Tensor, _ w: Tensor) -> Tensor { x.conv2d(weight: w, bias: bias, stride: c.stride, padding: c.padding) }

            let trace = KernelTrace()
            let (y, dx) = KernelTrace.record(into: trace) {
                withComputePrecision(.bfloat16) { run(x, g, { conv($0, w) }) }
            }
            XCTAssertEqual(trace.count("conv2d.forward-bf16"), 1, "case \(i): \(trace.kernels)")
            // The stem (3 channels, plain input gradient) has no optimised bf16 backward-data
            // kernel in oneDNN 2.6: it runs in f32 (a ResNet never needs it: images take no gradient).
            let bf16BackwardData = trace.kernels.contains { $0.hasPrefix("conv2d.backward-data") && $0.hasSuffix("-bf16") }
            XCTAssertTrue(bf16BackwardData || c.input[1] == 3, "case \(i): \(trace.kernels)")

            // The same products in f32 on the rounded input, weight and output gradient.
            let (yRounded, _) = run(roundedToBF16(x), g, { conv($0, roundedToBF16(w)) })
            let (_, dxRounded) = bf16BackwardData ? run(x, roundedToBF16(g), { conv($0, roundedToBF16(w)) })
                                                  : run(x, g, { conv($0, w) })
            assertClose(y, yRounded, atol: 2e-5, rtol: 1e-5, "case \(i) forward")
            assertClose(dx, dxRounded, atol: 2e-5, rtol: 1e-5, "case \(i) backward-data")

            // Within bf16's tolerance of f32, and really rounded (not the f32 path).
            let (yF32, dxF32) = run(x, g, { conv($0, w) })
            XCTAssertLessThan(relativeError(y, yF32), 1e-2, "case \(i)")
            XCTAssertLessThan(relativeError(dx, dxF32), 1e-2, "case \(i)")
            XCTAssertGreaterThan(relativeError(y, yF32), 1e-6, "case \(i): the bf16 path rounded nothing")
        }
    }

    func testFrozenLinearInBF16EqualsF32OnRoundedOperands() throws {
        try requireBF16Units()
        // 72 rows (a GEMM), and 5 rows (a short sequence); with and without a bias.
        for (i, rows) in [72, 5].enumerated() {
            let x = randomTensor([rows, 48], seed: UInt64(50 + i))
            let w = randomTensor([40, 48], seed: UInt64(60 + i), low: -0.3, high: 0.3)
            let bias: Tensor? = i == 0 ? randomTensor([40], seed: 70) : nil
            let g = randomTensor([rows, 40], seed: UInt64(80 + i))
            let trace = KernelTrace()
            let (y, dx) = KernelTrace.record(into: trace) {
                withComputePrecision(.bfloat16) { run(x, g, { Tensor.linear($0, weight: w, bias: bias) }) }
            }
            XCTAssertEqual(trace.count("matmul-weight-bf16"), 2, "forward and backward-data: \(trace.kernels)")
            let (yRounded, _) = run(roundedToBF16(x), g, { Tensor.linear($0, weight: roundedToBF16(w), bias: bias) })
            let (_, dxRounded) = run(x, roundedToBF16(g), { Tensor.linear($0, weight: roundedToBF16(w), bias: bias) })
            assertClose(y, yRounded, atol: 2e-5, rtol: 1e-5, "rows \(rows) forward")
            assertClose(dx, dxRounded, atol: 2e-5, rtol: 1e-5, "rows \(rows) backward-data")
            let (yF32, dxF32) = run(x, g, { Tensor.linear($0, weight: w, bias: bias) })
            XCTAssertLessThan(relativeError(y, yF32), 1e-2)
            XCTAssertLessThan(relativeError(dx, dxF32), 1e-2)
            XCTAssertGreaterThan(relativeError(y, yF32), 1e-6, "the bf16 path rounded nothing")
        }
    }

    /// A trainable convolution or linear weight (an adapter, full fine-tuning's master weight)
    /// stays F32 and gets an F32 gradient, computed in bf16 mode from bf16 operands: output, input
    /// gradient and weight gradient equal the f32 computation on rounded input, weight and output
    /// gradient.
    func testTrainableWeightsKeepF32ValuesAndGradients() throws {
        try requireBF16Units()
        for (i, c) in convCases.prefix(3).enumerated() {
            let x = randomTensor(c.input, seed: UInt64(90 + i)), w = randomTensor(c.weight, seed: UInt64(95 + i), low: -0.3, high: 0.3)
            let out = Tensor.convolutionGeometry(input: c.input, weight: c.weight, bias: nil, stride: c.stride.array,
                                                 padding: c.padding.array, dilation: [1, 1], groups: 1, op: "test")
            let g = randomTensor(out.destinationShape, seed: UInt64(99 + i))
            func step(_ x: Tensor, _ w: Tensor, _ g: Tensor) -> [Tensor] {
                let xl = x.requiringGrad(), wl = w.requiringGrad()
                let y = xl.conv2d(weight: wl, stride: c.stride, padding: c.padding)
                (y * g).sum().backward()
                return [y.plain(), xl.grad!.plain(), wl.grad!.plain()]
            }
            let trace = KernelTrace()
            let bf16 = KernelTrace.record(into: trace) { withComputePrecision(.bfloat16) { step(x, w, g) } }
            XCTAssertTrue(trace.kernels.contains("conv2d.backward-weights-bf16"), "case \(i): \(trace.kernels)")
            XCTAssertEqual(bf16[2].dtype, .float32)
            let (rx, rw, rg) = (roundedToBF16(x), roundedToBF16(w), roundedToBF16(g))
            assertClose(bf16[0], step(rx, rw, g)[0], atol: 2e-5, rtol: 1e-5, "case \(i) forward")
            assertClose(bf16[1], step(x, rw, rg)[1], atol: 2e-5, rtol: 1e-5, "case \(i) input gradient")
            assertClose(bf16[2], step(rx, w, rg)[2], atol: 1e-4, rtol: 1e-5, "case \(i) weight gradient")
        }
        // A trainable linear layer (full fine-tuning's f32 master weight, a LoRA A or B): forward,
        // dL/dx and dL/dW in bf16, f32 results; the packed weight follows an in-place write (the
        // optimizer's step).
        let x = randomTensor([64, 32], seed: 1), lw = randomTensor([48, 32], seed: 4, low: -0.3, high: 0.3)
        let gy = randomTensor([64, 48], seed: 7)
        func linear(_ x: Tensor, _ w: Tensor, _ g: Tensor) -> [Tensor] {
            let xl = x.requiringGrad(), wl = w.requiringGrad()
            let y = Tensor.linear(xl, weight: wl, bias: nil)
            (y * g).sum().backward()
            return [y, xl.grad!, wl.grad!]
        }
        let trace = KernelTrace()
        let bf16 = KernelTrace.record(into: trace) { withComputePrecision(.bfloat16) { linear(x, lw, gy) } }
        XCTAssertEqual(trace.count("matmul-weight-bf16"), 2, "forward and backward-data: \(trace.kernels)")
        XCTAssertEqual(trace.count("matmul-at-bf16"), 1, "backward-weights: \(trace.kernels)")
        XCTAssertEqual(bf16[2].dtype, .float32)
        let (rx, rw, rg) = (roundedToBF16(x), roundedToBF16(lw), roundedToBF16(gy))
        assertClose(bf16[0], linear(rx, rw, gy)[0], atol: 2e-5, rtol: 1e-5, "linear forward")
        assertClose(bf16[1], linear(x, rw, rg)[1], atol: 2e-5, rtol: 1e-5, "linear input gradient")
        assertClose(bf16[2], linear(rx, lw, rg)[2], atol: 1e-4, rtol: 1e-5, "linear weight gradient")
        XCTAssertNotEqual(bf16[2].scalars, linear(x, lw, gy)[2].scalars, "dL/dW ran in bf16")
        let master = lw.detached() + 0   // a weight of its own, written in place below
        _ = withComputePrecision(.bfloat16) { linear(x, master, gy) }
        master.withUnsafeMutableFloats { w in for i in w.indices { w[i] *= -1 } }
        assertClose(withComputePrecision(.bfloat16) { linear(x, master, gy) }[0], linear(rx, roundedToBF16(master), gy)[0],
                    atol: 2e-5, rtol: 1e-5, "after an in-place write, the packed copy is made again")
    }

    /// On a CPU without bf16 units (forced here on any machine), bf16 runs as f32: bit-identical
    /// results, no bf16 kernel, and a one-line notice to print.
    func testFallbackWithoutBF16UnitsIsExactlyF32() {
        let x = randomTensor([2, 16, 8, 8], seed: 5), w = randomTensor([16, 16, 3, 3], seed: 6, low: -0.3, high: 0.3)
        let lw = randomTensor([12, 16], seed: 7, low: -0.3, high: 0.3)
        let g = randomTensor([2, 16, 8, 8], seed: 8)
        func layer(_ t: Tensor) -> Tensor {
            let y = t.conv2d(weight: w, padding: 1)
            let h = Tensor.linear(y.plain().permuted([0, 2, 3, 1]).reshaped([128, 16]), weight: lw, bias: nil)
            return y + h.sum() * 0
        }
        let trace = KernelTrace()
        let (fallback, notice, effective) = KernelTrace.record(into: trace) {
            withoutBF16Units {
                withComputePrecision(.bfloat16) {
                    (run(x, g, layer), ComputePrecision.fallbackNotice(for: .bfloat16), ComputePrecision.effective)
                }
            }
        }
        XCTAssertEqual(effective, .float32)
        XCTAssertFalse(trace.kernels.contains { $0.contains("bf16") }, "\(trace.kernels)")
        let f32 = run(x, g, layer)
        assertClose(fallback.0, f32.0, atol: 0, rtol: 0)
        assertClose(fallback.1, f32.1, atol: 0, rtol: 0)
        let line = try? XCTUnwrap(notice)
        XCTAssertEqual(line?.contains("running in f32"), true)
        XCTAssertEqual(line?.contains("\n"), false, "one line")
        XCTAssertNil(ComputePrecision.fallbackNotice(for: .float32))
        XCTAssertEqual(ComputePrecision.effective, .float32, "the default is f32")
    }

    /// The bf16 copy of a frozen weight is made once and reused; writing the weight in place
    /// (merging an adapter) drops it, and the next call sees the new values.
    func testFrozenWeightCopyIsReusedAndFollowsInPlaceWrites() throws {
        try requireBF16Units()
        let x = randomTensor([64, 32], seed: 9), w = randomTensor([24, 32], seed: 10, low: -0.3, high: 0.3)
        func forward() -> (Tensor, Int) {
            let trace = KernelTrace()
            let y = KernelTrace.record(into: trace) { withComputePrecision(.bfloat16) { Tensor.linear(x, weight: w, bias: nil) } }
            return (y, trace.count("weight-to-bf16"))
        }
        let (y1, made1) = forward()
        let (y2, made2) = forward()
        XCTAssertEqual(made1, 1)
        XCTAssertEqual(made2, 0, "the copy is reused")
        assertClose(y1, y2, atol: 0, rtol: 0)
        w.withUnsafeMutableFloats { p in for i in p.indices { p[i] *= -2 } }
        let (y3, made3) = forward()
        XCTAssertEqual(made3, 1, "an in-place write drops the copy")
        assertClose(y3, y1 * -2, atol: 1e-5, rtol: 1e-5)
    }

    /// A frozen weight held in BF16 (`toBFloat16`): a linear layer reads it in place (no other
    /// copy is made) and gives what the F32 weight gives in bf16 mode; a convolution likewise. On a
    /// CPU without bf16 units it is decoded and the layer equals F32 on the rounded weight exactly.
    func testWeightsHeldInBF16() throws {
        let x = randomTensor([72, 48], seed: 11), w = randomTensor([40, 48], seed: 12, low: -0.3, high: 0.3)
        let g = randomTensor([72, 40], seed: 13)
        let held = w.toBFloat16()
        XCTAssertEqual(held.dtype, .bfloat16)
        XCTAssertEqual(held.storage.byteCount, w.count * 2, "half the memory")
        assertClose(held.toFloat32(), roundedToBF16(w), atol: 0, rtol: 0)

        let (fallbackY, fallbackDX) = withoutBF16Units { run(x, g, { Tensor.linear($0, weight: held, bias: nil) }) }
        let (roundedY, roundedDX) = run(x, g, { Tensor.linear($0, weight: roundedToBF16(w), bias: nil) })
        assertClose(fallbackY, roundedY, atol: 0, rtol: 0)
        assertClose(fallbackDX, roundedDX, atol: 0, rtol: 0)

        let cx = randomTensor([2, 16, 8, 8], seed: 14), cw = randomTensor([16, 16, 3, 3], seed: 15, low: -0.3, high: 0.3)
        let cg = randomTensor([2, 16, 8, 8], seed: 16)
        let (fallbackCY, fallbackCDX) = withoutBF16Units { run(cx, cg, { $0.conv2d(weight: cw.toBFloat16(), padding: 1) }) }
        let (roundedCY, roundedCDX) = run(cx, cg, { $0.conv2d(weight: roundedToBF16(cw), padding: 1) })
        assertClose(fallbackCY, roundedCY, atol: 0, rtol: 0)
        assertClose(fallbackCDX, roundedCDX, atol: 0, rtol: 0)

        try requireBF16Units()
        let trace = KernelTrace()
        let (y, dx) = KernelTrace.record(into: trace) { run(x, g, { Tensor.linear($0, weight: held, bias: nil) }) }
        XCTAssertEqual(trace.count("matmul-weight-bf16"), 2, "\(trace.kernels)")
        XCTAssertEqual(trace.count("weight-to-bf16"), 0, "the held weight is read in place")
        let (yF32Weight, dxF32Weight) = withComputePrecision(.bfloat16) { run(x, g, { Tensor.linear($0, weight: w, bias: nil) }) }
        assertClose(y, yF32Weight, atol: 1e-6, rtol: 1e-6)
        assertClose(dx, dxF32Weight, atol: 1e-6, rtol: 1e-6)

        let (cy, cdx) = run(cx, cg, { $0.conv2d(weight: cw.toBFloat16(), padding: 1) })
        let (cyF32Weight, cdxF32Weight) = withComputePrecision(.bfloat16) { run(cx, cg, { $0.conv2d(weight: cw, padding: 1) }) }
        assertClose(cy, cyF32Weight, atol: 1e-6, rtol: 1e-6)
        assertClose(cdx, cdxF32Weight, atol: 1e-6, rtol: 1e-6)
    }

    /// Rounding follows IEEE round-to-nearest-even, and NaN stays NaN.
    func testToBFloat16Rounding() {
        let values: [Float] = [1, 1 + 1.0 / 128, 1 + 3.0 / 512, 1 + 1.0 / 256, 1 + 3.0 / 256, .infinity, .nan, 3.4e38]
        let rounded = Tensor(values, shape: [values.count]).toBFloat16().toFloat32().scalars
        XCTAssertEqual(rounded[0], 1)
        XCTAssertEqual(rounded[1], 1 + 1.0 / 128, "exactly representable (7 mantissa bits)")
        XCTAssertEqual(rounded[2], 1 + 1.0 / 128, "above half a step: up")
        XCTAssertEqual(rounded[3], 1, "a tie rounds to the even neighbour (down here)")
        XCTAssertEqual(rounded[4], 1 + 2.0 / 128, "a tie rounds to the even neighbour (up here)")
        XCTAssertEqual(rounded[5], .infinity)
        XCTAssertTrue(rounded[6].isNaN)
        XCTAssertEqual(rounded[7], roundedToBF16(Tensor([3.4e38], shape: [1])).scalars[0])
    }

    /// Remembered conversions never stand in for changed data: y = relu(conv2(j) + x) passes the
    /// same gradient to conv2 (converted) and to x; conv3, another reader of x, adds its input
    /// gradient to it; conv1, which made x, must see that sum. The result equals a run that
    /// converts every operand afresh, bit for bit. (Every in-place accumulation also invalidates
    /// what was derived from its destination.)
    func testInPlaceAccumulationInvalidatesRememberedConversions() throws {
        try requireBF16Units()
        let i = randomTensor([2, 16, 8, 8], seed: 21), j = randomTensor([2, 16, 8, 8], seed: 25)
        let w1 = randomTensor([16, 16, 3, 3], seed: 22, low: -0.3, high: 0.3)
        let w2 = randomTensor([16, 16, 3, 3], seed: 23, low: -0.3, high: 0.3)
        let w3 = randomTensor([16, 16, 3, 3], seed: 26, low: -0.3, high: 0.3)
        let g = randomTensor([2, 16, 8, 8], seed: 24), h = randomTensor([2, 16, 8, 8], seed: 27)
        func gradient() -> Tensor {
            let li = i.requiringGrad(), lj = j.requiringGrad()
            let x = li.conv2d(weight: w1, padding: 1)
            // ReLU keeps the convolutions' channels-last layout in the gradients, as batch norm
            // does in a ResNet, so that backward-data can add in place.
            let z = x.conv2d(weight: w3, padding: 1).relu()
            let y = (lj.conv2d(weight: w2, padding: 1) + x).relu()
            ((y * g).sum() + (z * h).sum()).backward()
            return li.grad!.plain()
        }
        let remembered = withComputePrecision(.bfloat16) { gradient() }
        let fresh = DNNL.$remembersConversions.withValue(false) { withComputePrecision(.bfloat16) { gradient() } }
        assertClose(remembered, fresh, atol: 0, rtol: 0, "remembered conversions change nothing")

        // A LoRA convolution, where the remembering pays: the base and A read x, and B's and the
        // base's backward read the same output gradient.
        let wa = randomTensor([4, 16, 3, 3], seed: 28, low: -0.3, high: 0.3)
        let wb = randomTensor([16, 4, 1, 1], seed: 29, low: -0.3, high: 0.3)
        func lora() -> [Tensor] {
            let li = i.requiringGrad(), a = wa.requiringGrad(), b = wb.requiringGrad()
            let x = li.conv2d(weight: w1, padding: 1).relu()
            var y = x.conv2d(weight: w2, padding: 1)
            y.addConv2d(x.conv2d(weight: a, padding: 1), weight: b)
            (y.relu() * g).sum().backward()
            return [y.plain(), li.grad!.plain(), a.grad!.plain(), b.grad!.plain()]
        }
        let trace = KernelTrace()
        let loraRemembered = KernelTrace.record(into: trace) { withComputePrecision(.bfloat16) { lora() } }
        XCTAssertTrue(trace.kernels.contains("conv2d.forward-accumulate-bf16"), "\(trace.kernels)")
        let loraFresh = DNNL.$remembersConversions.withValue(false) { withComputePrecision(.bfloat16) { lora() } }
        for (r, f) in zip(loraRemembered, loraFresh) { assertClose(r, f, atol: 0, rtol: 0, "LoRA convolution") }
    }
}
