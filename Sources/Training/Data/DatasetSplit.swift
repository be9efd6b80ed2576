import Tensor

/// Why a dataset could not be split or viewed.
public enum DatasetSplitError: Error, CustomStringConvertible, Equatable {
    /// The validation fraction is not a number in 0 ... 1.
    case invalidFraction(Double)
    /// An index of a `Subset` is outside the base dataset.
    case indexOutOfRange(index: Int, count: Int)

    public var description: String {
        switch self {
        case .invalidFraction(let fraction):
            return "validation fraction \(fraction) is not in 0 ... 1"
        case let .indexOutOfRange(index, count):
            return "subset index \(index) is outside the dataset's 0 ..< \(count)"
        }
    }
}

/// Seeded splits of a dataset's indices into training and validation sets.
public enum DatasetSplit {
    /// Splits `0 ..< labels.count` into training and validation indices, seeded, optionally
    /// stratified by label (in the spirit of scikit-learn's `train_test_split(stratify=)`).
    ///
    /// The rule, with `f = validationFraction`:
    /// - Stratified: every class (distinct label) with `n` items sends `k = round(f · n)` of them to
    ///   validation (halves round away from zero). When `0 < f < 1` and `n ≥ 2`, `k` is clamped to
    ///   `1 ... n − 1`, so such a class is in both sets; a class with a single item stays in
    ///   training. The validation set therefore has `Σ k` items, which can differ from
    ///   `round(f · count)`.
    /// - Not stratified: `k = round(f · count)` items go to validation, clamped to
    ///   `1 ... count − 1` when `0 < f < 1` and `count ≥ 2`; labels only give the count.
    /// - `f = 0` puts everything in training, `f = 1` everything in validation.
    ///
    /// Which items of a class go to validation is a shuffle of that class's indices drawn from a
    /// generator seeded by `seed` (classes taken in ascending label order); the same labels and
    /// seed give the same split. Both returned lists are sorted ascending.
    ///
    /// - Parameters:
    ///   - labels: one class label per item of the dataset.
    ///   - validationFraction: the share of items to hold out, in 0 ... 1.
    ///   - seed: seeds which items are held out.
    ///   - stratified: keep each class's proportion in both sets.
    /// - Throws: `DatasetSplitError.invalidFraction` when the fraction is not in 0 ... 1.
    public static func trainValidation(labels: [Int], validationFraction: Double, seed: UInt64,
                                       stratified: Bool = true) throws -> (train: [Int], validation: [Int]) {
        let f = validationFraction
        guard f >= 0 && f <= 1 else { throw DatasetSplitError.invalidFraction(f) }
        var generator = RandomGenerator(seed: seed ^ 0x2545_F491_4F6C_DD1D)
        var groups: [[Int]]
        if stratified {
            var byLabel: [Int: [Int]] = [:]
            for (index, label) in labels.enumerated() { byLabel[label, default: []].append(index) }
            groups = byLabel.keys.sorted().map { byLabel[$0]! }
        } else {
            groups = [Array(labels.indices)]
        }
        var train: [Int] = [], validation: [Int] = []
        for k in groups.indices {
            let n = groups[k].count
            var held = Int((f * Double(n)).rounded(.toNearestOrAwayFromZero))
            if f > 0 && f < 1 {
                held = n >= 2 ? min(max(held, 1), n - 1) : 0
            }
            generator.shuffle(&groups[k])
            validation += groups[k][..<held]
            train += groups[k][held...]
        }
        return (train.sorted(), validation.sorted())
    }
}
