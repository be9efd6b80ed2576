import NN

/// A child module declared by the protocol it must conform to rather than by its class: a Llama
/// projection is `any UnaryLayer` (a float `Linear` from safetensors, a `QuantizedLinear` from
/// GGUF, or either's LoRA form), the token embedding `any TokenEmbedding`.
///
/// Like `@Child`, the module tree sees it (reflection finds its `ChildSlot`), so state-dict keys
/// run through it and LoRA injection replaces it; a replacement must conform to `Layer`. `Layer`
/// may be an optional (`(any UnaryLayer)?`, the untied output head), which is then absent from
/// the tree when nil.
///
/// (NN's `@Child` needs a class type; a protocol-typed child is what lets one model class hold
/// float and quantised layers without casts in its forward.)
@propertyWrapper
public final class LayerChild<Layer>: ChildSlot {
    private var value: Layer?
    public let key: String?

    /// - Parameter wrappedValue: a `Module` conforming to `Layer` (or nil for an optional `Layer`).
    public init(wrappedValue: Layer, key: String? = nil) {
        precondition(LayerChild.isNil(wrappedValue) || LayerChild.module(of: wrappedValue) != nil,
                     "LayerChild \(key ?? ""): \(type(of: wrappedValue)) is not a Module")
        self.value = wrappedValue
        self.key = key
    }

    /// A child whose value the initialiser sets later (needed when `key:` is given).
    public init(key: String? = nil) { self.key = key }

    public var wrappedValue: Layer {
        get {
            guard let value else { preconditionFailure("child \(key ?? "") read before it was set") }
            return value
        }
        set {
            precondition(LayerChild.isNil(newValue) || LayerChild.module(of: newValue) != nil, "LayerChild \(key ?? ""): \(type(of: newValue)) is not a Module")
            value = newValue
        }
    }

    public var module: Module? { value.flatMap(LayerChild.module(of:)) }

    public func replace(with newModule: Module) -> Bool {
        guard let layer = newModule as? Layer else { return false }
        value = layer
        return true
    }

    /// `value` as a module; nil for an optional holding nil (checked first: a dynamic cast of a
    /// nil existential optional crashes the Swift 6.3 runtime when specialised).
    private static func module(of value: Layer) -> Module? {
        if isNil(value) { return nil }
        return (value as Any) as? Module
    }

    /// Whether `value` is an optional holding nil.
    private static func isNil(_ value: Layer) -> Bool {
        let mirror = Mirror(reflecting: value)
        return mirror.displayStyle == .optional && mirror.children.isEmpty
    }
}
