/// The loader as the trainer's batch source: batches of an epoch from any position.
extension DataLoader: BatchSource {
    public func batches(epoch: Int, startingAt start: Int) -> AnyBatchIterator<Batch> {
        let iterator = self.epoch(epoch, startingAt: start)
        return AnyBatchIterator(next: { try iterator.nextBatch() }, stop: { iterator.cancel() })
    }
}
