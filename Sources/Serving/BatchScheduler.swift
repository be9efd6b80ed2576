import Foundation
import LoRA
import Tasks
import Tensor

/// How requests that wait together are run.
public enum BatchingMode: String, CaseIterable, Sendable {
    /// One batch through the base layers whatever the rows' adapters; each row adds its own
    /// adapter's low-rank update (`LoRARouting`).
    case mixed
    /// One batch per adapter among the waiting requests.
    case adapter
    /// Each request on its own.
    case off
}

/// A result that arrives once, from the worker or from a timeout, whichever is first.
final class Promise<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, Error>?
    private var waiter: CheckedContinuation<Value, Error>?

    /// Sets the result unless one is set; returns whether this call set it.
    @discardableResult
    func complete(_ r: Result<Value, Error>) -> Bool {
        lock.lock()
        guard result == nil else { lock.unlock(); return false }
        result = r
        let w = waiter
        waiter = nil
        lock.unlock()
        w?.resume(with: r)
        return true
    }

    var isComplete: Bool { lock.withLock { result != nil } }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { c in
            lock.lock()
            if let result { lock.unlock(); c.resume(with: result) } else { waiter = c; lock.unlock() }
        }
    }
}

/// Runs the model for the server on one thread of its own (the model is not thread-safe): it
/// takes the requests that are waiting, up to `maxBatch` rows, runs them as the `mode` says, and
/// answers each; adapter loads and unloads run on the same thread between batches. The queue is
/// bounded: a request that would take it past `maxQueue` rows is refused (503) at once.
final class BatchScheduler: @unchecked Sendable {
    struct Job {
        var adapter: String?
        var items: [Tensor]
        var inputs: [String]
        var promise: Promise<[Prediction]>
    }

    private enum Work {
        case predict(Job)
        case admin(() -> Void)
    }

    let catalog: AdapterCatalog
    /// The task's batch predictions (classification servers); nil for a generator.
    let predictor: ServingPredictor?
    let mode: BatchingMode
    let maxBatch: Int
    let maxQueue: Int
    /// How long the worker waits for more requests to fill a batch after the first arrives.
    let window: TimeInterval
    private let condition = NSCondition()
    private var queue: [Work] = []
    private var queuedRows = 0
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    /// Called with the queue's rows whenever they change (a metrics gauge).
    var onQueueDepth: (@Sendable (Int) -> Void)?
    /// Called with each batch's rows as it runs.
    var onBatch: (@Sendable (Int) -> Void)?

    /// The precision the worker runs every batch and admin task in.
    let precision: ComputePrecision

    init(catalog: AdapterCatalog, predictor: ServingPredictor?, mode: BatchingMode, maxBatch: Int, maxQueue: Int, window: TimeInterval,
         precision: ComputePrecision = .float32) {
        self.precision = precision
        self.catalog = catalog
        self.predictor = predictor
        self.mode = mode
        self.maxBatch = max(1, maxBatch)
        self.maxQueue = max(1, maxQueue)
        self.window = window
    }

    func start() {
        let t = Thread { [self] in
            // Task-local values do not reach a new thread: the precision is set on it.
            withComputePrecision(self.precision) { self.loop() }
            self.finished.signal()
        }
        t.name = "lorakit-serve-model"
        t.stackSize = 16 << 20
        thread = t
        t.start()
    }

    /// Lets the worker finish what is queued, and waits until it has ended.
    func stop() {
        condition.lock()
        let running = thread != nil && !stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if running { finished.wait() }
    }

    var depth: Int { condition.withLock { queuedRows } }

