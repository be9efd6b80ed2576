import CDNNL
import Foundation
@testable import Tensor
import TestSupport
import XCTest

/// Inputs a user can reach that must stop the program (not read out of bounds), with a message
/// naming the operation and both shapes (or the index and its range, or the byte count, or the
/// oneDNN call, primitive and status). Each case runs in a child process
/// (`ChildProcessTrap`); this file's `testChildProcessCase` is what the child runs.
final class TrapTests: XCTestCase {
    /// A U8 tensor of ones (image bytes as a decoder gives them).
    static func bytes(_ shape: [Int]) throws -> Tensor {
        try [UInt8](repeating: 1, count: shape.reduce(1, *)).withUnsafeBytes { try Tensor(shape: shape, dtype: .uint8, bytes: $0) }
    }

    /// The cases, by name: each must stop the program.
    static let cases: [String: () throws -> Void] = [
        "conv2d channels": {
            _ = randomTensor([1, 1, 8, 8], seed: 1).conv2d(weight: randomTensor([4, 3, 3, 3], seed: 2))
        },
        "conv2d input smaller than the kernel": {
            _ = randomTensor([1, 3, 2, 2], seed: 1).conv2d(weight: randomTensor([4, 3, 3, 3], seed: 2))
        },
        "conv2d on U8 data": {
            _ = try bytes([1, 3, 4, 4]).conv2d(weight: randomTensor([4, 3, 3, 3], seed: 2))
        },
        "matmul inner dimensions": { _ = randomTensor([2, 3], seed: 1).matmul(randomTensor([4, 5], seed: 2)) },
        "batched matmul inner dimensions": { _ = randomTensor([2, 5, 3], seed: 1).matmul(randomTensor([4, 5], seed: 2)) },
        "linear": { _ = Tensor.linear(randomTensor([2, 3], seed: 1), weight: randomTensor([4, 5], seed: 2), bias: nil) },
        "broadcast": { _ = randomTensor([2, 3], seed: 1) + randomTensor([4], seed: 2) },
        "reshape": { _ = randomTensor([2, 3], seed: 1).reshaped([4]) },
        "concat": { _ = Tensor.concat([randomTensor([2, 3], seed: 1), randomTensor([3, 4], seed: 2)], axis: 0) },
        "slice range": { _ = randomTensor([3], seed: 1).slice(axis: 0, 0..<5) },
        "layer norm": { _ = randomTensor([2, 3], seed: 1).layerNorm(normalizedShape: [4]) },
        "batch norm channels": {
            _ = Tensor.batchNorm(randomTensor([2, 3, 4, 4], seed: 1), weight: Tensor.ones([4]), training: true)
        },
        "cross-entropy target": {
            _ = crossEntropy(logits: randomTensor([2, 5], seed: 1), targets: Tensor(indices: [1, 7], shape: [2]))
        },
        "exp of U8": { _ = try bytes([4]).exp() },
        "relu of U8": { _ = try bytes([4]).relu() },
        "negative dimension": { _ = Tensor.zeros([-1, 2]) },
        "allocation the system refuses": { _ = Tensor.zeros([1 << 40, 1 << 20]) },
        "oneDNN sgemm failure": {
            let a = Tensor.ones([2, 3]), b = Tensor.ones([3, 2]), c = Tensor.zeros([2, 2])
            DNNL.sgemm(transA: false, transB: false, m: 2, n: 2, k: 3, a: a.floats, lda: 1, b: b.floats, ldb: 2,
                       c: c.storage.floats, ldc: 2)
        },
        "oneDNN primitive failure": {
            // A pooling geometry of 3 channels over a 4-channel source descriptor.
            let g = PoolingGeometry(algorithm: .max, batch: 1, channels: 3, inputSize: [8, 8], kernelSize: [2, 2],
                                    stride: [2, 2], padding: [0, 0], dilation: [1, 1])
            _ = DNNL.poolingForward(g, source: DNNL.plainDesc([1, 4, 8, 8]), training: false)
        },
    ]

