/// A view of some items of a dataset, in the order of `indices` (e.g. one side of a
/// `DatasetSplit`). Item `i` of the subset is item `indices[i]` of `base`.
///
/// The `ItemContext` is passed through unchanged: its `index` and generator are those of the
/// position in the subset, as the loader made them, so a subset's augmentations are reproducible
/// from `(seed, epoch, subset index)` like any dataset's.
public struct Subset<Base: Dataset>: Dataset {
    public let base: Base
    public let indices: [Int]

    /// - Throws: `DatasetSplitError.indexOutOfRange` for an index outside `0 ..< base.count`.
    public init(_ base: Base, indices: [Int]) throws {
        let count = base.count
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw DatasetSplitError.indexOutOfRange(index: bad, count: count)
        }
        self.base = base
        self.indices = indices
    }

    public var count: Int { indices.count }

    public func item(at index: Int, context: inout ItemContext) throws -> Base.Item {
        try base.item(at: indices[index], context: &context)
    }
}
