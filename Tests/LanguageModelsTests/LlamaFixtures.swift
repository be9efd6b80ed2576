import Foundation
import Tensor
import XCTest

/// The committed fixtures of `scripts/make_llama_fixtures.py`: a random 2-layer grouped-query
/// Llama as `transformers` saves it (`llama_tiny/`), a 1-layer tied one (`llama_tiny_tied/`), the
/// first as llama.cpp's converter writes a GGUF (`llama_tiny.gguf`), and float64 goldens from
/// `transformers` (`llama_tiny_goldens.json`).
enum LlamaFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    static func goldens() throws -> Goldens {
        try JSONDecoder().decode(Goldens.self, from: Data(contentsOf: url("llama_tiny_goldens.json")))
    }

    struct Sequence: Decodable {
        let ids: [Int]
        let logits: [[Float]]
    }

    struct Padded: Decodable {
        let side: String
        let ids: [[Int]]
        let attention_mask: [[Int]]
        let position_ids: [[Int]]
        let logits: [[[Float]]]
    }

    struct CacheSteps: Decodable {
        struct Step: Decodable { let position: Int; let logits: [Float] }
        let ids: [Int]
        let prefix: Int
        let steps: [Step]
    }

    struct Greedy: Decodable {
        let prompt: [Int]
        let tokens: [Int]
        let margins: [Double]
    }

    struct Dequantized: Decodable {
        let type: String
        let shape: [Int]
        let sum: Double
        let sum_squares: Double
        let first: [Float]
    }

    struct Model: Decodable {
        let sequences: [Sequence]
        let padded: [Padded]?
        let cache_steps: CacheSteps?
        let greedy: Greedy?
        let dequantized: [String: Dequantized]?
    }

    struct Goldens: Decodable {
        let safetensors: Model
        let tied: Model
        let gguf: Model
    }
}

/// Ids [1, T] as an int64 tensor.
func idTensor(_ ids: [Int]) -> Tensor { Tensor(indices: ids, shape: [1, ids.count]) }

/// Asserts `actual` (any shape, `count` = rows × V) equals the rows of `expected` within `atol`,
/// naming the worst element.
func assertLogits(_ actual: Tensor, _ expected: [[Float]], atol: Float, _ message: String = "",
                  file: StaticString = #filePath, line: UInt = #line) {
    let a = actual.scalars, e = expected.flatMap { $0 }
    XCTAssertEqual(a.count, e.count, "\(message) element count", file: file, line: line)
    guard a.count == e.count else { return }
    var worst = 0
    for i in a.indices where !(abs(a[i] - e[i]) <= abs(a[worst] - e[worst])) { worst = i }
    XCTAssertLessThanOrEqual(abs(a[worst] - e[worst]), atol,
                             "\(message) worst element \(worst): \(a[worst]) vs \(e[worst])", file: file, line: line)
}
