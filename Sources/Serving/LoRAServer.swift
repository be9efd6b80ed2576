import Foundation
import Hummingbird
import Logging
import Prometheus
import Runtime
import ServiceLifecycle
import Tasks
import Tensor

/// Settings of `lorakit serve`.
public struct ServeConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0: any free port (`LoRAServer.run(onRunning:)` reports it).
    public var port = 8080
    /// Adapters load only from directories under this one; nil: none load.
    public var adapterRoot: URL?
    /// When set, loading and unloading adapters need `Authorization: Bearer <token>`.
    public var token: String?
    public var batching: BatchingMode = .mixed
    /// Rows per batch, and per request.
    public var maxBatch = 16
    /// Rows waiting at most; beyond, requests get 503 with Retry-After.
    public var maxQueue = 256
    /// How long the first request of a batch waits for others (seconds).
    public var batchWindow: TimeInterval = 0.002
    /// A prediction not answered within this many seconds gets 504.
    public var timeout: TimeInterval = 30
    /// Request bodies above this many bytes get 413.
    public var maxBodyBytes = 16 << 20
    /// The precision the model runs in (the recipe's `train.precision`): bf16 runs its products
    /// on the CPU's bf16 units, or in f32 where it has none (`ComputePrecision.effective`).
    public var precision: ComputePrecision = .float32

    public init() {}
}

/// `lorakit serve`: one frozen base model, any number of PEFT adapters by name, over HTTP (JSON).
/// The endpoints are those of `docs/openapi.yaml`:
/// - `POST /v1/predict` `{"adapter": name or null, "inputs": [{"image": base64 PNG/JPEG} | {"text": …}]}`
///   → `{"adapter", "predictions": [...]}`, each prediction as `lorakit predict --json` gives it;
/// - `GET /v1/adapters`; `POST /v1/adapters` `{"name", "path"}` (a directory under the adapter
///   root); `DELETE /v1/adapters/{name}` — the last two behind the bearer token when one is set;
/// - `GET /health`; `GET /metrics` (Prometheus text: requests by endpoint and status, latency
///   histogram, queue depth, batch rows, adapters loaded).
/// Errors are JSON `{"error": message}` with a 4xx or 5xx status naming the problem.
public final class LoRAServer: @unchecked Sendable {
    let configuration: ServeConfiguration
    let scheduler: BatchScheduler
    let catalog: AdapterCatalog
    let predictor: ServingPredictor?
    let generator: AdapterServingGenerator?
    let task: String
    let pendingGenerations = Counter()
    let metrics = PrometheusCollectorRegistry()
    let queueDepth: Gauge
    let adaptersLoaded: Gauge
    let batchRows: ValueHistogram
    let textInputs: Bool
    let inputDirectory: URL

    /// A server of the recipe task's predictions (classification) with routed adapters.
    public convenience init(served: ServedModel, configuration: ServeConfiguration) {
        self.init(catalog: AdapterStore(served: served, root: configuration.adapterRoot), predictor: served.predictor,
                  generator: nil, task: served.task, configuration: configuration)
    }

    /// A server of a decoder's generations (`POST /v1/generate`), one adapter per request.
    public convenience init(generator: AdapterServingGenerator, task: String, configuration: ServeConfiguration) {
        self.init(catalog: GeneratorStore(generator: generator, root: configuration.adapterRoot), predictor: nil,
                  generator: generator, task: task, configuration: configuration)
    }

