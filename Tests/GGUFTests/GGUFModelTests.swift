import Foundation
import GGUF
import Tensor
import TestSupport
import XCTest

/// The real SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch_smollm2): its table and every one of its
/// 272 tensors dequantised, compared with the SHA-256 of the F32 bytes that `gguf.quants` gives
/// (Fixtures/smollm2_checksums.json, written by `scripts/make_gguf_fixtures.py --model`).
/// Skipped without the model unless LORAKIT_REQUIRE_MODELS=1.
final class GGUFModelTests: XCTestCase {
    func testSHA256MatchesTheStandardVectors() {
        func digest(_ text: String) -> String {
            var h = SHA256()
            h.update(Array(text.utf8))
            return h.finalize()
        }
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in uneven pieces, a million 'a's.
        var h = SHA256()
        var left = 1_000_000
        var step = 1
        while left > 0 {
            let n = min(step, left)
            h.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            left -= n
            step = step * 3 % 1000 + 1
        }
        XCTAssertEqual(h.finalize(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testMetadataOfTheRealModel() throws {
        let gguf = try GGUFFile(url: try RealModels.smolLM2())
        XCTAssertEqual(gguf.version, 3)
        XCTAssertEqual(gguf.metadata.count, 33)
        XCTAssertEqual(try gguf.string("general.architecture"), "llama")
        XCTAssertEqual(try gguf.int("llama.block_count"), 30)
        XCTAssertEqual(try gguf.int("llama.embedding_length"), 576)
        XCTAssertEqual(try gguf.int("llama.attention.head_count_kv"), 3)
        XCTAssertEqual(try gguf.float("llama.rope.freq_base"), 100_000)
        XCTAssertEqual(Float(try gguf.float("llama.attention.layer_norm_rms_epsilon")), 1e-5)
        XCTAssertEqual(try gguf.strings("tokenizer.ggml.tokens").count, 49_152)
        XCTAssertEqual(try gguf.strings("tokenizer.ggml.merges").count, 48_900)
        XCTAssertEqual(try gguf.string("tokenizer.ggml.pre"), "smollm")
        XCTAssertEqual(try gguf.bool("tokenizer.ggml.add_bos_token"), false)
    }

    func testEveryTensorDequantisesExactlyAsTheGGUFPackage() throws {
        let gguf = try GGUFFile(url: try RealModels.smolLM2())
        let reference = try GGUFFixtures.json("smollm2_checksums.json")
        let rows = try XCTUnwrap(reference["tensors"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 272)
        XCTAssertEqual(gguf.tensors.count, 272)
        XCTAssertEqual(gguf.dataOffset, reference["data_offset"] as? Int)
        var types: [GGUFTensorType: Int] = [:]
        var dequantising = 0.0
        for (info, row) in zip(gguf.tensors, rows) {
            let name = info.name
            XCTAssertEqual(name, row["name"] as? String)
            XCTAssertEqual(info.type.description, row["type"] as? String, name)
            XCTAssertEqual(info.dimensions, row["dimensions"] as? [Int], name)
            XCTAssertEqual(info.shape, row["shape"] as? [Int], name)
            XCTAssertEqual(info.offset, row["offset"] as? Int, name)
            XCTAssertEqual(info.byteCount, row["byte_count"] as? Int, name)
            types[info.type, default: 0] += 1

            let start = Date()
            let tensor = try gguf.tensor(named: name)
            dequantising += Date().timeIntervalSince(start)
            XCTAssertEqual(tensor.shape, info.shape, name)
            var hash = SHA256()
            tensor.withUnsafeMutableFloats { hash.update(UnsafeRawBufferPointer($0)) }
            XCTAssertEqual(hash.finalize(), row["sha256"] as? String,
                           "\(name) (\(info.type)): first values \(tensor.scalars.prefix(4)) vs bits \(row["first"] ?? "")")
        }
        XCTAssertEqual(types, [.q4_1: 210, .f32: 61, .q8_0: 1])
        print("GGUFModelTests: dequantised 272 tensors (\(gguf.tensors.map(\.elementCount).reduce(0, +)) floats) "
              + "in \(String(format: "%.3f", dequantising)) s with \(Threads.count) threads")
    }
}
