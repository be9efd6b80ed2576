import TestSupport
import XCTest
@testable import Tensor

/// A direct 2-D convolution, written from the definition, independent of oneDNN.
func naiveConv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                 dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let oh = (h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
    let ow = (wd + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
    let xv = x.scalars, wv = w.scalars, bv = b?.scalars
    let og = o / groups
    var y = [Float](repeating: 0, count: n * o * oh * ow)
    for ni in 0..<n { for oi in 0..<o { for i in 0..<oh { for j in 0..<ow {
        var acc = bv?[oi] ?? 0
        let group = oi / og
        for ci in 0..<cg { for p in 0..<kh { for q in 0..<kw {
            let yy = i * stride.0 - padding.0 + p * dilation.0
            let xx = j * stride.1 - padding.1 + q * dilation.1
            guard yy >= 0, yy < h, xx >= 0, xx < wd else { continue }
            let cin = group * cg + ci
            acc += wv[((oi * cg + ci) * kh + p) * kw + q] * xv[((ni * c + cin) * h + yy) * wd + xx]
        } } }
        y[((ni * o + oi) * oh + i) * ow + j] = acc
    } } } }
    _ = c
    return Tensor(y, shape: [n, o, oh, ow])
}

final class ConvolutionTests: XCTestCase {
    struct Case {
        var input: [Int]; var out: Int; var kernel: (Int, Int)
        var stride = (1, 1); var padding = (0, 0); var dilation = (1, 1); var groups = 1; var bias = true
    }

    let cases: [Case] = [
        Case(input: [2, 3, 5, 6], out: 4, kernel: (3, 3)),
        Case(input: [2, 4, 6, 5], out: 6, kernel: (3, 2), stride: (2, 1), padding: (1, 0), bias: false),
        Case(input: [1, 2, 7, 7], out: 3, kernel: (3, 3), padding: (2, 2), dilation: (2, 3)),
        Case(input: [2, 4, 5, 5], out: 6, kernel: (3, 3), padding: (1, 1), groups: 2),
        Case(input: [1, 4, 6, 6], out: 4, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 4, bias: false),
        Case(input: [1, 3, 9, 9], out: 8, kernel: (5, 5), stride: (2, 2), padding: (2, 2)),
    ]

    func parts(_ k: Case, seed: UInt64) -> (Tensor, Tensor, Tensor?) {
        let x = randomTensor(k.input, seed: seed)
        let w = randomTensor([k.out, k.input[1] / k.groups, k.kernel.0, k.kernel.1], seed: seed + 1)
        let b = k.bias ? randomTensor([k.out], seed: seed + 2) : nil
        return (x, w, b)
    }

    func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ k: Case) -> Tensor {
        x.conv2d(weight: w, bias: b, stride: IntPair(k.stride.0, k.stride.1),
                 padding: IntPair(k.padding.0, k.padding.1), dilation: IntPair(k.dilation.0, k.dilation.1),
                 groups: k.groups)
    }

    func testForwardMatchesDirectLoop() {
        for (i, k) in cases.enumerated() {
            let (x, w, b) = parts(k, seed: UInt64(10 * i))
            let expected = naiveConv2d(x, w, b, stride: k.stride, padding: k.padding, dilation: k.dilation,
                                       groups: k.groups)
            assertClose(conv(x, w, b, k), expected, atol: 1e-4, "case \(i)")
        }
    }

    func testHandWorkedConvolution() {
        // x = 1…9 in a 3×3 grid, W = [[1, 0], [0, -1]], b = 0.5: y[i,j] = x[i,j] − x[i+1,j+1] + 0.5 = −3.5.
        let x = Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3])
        let w = Tensor([1, 0, 0, -1], shape: [1, 1, 2, 2])
        let y = x.conv2d(weight: w, bias: Tensor([0.5]))
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.scalars, [-3.5, -3.5, -3.5, -3.5])
    }

    func testGradientsForEveryOption() {
        for (i, k) in cases.enumerated() {
            let (x, w, b) = parts(k, seed: UInt64(10 * i + 100))
            let inputs = b.map { [x, w, $0] } ?? [x, w]
            checkGradients(inputs) { t in
                self.conv(t[0], t[1], t.count > 2 ? t[2] : nil, k)
            }
        }
    }

    func testGradientsWithFrozenPieces() {
        let k = cases[3]
        let (x, w, b) = parts(k, seed: 300)
        // Frozen weight and bias: only dL/dx.
        checkGradients([x, w, b!], wrt: [0]) { t in self.conv(t[0], t[1], t[2], k) }
        // Frozen input: dL/dW and dL/db only.
        checkGradients([x, w, b!], wrt: [1, 2]) { t in self.conv(t[0], t[1], t[2], k) }
        // Frozen weight, trainable bias (the bias gradient then comes from a reduction).
        checkGradients([x, w, b!], wrt: [0, 2]) { t in self.conv(t[0], t[1], t[2], k) }
        checkGradients([x, w, b!], wrt: [2]) { t in self.conv(t[0], t[1], t[2], k) }
    }

    func testOutputStaysBlockedAndChainsWithoutReorder() {
        let x = randomTensor([2, 16, 6, 6], seed: 400)
        let w1 = randomTensor([16, 16, 3, 3], seed: 401), w2 = randomTensor([16, 16, 3, 3], seed: 402)
        let trace = KernelTrace()
        let y = KernelTrace.record(into: trace) {
            x.conv2d(weight: w1, padding: 1).conv2d(weight: w2, stride: 2, padding: 1)
        }
        XCTAssertTrue(y.isBlocked, "a conv output on AVX2 is expected in oneDNN's blocked layout")
        // One reorder brings the plain image in; the first conv's output feeds the second as is.
        XCTAssertEqual(trace.count("reorder") - 2, 1, "reorders: \(trace.kernels)")  // 2 = weights
        let expected = naiveConv2d(naiveConv2d(x, w1, nil, padding: (1, 1)), w2, nil, stride: (2, 2),
                                   padding: (1, 1))
        assertClose(y, expected, atol: 1e-3)
    }

    func testBlockedGradientsFlowThroughAChain() {
        let x = randomTensor([1, 16, 3, 3], seed: 410)
        let w1 = randomTensor([16, 16, 3, 3], seed: 411, low: -0.3, high: 0.3)
        let w2 = randomTensor([4, 16, 1, 1], seed: 412)
        // x's gradient crosses both convs blocked; w2's reads the blocked h·h (w1's is like any other).
        checkGradients([x, w1, w2], wrt: [0, 2]) { t in
            let h = t[0].conv2d(weight: t[1], padding: 1)
            return (h * h).conv2d(weight: t[2])
        }
    }

    func testFrozenWeightRunsNoWeightGradientAndDropsTheInput() {
        // 16 channels: blocked (nChw8c on AVX2, nChw16c on AVX-512) both as output and as input.
        let p = randomTensor([2, 16, 5, 5], seed: 500).requiringGrad()
        let w1 = randomTensor([16, 16, 3, 3], seed: 501).requiringGrad()
        let frozen = randomTensor([16, 16, 3, 3], seed: 502)
        let trainable = frozen.requiringGrad()

        func run(_ w2: Tensor) -> (retained: Bool, trace: KernelTrace) {
            weak var activation: TensorStorage?
            var loss: Tensor
            do {
                let x = p.conv2d(weight: w1, padding: 1)      // blocked: the next conv reads it as is
                XCTAssertTrue(x.isBlocked)
                activation = x.storage
                loss = x.conv2d(weight: w2, padding: 1).sum()
            }
            let retained = activation != nil
            let trace = KernelTrace()
            KernelTrace.record(into: trace) { loss.backward() }
            return (retained, trace)
        }

        let withTrainable = run(trainable)
        XCTAssertTrue(withTrainable.retained, "control: a trainable weight's gradient needs the conv input")
        XCTAssertEqual(withTrainable.trace.count("conv2d.backward-weights"), 2)
        XCTAssertNotNil(trainable.grad)

        let withFrozen = run(frozen)
        XCTAssertFalse(withFrozen.retained, "the conv input was retained although only dL/dW needs it")
        XCTAssertEqual(withFrozen.trace.count("conv2d.backward-weights"), 1, "\(withFrozen.trace.kernels)")
        XCTAssertEqual(withFrozen.trace.count("conv2d.backward-data"), 2)
        XCTAssertNil(frozen.grad)
        XCTAssertEqual(p.grad?.shape, [2, 16, 5, 5])
        XCTAssertFalse(p.grad?.isBlocked ?? true, "a leaf's gradient is plain")
    }

    func testInputWithoutGradientRunsNoBackwardData() {
        let x = randomTensor([1, 3, 8, 8], seed: 510)                // an image: no gradient
        let w = randomTensor([8, 3, 7, 7], seed: 511).requiringGrad()
        let y = x.conv2d(weight: w, stride: 2, padding: 3)
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { y.sum().backward() }
        XCTAssertEqual(trace.count("conv2d.backward-data"), 0)
        XCTAssertEqual(trace.count("conv2d.backward-weights"), 1)
        XCTAssertEqual(w.grad?.shape, [8, 3, 7, 7])
    }

    func testNoGradForwardRecordsNothing() {
        let x = randomTensor([1, 2, 4, 4], seed: 520).requiringGrad()
        let w = randomTensor([2, 2, 3, 3], seed: 521).requiringGrad()
        XCTAssertFalse(withNoGrad { x.conv2d(weight: w) }.requiresGrad)
    }

    func testStrideOneBackwardDataAsForwardConvolution() {
        // dL/dx of a stride-1 conv equals a forward conv of dL/dy with the transposed, flipped
        // kernel; on AVX-512 that path runs. Check it against finite differences either way.
        let x = randomTensor([1, 16, 5, 6], seed: 700)
        let w = randomTensor([8, 16, 3, 2], seed: 701, low: -0.3, high: 0.3)
        let g = Tensor.convolutionGeometry(input: x.shape, weight: w.shape, bias: nil, stride: [1, 1],
                                           padding: [1, 1], dilation: [1, 2], groups: 1, op: "test")
        XCTAssertEqual(g.backwardDataAsForward?.outputSize, [5, 6])
        if ConvolutionLayout.preferred == .channelsLast { XCTAssertNotNil(DNNL.backwardDataByForward(g)) }
        checkGradients([x, w], wrt: [0]) { t in t[0].conv2d(weight: t[1], padding: 1, dilation: [1, 2]) }
        // Stride 2 has no such form.
        let strided = Tensor.convolutionGeometry(input: x.shape, weight: w.shape, bias: nil, stride: [2, 1],
                                                 padding: [1, 1], dilation: [1, 1], groups: 1, op: "test")
        XCTAssertNil(strided.backwardDataAsForward)
    }

    func testTransposedFlippedWeight() {
        let w = Tensor((0..<12).map(Float.init), shape: [2, 3, 2, 1])     // W[o, c, i, 0] = 6o + 2c + i
        let t = DNNL.transposedFlippedWeight(w)
        XCTAssertEqual(t.shape, [3, 2, 2, 1])
        var expected = [Float]()
        for c in 0..<3 { for o in 0..<2 { for i in 0..<2 { expected.append(Float(6 * o + 2 * c + (1 - i))) } } }
        XCTAssertEqual(t.scalars, expected)
    }

    // MARK: - conv1d

    func testConv1dMatchesConv2dWithUnitHeight() {
        let x = randomTensor([2, 4, 9], seed: 600)
        let w = randomTensor([6, 2, 3], seed: 601), b = randomTensor([6], seed: 602)
        let y = x.conv1d(weight: w, bias: b, stride: 2, padding: 2, dilation: 2, groups: 2)
        let expected = naiveConv2d(x.reshaped([2, 4, 1, 9]), w.reshaped([6, 2, 1, 3]), b, stride: (1, 2),
                                   padding: (0, 2), dilation: (1, 2), groups: 2)
        assertClose(y, expected.reshaped([2, 6, expected.shape[3]]), atol: 1e-4)
    }

    func testConv1dGradients() {
        let x = randomTensor([2, 4, 7], seed: 610)
        let w = randomTensor([4, 4, 3], seed: 611), b = randomTensor([4], seed: 612)
        checkGradients([x, w, b]) { t in t[0].conv1d(weight: t[1], bias: t[2], stride: 2, padding: 1) }
        checkGradients([x, randomTensor([4, 2, 3], seed: 613)]) { t in t[0].conv1d(weight: t[1], dilation: 2, groups: 2) }
    }

    func testConv1dFrozenWeightNamesItsKernels() {
        let x = randomTensor([1, 8, 10], seed: 620).requiringGrad()
        let w = randomTensor([8, 8, 3], seed: 621)
        let y = x.conv1d(weight: w, padding: 1)
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { y.sum().backward() }
        XCTAssertEqual(trace.count("conv1d.backward-data"), 1)
        XCTAssertEqual(trace.count("conv1d.backward-weights"), 0)
    }
}
