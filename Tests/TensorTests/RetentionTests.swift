import TestSupport
import XCTest
@testable import Tensor

/// Watches one tensor's storage without keeping it alive.
private final class StorageProbe {
    weak var storage: TensorStorage?
    var isAlive: Bool { storage != nil }
}

/// Makes an intermediate with `make` inside its own scope, watches its storage, runs `build` on it
/// and leaves the scope: afterwards only the tape (through what `build` recorded) can keep that
/// storage alive. Returns `build`'s result and the probe.
private func taped(_ make: () throws -> Tensor,
                   _ build: (Tensor) throws -> Tensor) rethrows -> (Tensor, StorageProbe) {
    let probe = StorageProbe()
    let result: Tensor
    do {
        let h = try make()
        probe.storage = h.storage
        result = try build(h)
    }
    return (result, probe)
}

/// What the autograd tape retains: each op's backward closure must keep exactly what the wanted
/// gradients read (DESIGN.md, "Tensor engine"). Every test watches an intermediate that only the
/// tape could keep alive once its scope ends, and checks both directions: kept when a wanted
/// gradient reads it (so the probe can fail), freed when none does. Kept storage must be freed by
/// `backward()`, which releases the tape.
final class RetentionTests: XCTestCase {
    // MARK: - The probe itself

    func testProbeSeesWhatTheTapeKeepsAndBackwardReleasesIt() {
        let p = Tensor([1, 2, 3]).requiringGrad()
        let q = Tensor([4, 5, 6]).requiringGrad()
        let (loss, probe) = taped({ p * 2 }) { h in (h * q).sum() }     // dL/dq reads h
        XCTAssertTrue(probe.isAlive, "mul must keep h for q's gradient")
        loss.backward()
        XCTAssertFalse(probe.isAlive, "backward releases the tape")
        XCTAssertEqual(q.grad?.scalars, [2, 4, 6])
    }

    // MARK: - Elementwise arithmetic

    func testMultiplyKeepsOnlyTheOperandTheOtherGradientReads() {
        let p = Tensor([1, 2]).requiringGrad()
        // h requires a gradient, the constant c does not: dL/dh reads c, nothing reads h.
        let constant = StorageProbe()
        let (loss, probe) = taped({ p * 2 }) { h in
            let c = Tensor([3, 4])
            constant.storage = c.storage
            return (h * c).sum()
        }
        XCTAssertFalse(probe.isAlive, "only c's gradient would read h, and c needs none")
        XCTAssertTrue(constant.isAlive, "h's gradient reads c")
        loss.backward()
        XCTAssertFalse(constant.isAlive)
        XCTAssertEqual(p.grad?.scalars, [6, 8])
    }

    func testDivideKeepsTheDenominatorAndQuotientNotTheNumerator() {
        let p = Tensor([1, 2]).requiringGrad()
        let q = Tensor([2, 4]).requiringGrad()
        // d(a/b)/da = 1/b, d(a/b)/db = −(a/b)/b: the numerator itself is never read.
        let (numeratorLoss, numerator) = taped({ p * 2 }) { a in (a / (q * 1)).sum() }
        XCTAssertFalse(numerator.isAlive)
        let (denominatorLoss, denominator) = taped({ q * 1 }) { b in ((p * 2) / b).sum() }
        XCTAssertTrue(denominator.isAlive)
        numeratorLoss.backward()
        denominatorLoss.backward()
        XCTAssertFalse(denominator.isAlive)
        XCTAssertEqual(p.grad?.scalars, [2, 1])           // 2 · (1/2, 1/4), twice
        XCTAssertEqual(q.grad?.scalars, [-1, -0.5])       // −a/b² = −(2/4, 4/16), twice
    }

    func testPowerByZeroKeepsNothingOtherPowersKeepTheBase() {
        let p = Tensor([1, -2, 3]).requiringGrad()
        let (zeroLoss, zero) = taped({ p * 1 }) { h in h.pow(0).sum() }
        XCTAssertFalse(zero.isAlive, "x⁰ is constant: its gradient needs no input")
        let (squareLoss, square) = taped({ p * 1 }) { h in h.pow(2).sum() }
        XCTAssertTrue(square.isAlive, "d(x²)/dx = 2x reads x")
        zeroLoss.backward()
        XCTAssertEqual(p.grad?.scalars, [0, 0, 0])
        squareLoss.backward()
        XCTAssertFalse(square.isAlive)
        XCTAssertEqual(p.grad?.scalars, [2, -4, 6])
    }

