import Foundation
import LoRA
import NN
import SafeTensors
import Tensor
import TestSupport
import TextModels
import XCTest

/// The BERT encoder against Hugging Face transformers (goldens from scripts/make_bert_goldens.py):
/// all-MiniLM-L6-v2's real weights (token states, mean-pooled sentence embeddings, similarity
/// ordering, padding invariance) and a tiny random BertForSequenceClassification (logits and
/// gradients of a cross-entropy loss, computed by transformers in float64).
final class BertTests: XCTestCase {
    // MARK: - MiniLM (real weights)

    func testMiniLMTokenStatesAndPooledEmbeddingsMatchTransformers() throws {
        let golden = try MiniLMGolden.load()
        let model = try BertModel.loadPretrained(from: try miniLMDirectory())
        model.eval()
        let (ids, mask) = golden.inputs()
        let hidden = model(ids, attentionMask: mask)                                    // [8, T, 384]
        let t = ids.shape[1], h = golden.hidden_size
        XCTAssertEqual(hidden.shape, [golden.sentences.count, t, h])
        let values = hidden.scalars
        var worst: Float = 0
        for (i, positions) in golden.token_positions.enumerated() {
            for (k, position) in positions.enumerated() {
                let start = (i * t + position) * h
                for j in 0..<h { worst = max(worst, abs(values[start + j] - golden.token_states[i][k][j])) }
            }
            // The checksums cover every real token, not only the stored ones.
            let real = golden.attention_mask[i].reduce(0, +)
            let states = values[(i * t * h)..<((i * t + real) * h)].map(Double.init)
            let absSum = states.reduce(0) { $0 + abs($1) }, norm = states.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(absSum, golden.token_checksums[i][0], accuracy: 1e-5 * golden.token_checksums[i][0], "sentence \(i)")
            XCTAssertEqual(norm, golden.token_checksums[i][1], accuracy: 1e-5 * golden.token_checksums[i][1], "sentence \(i)")
        }
        XCTAssertLessThanOrEqual(worst, 1e-4, "largest token-state difference from transformers")

        let pooled = BertPooling.meanPool(hidden, attentionMask: mask)
        assertClose(pooled, Tensor(golden.mean_pooled.flatMap { $0 }, shape: [golden.sentences.count, h]),
                    atol: 1e-4, rtol: 0, "mean-pooled sentence embeddings")
    }

    func testMiniLMSimilarityOrdering() throws {
        let golden = try MiniLMGolden.load()
        let model = try BertModel.loadPretrained(from: try miniLMDirectory())
        model.eval()
        let (ids, mask) = golden.inputs()
        let pooled = BertPooling.meanPool(model(ids, attentionMask: mask), attentionMask: mask)
        let cosine = cosineMatrix(pooled)
        // "A man is eating food." is closer to "…eating a piece of bread." than to "…riding a
        // horse.", which is closer than any unrelated sentence.
        XCTAssertGreaterThan(cosine[0][1], cosine[0][2] + 0.3)
        for j in 3..<8 { XCTAssertGreaterThan(cosine[0][2], cosine[0][j], "sentence \(j)") }
        // "A woman is playing violin." is closest to "A monkey is playing drums.".
        for j in [0, 1, 2, 5, 6, 7] { XCTAssertGreaterThan(cosine[3][4], cosine[3][j], "sentence \(j)") }
        for i in 0..<8 {
            for j in 0..<8 { XCTAssertEqual(cosine[i][j], golden.cosine[i][j], accuracy: 1e-5, "cosine[\(i)][\(j)]") }
        }
    }

    func testPaddingDoesNotChangeTheEmbedding() throws {
        let golden = try MiniLMGolden.load()
        let model = try BertModel.loadPretrained(from: try miniLMDirectory())
        model.eval()
        let (ids, mask) = golden.inputs()
        let batch = model(ids, attentionMask: mask)
        // "Cats sleep." (sentence 6) alone, without padding, and within the padded batch.
        let real = golden.attention_mask[6].reduce(0, +)
        let alone = model(Tensor(indices: Array(golden.input_ids[6].prefix(real)), shape: [1, real]))
        let inBatch = batch.slice(axis: 0, start: 6, end: 7).slice(axis: 1, start: 0, end: real)
        assertClose(inBatch, alone, atol: 1e-5, rtol: 0, "token states with and without padding")
        let pooledAlone = BertPooling.meanPool(alone, attentionMask: Tensor.ones([1, real]))
        let pooledBatch = BertPooling.meanPool(batch, attentionMask: mask).slice(axis: 0, start: 6, end: 7)
        assertClose(pooledBatch, pooledAlone, atol: 1e-5, rtol: 0, "sentence embedding with and without padding")
        // The mask derived from the padding id gives the same result as the explicit one.
        assertClose(model(ids), batch, atol: 0, rtol: 0, "derived attention mask")
    }

