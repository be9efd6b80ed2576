import Foundation
import LoRAKit

/// One example: the model's input and a 0/1 target per label.
public typealias MultiLabelItem = (input: Tensor, targets: [Float])

/// A batch: inputs stacked batch first, targets `[N, labels]`.
public struct MultiLabelBatch {
    public var inputs: Tensor
    public var targets: Tensor

    /// Stacks items with equal input shapes and equal label counts.
    public static func collate(_ items: [MultiLabelItem]) throws -> MultiLabelBatch {
        guard let first = items.first else { throw MultiLabelError("cannot collate an empty batch") }
        for (i, item) in items.enumerated() {
            guard item.input.shape == first.input.shape else {
                throw TensorError.shapeMismatch(operation: "collate item \(i)", lhs: first.input.shape, rhs: item.input.shape)
            }
            guard item.targets.count == first.targets.count else {
                throw MultiLabelError("item \(i) has \(item.targets.count) targets, item 0 has \(first.targets.count)")
            }
        }
        return MultiLabelBatch(inputs: Tensor.stack(items.map(\.input), axis: 0),
                               targets: Tensor(items.flatMap(\.targets), shape: [items.count, first.targets.count]))
    }
}

/// A split as a multi-label format reads it, with the label names in target order.
public struct MultiLabelData {
    public var dataset: TaskDataset<MultiLabelItem, MultiLabelBatch>
    public var labelNames: [String]
}

/// The data formats of the multi-label task (a registry table of this plugin's own).
public enum MultiLabelFormats: RegistryKind {
    public typealias Entry = MultiLabelFormat
    public static let noun = "multi-label data format"
}

/// A multi-label data format: what it yields, its options, how it reads a split and one input.
public struct MultiLabelFormat {
    public var input: InputKind
    public var summary: String
    public var options: [OptionSpec]
    public var transforms: (Registry) -> [TransformDefinition]
    public var readsFiles: Bool
    public var read: (DataRequest) throws -> MultiLabelData
    public var inputReader: ((DataRequest) throws -> (String) throws -> Tensor)?
}

/// An error of the plugin, with what is wrong.
public struct MultiLabelError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
