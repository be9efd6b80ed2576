@testable import Tensor
import TestSupport
import XCTest

/// ggml's block formats decoded from hand-written blocks (the values follow from the format's
/// definition, not from this code), the products of both kernels against the float product of
/// the decoded matrix, backward-data against finite differences, and errors for bad bytes.
final class QuantizedMatrixTests: XCTestCase {
    private func f16(_ x: Float) -> [UInt8] { let b = Float16(x).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)] }

    func testQ8_0Block() throws {
        let q: [Int8] = (0..<32).map { Int8(truncatingIfNeeded: $0 * 9 - 128) }
        let bytes = f16(0.5) + q.map { UInt8(bitPattern: $0) }
        let m = try bytes.withUnsafeBytes { try QuantizedMatrix(format: .q8_0, rows: 1, columns: 32, bytes: $0) }
        XCTAssertEqual(m.dequantized().scalars, q.map { Float($0) * 0.5 })
    }

    func testQ4_0Block() throws {
        // Byte j: low nibble j (weight j), high nibble 15 − j (weight j + 16); w = (n − 8)·d.
        let nibbles: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | (UInt8(15 - j) << 4) }
        let bytes: [UInt8] = f16(2) + nibbles
        let m = try bytes.withUnsafeBytes { try QuantizedMatrix(format: .q4_0, rows: 1, columns: 32, bytes: $0) }
        let low: [Float] = (0..<16).map { (j: Int) -> Float in Float(j - 8) * 2 }
        let high: [Float] = (0..<16).map { (j: Int) -> Float in Float(7 - j) * 2 }
        let expected = low + high
        XCTAssertEqual(m.dequantized().scalars, expected)
    }

    func testQ4_1BlocksInRows() throws {
        // Two rows of two blocks; w = n·d + m with each block's own d and m.
        var bytes: [UInt8] = []
        var expected: [Float] = []
        for (d, min) in [(Float(0.25), Float(-1.5)), (0.125, 3), (1, 0), (0.5, -0.75)] {
            bytes += f16(d) + f16(min) + (0..<16).map { UInt8(($0 * 7) % 16) | UInt8(($0 * 3) % 16) << 4 }
            expected += (0..<16).map { Float(($0 * 7) % 16) * d + min } + (0..<16).map { Float(($0 * 3) % 16) * d + min }
        }
        let m = try bytes.withUnsafeBytes { try QuantizedMatrix(format: .q4_1, rows: 2, columns: 64, bytes: $0) }
        XCTAssertEqual(m.dequantized().scalars, expected)
        XCTAssertEqual(try m.rows([1, 0, 1]).scalars, Array(expected[64...]) + Array(expected[..<64]) + Array(expected[64...]))
        XCTAssertEqual(try m.permutingRows([1, 0]).dequantized().scalars, Array(expected[64...]) + Array(expected[..<64]))
    }

    func testFloatFormatsRoundToTheirType() {
        let values: [Float] = [1, -2.5, 1.0 / 3, 65504, 1e-3, 3.14159274, -0, 7]
        let x = Tensor(values, shape: [2, 4])
        XCTAssertEqual(QuantizedMatrix(x, format: .float32).dequantized().scalars, values)
        XCTAssertEqual(QuantizedMatrix(x, format: .float16).dequantized().scalars, values.map { Float(Float16($0)) })
        // BF16 keeps the top 16 bits after rounding to nearest even: 1/3 = 0x3EAAAAAB → 0x3EAB.
        let bf = QuantizedMatrix(x, format: .bfloat16).dequantized().scalars
        XCTAssertEqual(bf[2], Float(bitPattern: 0x3EAB_0000))
        XCTAssertEqual(bf[0], 1)
        XCTAssertEqual(bf[1], -2.5)
    }

    /// A random matrix in `format` with sane scales: random nibbles and bytes, d and m in ±0.1.
    private func randomMatrix(_ format: QuantizedFormat, rows: Int, columns: Int, seed: UInt64) -> QuantizedMatrix {
        if !format.isBlockFormat { return QuantizedMatrix(randomTensor([rows, columns], seed: seed), format: format) }
        var rng = RandomGenerator(seed: seed)
        var bytes: [UInt8] = []
        for _ in 0..<(rows * columns / 32) {
            let scales = format == .q4_1 ? 2 : 1
            for _ in 0..<scales { bytes += f16(Float(rng.next() % 2000) / 10_000 - 0.1) }
            for _ in 0..<(format.blockBytes - 2 * scales) { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        return try! bytes.withUnsafeBytes { try QuantizedMatrix(format: format, rows: rows, columns: columns, bytes: $0) }
    }

    func testBothKernelsMatchTheFloatProductOfTheDecodedMatrix() {
        for format in QuantizedFormat.allCases {
            let columns = format.isBlockFormat ? 96 : 70          // float formats: a tail after 2 blocks
            let w = randomMatrix(format, rows: 37, columns: columns, seed: 1)
            let dense = w.dequantized()
            for m in [1, 2, 3, Tensor.fusedRowLimit, Tensor.fusedRowLimit + 1, 40] {
                let x = randomTensor([m, columns], seed: UInt64(m))
                let expected = x.matmul(dense, transposeB: true)
                assertClose(Tensor.linear(x, quantizedWeight: w), expected, atol: 1e-5, rtol: 1e-5, "\(format) m=\(m)")
                // The GEMM path in chunks of 5 rows (the last one partial).
                let chunked = Tensor(uninitialized: [m, 37])
                Tensor.quantizedProduct(x.floats, m: m, weight: w, into: chunked.storage.floats, chunk: 5)
                if m > Tensor.fusedRowLimit { assertClose(chunked, expected, atol: 1e-5, rtol: 1e-5, "\(format) chunked") }
            }
        }
    }

    func testBiasAndBatchDimensions() {
        let w = randomMatrix(.q8_0, rows: 6, columns: 64, seed: 2)
        let x = randomTensor([2, 5, 64], seed: 3), b = randomTensor([6], seed: 4)
        assertClose(Tensor.linear(x, quantizedWeight: w, bias: b),
                    x.matmul(w.dequantized(), transposeB: true) + b, atol: 1e-5, rtol: 1e-5)
    }

    func testBackwardDataMatchesFiniteDifferences() {
        let w = randomMatrix(.q4_1, rows: 5, columns: 32, seed: 5)
        let b = randomTensor([5], seed: 6)
        for m in [1, 12] {    // fused forward, then GEMM forward; backward always decodes chunks
            checkGradients([randomTensor([m, 32], seed: 7), b]) { x in Tensor.linear(x[0], quantizedWeight: w, bias: x[1]) }
        }
        // Backward in chunks of 2 rows equals g · W.
        let g = randomTensor([3, 5], seed: 8)
        let dx = Tensor(uninitialized: [3, 32])
        Tensor.quantizedProductTransposed(g.floats, m: 3, weight: w, into: dx.storage.floats, chunk: 2)
        assertClose(dx, g.matmul(w.dequantized()), atol: 1e-5, rtol: 1e-5)
    }

    func testGroupedProductsEqualSeparateOnes() {
        let weights = [randomMatrix(.q4_1, rows: 7, columns: 64, seed: 20), randomMatrix(.q8_0, rows: 3, columns: 64, seed: 21),
                       randomMatrix(.float16, rows: 5, columns: 64, seed: 22)]
        for m in [1, 3, Tensor.fusedRowLimit + 4] {
            let x = randomTensor([m, 64], seed: UInt64(30 + m))
            let grouped = Tensor.linear(x, quantizedWeights: weights)
            let separate = Tensor.concat(weights.map { Tensor.linear(x, quantizedWeight: $0) }, axis: 1)
            assertClose(grouped, separate, atol: 1e-5, rtol: 1e-5, "m=\(m)")
        }
        checkGradients([randomTensor([2, 64], seed: 40)]) { x in Tensor.linear(x[0], quantizedWeights: weights) }
    }

    func testBFloat16PrecisionRunsOnBF16UnitsOrFallsBack() {
        let w = randomMatrix(.q4_1, rows: 48, columns: 96, seed: 50)
        let x = randomTensor([Tensor.fusedRowLimit + 8, 96], seed: 51), g = randomTensor([Tensor.fusedRowLimit + 8, 48], seed: 52)
        func run() -> (Tensor, Tensor, KernelTrace) {
            let trace = KernelTrace()
            let leaf = x.requiringGrad()
            let y = KernelTrace.record(into: trace) { Tensor.linear(leaf, quantizedWeight: w) }
            KernelTrace.record(into: trace) { (y * g).sum().backward() }
            return (y.detached(), leaf.grad!, trace)
        }
        let (y32, dx32, trace32) = run()
        let (y16, dx16, trace16) = withQuantizedMatmulPrecision(.bfloat16) { run() }
        XCTAssertEqual(trace32.count("matmul-bf16"), 0)
        if QuantizedMatmulPrecision.isAvailable(.bfloat16) {
            // Forward and backward-data ran in bf16: within bf16's rounding (8-bit mantissa in both
            // operands, sums of 96 or 48 terms), but not equal to f32.
            XCTAssertEqual(trace16.count("matmul-bf16"), 2)
            for (a, b) in [(y16, y32), (dx16, dx32)] {
                let scale = b.abs().max().item
                XCTAssertLessThan((a - b).abs().max().item, 2e-2 * scale)
                XCTAssertGreaterThan((a - b).abs().max().item, 0)
            }
        } else {
            XCTAssertEqual(trace16.count("matmul-bf16"), 0)
            XCTAssertEqual(y16.scalars, y32.scalars)
            XCTAssertEqual(dx16.scalars, dx32.scalars)
        }
    }

    func testBadBytesAreTypedErrors() {
        let bytes = [UInt8](repeating: 0, count: 40)
        try? bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Void in
            XCTAssertThrowsError(try QuantizedMatrix(format: .q4_1, rows: 1, columns: 48, bytes: raw)) {
                XCTAssertEqual($0 as? QuantizedMatrixError, .partialBlock(format: .q4_1, columns: 48))
            }
            XCTAssertThrowsError(try QuantizedMatrix(format: .q4_1, rows: 3, columns: 32, bytes: raw)) {
                XCTAssertEqual($0 as? QuantizedMatrixError,
                               .byteCountMismatch(format: .q4_1, rows: 3, columns: 32, expected: 60, got: 40))
            }
            XCTAssertThrowsError(try QuantizedMatrix(format: .q8_0, rows: -1, columns: 32, bytes: raw))
        }
        let m = randomMatrix(.q8_0, rows: 3, columns: 32, seed: 9)
        XCTAssertThrowsError(try m.rows([0, 3]))
        XCTAssertThrowsError(try m.permutingRows([0, 0, 1]))
        XCTAssertThrowsError(try m.permutingRows([0, 1]))
    }
}
