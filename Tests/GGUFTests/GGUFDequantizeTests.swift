import Foundation
import GGUF
import Tensor
import XCTest

/// Dequantisation of every supported type, bit for bit against `gguf.quants.dequantize` (the
/// bit patterns in Fixtures/types.json), through each entry point: whole tensors, rows, and
/// ranges of blocks.
final class GGUFDequantizeTests: XCTestCase {
    private var gguf: GGUFFile!
    private var expected: [String: [UInt32]] = [:]

    override func setUpWithError() throws {
        gguf = try GGUFFile(path: try GGUFFixtures.path("types.gguf"))
        let rows = try XCTUnwrap(try GGUFFixtures.json("types.json")["tensors"] as? [[String: Any]])
        for row in rows {
            if let name = row["name"] as? String, let values = row["values"] as? [NSNumber] {
                expected[name] = values.map { $0.uint32Value }
            }
        }
    }

    func testEveryTypeDequantisesExactlyAsTheReference() throws {
        let names = gguf.tensors.filter { $0.type.isDequantizable }.map(\.name)
        XCTAssertEqual(Set(names), Set(expected.keys))
        XCTAssertEqual(Set(gguf.tensors.filter { $0.type.isDequantizable }.map(\.type)),
                       Set(GGUFTensorType.dequantizable))
        for name in names {
            let info = try gguf.tensorInfo(named: name)
            let tensor = try gguf.tensor(named: name)
            XCTAssertEqual(tensor.shape, info.shape, name)
            let bits = tensor.scalars.map(\.bitPattern)
            let want = try XCTUnwrap(expected[name])
            XCTAssertEqual(bits.count, want.count, name)
            let mismatches = zip(bits, want).enumerated().filter { $0.element.0 != $0.element.1 }
            XCTAssertTrue(mismatches.isEmpty, "\(name) (\(info.type)): \(mismatches.count) elements differ, first "
                          + "\(mismatches.prefix(3).map { "#\($0.offset): \(hex($0.element.0)) vs \(hex($0.element.1))" })")
        }
    }

    func testTheRawBlocksHoldNaNsInfinitiesAndSubnormals() throws {
        // The fixtures must exercise the special values, or the comparison above proves less.
        let all = expected.values.joined().map { Float(bitPattern: $0) }
        XCTAssertTrue(all.contains { $0.isNaN })
        XCTAssertTrue(all.contains { $0.isInfinite })
        XCTAssertTrue(all.contains { $0.isSubnormal })
        // A signalling NaN keeps its payload (F16C hardware would set the quiet bit).
        XCTAssertTrue(expected["f16.matrix"]!.contains(0x7F80_2000))
    }

    func testRowsAndBlockRangesGiveTheSameValues() throws {
        for info in gguf.tensors where info.type.isDequantizable {
            let want = try XCTUnwrap(expected[info.name])
            // Every single row, then all rows but the first.
            for row in 0..<info.rowCount {
                var out = [Float](repeating: .nan, count: info.rowLength)
                try out.withUnsafeMutableBufferPointer { try gguf.dequantizeRows(named: info.name, rows: row..<(row + 1), into: $0) }
                XCTAssertEqual(out.map(\.bitPattern), Array(want[(row * info.rowLength)..<((row + 1) * info.rowLength)]),
                               "\(info.name) row \(row)")
            }
            if info.rowCount > 1 {
                var out = [Float](repeating: .nan, count: (info.rowCount - 1) * info.rowLength)
                try out.withUnsafeMutableBufferPointer { try gguf.dequantizeRows(named: info.name, rows: 1..<info.rowCount, into: $0) }
                XCTAssertEqual(out.map(\.bitPattern), Array(want[info.rowLength...]), info.name)
            }
            // The second block of the first row alone, from the row's bytes (the model's per-block use).
            if info.blocksPerRow > 1 {
                let raw = try gguf.rawData(named: info.name)
                let row = UnsafeRawBufferPointer(rebasing: raw[0..<info.rowByteCount])
                var out = [Float](repeating: .nan, count: info.type.blockSize)
                out.withUnsafeMutableBufferPointer { GGUFDequantize.dequantize(info.type, blocks: row, range: 1..<2, into: $0) }
                let b = info.type.blockSize
                XCTAssertEqual(out.map(\.bitPattern), Array(want[b..<(2 * b)]), info.name)
            }
        }
    }

    func testUnsupportedTypesAreRefusedNamingTensorAndType() throws {
        for (name, type) in [("q5_0.refused", GGUFTensorType.q5_0), ("q6_k.refused", .q6_K), ("i32.refused", .i32)] {
            XCTAssertEqual(try gguf.tensorInfo(named: name).type, type)
            XCTAssertFalse(type.isDequantizable)
            XCTAssertThrowsError(try gguf.tensor(named: name)) { error in
                XCTAssertEqual(error as? GGUFError, .unsupportedTensorType(path: gguf.path, tensor: name, type: type))
                XCTAssertTrue("\(error)".contains(name) && "\(error)".contains(type.description), "\(error)")
            }
            var out = [Float](repeating: 0, count: 256)
            XCTAssertThrowsError(try out.withUnsafeMutableBufferPointer { try gguf.dequantizeRows(named: name, rows: 0..<1, into: $0) })
            // Their bytes are still there for code that reads them itself.
            XCTAssertEqual(try gguf.rawData(named: name).count, try gguf.tensorInfo(named: name).byteCount)
        }
    }

    func testHalfConversionCoversEveryBitPattern() {
        // Every binary16 value against Swift's Float16 (exact for all non-NaN values); NaNs keep
        // their payload, shifted, with no quiet bit added (as NumPy converts them).
        let row = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 0, count: row.count)
        row.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { GGUFDequantize.dequantize(.f16, blocks: raw, range: 0..<row.count, into: $0) }
        }
        for h in row {
            let half = Float16(bitPattern: h)
            let got = out[Int(h)]
            if half.isNaN {
                let expected = (UInt32(h & 0x8000) << 16) | 0x7F80_0000 | (UInt32(h & 0x3FF) << 13)
                XCTAssertEqual(got.bitPattern, expected, "NaN \(hex(UInt32(h)))")
            } else {
                XCTAssertEqual(got.bitPattern, Float(half).bitPattern, "\(hex(UInt32(h)))")
            }
        }
    }

    private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
}