    // MARK: - Activations

    func testReluKeepsItsOutputNotItsInput() {
        let p = randomTensor([2, 8], seed: 1).requiringGrad()
        let (inputLoss, input) = taped({ p * 1 }) { h in h.relu().sum() }
        XCTAssertFalse(input.isAlive, "relu's backward reads y > 0, not x")
        let (outputLoss, output) = taped({ (p * 1).relu() }) { y in (y * 2).sum() }
        XCTAssertTrue(output.isAlive, "relu keeps its output for its backward")
        inputLoss.backward()
        outputLoss.backward()
        XCTAssertFalse(output.isAlive)
    }

    func testGeluAndLogKeepTheirInputExpAndSigmoidTheirOutput() {
        let p = randomTensor([2, 8], seed: 2, low: 0.5, high: 2).requiringGrad()
        // gelu: y' = Φ(x) + xφ(x) reads x; its output is not kept.
        let (geluInputLoss, geluInput) = taped({ p * 1 }) { h in h.gelu().sum() }
        let (geluOutputLoss, geluOutput) = taped({ (p * 1).gelu() }) { y in (y * 2).sum() }
        XCTAssertTrue(geluInput.isAlive)
        XCTAssertFalse(geluOutput.isAlive)
        let (logLoss, logInput) = taped({ p * 1 }) { h in h.log().sum() }
        XCTAssertTrue(logInput.isAlive, "log' = 1/x reads x")
        // exp' = y and σ' = y(1 − y) read the output only.
        let (expLoss, expInput) = taped({ p * 1 }) { h in h.exp().sum() }
        let (sigmoidLoss, sigmoidInput) = taped({ p * 1 }) { h in h.sigmoid().sum() }
        XCTAssertFalse(expInput.isAlive)
        XCTAssertFalse(sigmoidInput.isAlive)
        for loss in [geluInputLoss, geluOutputLoss, logLoss, expLoss, sigmoidLoss] { loss.backward() }
        XCTAssertFalse(geluInput.isAlive)
        XCTAssertFalse(logInput.isAlive)
    }

    func testSoftmaxKeepsItsOutputNotItsInput() {
        let p = randomTensor([3, 5], seed: 3).requiringGrad()
        let c = randomTensor([3, 5], seed: 4)
        for logarithm in [false, true] {
            func op(_ t: Tensor) -> Tensor { logarithm ? t.logSoftmax(axis: -1) : t.softmax(axis: -1) }
            let (inputLoss, input) = taped({ p * 1 }) { h in (op(h) * c).sum() }
            XCTAssertFalse(input.isAlive, "softmax's backward reads y only (log: \(logarithm))")
            let (outputLoss, output) = taped({ op(p * 1) }) { y in (y * c).sum() }
            XCTAssertTrue(output.isAlive, "softmax keeps its output (log: \(logarithm))")
            inputLoss.backward()
            outputLoss.backward()
            XCTAssertFalse(output.isAlive)
        }
    }

    // MARK: - Matmul and convolution

    func testMatmulKeepsEachOperandOnlyForTheOthersGradient() {
        let p = randomTensor([2, 4], seed: 5).requiringGrad()
        let trainable = randomTensor([3, 4], seed: 6).requiringGrad()
        let frozen = randomTensor([3, 4], seed: 6)
        // x · Wᵀ: dL/dW = gᵀx reads x, dL/dx = gW does not.
        let (keptLoss, kept) = taped({ p * 1 }) { x in x.matmul(trainable, transposeB: true).sum() }
        XCTAssertTrue(kept.isAlive, "a trainable W's gradient reads x")
        let (freedLoss, freed) = taped({ p * 1 }) { x in x.matmul(frozen, transposeB: true).sum() }
        XCTAssertFalse(freed.isAlive, "with W frozen nothing reads x")
        // A constant input and a weight that requires a gradient: x is kept, W is not.
        let input = StorageProbe()
        let (weightLoss, weight) = taped({ trainable * 1 }) { w in
            let x = randomTensor([2, 4], seed: 7)
            input.storage = x.storage
            return x.matmul(w, transposeB: true).sum()
        }
        XCTAssertTrue(input.isAlive)
        XCTAssertFalse(weight.isAlive, "dL/dx is not wanted, so nothing reads W")
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { freedLoss.backward() }
        XCTAssertEqual(trace.count("sgemm"), 1, "only dL/dx runs a GEMM: \(trace.kernels)")
        keptLoss.backward()
        weightLoss.backward()
        XCTAssertFalse(kept.isAlive)
        XCTAssertFalse(input.isAlive)
    }

