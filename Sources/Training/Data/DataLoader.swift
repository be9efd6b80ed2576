import Dispatch
import Tensor

/// Cuts a dataset into batches, epoch after epoch, optionally shuffled, and prepares the next
/// batches on a background thread while the caller trains on the current one.
///
/// Everything a batch contains is a pure function of `(seed, epoch, batch)`: the order of epoch `e`
/// is a permutation drawn from a generator seeded by `(seed, e)` only, and each item is read with an
/// `ItemContext(epoch: e, index: i, seed: seed)`. So a run resumed at a `LoaderPosition` sees
/// exactly the batches an uninterrupted run sees from there, whatever threads read them.
///
/// ```swift
/// let loader = DataLoader(dataset: images, batchSize: 32, seed: 7) { items in
///     try ImageBatch(collating: items)
/// }
/// for result in loader.epoch(0) {
///     let batch = try result.get()   // a `DataLoaderError` naming the item if reading failed
///     …
/// }
/// ```
///
/// Threads: with `prefetch > 0`, `Dataset.item(at:context:)` and `collate` run on a background
/// thread (and `item(at:context:)` on several at once when `readThreads > 1`), so both must be
/// safe to call off the caller's thread. Building tensors from plain values
/// (`Tensor(shape:values:)`) is; running kernels there, concurrently with training, is not
/// intended.
public struct DataLoader<D: Dataset, Batch> {
    public let dataset: D
    /// Items per batch; the last batch of an epoch may be smaller unless `dropLast`.
    public let batchSize: Int
    /// Whether each epoch visits the items in a seeded random order (otherwise `0 ..< count`).
    public let shuffle: Bool
    /// Whether a final batch smaller than `batchSize` is skipped.
    public let dropLast: Bool
    /// Seeds the order of every epoch and every item's `ItemContext`.
    public let seed: UInt64
    /// How many batches are prepared ahead of the one the caller holds; 0 reads each batch on the
    /// caller's thread when it is asked for.
    public let prefetch: Int
    /// How many threads read the items of one batch (1: one after the other).
    public let readThreads: Int
    /// Turns the items of one batch, in order, into a batch.
    public let collate: ([D.Item]) throws -> Batch
    /// Each item's length (e.g. tokens), when batches should group items of similar length so
    /// that padding to the longest wastes little (Hugging Face's `group_by_length`); nil: no grouping.
    public let lengths: [Int]?
    /// Items per length group: the epoch's order is cut into groups of this many, each sorted by
    /// decreasing length, and (with `shuffle`) the resulting full batches are shuffled.
    public static var lengthGroupBatches: Int { 50 }
    /// In data-parallel training, the part of each epoch this rank visits (see `order(epoch:)`);
    /// nil: every item.
    public var shard: DataShard?

