import Foundation

/// The batches of one epoch, from a start batch to the end, in order.
///
/// With `prefetch > 0` a background thread prepares batches ahead: it starts batch `i + 1` as soon
/// as the consumer takes batch `i` (and keeps at most `prefetch` batches ready or in preparation),
/// so reading and collating overlap training. A batch that fails is handed out in its place as a
/// `DataLoaderError`; the batches after it still come.
///
/// Dropping the iterator, or calling `cancel()`, stops the background thread: it finishes the
/// batch it is preparing (if any), discards it and exits; `cancel()` returns once it has.
/// Do not call `cancel()` from inside `Dataset.item(at:context:)` or `collate`.
///
/// Use it as a sequence of `Result`s (`for result in loader.epoch(e) { try result.get() }`) or
/// call `nextBatch()`, which throws. One consumer at a time: the iterator itself is not locked.
public final class BatchIterator<D: Dataset, Batch>: Sequence, IteratorProtocol {
    /// The position of the next batch `next()` hands out; after training on the batch just
    /// handed out, this is the position to save in a checkpoint.
    public private(set) var position: LoaderPosition
    /// One past the last batch of the epoch (`batchesPerEpoch`).
    public let endBatch: Int

    private let loader: DataLoader<D, Batch>
    private let order: [Int]
    /// Shared with the background thread; nil when `prefetch == 0`.
    private let queue: PrefetchQueue<Batch>?
    private var cancelled = false

    init(loader: DataLoader<D, Batch>, epoch: Int, start: Int) {
        self.loader = loader
        self.position = LoaderPosition(epoch: epoch, batch: start)
        self.endBatch = loader.batchesPerEpoch
        self.order = loader.order(epoch: epoch)
        guard loader.prefetch > 0, start < endBatch else {
            queue = nil
            return
        }
        let queue = PrefetchQueue<Batch>(capacity: loader.prefetch)
        self.queue = queue
        // The thread holds the queue, the loader and the order, never `self`: dropping the
        // iterator is what cancels the thread, so the thread must not keep it alive.
        let work = UncheckedSendable((loader, order, epoch, start, endBatch))
        let thread = Thread {
            let (loader, order, epoch, start, end) = work.value
            queue.produce(batches: start..<end) { batch in
                loader.makeBatch(LoaderPosition(epoch: epoch, batch: batch), order: order)
            }
        }
        thread.name = "LoRAKit.DataLoader"
        thread.start()
    }

    deinit { cancel() }

    /// The next batch as a `Result`, or nil at the end of the epoch or after `cancel()`.
    /// Blocks until the background thread has prepared it.
    public func next() -> Result<Batch, DataLoaderError>? {
        guard !cancelled, position.batch < endBatch else { return nil }
        let result: Result<Batch, DataLoaderError>
        if let queue {
            result = queue.take()
        } else {
            result = loader.makeBatch(position, order: order)
        }
        position.batch += 1
        if position.batch == endBatch { queue?.cancelAndWait() }
        return result
    }

    /// The next batch, or nil at the end of the epoch.
    /// - Throws: `DataLoaderError` for a batch that could not be read or collated; the following
    ///   call moves on to the batch after it.
    public func nextBatch() throws -> Batch? {
        try next()?.get()
    }

    /// Stops preparing batches and waits for the background thread to exit. Later calls to
    /// `next()` return nil. Safe to call more than once.
    public func cancel() {
        cancelled = true
        queue?.cancelAndWait()
    }

    /// Whether a background thread is still running (for tests and diagnostics).
    public var isPrefetching: Bool { queue?.isRunning ?? false }

    public var underestimatedCount: Int { cancelled ? 0 : endBatch - position.batch }
}

/// A value handed to another thread by hand; the type using it says why that is safe.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A bounded FIFO between one producer thread and one consumer: at most `capacity` batches are
/// ready or being prepared at once. All state is guarded by `condition`.
final class PrefetchQueue<Batch>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var ready: [Result<Batch, DataLoaderError>] = []
    /// Batches ready or in preparation; the producer waits while this is `capacity`.
    private var slotsInUse = 0
    private var cancelled = false
    private var running = true

    init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
    }

    var isRunning: Bool {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    /// Runs on the background thread: prepares each batch in order when a slot is free.
    func produce(batches: Range<Int>, make: (Int) -> Result<Batch, DataLoaderError>) {
        for batch in batches {
            condition.lock()
            while !cancelled && slotsInUse >= capacity { condition.wait() }
            if cancelled {
                condition.unlock()
                break
            }
            slotsInUse += 1
            condition.unlock()

            let result = make(batch)

            condition.lock()
            if cancelled {
                condition.unlock()
                break
            }
            ready.append(result)
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch in order, waiting for the producer if needed. Only called for a batch the
    /// producer will make (the iterator stops at the end of the epoch).
    func take() -> Result<Batch, DataLoaderError> {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty {
            precondition(running, "DataLoader: the prefetch thread stopped before the epoch ended")
            condition.wait()
        }
        let result = ready.removeFirst()   // never more than `capacity` long
        slotsInUse -= 1
        condition.broadcast()
        return result
    }

    /// Tells the producer to stop and waits until it has; drops batches not handed out.
    func cancelAndWait() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while running { condition.wait() }
        ready.removeAll()
        condition.unlock()
    }
}