    func testConvolutionKeepsItsInputOnlyForATrainableWeight() {
        // A blocked activation (the output of a conv), so the next conv reads it without a reorder
        // and would keep this very storage for dL/dW. (With 8 channels oneDNN picks different
        // layouts for the two convs here; the tape would then keep the reordered copy.)
        let p = randomTensor([1, 16, 5, 5], seed: 8).requiringGrad()
        let w0 = randomTensor([16, 16, 1, 1], seed: 9)
        let trainable = randomTensor([16, 16, 3, 3], seed: 10).requiringGrad()
        let frozen = randomTensor([16, 16, 3, 3], seed: 10)
        let bias = Tensor.zeros([16]).requiringGrad()
        func activation() -> Tensor {
            let h = p.conv2d(weight: w0)
            XCTAssertTrue(h.isBlocked, "the probe needs a blocked activation")
            return h
        }
        let (keptLoss, kept) = taped(activation) { h in h.conv2d(weight: trainable, padding: 1).sum() }
        XCTAssertTrue(kept.isAlive, "backward-weights reads x")
        let (freedLoss, freed) = taped(activation) { h in h.conv2d(weight: frozen, padding: 1).sum() }
        XCTAssertFalse(freed.isAlive, "with W frozen only backward-data runs, which does not read x")
        let (biasLoss, biasInput) = taped(activation) { h in
            h.conv2d(weight: frozen, bias: bias, padding: 1).sum()
        }
        XCTAssertFalse(biasInput.isAlive, "dL/db = Σ dL/dy does not read x")
        let trace = KernelTrace()
        KernelTrace.record(into: trace) {
            freedLoss.backward()
            biasLoss.backward()
        }
        XCTAssertEqual(trace.count("conv2d.backward-weights"), 0, "\(trace.kernels)")
        XCTAssertEqual(bias.grad?.scalars, [Float](repeating: 25, count: 16), "Σ over 1×5×5 ones")
        keptLoss.backward()
        XCTAssertFalse(kept.isAlive)
    }

    func testPoolingKeepsNoInput() {
        let p = randomTensor([1, 8, 4, 4], seed: 11).requiringGrad()
        let (maxLoss, maxInput) = taped({ p * 1 }) { h in h.maxPool2d(kernelSize: 2).sum() }
        let (avgLoss, avgInput) = taped({ p * 1 }) { h in h.avgPool2d(kernelSize: 2).sum() }
        let (adaptiveLoss, adaptiveInput) = taped({ p * 1 }) { h in h.adaptiveAvgPool2d(outputSize: [3, 3]).sum() }
        XCTAssertFalse(maxInput.isAlive, "max pooling keeps oneDNN's workspace, not x")
        XCTAssertFalse(avgInput.isAlive)
        XCTAssertFalse(adaptiveInput.isAlive)
        for loss in [maxLoss, avgLoss, adaptiveLoss] { loss.backward() }
        XCTAssertEqual(p.grad?.shape, [1, 8, 4, 4])
    }

    // MARK: - Normalisation

    func testBatchNormKeepsTheInputOnlyWhereAGradientReadsIt() {
        let shape = [2, 3, 2, 2]
        let gamma = randomTensor([3], seed: 12, low: 0.5, high: 1.5), beta = randomTensor([3], seed: 13)
        let trainableGamma = gamma.requiringGrad()
        let rm = Tensor([0, 0.1, -0.1]), rv = Tensor([1, 2, 0.5])
        let p = randomTensor(shape, seed: 14).requiringGrad()
        let c = randomTensor(shape, seed: 15)

        // Training: dL/dx reads x through the batch statistics.
        let (trainLoss, trainInput) = taped({ p * 1 }) { x in
            (Tensor.batchNorm(x, weight: gamma, bias: beta, training: true).output * c).sum()
        }
        XCTAssertTrue(trainInput.isAlive)
        // Evaluation with frozen γ: dL/dx = g·γ/√(σ² + ε) does not read x.
        let (evalLoss, evalInput) = taped({ p * 1 }) { x in
            (Tensor.batchNorm(x, weight: gamma, bias: beta, runningMean: rm, runningVar: rv,
                              training: false).output * c).sum()
        }
        XCTAssertFalse(evalInput.isAlive)
        // A trainable γ reads x.
        let (gammaLoss, gammaInput) = taped({ randomTensor(shape, seed: 16) }) { x in
            (Tensor.batchNorm(x, weight: trainableGamma, bias: beta, training: true).output * c).sum()
        }
        XCTAssertTrue(gammaInput.isAlive)
        for loss in [trainLoss, evalLoss, gammaLoss] { loss.backward() }
        XCTAssertFalse(trainInput.isAlive)
        XCTAssertFalse(gammaInput.isAlive)
    }