    /// - Parameters:
    ///   - dataset: the items, read by index.
    ///   - batchSize: items per batch, at least 1.
    ///   - shuffle: visit items in a seeded random order that changes every epoch.
    ///   - dropLast: skip a final batch that has fewer than `batchSize` items.
    ///   - seed: seeds the order of each epoch and each item's `ItemContext`.
    ///   - prefetch: batches prepared ahead on a background thread (0: none, synchronous).
    ///   - readThreads: threads that read the items of one batch (1: sequential).
    ///   - lengths: each item's length, to group items of similar length into batches (see
    ///     `order(epoch:)`); nil: no grouping. Must have one entry per item.
    ///   - collate: builds a batch from its items, in batch order.
    public init(dataset: D, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false,
                seed: UInt64 = 0, prefetch: Int = 1, readThreads: Int = 1, lengths: [Int]? = nil,
                collate: @escaping ([D.Item]) throws -> Batch) {
        precondition(lengths == nil || lengths!.count == dataset.count,
                     "DataLoader: lengths has \(lengths?.count ?? 0) entries for \(dataset.count) items")
        precondition(batchSize >= 1, "DataLoader: batchSize must be at least 1, got \(batchSize)")
        precondition(prefetch >= 0, "DataLoader: prefetch must be 0 or more, got \(prefetch)")
        precondition(readThreads >= 1, "DataLoader: readThreads must be at least 1, got \(readThreads)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.prefetch = prefetch
        self.readThreads = readThreads
        self.collate = collate
        self.lengths = lengths
    }

    /// Batches in one epoch: `count / batchSize` with `dropLast`, otherwise `⌈count / batchSize⌉`,
    /// where `count` is the items this loader visits (its shard's, when it has one).
    public var batchesPerEpoch: Int {
        let n = visitedCount
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize
    }

    /// Items visited per epoch: the dataset's, or the shard's.
    public var visitedCount: Int {
        guard let shard else { return dataset.count }
        return shard.count(of: dataset.count)
    }

    /// The order in which epoch `epoch` visits the dataset: the identity without `shuffle`,
    /// otherwise a Fisher–Yates permutation drawn from a generator seeded by `(seed, epoch)` alone.
    /// The shuffle is written out (not `Array.shuffle(using:)`), so the order stays the same
    /// across Swift versions and checkpoints stay resumable.
    ///
    /// With `lengths`, that order is then cut into groups of `lengthGroupBatches` batches, each
    /// group sorted by decreasing length (ties in order), and with `shuffle` the full batches are
    /// shuffled by the same generator (a final partial batch stays last): every batch holds items
    /// of similar length, and the order is still a pure function of `(seed, epoch)`.
    ///
    /// With a `shard`, that order is then dealt to the ranks as PyTorch's `DistributedSampler`
    /// deals it: rank r visits positions r, r + ranks, r + 2 ranks, …, so that batch k of every
    /// rank together are the items of batch k of one process with `ranks` times the batch size.
    /// For training (`pad`) the order is first extended by its own beginning to a multiple of the
    /// ranks, so that every rank has as many batches.
    public func order(epoch: Int) -> [Int] {
        let order = globalOrder(epoch: epoch)
        guard let shard else { return order }
        return shard.deal(order)
    }

    func globalOrder(epoch: Int) -> [Int] {
        var order = Array(0..<dataset.count)
        guard order.count > 1 else { return order }
        var generator = RandomGenerator(
            seed: (seed ^ 0x5851_F42D_4C95_7F2D) &+ UInt64(bitPattern: Int64(epoch)) &* 0xD1B5_4A32_D192_ED03)
        if shuffle { generator.shuffle(&order) }
        guard let lengths else { return order }
        let group = batchSize * Self.lengthGroupBatches
        var grouped: [Int] = []
        grouped.reserveCapacity(order.count)
        for start in stride(from: 0, to: order.count, by: group) {
            let chunk = order[start..<min(start + group, order.count)].enumerated()
                .sorted { a, b in lengths[a.element] != lengths[b.element] ? lengths[a.element] > lengths[b.element] : a.offset < b.offset }
            grouped += chunk.map(\.element)
        }
        guard shuffle else { return grouped }
        let fullBatches = grouped.count / batchSize
        var batchOrder = Array(0..<fullBatches)
        generator.shuffle(&batchOrder)
        var result: [Int] = []
        result.reserveCapacity(grouped.count)
        for b in batchOrder { result += grouped[b * batchSize..<(b + 1) * batchSize] }
        result += grouped[(fullBatches * batchSize)...]
        return result
    }

    /// The dataset indices of the batch at `position`, in batch order.
    public func indices(at position: LoaderPosition) -> [Int] {
        indices(ofBatch: position.batch, in: order(epoch: position.epoch))
    }

    /// Reads and collates the batch at `position` on the calling thread.
    /// - Throws: `DataLoaderError` naming the item (or the batch, for collate) that failed.
    public func batch(at position: LoaderPosition) throws -> Batch {
        try makeBatch(position, order: order(epoch: position.epoch)).get()
    }

    /// The batches of epoch `epoch` from batch `start` on (`0 ... batchesPerEpoch`), prepared
    /// `prefetch` batches ahead on a background thread. Dropping the iterator (or `cancel()`)
    /// stops that thread.
    public func epoch(_ epoch: Int, startingAt start: Int = 0) -> BatchIterator<D, Batch> {
        precondition(start >= 0 && start <= batchesPerEpoch,
                     "DataLoader: batch \(start) is outside 0 ... \(batchesPerEpoch) (batches per epoch)")
        return BatchIterator(loader: self, epoch: epoch, start: start)
    }

    /// The batches from `position` (typically read from a checkpoint) to the end of its epoch;
    /// see `epoch(_:startingAt:)`.
    /// - Throws: `DataLoaderError.positionOutOfRange` when the position does not fit this loader
    ///   (e.g. the dataset or batch size changed since the checkpoint).
    public func epoch(at position: LoaderPosition) throws -> BatchIterator<D, Batch> {
        guard position.epoch >= 0, position.batch >= 0, position.batch <= batchesPerEpoch else {
            throw DataLoaderError.positionOutOfRange(position, batchesPerEpoch: batchesPerEpoch)
        }
        return epoch(position.epoch, startingAt: position.batch)
    }

    /// `position`, with the end of an epoch written as the start of the next one.
    public func normalized(_ position: LoaderPosition) -> LoaderPosition {
        position.batch >= batchesPerEpoch ? LoaderPosition(epoch: position.epoch + 1, batch: 0) : position
    }

    // MARK: - Building one batch

    func indices(ofBatch batch: Int, in order: [Int]) -> [Int] {
        precondition(batch >= 0 && batch < batchesPerEpoch,
                     "DataLoader: batch \(batch) is outside 0 ..< \(batchesPerEpoch) (batches per epoch)")
        let begin = batch * batchSize
        return Array(order[begin..<min(begin + batchSize, order.count)])
    }

    /// Reads and collates one batch; never throws, so that a background thread can hand any
    /// failure to the consumer in the batch's place.
    func makeBatch(_ position: LoaderPosition, order: [Int]) -> Result<Batch, DataLoaderError> {
        let indices = indices(ofBatch: position.batch, in: order)
        let items: [D.Item]
        switch readItems(indices, position: position) {
        case .success(let read): items = read
        case .failure(let error): return .failure(error)
        }
        do {
            return .success(try collate(items))
        } catch {
            return .failure(.collateFailed(indices: indices, position: position, underlying: error))
        }
    }

    private func readItems(_ indices: [Int], position: LoaderPosition) -> Result<[D.Item], DataLoaderError> {
        let count = indices.count
        let workers = min(readThreads, count)
        if workers <= 1 {
            var items: [D.Item] = []
            items.reserveCapacity(count)
            for index in indices {
                var context = ItemContext(epoch: position.epoch, index: index, seed: seed)
                do {
                    items.append(try dataset.item(at: index, context: &context))
                } catch {
                    return .failure(.itemFailed(index: index, position: position, underlying: error))
                }
            }
            return .success(items)
        }
        // Each worker fills its own slots (k ≡ w mod workers), so no two threads write one slot.
        let slots = UnsafeMutableBufferPointer<Result<D.Item, Error>?>.allocate(capacity: count)
        slots.initialize(repeating: nil)
        defer {
            _ = slots.deinitialize()
            slots.deallocate()
        }
        let dataset = self.dataset, seed = self.seed
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for k in stride(from: worker, to: count, by: workers) {
                var context = ItemContext(epoch: position.epoch, index: indices[k], seed: seed)
                slots[k] = Result { try dataset.item(at: indices[k], context: &context) }
            }
        }
        var items: [D.Item] = []
        items.reserveCapacity(count)
        for k in 0..<count {
            switch slots[k]! {
            case .success(let item): items.append(item)
            // The first failure in batch order, whatever thread met it first.
            case .failure(let error):
                return .failure(.itemFailed(index: indices[k], position: position, underlying: error))
            }
        }
        return .success(items)
    }
}

/// The part of each epoch one rank of a data-parallel run visits.
public struct DataShard: Equatable, Sendable {
    public var rank: Int
    public var ranks: Int
    /// Whether the order is padded (with its own first items) to a multiple of `ranks`, so that every
    /// rank visits as many items: training, where ranks step together. Evaluation does not pad, so
    /// that no item counts twice.
    public var pad: Bool

    public init(rank: Int, ranks: Int, pad: Bool) {
        precondition(ranks >= 1 && rank >= 0 && rank < ranks, "DataShard: rank \(rank) of \(ranks)")
        self.rank = rank
        self.ranks = ranks
        self.pad = pad
    }

    /// Items this rank visits of `total`.
    public func count(of total: Int) -> Int {
        pad ? (total + ranks - 1) / ranks : max(0, (total - rank + ranks - 1) / ranks)
    }

    /// This rank's positions of `order`.
    public func deal(_ order: [Int]) -> [Int] {
        guard !order.isEmpty else { return [] }
        var padded = order
        if pad {
            while padded.count % ranks != 0 { padded.append(order[(padded.count - order.count) % order.count]) }
        }
        return Array(stride(from: rank, to: padded.count, by: ranks).map { padded[$0] })
    }
}