    /// Queues a prediction; its promise answers it.
    func submit(_ job: Job) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw ServeError(503, "the server is shutting down", retryAfter: 1) }
        guard queuedRows + job.items.count <= maxQueue else {
            throw ServeError(503, "the queue is full (\(queuedRows) rows waiting, at most \(maxQueue))", retryAfter: 1)
        }
        queue.append(.predict(job))
        queuedRows += job.items.count
        onQueueDepth?(queuedRows)
        condition.signal()
    }

    /// Runs `body` on the worker between batches.
    func admin<T: Sendable>(_ body: @escaping () throws -> T) async throws -> T {
        try await work(body).value()
    }

    /// Queues `body` for the worker; the promise answers with its result, unless something else
    /// (a timeout) answers first, in which case it is not run.
    func work<T: Sendable>(_ body: @escaping () throws -> T) -> Promise<T> {
        let promise = Promise<T>()
        enqueue(.admin {
            guard !promise.isComplete else { return }
            promise.complete(Result { try body() })
        })
        return promise
    }

    private func enqueue(_ work: Work) {
        condition.lock()
        queue.append(work)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping { condition.unlock(); return }
            if case let .admin(body) = queue[0] {
                queue.removeFirst()
                condition.unlock()
                body()
                continue
            }
            // Predictions: wait a moment for the batch to fill, then take the leading run of them.
            let deadline = Date().addingTimeInterval(window)
            while mode != .off && rowsAtHead() < maxBatch && !stopping && condition.wait(until: deadline) {}
            var jobs: [Job] = [], rows = 0
            while let first = queue.first, case let .predict(job) = first,
                  jobs.isEmpty || (mode != .off && rows + job.items.count <= maxBatch) {
                queue.removeFirst()
                jobs.append(job)
                rows += job.items.count
            }
            queuedRows -= rows
            onQueueDepth?(queuedRows)
            condition.unlock()
            run(jobs)
        }
    }

    /// Rows of the predictions at the head of the queue (before any admin work).
    private func rowsAtHead() -> Int {
        var rows = 0
        for work in queue {
            guard case let .predict(job) = work else { break }
            rows += job.items.count
        }
        return rows
    }

    private func run(_ jobs: [Job]) {
        // Requests that timed out while waiting are not run; those naming an adapter unloaded since
        // fail.
        var live: [Job] = []
        for job in jobs where !job.promise.isComplete {
            if let name = job.adapter, catalog.info(name) == nil {
                job.promise.complete(.failure(ServeError(404, "no adapter \(name) is loaded")))
            } else {
                live.append(job)
            }
        }
        guard !live.isEmpty else { return }
        onBatch?(live.reduce(0) { $0 + $1.items.count })
        struct Row { var job: Int; var index: Int; var adapter: String?; var item: Tensor; var input: String }
        var rows: [Row] = []
        for (j, job) in live.enumerated() {
            for (i, item) in job.items.enumerated() { rows.append(Row(job: j, index: i, adapter: job.adapter, item: item, input: job.inputs[i])) }
        }
        // One forward per group of rows that can share it: equal shapes, and for `adapter` mode one adapter.
        var groups: [[Int]] = []
        var keys: [String] = []
        for (r, row) in rows.enumerated() {
            let key = "\(row.item.shape)" + (mode == .mixed ? "" : "|\(row.adapter ?? "")")
            if let g = keys.firstIndex(of: key) { groups[g].append(r) } else { keys.append(key); groups.append([r]) }
        }
        var answers = live.map { [Prediction?](repeating: nil, count: $0.items.count) }
        var failed = [Error?](repeating: nil, count: live.count)
        for group in groups {
            // Each adapter's rows together, so that every layer's route is a slice of the batch.
            let order = Dictionary(group.map { rows[$0].adapter ?? "" }.enumerated().map { ($1, $0) }, uniquingKeysWith: min)
            let members = group.enumerated().sorted { a, b in
                let (ka, kb) = (order[rows[a.element].adapter ?? ""]!, order[rows[b.element].adapter ?? ""]!)
                return ka != kb ? ka < kb : a.offset < b.offset
            }.map { rows[$0.element] }
            do {
                let predictions = try LoRARouting.withRows(members.map(\.adapter)) {
                    guard let predictor else { throw ServeError(400, "this server generates text: POST /v1/generate") }
                    return try predictor.predict(members.map(\.item), members.map(\.input))
                }
                for (row, p) in zip(members, predictions) { answers[row.job][row.index] = p }
            } catch {
                for row in members { failed[row.job] = failed[row.job] ?? error }
            }
        }
        for (j, job) in live.enumerated() {
            if let error = failed[j] {
                job.promise.complete(.failure(ServeError(500, "the model failed: \(error)")))
            } else {
                job.promise.complete(.success(answers[j].map { $0! }))
            }
        }
    }
}
