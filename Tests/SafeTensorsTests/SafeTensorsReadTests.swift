import Foundation
import Glibc
import XCTest
@testable import SafeTensors
@testable import Tensor

/// Reading files written by hand (not by our writer): values, conversions, sharing the mapping.
final class SafeTensorsReadTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var path: String { directory.file("hand.safetensors") }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        try writeBytes(Self.handBuilt(), to: path)
    }

    override func tearDown() { directory.remove() }

    /// A file laid out by hand. The header is padded with spaces to a multiple of 8 bytes, so the
    /// data buffer starts 8-byte aligned in the mapping: `w` (offset 0) and `s` (offset 72) are
    /// aligned and can be shared, `m` (offset 41) and the integers after it are not.
    static func handBuilt() -> [UInt8] {
        let entries = [
            #""w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#,
            #""h":{"dtype":"F16","shape":[6],"data_offsets":[16,28]}"#,
            #""b":{"dtype":"BF16","shape":[5],"data_offsets":[28,38]}"#,
            #""u":{"dtype":"U8","shape":[3],"data_offsets":[38,41]}"#,
            #""m":{"dtype":"F32","shape":[2],"data_offsets":[41,49]}"#,
            #""i":{"dtype":"I64","shape":[2],"data_offsets":[49,65]}"#,
            #""j":{"dtype":"I32","shape":[1,1],"data_offsets":[65,69]}"#,
            #""e":{"dtype":"F32","shape":[0,3],"data_offsets":[69,69]}"#,
            #""pad":{"dtype":"U8","shape":[3],"data_offsets":[69,72]}"#,
            #""s":{"dtype":"F32","shape":[],"data_offsets":[72,76]}"#,
        ]
        var header = #"{"__metadata__":{"format":"pt","note":"caf\u00e9 \"q\""},"# + entries.joined(separator: ",") + "}"
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        var data: [UInt8] = []
        data += bytes32([0x3F80_0000, 0xC020_0000, 0x3E20_0000, 0x42C8_0000])  // 1, -2.5, 0.15625, 100
        data += bytes16([0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0xFC00])         // f16
        data += bytes16([0x3F80, 0xC000, 0x4049, 0x7F80, 0x0001])                 // bf16
        data += [0, 200, 255]
        data += bytes32([0x3F80_0000, 0x4049_0FDB])                               // 1, pi rounded to nearest (3.1415927410125732)
        data += bytes32([0xFFFF_FFFD, 0xFFFF_FFFF, 0x0000_0000, 0x0000_0100])     // I64 -3, 2^40
        data += bytes32([0xFFFF_FFF9])                                            // I32 -7
        data += [9, 9, 9]
        data += bytes32([0x4000_0000])                                            // 2
        return handBuiltFile(header: header, data: data)
    }

    /// Whether the tensor's bytes lie inside the file's mapping (shared, not copied).
    private func shares(_ tensor: Tensor, _ file: SafeTensorsFile) -> Bool {
        let start = UInt(bitPattern: file.mapping.base), end = start + UInt(file.mapping.byteCount)
        let p = UInt(bitPattern: tensor.storage.base)
        return p >= start && p < end
    }

    func testNamesInfoAndMetadata() throws {
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.names, ["b", "e", "h", "i", "j", "m", "pad", "s", "u", "w"])
        XCTAssertEqual(file.count, 10)
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "café \"q\""])
        XCTAssertEqual(file.headerByteCount % 8, 0)
        XCTAssertEqual(file.info("h"), TensorInfo(name: "h", dtype: .float16, shape: [6], dataRange: 16..<28))
        XCTAssertEqual(file.info("s")?.elementCount, 1)
        XCTAssertNil(file.info("nope"))
        XCTAssertEqual(try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path)).names, file.names)
    }

    func testFloat32AlignedIsSharedAndMisalignedIsCopied() throws {
        let file = try SafeTensorsFile(path: path)
        let w = try file.tensor(named: "w"), m = try file.tensor(named: "m"), s = try file.tensor(named: "s")
        XCTAssertEqual(w.shape, [2, 2])
        XCTAssertEqual(w.dtype, .float32)
        XCTAssertEqual(w.scalars, [1, -2.5, 0.15625, 100])
        XCTAssertEqual(m.scalars, [1, 3.1415927410125732])
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.item, 2)
        XCTAssertTrue(shares(w, file))
        XCTAssertTrue(shares(s, file))
        XCTAssertFalse(shares(m, file))
    }

    func testHalfPrecisionConvertsToHandComputedFloats() throws {
        let file = try SafeTensorsFile(path: path)
        let h = try file.tensor(named: "h"), b = try file.tensor(named: "b")
        XCTAssertEqual(h.dtype, .float32)
        XCTAssertEqual(b.dtype, .float32)
        // f16: 0x3C00 = 1, 0xC000 = -2, 0x3555 = 2^-2 · (1 + 341/1024), 0x7BFF = 65504 (largest),
        // 0x0001 = 2^-24 (smallest subnormal), 0xFC00 = -inf.
        XCTAssertEqual(h.scalars, [1, -2, 0.333251953125, 65504, 0x1p-24, -.infinity])
        // bf16 is the top half of an f32: 0x3F80 = 1, 0xC000 = -2, 0x4049 = 3.140625, 0x7F80 = inf,
        // 0x0001 = f32 bits 0x00010000 = 2^16 · 2^-149 = 2^-133.
        XCTAssertEqual(b.scalars, [1, -2, 3.140625, .infinity, 0x1p-133])
    }

    func testHalfPrecisionCanKeepItsStorageType() throws {
        let file = try SafeTensorsFile(path: path)
        let h = try file.tensor(named: "h", convertingHalfPrecision: false)
        let b = try file.tensor(named: "b", convertingHalfPrecision: false)
        XCTAssertEqual(h.dtype, .float16)
        XCTAssertEqual(b.dtype, .bfloat16)
        XCTAssertEqual(h.withUnsafeBytes { Array($0) }, bytes16([0x3C00, 0xC000, 0x3555, 0x7BFF, 0x0001, 0xFC00]))
        XCTAssertEqual(b.withUnsafeBytes { Array($0) }, bytes16([0x3F80, 0xC000, 0x4049, 0x7F80, 0x0001]))
        XCTAssertTrue(shares(h, file))
        XCTAssertEqual(b.toFloat32().scalars, [1, -2, 3.140625, .infinity, 0x1p-133])
    }

    func testIntegersKeepTheirType() throws {
        let file = try SafeTensorsFile(path: path)
        let u = try file.tensor(named: "u"), i = try file.tensor(named: "i"), j = try file.tensor(named: "j")
        XCTAssertEqual(u.dtype, .uint8)
        XCTAssertEqual(u.scalars, [0, 200, 255])
        XCTAssertEqual(i.dtype, .int64)
        XCTAssertEqual(i.indexScalars, [-3, 1 << 40])
        XCTAssertEqual(j.dtype, .int32)
        XCTAssertEqual(j.shape, [1, 1])
        XCTAssertEqual(j.indexScalars, [-7])
        XCTAssertTrue(shares(u, file))
    }

    func testZeroSizeTensor() throws {
        let e = try SafeTensorsFile(path: path).tensor(named: "e")
        XCTAssertEqual(e.shape, [0, 3])
        XCTAssertEqual(e.count, 0)
        XCTAssertEqual(e.scalars, [])
    }

    func testAllTensorsAtOnce() throws {
        let all = try SafeTensorsFile(path: path).tensors()
        XCTAssertEqual(all.keys.sorted(), ["b", "e", "h", "i", "j", "m", "pad", "s", "u", "w"])
        XCTAssertEqual(all["w"]?.scalars, [1, -2.5, 0.15625, 100])
        XCTAssertEqual(all["b"]?.dtype, .float32)
    }

    func testMappedTensorOutlivesTheFileObjectAndTheFileOnDisk() throws {
        weak var mapping: MemoryMappedFile?
        var tensor: Tensor?
        do {
            let file = try SafeTensorsFile(path: path)
            mapping = file.mapping
            tensor = try file.tensor(named: "w")
            XCTAssertTrue(shares(tensor!, file))
        }
        XCTAssertEqual(unlink(path), 0)
        XCTAssertNotNil(mapping, "the tensor's storage keeps the mapping alive")
        XCTAssertEqual(tensor?.scalars, [1, -2.5, 0.15625, 100])
        XCTAssertEqual((tensor! * Tensor(2)).scalars, [2, -5, 0.3125, 200])
        tensor = nil
        XCTAssertNil(mapping, "the mapping goes away with its last tensor")
    }

    func testCopiedTensorDoesNotHoldTheMapping() throws {
        weak var mapping: MemoryMappedFile?
        var tensor: Tensor?
        do {
            let file = try SafeTensorsFile(path: path)
            mapping = file.mapping
            tensor = try file.tensor(named: "m")
        }
        XCTAssertNil(mapping)
        XCTAssertEqual(tensor?.scalars, [1, 3.1415927410125732])
    }

    func testWritingIntoASharedTensorNeverChangesTheFile() throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let w = try SafeTensorsFile(path: path).tensor(named: "w")
        w.storage.floats[0] = 42  // a kernel writing in place, as an optimizer step would
        XCTAssertEqual(w.scalars[0], 42)
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor(named: "w").scalars[0], 1)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }
}
