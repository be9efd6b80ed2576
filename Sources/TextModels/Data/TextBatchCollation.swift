import Tensor
import Training

/// Batches of token-id rows of different lengths.
public enum TextBatchCollation {
    /// Pads id rows to the longest one and stacks them.
    ///
    /// Row `n` of the result holds the ids of item `n` followed by `padId` up to `T_max`, the
    /// longest row's length: `inputs[n, t] = ids_n[t]` for `t < T_n`, `padId` for
    /// `T_n ≤ t < T_max`. The attention mask is left to the model, which derives it from
    /// `ids != padId`.
    ///
    /// - Parameters:
    ///   - items: `(input, label)` pairs with `input` an int64 (or int32) tensor `[T_n]`, in
    ///     batch order.
    ///   - padId: the id that fills the tail of shorter rows (`[PAD]` is 0 in BERT vocabularies).
    /// - Returns: `inputs` int64 `[N, T_max]` and the labels in item order.
    /// - Throws: `TrainingError.invalidConfiguration` for an empty batch or one whose rows are
    ///   all empty; `TensorError` for an input that is not a rank-1 integer tensor.
    public static func pad(_ items: [(input: Tensor, label: Int)], padId: Int = 0) throws -> ClassificationBatch {
        guard !items.isEmpty else {
            throw TrainingError.invalidConfiguration("cannot collate an empty batch")
        }
        for (n, item) in items.enumerated() {
            guard item.input.rank == 1 else {
                throw TensorError.invalidShape(operation: "pad item \(n)", shape: item.input.shape,
                                               reason: "token ids must be a rank-1 tensor [T]")
            }
            guard item.input.dtype == .int64 || item.input.dtype == .int32 else {
                throw TensorError.unsupportedDType(operation: "pad item \(n) (token ids)", dtype: item.input.dtype)
            }
        }
        let width = items.map { $0.input.shape[0] }.max()!
        guard width > 0 else {
            throw TrainingError.invalidConfiguration("cannot collate a batch whose \(items.count) id rows are all empty")
        }
        var values = [Int](repeating: padId, count: items.count * width)
        for (n, item) in items.enumerated() {
            let row = item.input.indexScalars
            values.replaceSubrange(n * width ..< n * width + row.count, with: row)
        }
        return ClassificationBatch(inputs: try Tensor(shape: [items.count, width], indices: values),
                                   labels: items.map(\.label))
    }
}
