import Foundation
import Glibc
import XCTest
import SafeTensors

/// Every malformed file gives its own typed error, naming the file and the tensor.
final class SafeTensorsValidationTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var path: String { directory.file("bad.safetensors") }

    override func setUpWithError() throws { directory = try TemporaryDirectory() }
    override func tearDown() { directory.remove() }

    /// Writes `bytes` to `path` and opens it.
    private func open(_ bytes: [UInt8]) throws -> SafeTensorsFile {
        try writeBytes(bytes, to: path)
        return try SafeTensorsFile(path: path)
    }

    /// Opens a file whose header is `header` and whose data buffer holds `dataCount` zero bytes.
    private func open(header: String, dataCount: Int = 0) throws -> SafeTensorsFile {
        try open(handBuiltFile(header: header, data: [UInt8](repeating: 0, count: dataCount)))
    }

    private func entry(_ dtype: String = "F32", _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        #"{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
    }

    // MARK: - Framing

    func testFileShorterThanEightBytes() {
        assertThrows(.fileTooShort(path: path, byteCount: 0)) { try open([]) }
        assertThrows(.fileTooShort(path: path, byteCount: 5)) { try open([1, 0, 0, 0, 0]) }
    }

    func testDeclaredHeaderLengthBeyondTheFile() {
        // One byte too many, 2^63 and 2^64 - 1: no trap, no allocation, a typed error.
        assertThrows(.headerLengthOutOfBounds(path: path, declared: 3, available: 2)) {
            try open(handBuiltFile(header: "{}", declaredLength: 3))
        }
        assertThrows(.headerLengthOutOfBounds(path: path, declared: 1 << 63, available: 8)) {
            try open(handBuiltFile(header: "{}      ", declaredLength: 1 << 63))
        }
        assertThrows(.headerLengthOutOfBounds(path: path, declared: .max, available: 2)) {
            try open(handBuiltFile(header: "{}", declaredLength: .max))
        }
    }

    func testHeaderLargerThanTheReferenceLimit() throws {
        // A sparse file: the declared length fits in the file but exceeds 100 MB.
        let declared = UInt64(SafeTensors.maximumHeaderByteCount + 1)
        try writeBytes(handBuiltFile(header: "", declaredLength: declared), to: path)
        XCTAssertEqual(truncate(path, off_t(8 + declared)), 0)
        assertThrows(.headerTooLarge(path: path, declared: declared, limit: SafeTensors.maximumHeaderByteCount)) {
            try SafeTensorsFile(path: path)
        }
    }

    func testMissingFileIsAnIOError() {
        assertThrows(.io(path: path, operation: "open", errno: ENOENT)) { try SafeTensorsFile(path: path) }
    }

    // MARK: - JSON

    func testInvalidJSON() {
        for header in [#"{"a": "#, "{} x", "not json", ""] {
            XCTAssertThrowsError(try open(header: header), header) { error in
                guard case let .invalidJSON(errorPath, _)? = error as? SafeTensorsError else {
                    return XCTFail("\(header): expected invalidJSON, got \(error)")
                }
                XCTAssertEqual(errorPath, path)
            }
        }
        // Invalid UTF-8 inside a string.
        var bytes = handBuiltFile(header: #"{"__metadata__":{"k":"xx"}}"#)
        bytes[8 + 22] = 0xFF
        XCTAssertThrowsError(try open(bytes)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .invalidJSON(path: path, reason: "header is not valid UTF-8"))
        }
    }

    func testHeaderThatIsNotAnObject() {
        for header in ["[1, 2]", #""text""#, "3", "null"] {
            assertThrows(.headerNotAnObject(path: path)) { try open(header: header) }
        }
    }

    // MARK: - Entries

    func testEntryThatIsNotAnObject() {
        assertThrows(.entryNotAnObject(path: path, tensor: "w")) { try open(header: #"{"w": [1, 2]}"#) }
    }

    func testMissingFields() {
        assertThrows(.missingField(path: path, tensor: "w", field: "dtype")) {
            try open(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, dataCount: 4)
        }
        assertThrows(.missingField(path: path, tensor: "w", field: "shape")) {
            try open(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, dataCount: 4)
        }
        assertThrows(.missingField(path: path, tensor: "w", field: "data_offsets")) {
            try open(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, dataCount: 4)
        }
    }

    func testFieldsOfTheWrongType() {
        let cases: [(String, String)] = [
            (#"{"dtype":7,"shape":[1],"data_offsets":[0,4]}"#, "dtype"),
            (#"{"dtype":"F32","shape":"1","data_offsets":[0,4]}"#, "shape"),
            (#"{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}"#, "shape"),
            (#"{"dtype":"F32","shape":[true],"data_offsets":[0,4]}"#, "shape"),
            (#"{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}"#, "shape"),
            (#"{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}"#, "shape"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0]}"#, "data_offsets"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}"#, "data_offsets"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}"#, "data_offsets"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":{"begin":0}}"#, "data_offsets"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}"#, "data_offsets"),
            (#"{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}"#, "data_offsets"),
        ]
        for (entry, field) in cases {
            XCTAssertThrowsError(try open(header: #"{"w":\#(entry)}"#, dataCount: 4), entry) { error in
                guard case let .invalidField(errorPath, tensor, errorField, _)? = error as? SafeTensorsError else {
                    return XCTFail("\(entry): expected invalidField, got \(error)")
                }
                XCTAssertEqual([errorPath, tensor, errorField], [path, "w", field], entry)
            }
        }
    }

    func testUnknownDType() {
        assertThrows(.unknownDType(path: path, tensor: "w", dtype: "F33")) {
            try open(header: #"{"w":\#(entry("F33", [1], 0, 4))}"#, dataCount: 4)
        }
        assertThrows(.unknownDType(path: path, tensor: "w", dtype: "f32")) {
            try open(header: #"{"w":\#(entry("f32", [1], 0, 4))}"#, dataCount: 4)
        }
    }

    func testNegativeDimension() {
        assertThrows(.negativeDimension(path: path, tensor: "w", shape: [-1, 4])) {
            try open(header: #"{"w":\#(entry("F32", [-1, 4], 0, 16))}"#, dataCount: 16)
        }
    }

    func testBeginAfterEnd() {
        assertThrows(.invertedOffsets(path: path, tensor: "w", begin: 8, end: 4)) {
            try open(header: #"{"w":\#(entry("F32", [1], 8, 4))}"#, dataCount: 8)
        }
    }

    func testOffsetsOutsideTheDataBuffer() {
        assertThrows(.offsetsOutOfBounds(path: path, tensor: "w", begin: 0, end: 8, dataByteCount: 4)) {
            try open(header: #"{"w":\#(entry("F32", [2], 0, 8))}"#, dataCount: 4)
        }
        assertThrows(.offsetsOutOfBounds(path: path, tensor: "w", begin: 1 << 62, end: 1 << 62 + 4,
                                         dataByteCount: 4)) {
            try open(header: #"{"w":\#(entry("F32", [1], 1 << 62, 1 << 62 + 4))}"#, dataCount: 4)
        }
    }

    func testSizeThatDisagreesWithShapeAndDType() {
        assertThrows(.sizeMismatch(path: path, tensor: "w", dtype: "F32", shape: [2], expectedByteCount: 8,
                                   actualByteCount: 4)) {
            try open(header: #"{"w":\#(entry("F32", [2], 0, 4))}"#, dataCount: 4)
        }
        assertThrows(.sizeMismatch(path: path, tensor: "h", dtype: "BF16", shape: [3], expectedByteCount: 6,
                                   actualByteCount: 8)) {
            try open(header: #"{"h":\#(entry("BF16", [3], 0, 8))}"#, dataCount: 8)
        }
        // product(shape) × size overflows Int: reported, not trapped.
        assertThrows(.sizeMismatch(path: path, tensor: "w", dtype: "F32", shape: [1 << 31, 1 << 31],
                                   expectedByteCount: nil, actualByteCount: 4)) {
            try open(header: #"{"w":\#(entry("F32", [1 << 31, 1 << 31], 0, 4))}"#, dataCount: 4)
        }
    }

    func testZeroDimensionMakesAnEmptyTensorWhateverTheOtherDimensions() throws {
        let file = try open(header: #"{"z":\#(entry("F32", [1 << 40, 0, 1 << 40], 0, 0))}"#)
        XCTAssertEqual(file.info("z")?.shape, [1 << 40, 0, 1 << 40])
    }

    func testOverlappingTensors() {
        assertThrows(.overlappingTensors(path: path, first: "a", second: "b")) {
            try open(header: #"{"a":\#(entry("F32", [2], 0, 8)),"b":\#(entry("F32", [2], 4, 12))}"#, dataCount: 12)
        }
        // The same range twice.
        assertThrows(.overlappingTensors(path: path, first: "a", second: "b")) {
            try open(header: #"{"b":\#(entry("F32", [2], 0, 8)),"a":\#(entry("F32", [2], 0, 8))}"#, dataCount: 8)
        }
    }

    func testDataNotFullyCoveredIsRejectedLikeTheReference() {
        // A gap between two tensors.
        assertThrows(.uncoveredData(path: path, begin: 4, end: 8)) {
            try open(header: #"{"a":\#(entry("F32", [1], 0, 4)),"b":\#(entry("F32", [1], 8, 12))}"#, dataCount: 12)
        }
        // Bytes before the first tensor.
        assertThrows(.uncoveredData(path: path, begin: 0, end: 4)) {
            try open(header: #"{"a":\#(entry("F32", [1], 4, 8))}"#, dataCount: 8)
        }
        // Bytes after the last tensor.
        assertThrows(.uncoveredData(path: path, begin: 4, end: 6)) {
            try open(header: #"{"a":\#(entry("F32", [1], 0, 4))}"#, dataCount: 6)
        }
        // No tensors but data.
        assertThrows(.uncoveredData(path: path, begin: 0, end: 3)) { try open(header: "{}", dataCount: 3) }
    }

    func testDuplicateNames() {
        assertThrows(.duplicateName(path: path, name: "a")) {
            try open(header: #"{"a":\#(entry("F32", [1], 0, 4)),"a":\#(entry("F32", [1], 0, 4))}"#, dataCount: 4)
        }
        // The same name spelled with an escape.
        assertThrows(.duplicateName(path: path, name: "ab")) {
            try open(header: #"{"ab":\#(entry("F32", [1], 0, 4)), "\u0061b" :\#(entry("F32", [1], 4, 8))}"#,
                     dataCount: 8)
        }
        assertThrows(.duplicateName(path: path, name: "__metadata__")) {
            try open(header: #"{"__metadata__":{},"__metadata__":{"a":"b"}}"#)
        }
    }

    func testEqualKeysInsideEntriesAreNotTopLevelDuplicates() throws {
        // Keys of nested objects and string values must not be counted as tensor names.
        let header = #"{"__metadata__":{"a":"a","x":"{\"a\":1,"},"a":\#(entry("F32", [1], 0, 4))}"#
        let file = try open(header: header, dataCount: 4)
        XCTAssertEqual(file.names, ["a"])
        XCTAssertEqual(file.metadata, ["a": "a", "x": #"{"a":1,"#])
    }

    // MARK: - Metadata

    func testMetadataValuesMustBeStrings() {
        assertThrows(.invalidMetadata(path: path, key: "epochs", reason: "value is not a string")) {
            try open(header: #"{"__metadata__":{"format":"pt","epochs":3}}"#)
        }
        assertThrows(.invalidMetadata(path: path, key: nil, reason: "is not a JSON object")) {
            try open(header: #"{"__metadata__":["format","pt"]}"#)
        }
    }

    func testNullMetadataMeansNone() throws {
        XCTAssertEqual(try open(header: #"{"__metadata__":null}"#).metadata, [:])
    }

    // MARK: - Loading

    func testUnknownTensorAndUnloadableDType() throws {
        let file = try open(header: #"{"d":\#(entry("F64", [2], 0, 16))}"#, dataCount: 16)
        XCTAssertEqual(file.info("d")?.dtype, .float64)
        assertThrows(.tensorNotFound(path: path, name: "x")) { try file.tensor(named: "x") }
        assertThrows(.unsupportedDType(path: path, tensor: "d", dtype: "F64")) { try file.tensor(named: "d") }
        assertThrows(.unsupportedDType(path: path, tensor: "d", dtype: "F64")) { try file.tensors() }
    }

    func testMessagesNameTheFileAndTheKey() {
        XCTAssertThrowsError(try open(header: #"{"layer.0.weight":\#(entry("F32", [3], 0, 8))}"#, dataCount: 8)) {
            let message = "\($0)"
            XCTAssertTrue(message.contains(path), message)
            XCTAssertTrue(message.contains("layer.0.weight"), message)
            XCTAssertTrue(message.contains("12 bytes"), message)
            XCTAssertEqual($0.localizedDescription, message)
        }
        XCTAssertThrowsError(try open(header: #"{"__metadata__":{"epochs":3}}"#)) {
            XCTAssertTrue("\($0)".contains("'epochs'"), "\($0)")
        }
        let io = SafeTensorsError.io(path: "/x/y.safetensors", operation: "write", errno: ENOSPC)
        XCTAssertEqual(io.description, "/x/y.safetensors: write failed: No space left on device (errno 28)")
    }
}
