import Foundation

/// Which weights a model starts from.
public enum ModelWeights: Equatable, Sendable {
    /// Random initialisation (the recipe names no weights).
    case none
    /// The recipe's pretrained weights (`model.weights`); the head is replaced when the recipe
    /// asks for a new one (`model.head: new`).
    case pretrained(URL)
    /// A complete trained model, head included (a run's `model.safetensors`, `--weights`), loaded
    /// strictly.
    case complete(URL)

    /// Whether these are a complete trained model.
    public var isComplete: Bool {
        if case .complete = self { return true }
        return false
    }

    /// The file, if any.
    public var url: URL? {
        switch self {
        case .none: return nil
        case let .pretrained(url), let .complete(url): return url
        }
    }
}
