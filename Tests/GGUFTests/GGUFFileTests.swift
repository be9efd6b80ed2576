import Foundation
import GGUF
import XCTest

/// The header, metadata and tensor table, compared with what the `gguf` Python package read from
/// the same files (Fixtures/*.json, written by scripts/make_gguf_fixtures.py).
final class GGUFFileTests: XCTestCase {
    func testMetadataOfEveryTypeMatchesTheReference() throws {
        let gguf = try GGUFFile(path: try GGUFFixtures.path("metadata.gguf"))
        let expected = try GGUFFixtures.json("metadata.json")
        let keys = try XCTUnwrap(expected["keys"] as? [String])
        XCTAssertEqual(gguf.metadataKeys, keys)
        XCTAssertEqual(gguf.metadata.count, keys.count)
        let values = try XCTUnwrap(expected["values"] as? [String: [String: Any]])
        for key in keys {
            let entry = try XCTUnwrap(values[key])
            let types = try XCTUnwrap(entry["types"] as? [String])
            let value = try XCTUnwrap(gguf.metadata[key], key)
            try check(value, types: types, expected: try XCTUnwrap(entry["value"]), key: key)
        }
        XCTAssertEqual(gguf.version, 3)
        XCTAssertEqual(gguf.alignment, 64)
        XCTAssertEqual(gguf.dataOffset, expected["data_offset"] as? Int)
        XCTAssertEqual(gguf.dataOffset % 64, 0)
        try checkTable(gguf, expected)
    }

    func testTypedAccessors() throws {
        let gguf = try GGUFFile(path: try GGUFFixtures.path("metadata.gguf"))
        XCTAssertEqual(try gguf.string("general.architecture"), "lorakit-test")
        XCTAssertEqual(try gguf.int("t.uint8"), 255)
        XCTAssertEqual(try gguf.int("t.int64"), Int.min)
        XCTAssertEqual(try gguf.int("t.uint64.small"), 42)
        XCTAssertEqual(try gguf.float("t.float32"), Double(Float(3.14159265)))
        XCTAssertEqual(try gguf.float("t.float64"), 2.718281828459045)
        XCTAssertEqual(try gguf.bool("t.bool.true"), true)
        XCTAssertEqual(try gguf.strings("t.array.string"), ["", "a", "Ġhello", "日本", "🦙", "<|im_start|>", "tab\there"])
        XCTAssertEqual(try gguf.ints("t.array.int32"), [-1, 2, -3, 2_147_483_647])
        XCTAssertEqual(try gguf.floats("t.array.float32"), [0.5, -1.25, Double(Float(1e-30))])
        XCTAssertTrue(gguf.contains(key: "t.int8"))
        XCTAssertFalse(gguf.contains(key: "t.absent"))

        let path = gguf.path
        XCTAssertThrowsError(try gguf.int("t.absent")) {
            XCTAssertEqual($0 as? GGUFError, .missingKey(path: path, key: "t.absent"))
        }
        // UINT64 max does not fit in Int: a typed error that names the key and the value.
        XCTAssertThrowsError(try gguf.int("t.uint64")) { error in
            guard case let .wrongType(p, key, _, found) = error as? GGUFError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertEqual(key, "t.uint64")
            XCTAssertTrue(found.contains("18446744073709551615"), found)
        }
        XCTAssertThrowsError(try gguf.string("t.int32")) {
            XCTAssertEqual($0 as? GGUFError, .wrongType(path: path, key: "t.int32", expected: "STRING", found: "INT32"))
        }
        XCTAssertThrowsError(try gguf.strings("t.array.int32")) { XCTAssertTrue("\($0)".contains("t.array.int32")) }
        XCTAssertThrowsError(try gguf.ints("t.array.uint64")) { XCTAssertTrue("\($0)".contains("element 1")) }
        XCTAssertThrowsError(try gguf.float("t.uint32"))
        XCTAssertThrowsError(try gguf.ints("t.string"))
    }

    func testTensorTableMatchesTheReference() throws {
        let gguf = try GGUFFile(path: try GGUFFixtures.path("types.gguf"))
        let expected = try GGUFFixtures.json("types.json")
        XCTAssertEqual(gguf.alignment, 32)
        XCTAssertEqual(gguf.dataOffset, expected["data_offset"] as? Int)
        try checkTable(gguf, expected)
        let info = try gguf.tensorInfo(named: "q4_1.quantised0")      // a [6, 64] matrix
        XCTAssertEqual(info.dimensions, [64, 6])
        XCTAssertEqual(info.shape, [6, 64])
        XCTAssertEqual(info.rowLength, 64)
        XCTAssertEqual(info.rowCount, 6)
        XCTAssertEqual(info.blocksPerRow, 2)
        XCTAssertEqual(info.rowByteCount, 40)
        XCTAssertEqual(try gguf.rawData(named: "q4_1.quantised0").count, 240)
        XCTAssertThrowsError(try gguf.tensorInfo(named: "nope")) {
            XCTAssertEqual($0 as? GGUFError, .tensorNotFound(path: gguf.path, name: "nope"))
        }
    }

