import Tensor
import Training

/// One labelled example: the model's input and its class.
public typealias ClassificationItem = (input: Tensor, label: Int)

/// A classification split as a format reads it: the items and the class names, when the data
/// names its classes (folders, label names).
public struct ClassificationData {
    public var dataset: TaskDataset<ClassificationItem, ClassificationBatch>
    /// Class names in label order; nil when the labels are bare integers.
    public var classNames: [String]?

    public init(dataset: TaskDataset<ClassificationItem, ClassificationBatch>, classNames: [String]?) {
        self.dataset = dataset
        self.classNames = classNames
    }
}
