import ArgumentParser
import Foundation
import Runtime
import Serving
import Tensor

/// `lorakit serve RECIPE [key=value …] [--adapters DIR] [--load NAME=DIR …] [--port N] …`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the recipe's base model with any number of PEFT adapters over HTTP (JSON; see docs/openapi.yaml): predictions, or a decoder's generations.",
        discussion: """
            One frozen base model answers POST /v1/predict (a decoder: POST /v1/generate) for the base or any loaded adapter; requests for different \
            adapters that wait together run as one batch (--batching mixed). Adapters load at start (--load NAME=DIR) \
            or at run time (POST /v1/adapters), from directories under --adapters only. Set LORAKIT_SERVE_TOKEN to \
            require 'Authorization: Bearer <token>' for loading and unloading. SIGTERM or SIGINT stop it after \
            in-flight requests finish.
            """
    )

    @OptionGroup var arguments: RecipeArguments
    @Option(help: "The directory adapters load from (and only from).") var adapters: String?
    @Option(help: "An adapter to load at start, NAME=DIR (DIR under --adapters); repeatable.") var load: [String] = []
    @Option(help: "Interface to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port).") var port = 8080
    @Option(help: "mixed: one batch whatever the adapters; adapter: one batch per adapter; off: each request alone.")
    var batching = "mixed"
    @Option(help: "Rows per batch, and per request.") var maxBatch = 16
    @Option(help: "Rows waiting at most; beyond, 503 with Retry-After.") var maxQueue = 256
    @Option(help: "Milliseconds the first request of a batch waits for others.") var batchWindowMs = 2.0
    @Option(help: "Seconds before a prediction gets 504.") var timeout = 30.0
    @Option(help: "Largest request body in MiB.") var maxBodyMib = 16

    func validate() throws {
        guard BatchingMode(rawValue: batching) != nil else { throw ValidationError("--batching must be mixed, adapter or off") }
        guard maxBatch >= 1, maxQueue >= maxBatch, timeout > 0, batchWindowMs >= 0, maxBodyMib >= 1, (0...65535).contains(port) else {
            throw ValidationError("--max-batch ≥ 1, --max-queue ≥ --max-batch, --timeout > 0, --batch-window-ms ≥ 0, --max-body-mib ≥ 1, port 0…65535")
        }
        for item in load where !item.contains("=") { throw ValidationError("--load takes NAME=DIR, got \(item)") }
        if !load.isEmpty && adapters == nil { throw ValidationError("--load needs --adapters DIR (adapters load from under it)") }
    }

    func run() throws {
        let run = try arguments.run()
        try run.validate(ignoringMissingFilesOf: ["data.train", "data.validation", "data.test"])
        var c = ServeConfiguration()
        c.host = host
        c.port = port
        c.adapterRoot = adapters.map { URL(fileURLWithPath: $0) }
        c.token = ProcessInfo.processInfo.environment["LORAKIT_SERVE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        c.batching = BatchingMode(rawValue: batching) ?? .mixed
        c.maxBatch = maxBatch
        c.maxQueue = maxQueue
        c.batchWindow = batchWindowMs / 1000
        c.timeout = timeout
        c.maxBodyBytes = maxBodyMib << 20
        c.precision = run.recipe.train.precision
        if let notice = ComputePrecision.fallbackNotice(for: c.precision) { standardError(notice) }
        // A decoder serves generations; any other task its predictions.
        let server = try run.servedGenerator().map { LoRAServer(generator: $0, task: run.recipe.task, configuration: c) }
            ?? LoRAServer(served: try run.servedModel(), configuration: c)
        let loads = load.map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts[1])
        }
        let host = self.host, mode = c.batching.rawValue
        let failure = Box()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                for (name, path) in loads {
                    let info = try await server.load(name: name, path: path)
                    standardError("loaded adapter \(info.name) from \(info.path) (r = \(info.rank))")
                }
                try await server.run { port in standardError("serving on http://\(host):\(port) (batching \(mode))") }
            } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }

    final class Box: @unchecked Sendable { var error: Error? }
}