    init(catalog: AdapterCatalog, predictor: ServingPredictor?, generator: AdapterServingGenerator?, task: String,
         configuration: ServeConfiguration) {
        self.configuration = configuration
        self.catalog = catalog
        self.predictor = predictor
        self.generator = generator
        self.task = task
        scheduler = BatchScheduler(catalog: catalog, predictor: predictor, mode: configuration.batching, maxBatch: configuration.maxBatch,
                                   maxQueue: configuration.maxQueue, window: configuration.batchWindow,
                                   precision: configuration.precision)
        textInputs = predictor?.textInputs ?? true
        queueDepth = metrics.makeGauge(descriptor: .init(namespace: "lorakit", metricName: "queue", unitName: "depth",
                                                         helpText: "rows waiting for the model"))
        adaptersLoaded = metrics.makeGauge(descriptor: .init(namespace: "lorakit", metricName: "adapters", unitName: "loaded",
                                                             helpText: "adapters loaded"))
        batchRows = metrics.makeValueHistogram(descriptor: .init(namespace: "lorakit", metricName: "batch", unitName: "rows",
                                                                 helpText: "rows per model batch"),
                                               buckets: [1, 2, 4, 8, 16, 32, 64, 128])
        inputDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-serve-\(UUID().uuidString)")
        let depth = queueDepth, rows = batchRows
        scheduler.onQueueDepth = { depth.set(Double($0)) }
        scheduler.onBatch = { rows.record(Double($0)) }
        scheduler.start()
    }

    /// Loads an adapter before the server starts (`--load NAME=PATH`).
    public func load(name: String, path: String) async throws -> AdapterInfo {
        let catalog = self.catalog
        let info = try await scheduler.admin { try catalog.load(name: name, path: path) }
        adaptersLoaded.set(Double(catalog.adapters.count))
        return info
    }

    /// Serves until SIGTERM or SIGINT (or the task is cancelled); in-flight requests finish first.
    /// - Parameter onRunning: called with the bound port once the server listens.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try FileManager.default.createDirectory(at: inputDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: inputDirectory) }
        defer { scheduler.stop() }
        var logger = Logger(label: "lorakit-serve")
        logger.logLevel = .warning
        let app = Application(router: router(), configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                                                    serverName: "lorakit"),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // The group runs in a task of its own, so that cancelling this one shuts it down gracefully
        // (in-flight requests answered) rather than cancelling the server outright.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    // MARK: - Routes

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { [self] _, _ in
            try json(["status": "ok", "task": task, "adapters": String(catalog.adapters.count)] as [String: String])
        }
        router.get("metrics") { [self] _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
        router.get("v1/adapters") { [self] _, _ in
            try await handle("list") {
                try json(["adapters": catalog.adapters])
            }
        }
        router.post("v1/adapters") { [self] request, _ in
            try await handle("load") {
                try authorize(request)
                let body = try await decode(LoadRequest.self, request)
                let info = try await load(name: body.name, path: body.path)
                return try json(info, status: .created)
            }
        }
        router.delete("v1/adapters/:name") { [self] request, context in
            try await handle("unload") {
                try authorize(request)
                let name = context.parameters.get("name") ?? ""
                let catalog = self.catalog
                try await scheduler.admin { try catalog.unload(name) }
                adaptersLoaded.set(Double(catalog.adapters.count))
                return Response(status: .noContent)
            }
        }
        router.post("v1/predict") { [self] request, _ in
            try await handle("predict") { try await predict(request) }
        }
        router.post("v1/generate") { [self] request, _ in
            try await handle("generate") { try await generate(request) }
        }
        return router
    }

    struct LoadRequest: Decodable { var name: String; var path: String }

    struct PredictRequest: Decodable {
        struct Input: Decodable { var image: String?; var text: String? }
        var adapter: String?
        var inputs: [Input]
    }

    func predict(_ request: Request) async throws -> Response {
        guard let predictor else { throw ServeError(400, "this server generates text (task \(task)): POST /v1/generate") }
        let body = try await decode(PredictRequest.self, request)
        guard !body.inputs.isEmpty else { throw ServeError(400, "inputs: give at least one input") }
        guard body.inputs.count <= configuration.maxBatch else {
            throw ServeError(413, "inputs: \(body.inputs.count) inputs, at most \(configuration.maxBatch) per request")
        }
        if let name = body.adapter, catalog.info(name) == nil { throw ServeError(404, "no adapter \(name) is loaded") }
        let items = try await read(body.inputs, predictor: predictor)
        let promise = Promise<[Prediction]>()
        try scheduler.submit(.init(adapter: body.adapter, items: items.map(\.0), inputs: items.map(\.1), promise: promise))
        let timeout = configuration.timeout
        let timer = Task {
            try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            promise.complete(.failure(ServeError(504, "no answer within \(timeout) s")))
        }
        defer { timer.cancel() }
        let predictions = try await promise.value()
        let object: [String: JSONValue] = [
            "adapter": body.adapter.map { .string($0) } ?? .null,
            "predictions": .array(predictions.map { .object($0.fields) }),
        ]
        return try json(object)
    }

