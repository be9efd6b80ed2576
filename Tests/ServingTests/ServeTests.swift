import AsyncHTTPClient
import Demos
import Foundation
import NIOCore
import NIOHTTP1
import ImageModels
import Runtime
@testable import Serving
import Tasks
import Tensor
import XCTest
import Yams

/// `lorakit serve` over loopback with a real HTTP client: every endpoint and every error the
/// server names, concurrent requests for two adapters and the base giving what `predict` gives
/// for each, load and unload while requests are in flight, graceful shutdown, and every answer
/// checked against docs/openapi.yaml.
final class ServeTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var directory: URL!
    /// (method, path template, status) of every answer, checked against the OpenAPI document.
    var observed: [(String, String, Int)] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// 2 classes × 8 small images, and the recipe's overrides that read them.
    func makeImages() throws -> [String] {
        for (c, name) in ["dots", "lines"].enumerated() {
            let folder = directory.appendingPathComponent("images/\(name)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<8 {
                let pixels = (0..<(12 * 12 * 3)).map { p -> Float in
                    let (y, x) = (p / 36, (p / 3) % 12)
                    return c == 0 ? Float((x * y + i) % 5) / 5 : Float((y + i) % 3 == 0 ? 1 : 0)
                }
                try Image(height: 12, width: 12, channels: 3, pixels: pixels).writePNG(to: folder.appendingPathComponent("\(i).png").path)
            }
        }
        return ["data.format=image_folder", "data.train=\(directory.path)/images", "data.options=null", "model.classes=2", "model.options={channels: 3}",
                "data.batch_size=4", "hooks.early_stopping=null", "train.epochs=2"]
    }

    func recipe(_ overrides: [String]) throws -> RecipeRun {
        try RecipeRun(path: Self.root.appendingPathComponent("recipes/examples/tiny_convnet_lora.yaml").path, overrides: overrides,
                      builtIns: [DemosPlugin.self])
    }

    /// Two adapters trained on the images (different seeds and ranks) under `adapters/`.
    func trainAdapters(_ data: [String]) throws {
        for (name, extra) in [("a", ["train.seed=1"]), ("b", ["train.seed=2", "lora.rank=2", "lora.alpha=4"])] {
            let run = try recipe(data + extra + ["output_dir=\(directory.path)/runs/\(name)"])
            _ = try run.train()
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("adapters"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: directory.appendingPathComponent("runs/\(name)/adapter"),
                                             to: directory.appendingPathComponent("adapters/\(name)"))
        }
    }

    final class Port: @unchecked Sendable { var value = 0 }

    /// Starts a server; returns it, its port and the task running it.
    func start(_ data: [String], _ configure: (inout ServeConfiguration) -> Void = { _ in }) async throws
        -> (LoRAServer, Int, Task<Void, Error>) {
        var c = ServeConfiguration()
        c.port = 0
        c.adapterRoot = directory.appendingPathComponent("adapters")
        c.token = "secret"
        configure(&c)
        let server = LoRAServer(served: try recipe(data).servedModel(), configuration: c)
        let port = Port()
        let task = Task { try await server.run { port.value = $0 } }
        for _ in 0..<500 where port.value == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
        XCTAssertGreaterThan(port.value, 0, "the server never listened")
        return (server, port.value, task)
    }

    struct Answer { var status: Int; var json: [String: Any]; var headers: HTTPHeaders }

    func call(_ port: Int, _ method: HTTPMethod, _ path: String, template: String? = nil, body: Any? = nil, raw: Data? = nil,
              token: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let data = try raw ?? body.map({ try JSONSerialization.data(withJSONObject: $0) }) {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 1 << 24)
        let status = Int(response.status.code)
        observed.append((method.rawValue.lowercased(), template ?? path, status))
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        if status >= 400 { XCTAssertNotNil(json["error"] as? String, "\(method) \(path) \(status): errors are {\"error\": …}") }
        return Answer(status: status, json: json, headers: response.headers)
    }

    func expect(_ status: Int, _ port: Int, _ method: HTTPMethod, _ path: String, template: String? = nil, body: Any? = nil,
                raw: Data? = nil, token: String? = nil, file: StaticString = #filePath, line: UInt = #line) async throws {
        let answer = try await call(port, method, path, template: template, body: body, raw: raw, token: token)
        XCTAssertEqual(answer.status, status, "\(method) \(path): \(answer.json)", file: file, line: line)
    }

    func image(_ name: String) throws -> String {
        try Data(contentsOf: directory.appendingPathComponent("images/\(name)")).base64EncodedString()
    }

    func probabilities(_ answer: Answer) -> [[Double]] {
        ((answer.json["predictions"] as? [[String: Any]]) ?? []).map { ($0["probabilities"] as? [Double]) ?? [] }
    }

    func testEndpointsMixedBatchesErrorsAndTheOpenAPIDocument() async throws {
        let data = try makeImages()
        try trainAdapters(data)
        let (server, port, task) = try await start(data)

        // Health; loading needs the token, a directory under the root, a fresh valid name.
        let health = try await call(port, .GET, "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.json["status"] as? String, "ok")
        try await expect(401, port, .POST, "/v1/adapters", body: ["name": "a", "path": "a"])
        try await expect(401, port, .POST, "/v1/adapters", body: ["name": "a", "path": "a"], token: "wrong")
        let loaded = try await call(port, .POST, "/v1/adapters", body: ["name": "a", "path": "a"], token: "secret")
        XCTAssertEqual(loaded.status, 201, "\(loaded.json)")
        XCTAssertEqual(loaded.json["rank"] as? Int, 4)
        try await expect(201, port, .POST, "/v1/adapters", body: ["name": "b", "path": "b"], token: "secret")
        let outside = try await call(port, .POST, "/v1/adapters", body: ["name": "c", "path": "../runs/a/adapter"], token: "secret")
        XCTAssertEqual(outside.status, 403)
        XCTAssertTrue((outside.json["error"] as? String ?? "").contains("outside the adapter root"))
        try await expect(404, port, .POST, "/v1/adapters", body: ["name": "c", "path": "missing"], token: "secret")
        try await expect(409, port, .POST, "/v1/adapters", body: ["name": "a", "path": "b"], token: "secret")
        try await expect(400, port, .POST, "/v1/adapters", body: ["name": "../x", "path": "b"], token: "secret")
        // An adapter of another model: its head has 3 classes, the served model's 2. Nothing half-loads.
        let other = try recipe(data + ["model.classes=3", "output_dir=\(directory.path)/runs/other", "train.epochs=1"])
        _ = try? other.train()
        try? FileManager.default.copyItem(at: directory.appendingPathComponent("runs/other/adapter"), to: directory.appendingPathComponent("adapters/other"))
        let misfit = try await call(port, .POST, "/v1/adapters", body: ["name": "other", "path": "other"], token: "secret")
        XCTAssertEqual(misfit.status, 422, "\(misfit.json)")
        let list = try await call(port, .GET, "/v1/adapters")
        XCTAssertEqual(((list.json["adapters"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }, ["a", "b"])

        // Concurrent requests for a, b and the base, mixed in batches: each gives what predict gives.
        let files = ["dots/0.png", "lines/1.png", "dots/5.png", "lines/6.png"]
        var expected: [String: [[Double]]] = [:]
        for name in ["a", "b", "base"] {
            let choice = name == "base" ? ModelChoice(base: true) : ModelChoice(adapter: directory.appendingPathComponent("adapters/\(name)"))
            let predictions = try recipe(data).predict(files.map { directory.appendingPathComponent("images/\($0)").path }, with: choice)
            expected[name] = predictions.map { p in
                guard case let .array(values)? = p.fields["probabilities"] else { return [] }
                return values.compactMap { if case let .number(v) = $0 { return v } else { return nil } }
            }
        }
        let images = try files.map(image)
        try await withThrowingTaskGroup(of: (String, Int, Answer).self) { group in
            for round in 0..<4 {
                for name in ["a", "b", "base"] {
                    group.addTask {
                        let body: [String: Any] = ["adapter": name == "base" ? NSNull() : name as Any,
                                                   "inputs": [["image": images[round]]]]
                        return (name, round, try await self.call(port, .POST, "/v1/predict", body: body))
                    }
                }
            }
            for try await (name, round, answer) in group {
                XCTAssertEqual(answer.status, 200, "\(answer.json)")
                let got = try XCTUnwrap(probabilities(answer).first)
                for (g, e) in zip(got, expected[name]![round]) { XCTAssertEqual(g, e, accuracy: 1e-5, "\(name), image \(round)") }
            }
        }
        XCTAssertNotEqual(expected["a"]![0], expected["b"]![0], "the two adapters answer differently")
        // With the model held busy, requests for a, b and the base queue up and run as one mixed batch.
        let hold = Task { try await server.scheduler.admin { Thread.sleep(forTimeInterval: 0.5) } }
        try await Task.sleep(nanoseconds: 100_000_000)
        async let forA = call(port, .POST, "/v1/predict", body: ["adapter": "a", "inputs": [["image": images[2]]]])
        async let forB = call(port, .POST, "/v1/predict", body: ["adapter": "b", "inputs": [["image": images[2]]]])
        async let forBase = call(port, .POST, "/v1/predict", body: ["inputs": [["image": images[2]]]])
        let together = try await [("a", forA), ("b", forB), ("base", forBase)]
        _ = try await hold.value
        for (name, answer) in together {
            for (g, e) in zip(try XCTUnwrap(probabilities(answer).first), expected[name]![2]) { XCTAssertEqual(g, e, accuracy: 1e-5, name) }
        }
        let batches = try await metricsText(port).split(separator: "\n")
        let upTo2 = batches.first { $0.hasPrefix("lorakit_batch_rows_bucket{le=\"2") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        let all = batches.first { $0.hasPrefix("lorakit_batch_rows_count") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        XCTAssertLessThan(try XCTUnwrap(upTo2), try XCTUnwrap(all), "a batch of three rows (three adapters) ran: \(batches.filter { $0.contains("batch_rows") })")
        let several = try await call(port, .POST, "/v1/predict", body: ["adapter": "b", "inputs": images.map { ["image": $0] }])
        XCTAssertEqual(probabilities(several).count, 4)

        // Bad requests, each named.
        try await expect(400, port, .POST, "/v1/predict", raw: Data("{\"inputs\": [".utf8))
        let missing = try await call(port, .POST, "/v1/predict", body: ["adapter": "a"])
        XCTAssertEqual(missing.status, 400)
        XCTAssertTrue((missing.json["error"] as? String ?? "").contains("inputs"), "\(missing.json)")
        let unknown = try await call(port, .POST, "/v1/predict", body: ["adapter": "zzz", "inputs": [["image": images[0]]]])
        XCTAssertEqual(unknown.status, 404)
        let garbage = Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).base64EncodedString()
        let undecodable = try await call(port, .POST, "/v1/predict", body: ["inputs": [["image": garbage]]])
        XCTAssertEqual(undecodable.status, 422)
        XCTAssertTrue((undecodable.json["error"] as? String ?? "").contains("inputs[0]"), "\(undecodable.json)")
        try await expect(400, port, .POST, "/v1/predict", body: ["inputs": [["text": "hello"]]])
        let tooMany = try await call(port, .POST, "/v1/predict", body: ["inputs": Array(repeating: ["image": images[0]], count: 17)])
        XCTAssertEqual(tooMany.status, 413)

        // Full queue: the model busy, one row waiting fills a queue of one.
        let blocked = Task { try await server.scheduler.admin { Thread.sleep(forTimeInterval: 1.0) } }
        try await Task.sleep(nanoseconds: 100_000_000)
        // Unload while a request for it is queued: the request is answered first.
        async let queued = call(port, .POST, "/v1/predict", body: ["adapter": "b", "inputs": [["image": images[0]]]])
        try await Task.sleep(nanoseconds: 100_000_000)
        async let unloaded = call(port, .DELETE, "/v1/adapters/b", template: "/v1/adapters/{name}", token: "secret")
        let (q, u) = try await (queued, unloaded)
        _ = try await blocked.value
        XCTAssertEqual(q.status, 200)
        XCTAssertEqual(u.status, 204)
        try await expect(404, port, .POST, "/v1/predict", body: ["adapter": "b", "inputs": [["image": images[0]]]])
        try await expect(404, port, .DELETE, "/v1/adapters/b", template: "/v1/adapters/{name}", token: "secret")
        try await expect(401, port, .DELETE, "/v1/adapters/a", template: "/v1/adapters/{name}")

        let metrics = try await metricsText(port)
        XCTAssertTrue(metrics.contains("lorakit_requests_total{endpoint=\"predict\",status=\"200\"}"), metrics)
        XCTAssertTrue(metrics.contains("lorakit_adapters_loaded 1"), metrics)
        XCTAssertTrue(metrics.contains("lorakit_request_duration_seconds_bucket"), metrics)

        task.cancel()
        _ = try? await task.value
        try checkAgainstOpenAPI()
    }

    func metricsText(_ port: Int) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(10))
        observed.append(("get", "/metrics", Int(response.status.code)))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    func testFullQueueTimeoutLimitsAndGracefulShutdown() async throws {
        let data = try makeImages()
        let (server, port, task) = try await start(data) { c in
            c.maxBatch = 1
            c.maxQueue = 1
            c.timeout = 0.4
            c.maxBodyBytes = 4096
            c.adapterRoot = nil
        }
        let picture = try image("dots/0.png")
        // The model busy for 1 s: one request waits (and times out), the next finds the queue full.
        let blocked = Task { try await server.scheduler.admin { Thread.sleep(forTimeInterval: 1.0) } }
        try await Task.sleep(nanoseconds: 100_000_000)
        async let waiting = call(port, .POST, "/v1/predict", body: ["inputs": [["image": picture]]])
        try await Task.sleep(nanoseconds: 100_000_000)
        let full = try await call(port, .POST, "/v1/predict", body: ["inputs": [["image": picture]]])
        XCTAssertEqual(full.status, 503)
        XCTAssertEqual(full.headers.first(name: "Retry-After"), "1")
        let timedOut = try await waiting
        XCTAssertEqual(timedOut.status, 504)
        _ = try await blocked.value
        let large = try await call(port, .POST, "/v1/predict", body: ["inputs": [["image": String(repeating: "A", count: 8000)]]])
        XCTAssertEqual(large.status, 413)
        try await expect(403, port, .POST, "/v1/adapters", body: ["name": "a", "path": "a"], token: "secret")

        // Graceful shutdown: a request in flight when the server is told to stop is still answered.
        let slow = Task { try await server.scheduler.admin { Thread.sleep(forTimeInterval: 0.3) } }
        try await Task.sleep(nanoseconds: 50_000_000)
        async let inFlight = call(port, .POST, "/v1/predict", body: ["inputs": [["image": picture]]])
        try await Task.sleep(nanoseconds: 50_000_000)
        task.cancel()
        let answered = try await inFlight
        _ = try await slow.value
        XCTAssertTrue([200, 504].contains(answered.status), "answered \(answered.status) during shutdown: \(answered.json)")
        _ = try? await task.value
        try checkAgainstOpenAPI()
    }

    /// The model thread runs in the configured precision (`lorakit serve` sets the recipe's
    /// `train.precision`): bf16 answers stay within bf16's tolerance of f32's, and differ from
    /// them where the CPU has bf16 units (so they really ran in bf16).
    func testModelThreadRunsInTheConfiguredPrecision() async throws {
        let data = try makeImages()
        let inputs = [["image": try image("dots/0.png")], ["image": try image("lines/3.png")]]
        var answers: [[[Double]]] = []
        for precision in [ComputePrecision.float32, .bfloat16] {
            let (server, port, task) = try await start(data) { c in
                c.precision = precision
                c.adapterRoot = nil
            }
            let seen = try await server.scheduler.admin { ComputePrecision.current }
            XCTAssertEqual(seen, precision)
            let answer = try await call(port, .POST, "/v1/predict", body: ["inputs": inputs])
            XCTAssertEqual(answer.status, 200, "\(answer.json)")
            answers.append(probabilities(answer))
            task.cancel()
            _ = try? await task.value
        }
        let f32 = answers[0].flatMap { $0 }, bf16 = answers[1].flatMap { $0 }
        XCTAssertEqual(f32.count, 4)
        XCTAssertEqual(bf16.count, f32.count)
        for (b, f) in zip(bf16, f32) { XCTAssertEqual(b, f, accuracy: 2e-2) }
        if ComputePrecision.hasBF16Units { XCTAssertNotEqual(bf16, f32, "the bf16 server ran in f32") }
    }

    /// Every answer's status is one the document declares for its operation, and every operation
    /// the server has is in it.
    func checkAgainstOpenAPI() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        let document = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        let paths = try XCTUnwrap(document["paths"] as? [String: Any])
        for (method, path) in [("get", "/health"), ("get", "/metrics"), ("post", "/v1/predict"), ("get", "/v1/adapters"),
                               ("post", "/v1/adapters"), ("delete", "/v1/adapters/{name}"), ("post", "/v1/generate")] {
            XCTAssertNotNil((paths[path] as? [String: Any])?[method], "\(method) \(path) is not in docs/openapi.yaml")
        }
        for (method, path, status) in observed {
            let operation = (paths[path] as? [String: Any])?[method] as? [String: Any]
            let responses = operation?["responses"] as? [String: Any] ?? [:]
            XCTAssertNotNil(responses[String(status)], "\(method) \(path) answered \(status), which docs/openapi.yaml does not declare")
        }
    }
}
