import Tensor
import Training

/// A dataset as the runner uses it: items of one type, how a batch of them is built, and what the
/// loader and a stratified split may use. Type-erased over the dataset's own type, not its item.
public struct TaskDataset<Item, Batch>: Dataset {
    public let count: Int
    /// Builds a batch from items (stacking equal shapes, padding token rows, …).
    public let collate: ([Item]) throws -> Batch
    /// Each item's length, for formats whose batches pad to the longest item: the loader then
    /// groups items of similar length. Nil: no grouping.
    public let lengths: [Int]?
    /// Each item's stratum (its class), for stratified splits; nil when unknown or costly.
    public let strata: [Int]?
    private let read: (Int, inout ItemContext) throws -> Item

    public init<D: Dataset>(_ base: D, collate: @escaping ([Item]) throws -> Batch, lengths: [Int]? = nil,
                            strata: [Int]? = nil) where D.Item == Item {
        count = base.count
        self.collate = collate
        self.lengths = lengths
        self.strata = strata
        read = { i, context in try base.item(at: i, context: &context) }
    }

    public func item(at index: Int, context: inout ItemContext) throws -> Item {
        try read(index, &context)
    }

    /// The items at `indices`, in that order, with their lengths and strata.
    public func subset(_ indices: [Int]) throws -> TaskDataset {
        TaskDataset(try Subset(self, indices: indices), collate: collate,
                    lengths: lengths.map { all in indices.map { all[$0] } },
                    strata: strata.map { all in indices.map { all[$0] } })
    }
}