    func testBatchNormWithOnlyTheShiftTrainableKeepsNoInputAndRunsNoBackwardPrimitive() {
        // BitFit on a frozen network: x and γ frozen, β trainable. dL/dβ = Σ_{n,h,w} dL/dy.
        let shape = [2, 3, 2, 2]
        let gamma = randomTensor([3], seed: 17, low: 0.5, high: 1.5)
        let c = randomTensor(shape, seed: 18)
        let cv = c.scalars
        var expected = [Float](repeating: 0, count: 3)
        for n in 0..<2 { for ch in 0..<3 { for i in 0..<4 { expected[ch] += cv[(n * 3 + ch) * 4 + i] } } }
        for training in [true, false] {
            for withGamma in [true, false] {
                let beta = randomTensor([3], seed: 19).requiringGrad()
                let (loss, input) = taped({ randomTensor(shape, seed: 20) }) { x in
                    (Tensor.batchNorm(x, weight: withGamma ? gamma : nil, bias: beta, runningMean: Tensor([0, 0, 0]),
                                      runningVar: Tensor([1, 1, 1]), training: training).output * c).sum()
                }
                XCTAssertFalse(input.isAlive, "nothing reads x (training \(training), γ \(withGamma))")
                let trace = KernelTrace()
                KernelTrace.record(into: trace) { loss.backward() }
                XCTAssertEqual(trace.count("batchnorm.backward"), 0, "dL/dx and dL/dγ are not wanted")
                assertClose(beta.grad!, Tensor(expected), atol: 1e-5, "training \(training), γ \(withGamma)")
            }
        }
    }

    func testLayerNormKeepsTheInputForTheInputOrWeightGradientOnly() {
        let p = randomTensor([3, 4], seed: 21).requiringGrad()
        let frozenWeight = randomTensor([4], seed: 22), weight = frozenWeight.requiringGrad()
        let bias = Tensor.zeros([4]).requiringGrad()
        let c = randomTensor([3, 4], seed: 23)
        let (inputLoss, input) = taped({ p * 1 }) { x in (x.layerNorm(normalizedShape: [4]) * c).sum() }
        XCTAssertTrue(input.isAlive, "dL/dx reads x")
        let (weightLoss, weightInput) = taped({ randomTensor([3, 4], seed: 24) }) { x in
            (x.layerNorm(normalizedShape: [4], weight: weight) * c).sum()
        }
        XCTAssertTrue(weightInput.isAlive, "dL/dγ reads x̂")
        let (biasLoss, biasInput) = taped({ randomTensor([3, 4], seed: 24) }) { x in
            (x.layerNorm(normalizedShape: [4], weight: frozenWeight, bias: bias) * c).sum()
        }
        XCTAssertFalse(biasInput.isAlive, "dL/dβ = Σ dL/dy reads no x")
        let trace = KernelTrace()
        KernelTrace.record(into: trace) { biasLoss.backward() }
        XCTAssertEqual(trace.count("layer-norm.backward"), 0, "\(trace.kernels)")
        inputLoss.backward()
        weightLoss.backward()
        XCTAssertFalse(input.isAlive)
        XCTAssertFalse(weightInput.isAlive)
    }

    // MARK: - Losses

    func testCrossEntropyKeepsTheLogitsNotTheTargets() {
        let p = randomTensor([4, 5], seed: 25).requiringGrad()
        let targets = StorageProbe()
        let (loss, logits) = taped({ p * 1 }) { x in
            let t = Tensor(indices: [0, 4, 2, 1], shape: [4])
            targets.storage = t.storage
            return crossEntropy(logits: x, targets: t)
        }
        XCTAssertTrue(logits.isAlive, "dx = softmax(x) − onehot reads x")
        XCTAssertFalse(targets.isAlive, "the labels are copied, the tensor is not kept")
        loss.backward()
        XCTAssertFalse(logits.isAlive)
    }

