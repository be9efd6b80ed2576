import Tensor

/// A part of a run's report a task contributes (a confusion matrix, ROC curves, sample inputs with
/// their predictions): a title and self-contained HTML (inline SVG, data URIs; no scripts).
public struct ReportSection: Sendable {
    public var title: String
    public var html: String

    public init(title: String, html: String) {
        self.title = title
        self.html = html
    }
}

/// How a modality shows one model input in a report (an image as an inline PNG), by input kind
/// (`InputKind.name`).
public enum InputPreviews: RegistryKind {
    public typealias Entry = InputPreview
    public static let noun = "input preview"
}

/// Renders one input tensor (as the model reads it, one item without the batch dimension) as an
/// HTML element, or nil when it cannot.
public struct InputPreview {
    public var render: (Tensor) -> String?

    public init(render: @escaping (Tensor) -> String?) { self.render = render }
}
