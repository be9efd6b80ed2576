import Tensor

/// Temporary contract until the metrics land.
public protocol Metric {
    var name: String { get }
    mutating func update(logits: Tensor, labels: [Int])
    func value() -> Double?
    mutating func reset()
}