    func testSoftCrossEntropyKeepsTheTargetsOnlyForTheLogitsGradient() {
        let p = randomTensor([3, 4], seed: 26).requiringGrad()
        let q = randomTensor([3, 4], seed: 27, low: 0, high: 1).requiringGrad()
        // dx reads t; dt = −(1 − ε)·w·log p reads x only.
        let (logitsLoss, keptTargets) = taped({ randomTensor([3, 4], seed: 27, low: 0, high: 1) }) { t in
            crossEntropy(logits: p * 1, probabilities: t)
        }
        XCTAssertTrue(keptTargets.isAlive)
        let (targetsLoss, freedTargets) = taped({ q * 1 }) { t in
            crossEntropy(logits: randomTensor([3, 4], seed: 28), probabilities: t)
        }
        XCTAssertFalse(freedTargets.isAlive)
        logitsLoss.backward()
        targetsLoss.backward()
        XCTAssertFalse(keptTargets.isAlive)
    }

    func testBinaryCrossEntropyKeepsOnlyWhatTheWantedGradientsRead() {
        let p = randomTensor([4, 3], seed: 29).requiringGrad()
        let y = randomTensor([4, 3], seed: 30, low: 0, high: 1)
        // dx reads y; dy reads x, w and pw but not y.
        let (logitsLoss, keptTargets) = taped({ y * 1 }) { t in
            binaryCrossEntropyWithLogits(logits: p * 1, targets: t)
        }
        XCTAssertTrue(keptTargets.isAlive)
        let q = y.requiringGrad()
        let (targetsLoss, freedTargets) = taped({ q * 1 }) { t in
            binaryCrossEntropyWithLogits(logits: randomTensor([4, 3], seed: 31), targets: t)
        }
        XCTAssertFalse(freedTargets.isAlive, "dL/dy does not read y")
        // dpw reads x, y and w but not pw; dx reads pw.
        let pw = randomTensor([3], seed: 32, low: 0.5, high: 2).requiringGrad()
        let (posWeightLoss, freedPosWeight) = taped({ pw * 1 }) { w in
            binaryCrossEntropyWithLogits(logits: randomTensor([4, 3], seed: 33), targets: y, posWeight: w)
        }
        XCTAssertFalse(freedPosWeight.isAlive, "dL/dpw does not read pw")
        let (keptPosWeightLoss, keptPosWeight) = taped({ randomTensor([3], seed: 32, low: 0.5, high: 2) }) { w in
            binaryCrossEntropyWithLogits(logits: p * 1, targets: y, posWeight: w)
        }
        XCTAssertTrue(keptPosWeight.isAlive, "dL/dx reads pw (as given, not a broadcast copy)")
        for loss in [logitsLoss, targetsLoss, posWeightLoss, keptPosWeightLoss] { loss.backward() }
        XCTAssertFalse(keptTargets.isAlive)
        XCTAssertFalse(keptPosWeight.isAlive)
    }

    func testBinaryCrossEntropyKeepsNoLogitsSizedCopyOfBroadcastWeights() {
        // Weights [N, 1] and posWeight [C] broadcast to the logits' [N, C] in the kernel; the tape
        // must keep them as given, not their broadcast copies.
        let (n, c) = (64, 16)
        let matrixBytes = n * c * 4
        let p = randomTensor([n, c], seed: 34).requiringGrad()
        let before = MemoryPool.liveBytes
        var loss: Tensor
        do {
            let x = p * 1                                              // kept: dx reads x
            let y = randomTensor([n, c], seed: 35, low: 0, high: 1)    // kept: dx reads y
            let w = randomTensor([n, 1], seed: 36, low: 0.5, high: 2)
            let pw = randomTensor([c], seed: 37, low: 0.5, high: 2)
            loss = binaryCrossEntropyWithLogits(logits: x, targets: y, weights: w, posWeight: pw)
        }
        let retained = MemoryPool.liveBytes - before
        XCTAssertGreaterThanOrEqual(retained, 2 * matrixBytes, "x and y are needed")
        XCTAssertLessThan(retained, 2 * matrixBytes + 1024, "a logits-sized copy is on the tape")
        loss.backward()
        XCTAssertEqual(p.grad?.shape, [n, c])
    }

    // MARK: - Shape, indexing and joining

