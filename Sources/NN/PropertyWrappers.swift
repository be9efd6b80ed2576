import Tensor

/// A trainable tensor of a module, found by reflection. Its key is the property's name unless
/// `key:` renames it to match a checkpoint (`@Parameter(key: "in_proj_weight")`).
///
/// The wrapper is a class so that the module tree can update a parameter in place (loading,
/// optimizer steps, merging) without knowing the module's type.
@propertyWrapper
public final class Parameter: ParameterSlot {
    private var value: Tensor?
    public var wrappedValue: Tensor {
        get {
            guard let value else { preconditionFailure("parameter \(key ?? "") read before it was set") }
            return value
        }
        set { value = newValue.asParameter(trainable: isTrainable) }
    }
    public let key: String?
    /// Whether the parameter receives gradients; `freeze`/`unfreeze` change it.
    public private(set) var isTrainable: Bool

    public init(wrappedValue: Tensor, key: String? = nil, trainable: Bool = true) {
        self.value = wrappedValue.asParameter(trainable: trainable)
        self.key = key
        self.isTrainable = trainable
    }

    /// A parameter whose value the initialiser sets later (needed when `key:` is given).
    public init(key: String? = nil, trainable: Bool = true) {
        self.key = key
        self.isTrainable = trainable
    }

    public var tensor: Tensor? {
        get { value }
        set { if let newValue { wrappedValue = newValue } }
    }

    public func setTrainable(_ flag: Bool) {
        isTrainable = flag
        value = value?.asParameter(trainable: flag)
    }
}

/// An optional trainable tensor (a bias that may be absent).
@propertyWrapper
public final class OptionalParameter: ParameterSlot {
    public var wrappedValue: Tensor? {
        didSet { wrappedValue = wrappedValue?.asParameter(trainable: isTrainable) }
    }
    public let key: String?
    public private(set) var isTrainable: Bool

    public init(wrappedValue: Tensor?, key: String? = nil, trainable: Bool = true) {
        self.wrappedValue = wrappedValue?.asParameter(trainable: trainable)
        self.key = key
        self.isTrainable = trainable
    }

    public init(key: String? = nil, trainable: Bool = true) {
        self.wrappedValue = nil
        self.key = key
        self.isTrainable = trainable
    }

    public var tensor: Tensor? {
        get { wrappedValue }
        set { wrappedValue = newValue }
    }

    public func setTrainable(_ flag: Bool) {
        isTrainable = flag
        wrappedValue = wrappedValue?.asParameter(trainable: flag)
    }
}

/// Persistent state that is saved and loaded but never trained (batch norm's running statistics).
///
/// A buffer is required in a checkpoint unless it declares `default:`, the value it takes when a
/// checkpoint lacks it (see `Module.load(_:strict:)`). Declare one only for state that a
/// reference implementation also fills in, and say so where the buffer is declared: batch norm's
/// `num_batches_tracked`, absent from torchvision's and timm's ImageNet ResNet files, loads as 0
/// as in PyTorch, while a missing `running_mean` stays an error.
@propertyWrapper
public final class Buffer: BufferSlot {
    private var value: Tensor?
    public var wrappedValue: Tensor {
        get {
            guard let value else { preconditionFailure("buffer \(key ?? "") read before it was set") }
            return value
        }
        set { value = newValue.detached() }
    }
    public let key: String?
    /// The value loaded when a checkpoint lacks this buffer; nil when the buffer is required.
    public let defaultValue: Tensor?

    /// - Parameters:
    ///   - wrappedValue: the initial value.
    ///   - key: the state-dict key, when it differs from the property's name.
    ///   - default: the value a checkpoint without this buffer loads as; nil (the default) makes
    ///     the buffer required.
    public init(wrappedValue: Tensor, key: String? = nil, default defaultValue: Tensor? = nil) {
        self.value = wrappedValue.detached()
        self.key = key
        self.defaultValue = defaultValue?.detached()
    }

