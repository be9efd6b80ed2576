import Foundation
@testable import GGUF
import Tensor
import XCTest

/// Quantisation into GGUF types, byte for byte against gguf-py's ports of ggml's reference
/// quantisers (Fixtures/quantize.json from scripts/make_gguf_quant_goldens.py); what it writes
/// reads back through the GGUF reader within each type's step; misfit shapes are errors naming
/// the tensor.
final class GGUFQuantizeTests: XCTestCase {
    func testBytesEqualTheReferenceQuantisers() throws {
        let json = try GGUFFixtures.json("quantize.json")
        let columns = try XCTUnwrap(json["columns"] as? Int)
        let values = try XCTUnwrap(json["values"] as? [NSNumber]).map { $0.floatValue }
        let expected = try XCTUnwrap(json["bytes"] as? [String: String])
        let types: [String: GGUFTensorType] = ["F16": .f16, "BF16": .bf16, "Q8_0": .q8_0, "Q4_0": .q4_0, "Q4_1": .q4_1]
        XCTAssertEqual(Set(expected.keys), Set(types.keys))
        for (name, type) in types {
            let bytes = try GGUFQuantizer.quantize(values, columns: columns, as: type, path: "test", name: name)
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            XCTAssertEqual(hex.count, expected[name]!.count, name)
            // Report the first differing block rather than two long strings.
            if hex != expected[name]! {
                let at = zip(hex, expected[name]!).enumerated().first { $0.element.0 != $0.element.1 }!.offset / 2
                XCTFail("\(name): first differing byte \(at) (block \(at / type.typeSize))")
            }
        }
    }

    func testWrittenTensorsReadBackWithinTheirStep() throws {
        var rng = RandomGenerator(seed: 3)
        let (rows, columns) = (3, 64)
        let values = Tensor.randn([rows, columns], std: 1, generator: &rng).scalars
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("test"))
        for type in GGUFQuantizer.types {
            writer.add("t.\(type)", shape: [rows, columns], type: type,
                       data: try GGUFQuantizer.quantize(values, columns: columns, as: type, path: "test", name: "t"))
        }
        let path = NSTemporaryDirectory() + "quantize-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)
        let file = try GGUFFile(path: path)
        // Largest error allowed per element: half a step of the type's grid for the block's scale
        // (Q4_0: a whole step, as ggml's reference: when the largest magnitude is negative, the
        // grid −8d…7d reaches only 7/8 of it on the positive side).
        let amax = values.map(abs).max()!
        let bounds: [GGUFTensorType: Float] = [.f32: 0, .f16: amax * 1e-3, .bf16: amax * 8e-3, .q8_0: amax / 127 * 0.51,
                                               .q4_0: amax / 8 * 1.01, .q4_1: 2 * amax / 15 * 0.51 + 1e-3]
        for type in GGUFQuantizer.types {
            let info = try file.tensorInfo(named: "t.\(type)")
            XCTAssertEqual(info.type, type)
            XCTAssertEqual(info.shape, [rows, columns])
            let back = try file.tensor(named: "t.\(type)").scalars
            let worst = zip(back, values).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, bounds[type]!, "\(type)")
            if type != .f32 { XCTAssertGreaterThan(worst, 0, "\(type) loses something") }
        }
    }

    func testMisfitRowsAndUnwrittenTypesAreErrorsNamingTheTensor() {
        XCTAssertThrowsError(try GGUFQuantizer.quantize([Float](repeating: 1, count: 48), columns: 48, as: .q8_0, path: "out.gguf",
                                                        name: "blk.0.attn_q.weight")) { error in
            XCTAssertTrue("\(error)".contains("blk.0.attn_q.weight") && "\(error)".contains("32"), "\(error)")
        }
        XCTAssertThrowsError(try GGUFQuantizer.quantize([Float](repeating: 1, count: 32), columns: 32, as: .q5_0, path: "out.gguf",
                                                        name: "w")) { error in
            XCTAssertTrue("\(error)".contains("w"), "\(error)")
        }
        XCTAssertThrowsError(try GGUFQuantizer.quantize([Float](repeating: 1, count: 31) + [.infinity], columns: 32, as: .q4_1,
                                                        path: "out.gguf", name: "w.inf")) {
            XCTAssertTrue("\($0)".contains("w.inf") && "\($0)".contains("finite"), "\($0)")
        }
        // Zeros quantise to zeros in every type (the scale is 0, its inverse taken as 0).
        for type in GGUFQuantizer.types {
            let bytes = try! GGUFQuantizer.quantize([Float](repeating: 0, count: 32), columns: 32, as: type, path: "z", name: "z")
            var decoded = [Float](repeating: 1, count: 32)
            bytes.withUnsafeBytes { b in decoded.withUnsafeMutableBufferPointer { GGUFDequantize.dequantize(type, blocks: b, range: 0..<(32 / type.blockSize), into: $0) } }
            XCTAssertEqual(decoded, [Float](repeating: 0, count: 32), "\(type)")
        }
    }
}
