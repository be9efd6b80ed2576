import Foundation
import GGUF
import XCTest

/// Malformed files are `GGUFError`s that name the file and the field or offset — never a crash, a
/// hang or a read past the end. The fields to corrupt are found at the byte offsets that the `gguf`
/// Python package reported for them (Fixtures/types.json, metadata.json).
final class GGUFMalformedTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var original: [UInt8] = []
    private var layout: [String: Any] = [:]
    private var header: [String: Int] = [:]
    private var tensorFields: [String: [String: Int]] = [:]
    /// The file that `openError` wrote last.
    private var lastPath = ""

    override func setUpWithError() throws {
        scratch = try ScratchDirectory()
        original = try GGUFFixtures.bytes("types.gguf")
        layout = try GGUFFixtures.json("types.json")
        header = try XCTUnwrap(layout["header_offsets"] as? [String: Int])
        for row in try XCTUnwrap(layout["tensors"] as? [[String: Any]]) {
            tensorFields[row["name"] as! String] = row["field_offsets"] as? [String: Int]
        }
    }

    override func tearDown() { scratch.remove() }

    /// Opens `bytes` as a file and returns the error, failing when there is none or another kind.
    @discardableResult
    private func openError(_ bytes: [UInt8], _ message: String, file: StaticString = #filePath,
                           line: UInt = #line) throws -> GGUFError? {
        let path = try scratch.write(bytes)
        lastPath = path
        do {
            _ = try GGUFFile(path: path)
            XCTFail("\(message): opened without an error", file: file, line: line)
            return nil
        } catch let error as GGUFError {
            XCTAssertTrue(error.description.hasPrefix(path + ":"), "\(message): \(error) does not name the file",
                          file: file, line: line)
            return error
        }
    }

    func testTruncationAtEveryOffsetIsAnError() throws {
        let dataOffset = try XCTUnwrap(layout["data_offset"] as? Int)
        let rows = try XCTUnwrap(layout["tensors"] as? [[String: Any]])
        let end = dataOffset + rows.map { ($0["offset"] as! Int) + ($0["byte_count"] as! Int) }.max()!
        for count in 0..<end {
            let error = try openError(Array(original.prefix(count)), "truncated to \(count) bytes")
            switch error {
            case .badMagic?: XCTAssertLessThan(count, 4)
            case .truncated?, .countTooLarge?: XCTAssertLessThan(count, dataOffset, "\(error!)")
            case .tensorOutOfBounds?: XCTAssertGreaterThanOrEqual(count, dataOffset - 31, "\(error!)")
            default: XCTFail("truncated to \(count) bytes: unexpected \(String(describing: error))")
            }
        }
        // The padding after the last tensor's bytes is not needed.
        XCTAssertNoThrow(try GGUFFile(path: try scratch.write(Array(original.prefix(end)))))
    }

    func testTruncatedMetadataFileIsAnErrorAtEveryOffset() throws {
        let bytes = try GGUFFixtures.bytes("metadata.gguf")
        let dataOffset = try XCTUnwrap(try GGUFFixtures.json("metadata.json")["data_offset"] as? Int)
        for count in stride(from: 0, to: dataOffset + 16, by: 1) {
            try openError(Array(bytes.prefix(count)), "metadata.gguf truncated to \(count) bytes")
        }
    }

    func testBadMagicAndVersions() throws {
        var bytes = original
        bytes[3] = UInt8(ascii: "X")
        XCTAssertEqual(try openError(bytes, "magic GGUX").map { "\($0)" }?.contains("47 47 55 58"), true)
        for version: UInt32 in [0, 1, 4, 0x0300_0000] {
            bytes = original
            bytes.patch(version, at: header["version"]!)
            guard case .unsupportedVersion(_, version)? = try openError(bytes, "version \(version)") else {
                return XCTFail("version \(version)")
            }
        }
        XCTAssertTrue("\(GGUFError.unsupportedVersion(path: "f", version: 0x0300_0000))".contains("big-endian"))
    }

    func testAbsurdCountsAreRefusedBeforeAllocating() throws {
        for (field, name) in [("tensor_count", "tensor count"), ("kv_count", "metadata count"),
                              ("strings_count", "element count of 'lorakit.strings'")] {
            for count: UInt64 in [UInt64.max, 1 << 62, 1 << 40, 100_000] {
                var bytes = original
                bytes.patch(count, at: header[field]!)
                let error = try openError(bytes, "\(field) = \(count)")
                guard case let .countTooLarge(_, f, offset, c, _)? = error else { return XCTFail("\(field): \(String(describing: error))") }
                XCTAssertEqual(f, name)
                XCTAssertEqual(offset, header[field]!)
                XCTAssertEqual(c, count)
            }
        }
        // A string longer than the file.
        var bytes = original
        bytes.patch(UInt64.max, at: header["first_key"]!)
        guard case .truncated? = try openError(bytes, "key length") else { return XCTFail("key length") }
    }

    func testUnknownValueAndTensorTypes() throws {
        var bytes = original
        bytes.patch(UInt32(13), at: header["first_value_type"]!)
        XCTAssertEqual(try openError(bytes, "value type 13"),
                       .unknownValueType(path: lastPath, key: "general.architecture",
                                         offset: header["first_value_type"]!, code: 13))
        bytes = original
        bytes.patch(UInt32(99), at: header["strings_element_type"]!)
        guard case .unknownValueType(_, "lorakit.strings", _, 99)? = try openError(bytes, "element type 99") else {
            return XCTFail("element type")
        }
        for code: UInt32 in [4, 5, 31, 99, UInt32.max] {          // 4, 5, 31 were removed from ggml
            bytes = original
            bytes.patch(code, at: tensorFields["q4_1.quantised0"]!["type"]!)
            guard case .unknownTensorType(_, "q4_1.quantised0", code)? = try openError(bytes, "tensor type \(code)") else {
                return XCTFail("tensor type \(code)")
            }
        }
    }

    func testImpossibleDimensions() throws {
        let fields = tensorFields["q4_1.quantised0"]!           // dimensions [64, 6]
        var bytes = original
        bytes.patch(UInt32(5), at: fields["n_dims"]!)
        guard case .tooManyDimensions(_, "q4_1.quantised0", 5)? = try openError(bytes, "5 dimensions") else {
            return XCTFail("n_dims")
        }
        for (ne0, ne1) in [(UInt64(33), UInt64(6)), (1 << 63, 1), (1 << 40, 1 << 40), (UInt64.max, 0)] {
            bytes = original
            bytes.patch(ne0, at: fields["dims"]!)
            bytes.patch(ne1, at: fields["dims"]! + 8)
            guard case .invalidDimensions(_, "q4_1.quantised0", [ne0, ne1], _)? = try openError(bytes, "dims \(ne0)×\(ne1)")
            else { return XCTFail("dims \(ne0) × \(ne1)") }
        }
        // A larger but valid shape reaches past the end of the data.
        bytes = original
        bytes.patch(UInt64(64_000), at: fields["dims"]! + 8)
        guard case .tensorOutOfBounds? = try openError(bytes, "64000 rows") else { return XCTFail("rows") }
    }

    func testOffsetsPastTheEndUnalignedOrOverlapping() throws {
        let field = tensorFields["q4_1.quantised0"]!["offset"]!
        let fileSize = original.count
        for offset: UInt64 in [UInt64(fileSize) / 32 * 32, 1 << 40, UInt64.max / 32 * 32] {
            var bytes = original
            bytes.patch(offset, at: field)
            guard case .tensorOutOfBounds(_, "q4_1.quantised0", offset, 240, _)? = try openError(bytes, "offset \(offset)") else {
                return XCTFail("offset \(offset)")
            }
        }
        var bytes = original
        let rows = try XCTUnwrap(layout["tensors"] as? [[String: Any]])
        let own = UInt64(rows.first { $0["name"] as? String == "q4_1.quantised0" }!["offset"] as! Int)
        bytes.patch(own + 4, at: field)
        XCTAssertEqual(try openError(bytes, "unaligned"), .misalignedTensor(path: lastPath,
                                                                             tensor: "q4_1.quantised0", offset: own + 4,
                                                                             alignment: 32))
        bytes = original
        bytes.patch(UInt64(0), at: field)                          // onto f32.vector
        guard case .overlappingTensors? = try openError(bytes, "overlap") else { return XCTFail("overlap") }
    }

    func testDuplicateNamesAndBadStrings() throws {
        // "f16.normal" renamed "f16.matrix" (same length).
        var bytes = original
        let at = tensorFields["f16.normal"]!["name"]! + 8
        for (i, byte) in "f16.matrix".utf8.enumerated() { bytes[at + i] = byte }
        XCTAssertEqual(try openError(bytes, "duplicate tensor"),
                       .duplicateTensor(path: lastPath, name: "f16.matrix"))
        bytes = original
        bytes[header["first_key"]! + 8] = 0xFF                        // not UTF-8
        guard case .invalidString(_, _, header["first_key"]!)? = try openError(bytes, "invalid UTF-8") else {
            return XCTFail("UTF-8")
        }
    }

    func testInvalidAlignment() throws {
        let bytes = try GGUFFixtures.bytes("metadata.gguf")
        let meta = try GGUFFixtures.json("metadata.json")
        let at = try XCTUnwrap((meta["field_offsets"] as? [String: Int])?["general.alignment"])
        let valueOffset = at + 8 + "general.alignment".utf8.count + 4
        XCTAssertEqual(bytes[valueOffset], 64)
        for alignment: UInt32 in [0, 48, 3, UInt32.max] {
            var copy = bytes
            copy.patch(alignment, at: valueOffset)
            guard case .invalidAlignment? = try openError(copy, "alignment \(alignment)") else { return XCTFail("\(alignment)") }
        }
        var copy = bytes
        copy.patch(UInt32(5), at: valueOffset - 4)                     // INT32 instead of UINT32
        guard case .invalidAlignment(_, let detail)? = try openError(copy, "alignment type") else { return XCTFail("type") }
        XCTAssertTrue(detail.contains("INT32"), detail)
    }

    func testRandomCorruptionNeverCrashes() throws {
        // Seeded byte flips in the header and table; a file that still opens must dequantise.
        var rng = SplitMix64(seed: 0x6767_7566)
        let dataOffset = try XCTUnwrap(layout["data_offset"] as? Int)
        var opened = 0
        for trial in 0..<1500 {
            var bytes = original
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = 4 + Int(rng.next() % UInt64(dataOffset - 4))
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            if trial % 3 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count)))) }
            let path = try scratch.write(bytes)
            do {
                let gguf = try GGUFFile(path: path)
                opened += 1
                for info in gguf.tensors where info.type.isDequantizable {
                    XCTAssertEqual(try gguf.tensor(named: info.name).count, info.elementCount)
                }
            } catch is GGUFError {
                // expected
            }
        }
        XCTAssertGreaterThan(opened, 0)                 // some flips hit bytes that do not matter (tensor data, names)
    }
}

/// A small seeded generator (SplitMix64), so the corruption test is the same on every run.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
