import Foundation
import NN
import SafeTensors
import TestSupport
import XCTest

private final class Tagged: Module {
    @Child var embedding: Embedding
    @Child var norm: LayerNorm
    @Buffer var steps = Tensor(indices: [41], shape: [])

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        embedding = Embedding(5, 3, generator: &rng)
        norm = LayerNorm(3)
        super.init()
        norm.bias = Tensor.uniform([3], generator: &rng)
    }
}

final class ModuleSafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testSaveThenLoadRoundTripsParametersAndIntegerBuffers() throws {
        let path = directory.appendingPathComponent("model.safetensors").path
        let a = Tagged(seed: 1)
        try a.saveSafeTensors(path: path, metadata: ["format": "pt"])
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.names, ["embedding.weight", "norm.bias", "norm.weight", "steps"])
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.info("steps")?.dtype, .int64)

        let b = Tagged(seed: 2)
        XCTAssertNotEqual(b.embedding.weight.scalars, a.embedding.weight.scalars)
        try b.loadSafeTensors(path: path)
        for (key, value) in a.stateDict() {
            XCTAssertEqual(b.stateDict()[key]?.scalars, value.scalars, key)
            XCTAssertEqual(b.stateDict()[key]?.dtype, value.dtype, key)
        }
        XCTAssertTrue(b.embedding.weight.requiresGrad, "loaded parameters stay trainable")
    }

    func testStrictnessAndErrors() throws {
        let path = directory.appendingPathComponent("partial.safetensors").path
        try SafeTensors.write(["embedding.weight": Tensor.zeros([5, 3]), "extra": Tensor.zeros([1])], to: path)
        let m = Tagged(seed: 3)
        XCTAssertThrowsError(try m.loadSafeTensors(path: path)) { error in
            XCTAssertEqual(error as? ModuleError, .missingKeys(["norm.bias", "norm.weight", "steps"]))
        }
        try m.loadSafeTensors(path: path, strict: false)
        XCTAssertTrue(m.embedding.weight.scalars.allSatisfy { $0 == 0 })

        let wrong = directory.appendingPathComponent("wrong.safetensors").path
        try SafeTensors.write(["embedding.weight": Tensor.zeros([5, 4])], to: wrong)
        XCTAssertThrowsError(try m.loadSafeTensors(path: wrong, strict: false)) { error in
            XCTAssertEqual(error as? ModuleError, .shapeMismatch(key: "embedding.weight", expected: [5, 3], got: [5, 4]))
        }
        XCTAssertThrowsError(try m.loadSafeTensors(path: directory.appendingPathComponent("absent").path)) { error in
            XCTAssertTrue(error is SafeTensorsError, "\(error)")
        }
        XCTAssertThrowsError(try m.saveSafeTensors(path: directory.appendingPathComponent("no/such/dir.safetensors").path)) { error in
            XCTAssertTrue(error is SafeTensorsError, "\(error)")
        }
    }
}