    /// Each input read as the model's item (images decoded off the event loop).
    func read(_ inputs: [PredictRequest.Input], predictor: ServingPredictor) async throws -> [(Tensor, String)] {
        let directory = inputDirectory, textInputs = self.textInputs
        return try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                c.resume(with: Result {
                    try inputs.enumerated().map { i, input -> (Tensor, String) in
                        if textInputs {
                            guard let text = input.text else { throw ServeError(400, "inputs[\(i)]: this model reads texts: give {\"text\": …}") }
                            do { return (try predictor.read(text), text) } catch { throw ServeError(422, "inputs[\(i)]: \(error)") }
                        }
                        guard let encoded = input.image else {
                            throw ServeError(400, "inputs[\(i)]: this model reads images: give {\"image\": base64 PNG or JPEG}")
                        }
                        guard let bytes = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters), !bytes.isEmpty else {
                            throw ServeError(400, "inputs[\(i)].image is not base64")
                        }
                        let file = directory.appendingPathComponent(UUID().uuidString)
                        try bytes.write(to: file)
                        defer { try? FileManager.default.removeItem(at: file) }
                        do { return (try predictor.read(file.path), "inputs[\(i)]") } catch {
                            throw ServeError(422, "inputs[\(i)]: cannot read the image: \("\(error)".replacingOccurrences(of: file.path, with: "the upload"))")
                        }
                    }
                })
            }
        }
    }

    /// `POST /v1/generate`: `{"adapter", one of "prompt" | "user" (with "system") | "messages",
    /// "max_tokens", "temperature", "top_k", "top_p", "seed", "stop"}`; answered as
    /// `lorakit generate --json` answers. Generations run one at a time on the model thread.
    struct GenerateRequest: Decodable {
        var adapter: String?
        var prompt: String?
        var user: String?
        var system: String?
        var messages: [ChatMessage]?
        var maxTokens: Int?
        var temperature: Double?
        var topK: Int?
        var topP: Double?
        var seed: UInt64?
        var stop: [String]?

        enum CodingKeys: String, CodingKey {
            case adapter, prompt, user, system, messages, temperature, seed, stop
            case maxTokens = "max_tokens", topK = "top_k", topP = "top_p"
        }

        func input() throws -> GenerationInput {
            switch (prompt, user, messages) {
            case let (prompt?, nil, nil): return .text(prompt)
            case let (nil, user?, nil):
                return .chat((system.map { [ChatMessage(role: "system", content: $0)] } ?? []) + [ChatMessage(role: "user", content: user)])
            case let (nil, nil, messages?) where !messages.isEmpty: return .chat(messages)
            default: throw ServeError(400, "give exactly one of \"prompt\", \"user\" or a non-empty \"messages\"")
            }
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        /// Adds one unless that would pass `limit`; returns whether it did.
        func acquire(limit: Int) -> Bool { lock.withLock { value < limit ? { value += 1; return true }() : false } }
        func release() { lock.withLock { value -= 1 } }
    }

    func generate(_ request: Request) async throws -> Response {
        guard let generator else { throw ServeError(400, "this server predicts (task \(task)): POST /v1/predict") }
        let body = try await decode(GenerateRequest.self, request)
        let input = try body.input()
        var settings = GenerationSettings(maxTokens: body.maxTokens ?? 128, temperature: body.temperature ?? 0, topK: body.topK,
                                          topP: body.topP, seed: body.seed ?? 0, stop: body.stop ?? [])
        settings.maxTokens = min(settings.maxTokens, 4096)
        if let problem = settings.problem { throw ServeError(400, problem) }
        if let name = body.adapter, catalog.info(name) == nil { throw ServeError(404, "no adapter \(name) is loaded") }
        guard pendingGenerations.acquire(limit: configuration.maxQueue) else {
            throw ServeError(503, "\(configuration.maxQueue) generations are waiting", retryAfter: 1)
        }
        defer { pendingGenerations.release() }
        let adapter = body.adapter
        let promise = scheduler.work { () throws -> GenerationResult in
            do { try generator.useAdapter(adapter) } catch { throw ServeError(404, "no adapter \(adapter ?? "") is loaded") }
            do { return try generator.generate(input, settings: settings) { _ in } } catch { throw ServeError(422, "\(error)") }
        }
        let timeout = configuration.timeout
        let timer = Task {
            try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            promise.complete(.failure(ServeError(504, "no answer within \(timeout) s")))
        }
        defer { timer.cancel() }
        let result = try await promise.value()
        let reason: String
        switch result.stopReason {
        case .maxTokens: reason = "max_tokens"
        case let .endToken(token): reason = "end_token:\(token)"
        case let .stopString(text): reason = "stop_string:\(text)"
        }
        let object: [String: JSONValue] = [
            "adapter": adapter.map { .string($0) } ?? .null, "text": .string(result.text), "tokens": .array(result.tokens.map { .integer($0) }),
            "prompt_tokens": .integer(result.promptTokens), "stop_reason": .string(reason),
            "time_to_first_token_s": .number(result.timeToFirstToken), "seconds": .number(result.seconds),
            "tokens_per_s": .number(result.tokensPerSecond),
        ]
        return try json(object)
    }

    // MARK: - Helpers

    func authorize(_ request: Request) throws {
        guard let token = configuration.token else { return }
        let given = request.headers[.authorization] ?? ""
        let expected = "Bearer " + token
        // Compared in constant time.
        var difference = UInt8(given.utf8.count == expected.utf8.count ? 0 : 1)
        for (a, b) in zip(given.utf8, expected.utf8) { difference |= a ^ b }
        guard difference == 0 else { throw ServeError(401, "loading and unloading adapters need Authorization: Bearer <token>") }
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: configuration.maxBodyBytes) } catch {
            throw ServeError(413, "the request body is larger than \(configuration.maxBodyBytes) bytes")
        }
        do { return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView)) } catch let error as DecodingError {
            throw ServeError(400, "malformed JSON: \(Self.describe(error))")
        } catch {
            throw ServeError(400, "malformed JSON: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return p.isEmpty ? "" : String(p.drop { $0 == "." }) + ": "
        }
        switch error {
        case let .keyNotFound(key, c): return path(c) + "missing key \"\(key.stringValue)\""
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c): return path(c) + c.debugDescription
        @unknown default: return "\(error)"
        }
    }

    func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// Runs an endpoint: its errors as JSON with their status, and its metrics.
    func handle(_ endpoint: String, _ body: () async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do { response = try await body() } catch let error as ServeError {
            var headers: HTTPFields = [:]
            if let retry = error.retryAfter { headers[.retryAfter] = String(retry) }
            response = try json(["error": error.message], status: .init(code: error.status), headers: headers)
        } catch {
            response = try json(["error": "\(error)"], status: .internalServerError)
        }
        metrics.makeCounter(descriptor: .init(namespace: "lorakit", metricName: "requests", unitName: "total",
                                              helpText: "requests by endpoint and status"),
                            labels: [("endpoint", endpoint), ("status", String(response.status.code))]).increment()
        metrics.makeDurationHistogram(descriptor: .init(namespace: "lorakit", metricName: "request_duration", unitName: "seconds",
                                                        helpText: "request latency by endpoint"),
                                      labels: [("endpoint", endpoint)],
                                      buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)])
            .record(ContinuousClock.now - start)
        return response
    }
}
