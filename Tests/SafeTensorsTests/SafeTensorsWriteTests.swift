import Foundation
import Glibc
import XCTest
@testable import SafeTensors
@testable import Tensor
import CDNNL

/// Writing: round trips, the header's layout, and atomicity when writing fails.
final class SafeTensorsWriteTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var path: String { directory.file("out.safetensors") }

    override func setUpWithError() throws { directory = try TemporaryDirectory() }
    override func tearDown() { directory.remove() }

    /// One tensor of every storage type, a scalar and empty tensors.
    private func sample() throws -> [String: Tensor] {
        func raw(_ shape: [Int], _ dtype: DType, _ bytes: [UInt8]) throws -> Tensor {
            try bytes.withUnsafeBytes { try Tensor(shape: shape, dtype: dtype, bytes: $0) }
        }
        return [
            "f32": Tensor([1.5, -2, 0, 1e-30, 3e38, -0.25], shape: [2, 3]),
            "f16": try raw([3], .float16, bytes16([0x3C00, 0xC000, 0x7BFF])),
            "bf16": try raw([2, 1], .bfloat16, bytes16([0x3F80, 0x4049])),
            "i64": try Tensor(shape: [3], indices: [-5, 0, 1 << 50]),
            "i32": try raw([2], .int32, bytes32([0xFFFF_FFFF, 12])),
            "u8": try raw([5], .uint8, [0, 1, 2, 254, 255]),
            "scalar": Tensor(7),
            "empty": Tensor([], shape: [0, 3]),
            "empty.i64": try Tensor(shape: [2, 0], indices: []),
            "odd": try raw([3], .uint8, [9, 8, 7]),
        ]
    }

    private func rawBytes(_ tensor: Tensor) -> [UInt8] { tensor.withUnsafeBytes { Array($0) } }

    func testRoundTripOfEveryDTypeWithMetadata() throws {
        let tensors = try sample()
        let metadata = ["format": "pt", "quote\"back\\slash": "line\nbreak\u{1}tab\t", "unicode": "café ✓"]
        try SafeTensors.write(tensors, metadata: metadata, to: path)

        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.names, tensors.keys.sorted())
        XCTAssertEqual(file.metadata, metadata)
        let loaded = try file.tensors(convertingHalfPrecision: false)
        for (name, tensor) in tensors {
            let back = try XCTUnwrap(loaded[name], name)
            XCTAssertEqual(back.dtype, tensor.dtype, name)
            XCTAssertEqual(back.shape, tensor.shape, name)
            XCTAssertEqual(rawBytes(back), rawBytes(tensor), name)
            // Every tensor lies aligned for its type, so none had to be copied.
            XCTAssertEqual(file.info(name)!.dataRange.lowerBound % tensor.dtype.byteSize, 0, name)
        }
        XCTAssertEqual(try file.tensor(named: "f16").scalars, [1, -2, 65504])
        XCTAssertEqual(try file.tensor(named: "bf16").scalars, [1, 3.140625])
        XCTAssertEqual(try file.tensor(named: "i64").indexScalars, [-5, 0, 1 << 50])
        XCTAssertEqual(try file.tensor(named: "scalar").shape, [])
    }

    func testHeaderIsSortedCompactAndPaddedAndDataIsAligned() throws {
        try SafeTensors.write(try sample(), metadata: ["b": "2", "a": "1"], to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let n = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
        let json = header.trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(header, json + String(repeating: " ", count: n - json.utf8.count), "padded with spaces")
        XCTAssertLessThan(n - json.utf8.count, 8)
        XCTAssertFalse(json.contains(" ") || json.contains("\n"), "compact")
        XCTAssertTrue(json.hasPrefix(#"{"__metadata__":{"a":"1","b":"2"},"bf16":{"dtype":"BF16","shape":[2,1],"data_offsets":["#),
                      json)
        // Tensor keys in sorted order.
        let names = ["bf16", "empty", "empty.i64", "f16", "f32", "i32", "i64", "odd", "scalar", "u8"]
        let positions = names.map { json.range(of: "\"\($0)\":{")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
        // The data buffer is exactly the tensors' bytes: 8-byte types first, then 4, 2, 1.
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.info("i64")?.dataRange, 0..<24)
        XCTAssertEqual(file.info("f32")?.dataRange.lowerBound, 24)
        XCTAssertEqual(bytes.count, 8 + n + 24 + 24 + 8 + 4 + 6 + 4 + 5 + 3)
    }

    func testWrittenFileMatchesAHandComputedImage() throws {
        try SafeTensors.write(["a": Tensor([1, -2]), "b": try Tensor(shape: [1], indices: [3])], to: path)
        let json = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#
        let padded = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        let expected = handBuiltFile(header: padded, data: [3, 0, 0, 0, 0, 0, 0, 0] + bytes32([0x3F80_0000, 0xC000_0000]))
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), expected)
    }

    func testNoMetadataAndNoTensors() throws {
        try SafeTensors.write([:], to: URL(fileURLWithPath: path))
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))),
                       handBuiltFile(header: "{}      "))
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.count, 0)
        XCTAssertEqual(file.metadata, [:])
        try SafeTensors.write([:], metadata: [:], to: path)
        XCTAssertEqual(try SafeTensorsFile(path: path).metadata, [:])
    }

    func testEveryDTypeHasAFileNameAndBack() {
        for dtype in DType.allCases {
            XCTAssertEqual(SafeTensorsDType(dtype).rawValue, dtype.rawValue)
            XCTAssertEqual(SafeTensorsDType(dtype).tensorDType, dtype)
            XCTAssertEqual(SafeTensorsDType(dtype).byteSize, dtype.byteSize)
        }
        XCTAssertNil(SafeTensorsDType.float64.tensorDType)
    }

    func testMetadataKeyCannotNameATensor() {
        assertThrows(.reservedName(path: path, name: "__metadata__")) {
            try SafeTensors.write(["__metadata__": Tensor([1])], to: path)
        }
        XCTAssertEqual(try directory.contents(), [])
    }

    func testBlockedLayoutIsWrittenPlain() throws {
        // [1, 3, 2, 2] in oneDNN's nChw8c layout: channels padded to 8, so the buffer is larger
        // than the tensor and its order differs from row-major.
        let values = (0..<12).map(Float.init)
        let plain = Tensor(values, shape: [1, 3, 2, 2])
        var md = dnnl_memory_desc_t()
        XCTAssertEqual(dnnl_memory_desc_init_by_tag(&md, 4, [1, 3, 2, 2], dnnl_f32, dnnl_nChw8c), dnnl_success)
        let blocked = DNNL.reorder(plain, to: md)
        XCTAssertTrue(blocked.isBlocked)
        XCTAssertGreaterThan(blocked.storage.byteCount, 48)
        try SafeTensors.write(["x": blocked], to: path)
        let back = try SafeTensorsFile(path: path).tensor(named: "x")
        XCTAssertEqual(back.shape, [1, 3, 2, 2])
        XCTAssertEqual(back.scalars, values)
    }

    func testOverwriteReplacesTheWholeFile() throws {
        try SafeTensors.write(["big": Tensor.zeros([64])], metadata: ["v": "1"], to: path)
        try SafeTensors.write(["small": Tensor([5])], metadata: ["v": "2"], to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.names, ["small"])
        XCTAssertEqual(file.metadata, ["v": "2"])
        XCTAssertEqual(try directory.contents(), ["out.safetensors"])
    }

    func testRelativePathWritesIntoTheWorkingDirectory() throws {
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(directory.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try SafeTensors.write(["a": Tensor([1])], to: "relative.safetensors")
        XCTAssertEqual(try SafeTensorsFile(path: "relative.safetensors").tensor(named: "a").scalars, [1])
        XCTAssertEqual(try directory.contents(), ["relative.safetensors"])
    }

    // MARK: - Atomicity

    func testMissingDirectoryLeavesNothing() {
        let target = directory.file("missing/out.safetensors")
        XCTAssertThrowsError(try SafeTensors.write(["a": Tensor([1])], to: target)) { error in
            guard case let .io(errorPath, _, code)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            XCTAssertEqual(errorPath, target)
            XCTAssertEqual(code, ENOENT)
            XCTAssertTrue("\(error)".contains(target))
        }
        XCTAssertEqual(try directory.contents(), [])
    }

    func testRenameFailureRemovesTheTemporaryFile() throws {
        // The destination is a non-empty directory: everything is written, then rename fails.
        let target = directory.file("taken")
        try FileManager.default.createDirectory(atPath: target + "/inside", withIntermediateDirectories: true)
        XCTAssertThrowsError(try SafeTensors.write(["a": Tensor.zeros([1000])], to: target)) { error in
            guard case let .io(errorPath, operation, _)? = error as? SafeTensorsError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(errorPath, target)
            XCTAssertEqual(operation, "rename into place")
        }
        XCTAssertEqual(try directory.contents(), ["taken"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target), ["inside"])
    }

    func testReadOnlyDirectoryLeavesNothing() throws {
        try XCTSkipIf(geteuid() == 0, "root ignores directory permissions")
        XCTAssertEqual(chmod(directory.path, 0o555), 0)
        XCTAssertThrowsError(try SafeTensors.write(["a": Tensor([1])], to: path)) { error in
            guard case .io(path, _, EACCES)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try directory.contents(), [])
    }

    func testFailedWriteKeepsThePreviousFileAndLeavesNoTemporary() throws {
        // A file-size limit makes write(2) fail part-way with EFBIG, as a full disk fails with
        // ENOSPC. The limit is the process's, so it is lowered only around the one call.
        try SafeTensors.write(["old": Tensor([1, 2, 3])], metadata: ["v": "old"], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let big = Tensor.zeros([64 * 1024])  // 256 KiB

        let resource = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(resource, &saved), 0)
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var limited = saved
        limited.rlim_cur = 64 * 1024
        XCTAssertEqual(setrlimit(resource, &limited), 0)
        var thrown: Error?
        do { try SafeTensors.write(["new": big], to: path) } catch { thrown = error }
        XCTAssertEqual(setrlimit(resource, &saved), 0)
        signal(SIGXFSZ, previousHandler)

        XCTAssertEqual(thrown as? SafeTensorsError, .io(path: path, operation: "write", errno: EFBIG))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try directory.contents(), ["out.safetensors"])
        XCTAssertEqual(try SafeTensorsFile(path: path).metadata, ["v": "old"])
    }
}
