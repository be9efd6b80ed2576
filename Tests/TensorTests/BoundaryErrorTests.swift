import CDNNL
import Foundation
@testable import Tensor
import TestSupport
import XCTest

/// The typed errors thrown at boundaries that user data reaches first, and inputs that used to
/// reach an unchecked loop or oneDNN call and now compute the right thing.
final class BoundaryErrorTests: XCTestCase {
    // MARK: - Creation from user data

    func testNegativeDimensionsAreRefusedEvenWhenTheProductMatches() {
        // [-1, -2] has product 2: before, it passed the count check.
        XCTAssertThrowsError(try Tensor(shape: [-1, -2], indices: [1, 2])) { error in
            guard case .invalidShape("Tensor(shape:indices:)", [-1, -2], _)? = error as? TensorError else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertThrowsError(try Tensor(shape: [-2, -2], values: [1, 2, 3, 4]))
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 4).withUnsafeBytes {
            try Tensor(shape: [-2, -2], dtype: .uint8, bytes: $0)
        })
    }

    func testSharingStorageChecksTheOffsetAndTheEnd() throws {
        let base = Tensor([1, 2, 3, 4])
        let view = try Tensor(shape: [2], sharing: base.storage, offsetInElements: 2)
        XCTAssertEqual(view.scalars, [3, 4])
        XCTAssertThrowsError(try Tensor(shape: [1], sharing: base.storage, offsetInElements: -1)) { error in
            guard case .invalidShape? = error as? TensorError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Tensor(shape: [3], sharing: base.storage, offsetInElements: 2)) { error in
            XCTAssertEqual(error as? TensorError, .countMismatch(shape: [3], expected: 20, got: 16))
        }
        // A product that would overflow is refused, not wrapped around into range.
        XCTAssertThrowsError(try Tensor(shape: [Int.max / 2, 4], sharing: base.storage))
    }

    // MARK: - A model's first convolution

    func testValidateConv2dNamesTheInputAndWeightShapes() throws {
        XCTAssertNoThrow(try Tensor.validateConv2d(input: [2, 3, 7, 7], weight: [8, 3, 7, 7], stride: 2, padding: 3))
        XCTAssertThrowsError(try Tensor.validateConv2d(input: [2, 1, 32, 32], weight: [8, 3, 3, 3])) { error in
            guard case let .shapeMismatch(operation, lhs, rhs)? = error as? TensorError else { return XCTFail("\(error)") }
            XCTAssertTrue(operation.hasPrefix("conv2d"), operation)
            XCTAssertEqual(lhs, [2, 1, 32, 32])
            XCTAssertEqual(rhs, [8, 3, 3, 3])
        }
        XCTAssertThrowsError(try Tensor.validateConv2d(input: [2, 3, 2, 2], weight: [8, 3, 3, 3])) { error in
            guard case let .invalidShape("conv2d", [2, 3, 2, 2], reason)? = error as? TensorError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(reason.contains("too small") && reason.contains("[8, 3, 3, 3]"), reason)
        }
        // Padding makes the same input large enough.
        XCTAssertNoThrow(try Tensor.validateConv2d(input: [2, 3, 2, 2], weight: [8, 3, 3, 3], padding: 1))
        XCTAssertThrowsError(try Tensor.validateConv2d(input: [2, 4, 8, 8], weight: [6, 2, 3, 3], bias: [4], groups: 2)) { error in
            XCTAssertEqual((error as? TensorError).map { "\($0)" }?.contains("[4]"), true, "\(error)")
        }
        XCTAssertThrowsError(try Tensor.validateConv2d(input: [2, 4, 8, 8], weight: [6, 2, 0, 3], groups: 2))
        XCTAssertThrowsError(try Tensor.validateConv2d(input: [2, 3, 8], weight: [6, 3, 3, 3])) { error in
            XCTAssertEqual(error as? TensorError,
                           .invalidShape(operation: "conv2d", shape: [2, 3, 8], reason: "the input must be [N, C, H, W]"))
        }
    }

    // MARK: - oneDNN and LAPACK failures as errors

    func testCheckedNamesTheCallAndTheStatusOfARealFailure() throws {
        var md = dnnl_memory_desc_t()
        let status = dnnl_memory_desc_init_by_tag(&md, 2, [Int64(-1), 3], dnnl_f32, dnnl_nc)
        XCTAssertThrowsError(try DNNL.checked(status, "memory_desc_init_by_tag f32[-1, 3]")) { error in
            XCTAssertEqual(error as? TensorError,
                           .backend(operation: "memory_desc_init_by_tag f32[-1, 3]", status: "invalid_arguments (2)"))
        }
        XCTAssertNoThrow(try DNNL.checked(dnnl_success, "nothing"))
        XCTAssertEqual(DNNL.statusName(dnnl_out_of_memory), "out_of_memory (1)")
        XCTAssertEqual(DNNL.statusName(dnnl_unimplemented), "unimplemented (3)")
    }

    func testSvdRefusesAnEmptyMatrixAndReadsOtherElementTypesAsFloats() throws {
        XCTAssertThrowsError(try Tensor.zeros([0, 3]).svd()) { error in
            guard case .invalidShape("svd", [0, 3], _)? = error as? TensorError else { return XCTFail("\(error)") }
        }
        let values: [Float] = [3, 0, 0, 2]
        let half = values.map { Float16($0).bitPattern }
        let f16 = try half.withUnsafeBytes { try Tensor(shape: [2, 2], dtype: .float16, bytes: $0) }
        let (_, s, _) = try f16.svd()
        assertClose(s, Tensor([3, 2]), atol: 1e-5, rtol: 0)
    }

    // MARK: - Inputs that used to fail inside a kernel

    func testAProductOverAnEmptyInnerDimensionIsZeros() {
        let a = Tensor.zeros([2, 0]).requiringGrad(), b = Tensor.zeros([0, 3]).requiringGrad()
        let y = a.matmul(b)
        XCTAssertEqual(y.shape, [2, 3])
        XCTAssertEqual(y.scalars, [Float](repeating: 0, count: 6))
        (y * randomTensor([2, 3], seed: 1)).sum().backward()
        XCTAssertEqual(a.grad?.shape, [2, 0])
        XCTAssertEqual(b.grad?.shape, [0, 3])
        // sgemm accumulating into C (beta = 1) leaves C as it was.
        let c = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let sum = c.addingMatmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]))
        XCTAssertEqual(sum.scalars, [1, 2, 3, 4, 5, 6])
    }

    func testABooleanMaskOfIntegersMasksTheSameKeysAsAFloatOne() throws {
        let q = randomTensor([1, 1, 3, 4], seed: 1), k = randomTensor([1, 1, 5, 4], seed: 2)
        let v = randomTensor([1, 1, 5, 2], seed: 3)
        let keep: [Int] = [1, 1, 0, 1, 0]
        let asFloat = Tensor(keep.map(Float.init), shape: [1, 1, 1, 5])
        let asInt = try Tensor(shape: [1, 1, 1, 5], indices: keep)
        let expected = scaledDotProductAttention(query: q, key: k, value: v, mask: .boolean(asFloat))
        let got = scaledDotProductAttention(query: q, key: k, value: v, mask: .boolean(asInt))
        assertClose(got, expected, atol: 0, rtol: 0)
        // And the float mask really masks: attending to every key gives another result.
        let unmasked = scaledDotProductAttention(query: q, key: k, value: v)
        XCTAssertGreaterThan(zip(unmasked.scalars, expected.scalars).map { Swift.abs($0 - $1) }.max() ?? 0, 1e-3)
    }
}
