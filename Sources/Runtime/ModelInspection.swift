import LoRA

/// What a recipe's model holds: its leaf modules and which of them the LoRA targets adapt.
public struct ModelInspection {
    /// One leaf module.
    public struct Entry {
        /// Its key in the module tree (`layer1.0.conv1`).
        public var key: String
        /// Its Swift type.
        public var type: String
        public var parameters: Int
    }

    /// The recipe's `model.architecture`.
    public var architecture: String
    /// Parameters of the whole model.
    public var parameters: Int
    /// Leaf modules in tree order.
    public var modules: [Entry]
    /// The layers the recipe's LoRA settings would adapt (nil when the recipe trains no adapters).
    public var lora: InjectionReport?
}