    func testVersion2IsRead() throws {
        let gguf = try GGUFFile(path: try GGUFFixtures.path("v2.gguf"))
        let expected = try GGUFFixtures.json("v2.json")
        XCTAssertEqual(gguf.version, 2)
        XCTAssertEqual(expected["version"] as? Int, 2)
        XCTAssertEqual(try gguf.string("general.name"), "version two")
        try checkTable(gguf, expected)
        XCTAssertEqual(try gguf.tensor(named: "v").scalars, [1.5, -2.0, 0.25])
    }

    func testEmptyArrayAndNoTensors() throws {
        let gguf = try GGUFFile(path: try GGUFFixtures.path("empty_array.gguf"))
        let expected = try GGUFFixtures.json("empty_array.json")
        XCTAssertEqual(gguf.metadataKeys, expected["keys"] as? [String])
        XCTAssertEqual(gguf.metadata["t.empty"], .array(.int32, []))
        XCTAssertEqual(try gguf.ints("t.empty"), [])
        XCTAssertEqual(try gguf.string("general.name"), "empty")
        XCTAssertEqual(gguf.tensors, [])
        // The data section starts past the file's end: legal with no tensors (the reference agrees).
        XCTAssertEqual(gguf.dataOffset, expected["data_offset"] as? Int)
    }

    func testOpeningAMissingFileOrADirectoryIsAnIOError() throws {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) { error in
            guard case .io(let path, "open", _) = error as? GGUFError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/model.gguf")
        }
        XCTAssertThrowsError(try GGUFFile(path: NSTemporaryDirectory())) {
            guard case .io = $0 as? GGUFError else { return XCTFail("\($0)") }
        }
    }

    // MARK: - Comparison with the reference's reading

    /// `value` against the reference: its types (outer first) and its contents, where integers are
    /// decimal strings and floats the bits of their float64 value.
    private func check(_ value: GGUFValue, types: [String], expected: Any, key: String) throws {
        XCTAssertEqual(value.type.description, types.first, key)
        if case let .array(element, elements) = value {
            let list = try XCTUnwrap(expected as? [Any], key)
            XCTAssertEqual(elements.count, list.count, key)
            if types.count > 1 { XCTAssertEqual(element.description, types[1], key) }
            for (v, e) in zip(elements, list) { try check(v, types: Array(types.dropFirst()), expected: e, key: key) }
            return
        }
        switch value {
        case .bool(let b): XCTAssertEqual(b, expected as? Bool, key)
        case .string(let s): XCTAssertEqual(s, expected as? String, key)
        case .float32, .float64:
            let bits = try XCTUnwrap((expected as? [String: String])?["f64bits"], key)
            XCTAssertEqual(String(try XCTUnwrap(value.doubleValue).bitPattern), bits, key)
        default:
            let text = try XCTUnwrap((expected as? [String: String])?["int"], key)
            XCTAssertEqual(integerText(value), text, key)
        }
    }

    private func integerText(_ value: GGUFValue) -> String {
        switch value {
        case .uint8(let v): return String(v)
        case .int8(let v): return String(v)
        case .uint16(let v): return String(v)
        case .int16(let v): return String(v)
        case .uint32(let v): return String(v)
        case .int32(let v): return String(v)
        case .uint64(let v): return String(v)
        case .int64(let v): return String(v)
        default: return "not an integer: \(value)"
        }
    }

    private func checkTable(_ gguf: GGUFFile, _ expected: [String: Any]) throws {
        let rows = try XCTUnwrap(expected["tensors"] as? [[String: Any]])
        XCTAssertEqual(gguf.tensors.map(\.name), rows.map { $0["name"] as? String ?? "?" })
        for (info, row) in zip(gguf.tensors, rows) {
            XCTAssertEqual(info.type.description, row["type"] as? String, info.name)
            XCTAssertEqual(info.dimensions, row["dimensions"] as? [Int], info.name)
            XCTAssertEqual(info.shape, row["shape"] as? [Int], info.name)
            XCTAssertEqual(info.offset, row["offset"] as? Int, info.name)
            XCTAssertEqual(info.byteCount, row["byte_count"] as? Int, info.name)
            XCTAssertEqual(info.elementCount, row["element_count"] as? Int, info.name)
        }
    }
}