    // MARK: - Tiny classifier (random weights)

    func testTinyClassifierLogitsAndGradientsMatchTransformers() throws {
        let golden = try TinyGolden.load()
        var rng = RandomGenerator(seed: 1)
        let model = try BertForSequenceClassification.loadPretrained(from: fixture("bert_tiny"), generator: &rng)
        model.eval()
        XCTAssertEqual(model.pooling, .pooler, "a checkpoint with a pooler defaults to pooler pooling")
        XCTAssertEqual(model.classCount, 3)
        let n = golden.input_ids.count, t = golden.input_ids[0].count
        let ids = Tensor(indices: golden.input_ids.flatMap { $0 }, shape: [n, t])
        let types = Tensor(indices: golden.token_type_ids.flatMap { $0 }, shape: [n, t])
        let logits = try model.logits(ids, tokenTypeIds: types)
        let expected = Tensor(golden.logits.flatMap { $0 }.map(Float.init), shape: [n, 3])
        assertClose(logits, expected, atol: 1e-4 * maxAbs(expected.scalars), rtol: 0, "logits")

        let loss = crossEntropy(logits: logits, targets: Tensor(indices: golden.labels, shape: [n]))
        XCTAssertEqual(Double(loss.item), golden.loss, accuracy: 1e-5)
        loss.backward()
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters())
        for (key, reference) in golden.grads.sorted(by: { $0.key < $1.key }) {
            let grad = try XCTUnwrap(parameters[key]?.grad, "no gradient for \(key)")
            let bound = 1e-4 * maxAbs(reference.map(Float.init))
            assertClose(grad.reshaped([grad.count]), Tensor(reference.map(Float.init)), atol: bound, rtol: 0, key)
        }
    }

    func testStateDictKeysAreTransformers() throws {
        let file = try SafeTensorsFile(path: fixture("bert_tiny").appendingPathComponent("model.safetensors").path)
        var rng = RandomGenerator(seed: 0)
        let config = try BertConfig.load(from: fixture("bert_tiny"))
        let model = BertForSequenceClassification(config: config, classes: 3, generator: &rng)
        let ours = model.stateDict().mapValues(\.shape)
        let theirs = Dictionary(uniqueKeysWithValues: file.names.map { ($0, file.info($0)!.shape) })
        XCTAssertEqual(ours, theirs)
    }

    func testPrefixedAndUnprefixedCheckpointsLoad() throws {
        let tiny = fixture("bert_tiny")
        let file = try SafeTensorsFile(path: tiny.appendingPathComponent("model.safetensors").path)
        // The classifier checkpoint (`bert.` prefix) as a bare encoder: its classifier is ignored.
        let encoder = try BertModel.loadPretrained(from: tiny)
        XCTAssertEqual(try file.tensor(named: "bert.encoder.layer.1.output.dense.weight").scalars,
                       encoder.encoder.layers[1].output.dense.weight.scalars)
        XCTAssertNotNil(encoder.pooler)

        // The same weights without the prefix and without a classifier (MiniLM's layout).
        let directory = try temporaryCheckpoint(from: tiny) { key in
            key.hasPrefix("classifier.") ? nil : String(key.dropFirst("bert.".count))
        }
        let unprefixed = try BertModel.loadPretrained(from: directory)
        XCTAssertEqual(unprefixed.stateDict().mapValues(\.scalars), encoder.stateDict().mapValues(\.scalars))
        // Layer norms named gamma and beta, as in the original BERT checkpoints.
        let original = try temporaryCheckpoint(from: tiny) { key in
            key.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma")
                .replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta")
        }
        XCTAssertEqual(try BertModel.loadPretrained(from: original).stateDict().mapValues(\.scalars),
                       encoder.stateDict().mapValues(\.scalars))

        // A classifier on the bare encoder has a new head; it needs a class count.
        var rng = RandomGenerator(seed: 3)
        XCTAssertThrowsError(try BertForSequenceClassification.loadPretrained(from: directory, generator: &rng)) { error in
            XCTAssertEqual(error as? BertError, .missingWeight(
                file: directory.appendingPathComponent("model.safetensors").path, key: "classifier.weight"))
        }
        let classifier = try BertForSequenceClassification.loadPretrained(from: directory, classes: 5, generator: &rng)
        XCTAssertEqual(classifier.classCount, 5)
        XCTAssertEqual(classifier.bert.embeddings.wordEmbeddings.weight.scalars,
                       encoder.embeddings.wordEmbeddings.weight.scalars)
        XCTAssertGreaterThan(maxAbs(classifier.classifier.weight.scalars), 0, "the new head is initialised")
    }

    func testMissingEncoderKeyIsNamed() throws {
        let tiny = fixture("bert_tiny")
        let missing = "bert.encoder.layer.1.attention.self.value.weight"
        let directory = try temporaryCheckpoint(from: tiny) { $0 == missing ? nil : $0 }
        let weights = directory.appendingPathComponent("model.safetensors").path
        var rng = RandomGenerator(seed: 0)
        for load in [{ _ = try BertModel.loadPretrained(from: directory) },
                     { _ = try BertForSequenceClassification.loadPretrained(from: directory, generator: &rng) }] {
            XCTAssertThrowsError(try load()) { error in
                XCTAssertEqual(error as? BertError,
                               .missingWeight(file: weights, key: "encoder.layer.1.attention.self.value.weight"))
                XCTAssertTrue("\(error)".contains("encoder.layer.1.attention.self.value.weight"), "\(error)")
            }
        }
        // A missing pooler is tolerated only where the pooler is new.
        let noPooler = try temporaryCheckpoint(from: tiny) { $0.contains("pooler.") ? nil : $0 }
        let mean = try BertForSequenceClassification.loadPretrained(from: noPooler, generator: &rng)
        XCTAssertEqual(mean.pooling, .mean)
        XCTAssertNil(mean.bert.pooler)
        let pooled = try BertForSequenceClassification.loadPretrained(from: noPooler, pooling: .pooler, generator: &rng)
        XCTAssertGreaterThan(maxAbs(try XCTUnwrap(pooled.bert.pooler).dense.weight.scalars), 0)
        // A tensor of another architecture is reported, as is a misshapen one.
        let foreign = try temporaryCheckpoint(from: tiny, extra: ["decoder.weight": Tensor.zeros([2])]) { $0 }
        XCTAssertThrowsError(try BertModel.loadPretrained(from: foreign)) { error in
            XCTAssertEqual(error as? BertError, .unexpectedWeights(
                file: foreign.appendingPathComponent("model.safetensors").path, keys: ["decoder.weight"]))
        }
        let key = "bert.encoder.layer.0.intermediate.dense.bias"
        let misshapen = try temporaryCheckpoint(from: tiny, extra: [key: Tensor.zeros([3])]) { $0 == key ? nil : $0 }
        XCTAssertThrowsError(try BertModel.loadPretrained(from: misshapen)) { error in
            XCTAssertEqual(error as? BertError, .shapeMismatch(
                file: misshapen.appendingPathComponent("model.safetensors").path, key: key, expected: [64], got: [3]))
        }
    }

    // MARK: - Gradients and configuration

    func testEncoderLayerGradients() throws {
        let config = BertConfig(vocabularySize: 10, hiddenSize: 8, layerCount: 1, headCount: 2, intermediateSize: 12,
                                maxPositionEmbeddings: 8, initializerRange: 0.4)
        var rng = RandomGenerator(seed: 11)
        let model = BertModel(config: config, addPooler: false, generator: &rng)
        model.eval()
        let layer = model.encoder.layers[0]
        let x = randomTensor([2, 3, 8], seed: 1)
        let keep = Tensor([1, 1, 1, 1, 1, 0], shape: [2, 3])                       // row 1: one padding token
        let query = layer.attention.selfAttention.query.weight
        let ffn = layer.intermediate.dense.weight
        let norm = try XCTUnwrap(layer.output.layerNorm.weight)
        checkGradients([x, query, ffn, norm]) { xs in
            layer.attention.selfAttention.query.weight = xs[1]
            layer.intermediate.dense.weight = xs[2]
            layer.output.layerNorm.weight = xs[3]
            return layer(xs[0], mask: .keyPadding(keep))
        }
        // The pooled output too, through the mean over the mask.
        checkGradients([x]) { xs in BertPooling.meanPool(layer(xs[0], mask: .keyPadding(keep)), attentionMask: keep) }
    }

    func testConfigurationFromTransformersJSON() throws {
        let config = try BertConfig.load(from: fixture("bert_tiny"))
        XCTAssertEqual(config.vocabularySize, 50)
        XCTAssertEqual(config.hiddenSize, 32)
        XCTAssertEqual(config.layerCount, 2)
        XCTAssertEqual(config.headCount, 4)
        XCTAssertEqual(config.intermediateSize, 64)
        XCTAssertEqual(config.hiddenActivation, .gelu)
        XCTAssertEqual(config.maxPositionEmbeddings, 16)
        XCTAssertEqual(config.layerNormEpsilon, 1e-12)
        XCTAssertEqual(config.labels, ["LABEL_0", "LABEL_1", "LABEL_2"])
        XCTAssertNil(config.classifierDropout)
        // Written and read back.
        let data = try JSONEncoder().encode(config)
        XCTAssertEqual(try JSONDecoder().decode(BertConfig.self, from: data), config)

        let base: [String: Any] = ["vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
                                   "num_attention_heads": 2, "intermediate_size": 16]
        func expectError(_ change: (inout [String: Any]) -> Void, key: String, _ reason: String,
                         line: UInt = #line) throws {
            var json = base
            change(&json)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("bert-config-\(UUID()).json")
            try JSONSerialization.data(withJSONObject: json).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            XCTAssertThrowsError(try BertConfig.load(from: file), line: line) { error in
                guard case let .invalidConfig(path, k, why)? = error as? BertError else {
                    return XCTFail("\(error)", line: line)
                }
                XCTAssertEqual(path, file.path, line: line)
                XCTAssertEqual(k, key, line: line)
                XCTAssertTrue(why.contains(reason), why, line: line)
            }
        }
        try expectError({ $0["hidden_size"] = nil }, key: "hidden_size", "missing")
        try expectError({ $0["num_hidden_layers"] = "six" }, key: "num_hidden_layers", "integer")
        try expectError({ $0["hidden_act"] = "swish" }, key: "hidden_act", "unsupported activation")
        try expectError({ $0["num_attention_heads"] = 3 }, key: "num_attention_heads", "do not divide")
        try expectError({ $0["position_embedding_type"] = "relative_key" }, key: "position_embedding_type", "absolute")
        try expectError({ $0["pad_token_id"] = 30 }, key: "pad_token_id", "outside the vocabulary")
    }

    func testInvalidInputsThrow() throws {
        var rng = RandomGenerator(seed: 0)
        let config = BertConfig(vocabularySize: 10, hiddenSize: 8, layerCount: 1, headCount: 2, intermediateSize: 12,
                                maxPositionEmbeddings: 4)
        let model = BertModel(config: config, generator: &rng)
        XCTAssertThrowsError(try model.hiddenStates(Tensor(indices: [1, 12], shape: [1, 2]))) { error in
            XCTAssertTrue("\(error)".contains("token id 12"), "\(error)")
        }
        XCTAssertThrowsError(try model.hiddenStates(Tensor(indices: [1, 2, 3, 4, 5], shape: [1, 5]))) { error in
            XCTAssertTrue("\(error)".contains("4 positions"), "\(error)")
        }
        XCTAssertThrowsError(try model.hiddenStates(Tensor(indices: [1, 2], shape: [1, 2]),
                                                    attentionMask: Tensor.ones([2, 2])))
    }

    func testLoRATargetsAttentionAndDenseProjectionsByName() throws {
        var rng = RandomGenerator(seed: 5)
        let config = BertConfig(vocabularySize: 20, hiddenSize: 8, layerCount: 2, headCount: 2, intermediateSize: 16,
                                maxPositionEmbeddings: 8)
        let model = BertForSequenceClassification(config: config, classes: 2, generator: &rng)
        model.eval()
        let ids = Tensor(indices: [2, 5, 7, 3, 2, 9, 0, 0], shape: [2, 4])
        let before = model(ids)
        let lora = LoRAModel(wrapping: model)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["query", "value", "dense"],
                                               excludeModules: ["pooler.dense"], modulesToSave: ["classifier"]),
                            generator: &rng)
        XCTAssertEqual(lora.hosts.map(\.key), [
            "bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.attention.self.value",
            "bert.encoder.layer.0.attention.output.dense", "bert.encoder.layer.0.intermediate.dense",
            "bert.encoder.layer.0.output.dense",
            "bert.encoder.layer.1.attention.self.query", "bert.encoder.layer.1.attention.self.value",
            "bert.encoder.layer.1.attention.output.dense", "bert.encoder.layer.1.intermediate.dense",
            "bert.encoder.layer.1.output.dense",
        ])
        // Per layer: q, v, attention output 2·(8·2 + 2·8); intermediate 8·2 + 2·16; output 16·2 + 2·8. Head 8·2 + 2.
        XCTAssertEqual(model.trainableParameterCount, 2 * (3 * 32 + 48 + 48) + 18)
        assertClose(model(ids), before, atol: 0, rtol: 0, "a fresh adapter (B = 0) changes nothing")
    }

    // MARK: - Helpers

    private func fixture(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    /// A copy of the checkpoint directory `source` whose tensors are renamed by `rename` (nil drops
    /// one), plus `extra` tensors.
    private func temporaryCheckpoint(from source: URL, extra: [String: Tensor] = [:],
                                     rename: (String) -> String?) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bert-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"),
                                         to: directory.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(path: source.appendingPathComponent("model.safetensors").path)
        var tensors = extra
        for name in file.names { if let new = rename(name) { tensors[new] = try file.tensor(named: name) } }
        try SafeTensors.write(tensors, to: directory.appendingPathComponent("model.safetensors").path)
        return directory
    }

    private func cosineMatrix(_ x: Tensor) -> [[Double]] {
        let n = x.shape[0], h = x.shape[1], v = x.scalars.map(Double.init)
        let rows = (0..<n).map { Array(v[($0 * h)..<(($0 + 1) * h)]) }
        let norms = rows.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return (0..<n).map { i in
            (0..<n).map { j in zip(rows[i], rows[j]).reduce(0) { $0 + $1.0 * $1.1 } / (norms[i] * norms[j]) }
        }
    }

    private func maxAbs(_ values: [Float]) -> Float { values.reduce(0) { max($0, abs($1)) } }
}

