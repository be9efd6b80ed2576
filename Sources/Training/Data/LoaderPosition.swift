/// Where a data loader stands: the epoch, and the index of the next batch to hand out within it.
///
/// A checkpoint taken after training on batch `b` of epoch `e` stores `(e, b + 1)`; resuming with
/// `loader.epoch(at: position)` then yields exactly the batches an uninterrupted run would have
/// yielded from there. `batch == batchesPerEpoch` means the epoch is finished;
/// `DataLoader.normalized(_:)` turns it into `(e + 1, 0)`.
public struct LoaderPosition: Codable, Hashable, Sendable, CustomStringConvertible {
    public var epoch: Int
    public var batch: Int

    public init(epoch: Int, batch: Int) {
        self.epoch = epoch
        self.batch = batch
    }

    public var description: String { "epoch \(epoch), batch \(batch)" }
}

/// Why a batch could not be produced, or a position not resumed. A failing batch is reported in
/// its place in the epoch; the batches after it are still produced.
public enum DataLoaderError: Error, CustomStringConvertible {
    /// `Dataset.item(at:context:)` threw for dataset index `index` while building the batch at
    /// `position`.
    case itemFailed(index: Int, position: LoaderPosition, underlying: Error)
    /// The collate closure threw for the batch at `position`, built from dataset `indices`.
    case collateFailed(indices: [Int], position: LoaderPosition, underlying: Error)
    /// A position to resume from that does not fit the loader (it has `batchesPerEpoch` batches
    /// per epoch).
    case positionOutOfRange(LoaderPosition, batchesPerEpoch: Int)

    /// The position of the batch that failed.
    public var position: LoaderPosition {
        switch self {
        case .itemFailed(_, let position, _), .collateFailed(_, let position, _),
             .positionOutOfRange(let position, _):
            return position
        }
    }

    public var description: String {
        switch self {
        case let .itemFailed(index, position, underlying):
            return "reading item \(index) failed (\(position)): \(underlying)"
        case let .collateFailed(indices, position, underlying):
            let shown = indices.prefix(8).map(String.init).joined(separator: ", ")
            let more = indices.count > 8 ? ", …" : ""
            return "collating the batch of items [\(shown)\(more)] failed (\(position)): \(underlying)"
        case let .positionOutOfRange(position, batchesPerEpoch):
            return "cannot resume at \(position): the loader has \(batchesPerEpoch) batches per epoch"
        }
    }
}
