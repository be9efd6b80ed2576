import Foundation
import XCTest
import SafeTensors
import Tensor

/// Reads `Fixtures/reference.safetensors`, written by the reference implementation
/// (`scripts/make_safetensors_fixture.py`); the expected values are those the script chose.
final class SafeTensorsReferenceTests: XCTestCase {
    private func referenceFile() throws -> SafeTensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "reference", withExtension: "safetensors",
                                                  subdirectory: "Fixtures"))
        return try SafeTensorsFile(contentsOf: url)
    }

    func testHeaderAndMetadata() throws {
        let file = try referenceFile()
        XCTAssertEqual(file.names, ["brain", "bytes", "count", "double", "empty", "half", "ids", "weight"])
        XCTAssertEqual(file.metadata, ["format": "np", "source": "scripts/make_safetensors_fixture.py"])
        XCTAssertEqual(file.headerByteCount % 8, 0, "the reference pads its header to 8 bytes")
        XCTAssertEqual(file.info("weight")?.shape, [2, 3])
        XCTAssertEqual(file.info("count")?.shape, [])
        XCTAssertEqual(file.info("brain")?.dtype, .bfloat16)
    }

    func testValues() throws {
        let file = try referenceFile()
        XCTAssertEqual(try file.tensor(named: "weight").scalars, [0.5, -1, 2, 3.25, -0.125, 100])
        XCTAssertEqual(try file.tensor(named: "half").scalars, [1, -2, 0.5, 65504])
        XCTAssertEqual(try file.tensor(named: "brain").scalars, [1, -2, 3.140625, 0])
        XCTAssertEqual(try file.tensor(named: "brain").shape, [2, 2])
        let ids = try file.tensor(named: "ids")
        XCTAssertEqual(ids.dtype, .int64)
        XCTAssertEqual(ids.indexScalars, [-1, 0, 1 << 40])
        let count = try file.tensor(named: "count")
        XCTAssertEqual(count.dtype, .int32)
        XCTAssertEqual(count.indexScalars, [7])
        let bytes = try file.tensor(named: "bytes")
        XCTAssertEqual(bytes.dtype, .uint8)
        XCTAssertEqual(bytes.scalars, [0, 1, 127, 128, 255])
        XCTAssertEqual(try file.tensor(named: "empty").shape, [0, 4])
    }

    func testFloat64OpensButDoesNotLoad() throws {
        let file = try referenceFile()
        XCTAssertEqual(file.info("double")?.dtype, .float64)
        XCTAssertThrowsError(try file.tensor(named: "double")) { error in
            guard case .unsupportedDType(_, "double", "F64")? = error as? SafeTensorsError else {
                return XCTFail("\(error)")
            }
        }
    }
}