/// all-MiniLM-L6-v2's directory: `$LORAKIT_MINILM`, else `data/models/all-MiniLM-L6-v2` under the
/// repository. Absent: skipped (failed when `CI` is set, where scripts/fetch_minilm has run).
private func miniLMDirectory(file: StaticString = #filePath) throws -> URL {
    let environment = ProcessInfo.processInfo.environment
    let repository = URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let directory = environment["LORAKIT_MINILM"].map { URL(fileURLWithPath: $0) }
        ?? repository.appendingPathComponent("data/models/all-MiniLM-L6-v2")
    if FileManager.default.fileExists(atPath: directory.appendingPathComponent("model.safetensors").path) {
        return directory
    }
    let message = "all-MiniLM-L6-v2 is not in \(directory.path): run scripts/fetch_minilm"
    if environment["CI"] != nil { XCTFail(message) }
    throw XCTSkip(message)
}

/// bert_goldens.json (see scripts/make_bert_goldens.py).
private struct MiniLMGolden: Decodable {
    var sentences: [String]
    var input_ids: [[Int]]
    var attention_mask: [[Int]]
    var hidden_size: Int
    var token_positions: [[Int]]
    var token_states: [[[Float]]]
    var token_checksums: [[Double]]
    var mean_pooled: [[Float]]
    var cosine: [[Double]]

    static func load() throws -> MiniLMGolden {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("bert_goldens.json")
        return try JSONDecoder().decode(MiniLMGolden.self, from: Data(contentsOf: url))
    }

    /// Ids [N, T] (int64) and the attention mask [N, T] (float).
    func inputs() -> (Tensor, Tensor) {
        let n = input_ids.count, t = input_ids[0].count
        return (Tensor(indices: input_ids.flatMap { $0 }, shape: [n, t]),
                Tensor(attention_mask.flatMap { $0 }.map(Float.init), shape: [n, t]))
    }
}

/// bert_tiny_goldens.json (see scripts/make_bert_goldens.py).
private struct TinyGolden: Decodable {
    var input_ids: [[Int]]
    var token_type_ids: [[Int]]
    var labels: [Int]
    var logits: [[Double]]
    var loss: Double
    var grads: [String: [Double]]

    static func load() throws -> TinyGolden {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("bert_tiny_goldens.json")
        return try JSONDecoder().decode(TinyGolden.self, from: Data(contentsOf: url))
    }
}