    /// What the child runs: the case named by `ChildProcessTrap.caseVariable`.
    func testChildProcessCase() throws {
        guard let name = ProcessInfo.processInfo.environment[ChildProcessTrap.caseVariable] else {
            throw XCTSkip("runs only in the child processes of the other TrapTests")
        }
        let body = try XCTUnwrap(TrapTests.cases[name], "no trap case \(name)")
        try body()
        XCTFail("\(name) returned instead of stopping the program")
    }

    private func assertTraps(_ name: String, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertNotNil(TrapTests.cases[name], "no trap case \(name)", file: file, line: line)
        try assertTraps(name, testSpecifier: "\(String(reflecting: TrapTests.self))/testChildProcessCase",
                        messageParts: parts, file: file, line: line)
    }

    func testAChildThatDoesNotTrapIsReportedAsSuch() throws {
        // The harness itself: a case that is not a trap must not look like one.
        let outcome = try ChildProcessTrap.run(case: "no such case",
                                               testSpecifier: "\(String(reflecting: TrapTests.self))/testChildProcessCase")
        XCTAssertEqual(outcome.reason, .exit, outcome.standardError)
        XCTAssertNotEqual(outcome.status, 0, "the child's failed lookup must fail its run")
    }

    func testConvolutionMismatchesNameBothShapes() throws {
        try assertTraps("conv2d channels", ["conv2d", "[1, 1, 8, 8]", "[4, 3, 3, 3]", "input channels"])
        try assertTraps("conv2d input smaller than the kernel", ["conv2d", "[1, 3, 2, 2]", "too small", "[4, 3, 3, 3]"])
        try assertTraps("conv2d on U8 data", ["conv2d", "[1, 3, 4, 4]", "U8"])
    }

    func testProductMismatchesNameBothShapes() throws {
        try assertTraps("matmul inner dimensions", ["matmul", "[2, 3]", "[4, 5]"])
        try assertTraps("batched matmul inner dimensions", ["matmul", "[2, 5, 3]", "[4, 5]"])
        try assertTraps("linear", ["linear", "[2, 3]", "[4, 5]"])
    }

    func testShapeMismatchesNameBothShapes() throws {
        try assertTraps("broadcast", ["add", "[2, 3]", "[4]"])
        try assertTraps("reshape", ["reshape", "[2, 3]", "[4]"])
        try assertTraps("concat", ["concat", "[2, 3]", "[3, 4]"])
        try assertTraps("layer norm", ["layer-norm", "[4]", "[2, 3]"])
        try assertTraps("batch norm channels", ["batchNorm", "[2, 3, 4, 4]", "[4]"])
    }

    func testIndicesOutOfRangeNameTheIndexAndTheRange() throws {
        try assertTraps("slice range", ["slice", "0..<5", "0..<3"])
        try assertTraps("cross-entropy target", ["crossEntropy", "7", "0..<5"])
    }

    func testElementTypesAndShapesAreCheckedBeforeAnyAllocationOrLoop() throws {
        try assertTraps("exp of U8", ["exp", "U8", "[4]"])
        try assertTraps("relu of U8", ["relu", "U8", "[4]"])
        try assertTraps("negative dimension", ["[-1, 2]"])
    }

    func testAnAllocationFailureNamesTheByteCount() throws {
        try assertTraps("allocation the system refuses", ["out of memory", "\(1 << 62) bytes"])
    }

    func testOneDNNFailuresNameTheCallThePrimitiveAndTheStatus() throws {
        try assertTraps("oneDNN sgemm failure", ["sgemm 2×3", "lda 1", "invalid_arguments"])
        try assertTraps("oneDNN primitive failure",
                        ["pooling forward", "[1, 3, 8, 8]", "f32[1, 4, 8, 8]", "invalid_arguments"])
    }
}