    func testShapeOpsSlicesAndConcatKeepNoInput() {
        let p = randomTensor([2, 3, 4], seed: 38).requiringGrad()
        let q = randomTensor([6, 4], seed: 39).requiringGrad()
        let builds: [(String, (Tensor) -> Tensor)] = [
            ("reshape", { $0.reshaped([6, 4]).sum() }),
            ("permute", { $0.permuted([2, 0, 1]).sum() }),
            ("transpose", { $0.transposed().sum() }),
            ("slice", { $0.slice(axis: 1, start: 1, end: 3).sum() }),
            ("strided slice", { $0.slice(axis: 2, start: 0, end: 4, step: 2).sum() }),
            ("concat", { Tensor.concat([$0, p * 1], axis: 0).sum() }),
            ("stack", { Tensor.stack([$0, p * 1], axis: 1).sum() }),
            ("split", { $0.split(sizes: [1, 2], axis: 1)[1].sum() }),
            ("sum over axes", { $0.sum(axes: [0, 2]).sum() }),
            ("mean", { $0.mean(axis: 1).sum() }),
            ("broadcast", { $0.reshaped([2, 1, 3, 4]).broadcast(to: [2, 5, 3, 4]).sum() }),
        ]
        for (name, build) in builds {
            let (loss, input) = taped({ p * 1 }, build)
            XCTAssertFalse(input.isAlive, "\(name) keeps its input")
            loss.backward()
        }
        // A reshape is a view: when a later op keeps it, the input's storage stays (so the probe
        // above could have failed).
        let (viewLoss, viewed) = taped({ p * 1 }) { h in (h.reshaped([6, 4]) * q).sum() }
        XCTAssertTrue(viewed.isAlive)
        viewLoss.backward()
        XCTAssertFalse(viewed.isAlive)
    }

    func testIndexingAndSelectionKeepNoInput() throws {
        let p = randomTensor([3, 4], seed: 40).requiringGrad()
        let index = Tensor(indices: [0, 3, 3, 1, 2, 0], shape: [3, 2])
        let mask = Tensor([1, 0, 0, 1], shape: [1, 4])
        let builds: [(String, (Tensor) throws -> Tensor)] = [
            ("gather", { try $0.gather(axis: 1, indices: index).sum() }),
            ("index-select", { try $0.indexSelect(axis: 1, indices: [3, 0, 0]).sum() }),
            ("masked-fill", { $0.maskedFill(mask, with: -1).sum() }),
            ("where", { Tensor.where(mask, $0, p * 2).sum() }),
            ("max", { $0.max(axis: 1).sum() }),
        ]
        for (name, build) in builds {
            let (loss, input) = try taped({ p * 1 }, build)
            // max's gradient goes to the positions of the maximum: it must read x.
            XCTAssertEqual(input.isAlive, name == "max", "\(name)")
            loss.backward()
            XCTAssertFalse(input.isAlive, "\(name) after backward")
        }
    }

    func testEmbeddingKeepsNeitherTheTableNorTheIndexTensor() throws {
        let p = randomTensor([5, 3], seed: 41).requiringGrad()
        let ids = StorageProbe()
        let (loss, table) = try taped({ p * 1 }) { w in
            let i = Tensor(indices: [4, 0, 4], shape: [3])
            ids.storage = i.storage
            return try Tensor.embedding(w, indices: i, paddingIndex: 0).sum()
        }
        XCTAssertFalse(table.isAlive, "dL/dW scatters g by id; it reads no W")
        XCTAssertFalse(ids.isAlive, "the ids are copied")
        loss.backward()
        XCTAssertEqual(p.grad?.scalars, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2])
    }

    // MARK: - Dropout

    func testDropoutKeepsNeitherInputNorMask() {
        let p = randomTensor([4, 6], seed: 42).requiringGrad()
        var generator = RandomGenerator(seed: 43)
        let (inputLoss, input) = taped({ p * 1 }) { h in h.dropout(0.5, generator: &generator).sum() }
        XCTAssertFalse(input.isAlive, "backward regenerates the mask from its seed")
        let (outputLoss, output) = taped({ (p * 1).dropout(0.5, generator: &generator) }) { y in (y * 2).sum() }
        XCTAssertFalse(output.isAlive)
        // The dropped-out tensor is kept where a later gradient reads it (LoRA's x·Aᵀ with A trainable).
        let a = randomTensor([2, 6], seed: 44).requiringGrad()
        let (loraLoss, dropped) = taped({ (p * 1).dropout(0.5, generator: &generator) }) { y in
            y.matmul(a, transposeB: true).sum()
        }
        XCTAssertTrue(dropped.isAlive)
        for loss in [inputLoss, outputLoss, loraLoss] { loss.backward() }
        XCTAssertFalse(dropped.isAlive)
    }
}