    public init(key: String? = nil, default defaultValue: Tensor? = nil) {
        self.key = key
        self.defaultValue = defaultValue?.detached()
    }

    public var tensor: Tensor {
        get { wrappedValue }
        set { wrappedValue = newValue }
    }
}

/// A child module that the module tree can replace (LoRA injection swaps layers through it).
/// The replacement must be an instance of the declared type, such as a subclass.
@propertyWrapper
public final class Child<M: Module>: ChildSlot {
    private var value: M?
    public var wrappedValue: M {
        get {
            guard let value else { preconditionFailure("child \(key ?? "") read before it was set") }
            return value
        }
        set { value = newValue }
    }
    public let key: String?

    public init(wrappedValue: M, key: String? = nil) {
        self.value = wrappedValue
        self.key = key
    }

    public init(key: String? = nil) { self.key = key }

    public var module: Module? { value }
    public var declaredType: Any.Type { M.self }

    public func replace(with newModule: Module) -> Bool {
        guard let m = newModule as? M else { return false }
        wrappedValue = m
        return true
    }
}

/// An optional child module (e.g. a ResNet block's `downsample`).
@propertyWrapper
public final class OptionalChild<M: Module>: ChildSlot {
    public var wrappedValue: M?
    public let key: String?

    public init(wrappedValue: M?, key: String? = nil) {
        self.wrappedValue = wrappedValue
        self.key = key
    }

    public init(key: String? = nil) {
        self.wrappedValue = nil
        self.key = key
    }

    public var module: Module? { wrappedValue }
    public var declaredType: Any.Type { M.self }

    public func replace(with newModule: Module) -> Bool {
        guard let m = newModule as? M else { return false }
        wrappedValue = m
        return true
    }
}

/// A list of child modules keyed `0`, `1`, … (PyTorch's `nn.ModuleList`).
@propertyWrapper
public final class ChildList<M: Module>: ChildListSlot {
    public var wrappedValue: [M]
    public let key: String?

    public init(wrappedValue: [M], key: String? = nil) {
        self.wrappedValue = wrappedValue
        self.key = key
    }

    public init(key: String? = nil) {
        self.wrappedValue = []
        self.key = key
    }

    public var modules: [Module] { wrappedValue }

    public func replace(at index: Int, with newModule: Module) -> Bool {
        guard wrappedValue.indices.contains(index), let m = newModule as? M else { return false }
        wrappedValue[index] = m
        return true
    }
}

// MARK: - Slot protocols (how reflection sees the wrappers)

public protocol ParameterSlot: AnyObject {
    var key: String? { get }
    var tensor: Tensor? { get set }
    var isTrainable: Bool { get }
    func setTrainable(_ flag: Bool)
}

public protocol BufferSlot: AnyObject {
    var key: String? { get }
    var tensor: Tensor { get set }
    /// The value loaded when a checkpoint lacks this buffer; nil when it is required.
    var defaultValue: Tensor? { get }
}

extension BufferSlot {
    /// Buffers are required unless they say otherwise.
    public var defaultValue: Tensor? { nil }
}

public protocol ChildSlot: AnyObject {
    var key: String? { get }
    var module: Module? { get }
    /// Replaces the child; false when `newModule` is not of the declared type.
    func replace(with newModule: Module) -> Bool
}

public protocol ChildListSlot: AnyObject {
    var key: String? { get }
    var modules: [Module] { get }
    func replace(at index: Int, with newModule: Module) -> Bool
}

extension Tensor {
    /// This tensor as a parameter value: a leaf that requires a gradient when trainable, a plain
    /// detached tensor when frozen. Free when it already is one.
    func asParameter(trainable: Bool) -> Tensor {
        if trainable { return requiresGrad && isLeaf ? self : requiringGrad() }
        return requiresGrad ? detached() : self
    }
}
