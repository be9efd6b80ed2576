import Tensor

/// Where an item is being read: which epoch, and a generator for its random augmentations that
/// depends only on (seed, epoch, index), so that any item can be reproduced, in any order, on any
/// thread — which is what makes resuming a run exact.
public struct ItemContext {
    public var epoch: Int
    public var index: Int
    public var generator: RandomGenerator

    public init(epoch: Int, index: Int, seed: UInt64) {
        self.epoch = epoch
        self.index = index
        var mix = RandomGenerator(seed: seed &+ 0x9E37_79B9 &* UInt64(epoch + 1) &+ UInt64(index) &* 0xBF58_476D)
        self.generator = mix.split()
    }
}

/// A collection of examples that the loader reads by index.
public protocol Dataset {
    associatedtype Item
    var count: Int { get }
    /// The item at `index` (0 ..< count). Reading may fail (a corrupt file): the error should name
    /// the file or the row.
    func item(at index: Int, context: inout ItemContext) throws -> Item
}
