import Tensor
import Training

/// A text-classification dataset: the examples of a `TextClassificationFile`, encoded to token
/// ids once, when it is built.
///
/// Item `i` is `(input, label)` with `input` an int64 tensor `[T_i]` of the ids that `encode`
/// gave for text `i` (lengths differ; `TextBatchCollation.pad` makes batches `[N, T_max]`) and
/// `label` its class index. Encoding is eager because texts are short: a tokenizer encodes
/// thousands per second, so a file is encoded in about the time it takes to read, every
/// encoding error surfaces at once, naming its line, and reading an item only copies its ids
/// into a tensor, which is safe on the loader's background threads.
///
/// The encoder is a plain closure so the dataset does not depend on a tokenizer type:
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(directory: modelDirectory)
/// let train = try TextClassificationDataset(path: "data/fortunes/train.csv") {
///     tokenizer.encode($0, maxLength: 128).ids
/// }
/// let loader = DataLoader(dataset: train, batchSize: 16, seed: 1) {
///     try TextBatchCollation.pad($0, padId: tokenizer.padId)
/// }
/// ```
public struct TextClassificationDataset: Dataset {
    public typealias Item = (input: Tensor, label: Int)

    /// The file the examples come from.
    public let file: TextClassificationFile
    /// The token ids of each example, in file order.
    public let ids: [[Int]]

    /// Class names; label `k` is `classNames[k]`.
    public var classNames: [String] { file.classNames }
    /// The class index of each example, in file order.
    public var labels: [Int] { file.labels }
    public var count: Int { ids.count }

    /// Encodes every example of `file`.
    /// - Parameters:
    ///   - file: the texts and labels.
    ///   - encode: maps a text to token ids (e.g. a tokenizer with special tokens and truncation).
    /// - Throws: `TextDataError.encodingFailed` naming the file and line when `encode` throws or
    ///   returns no ids.
    public init(file: TextClassificationFile, encode: (String) throws -> [Int]) throws {
        var ids: [[Int]] = []
        ids.reserveCapacity(file.count)
        for example in file.examples {
            let row: [Int]
            do {
                row = try encode(example.text)
            } catch {
                throw TextDataError.encodingFailed(path: file.path, line: example.line, reason: String(describing: error))
            }
            guard !row.isEmpty else {
                throw TextDataError.encodingFailed(path: file.path, line: example.line, reason: "the encoder returned no ids")
            }
            ids.append(row)
        }
        self.file = file
        self.ids = ids
    }

    /// Reads a file (see `TextClassificationFile.init(path:…)`) and encodes its examples.
    /// - Throws: `TextDataError` naming the file and line.
    public init(path: String, format: TextFileFormat? = nil, textColumn: String = "text",
                labelColumn: String = "label", labels: TextLabelFormat = .automatic,
                classNames: [String]? = nil, encode: (String) throws -> [Int]) throws {
        let file = try TextClassificationFile(path: path, format: format, textColumn: textColumn,
                                              labelColumn: labelColumn, labels: labels, classNames: classNames)
        try self.init(file: file, encode: encode)
    }

    public func item(at index: Int, context: inout ItemContext) throws -> Item {
        let row = ids[index]
        return (try Tensor(shape: [row.count], indices: row), file.examples[index].label)
    }
}
