/// A kind of thing recipes name: the architectures that build one kind of model, the data formats
/// that yield one kind of item, tasks, hooks, data generators. Each kind is a table of its own in
/// the `Registry`, keyed by the kind's type, so a lookup returns the entry's type without a cast at
/// the call site, and a plugin can add kinds of its own (the architectures of a new model type)
/// without touching LoRAKit.
///
///     enum Classifiers: RegistryKind {
///         typealias Entry = ClassifierArchitecture
///         static let noun = "classifier architecture"
///     }
///     try registry.register(Classifiers.self, "resnet34", ClassifierArchitecture(...))
///     let resnet = try registry.lookup(Classifiers.self, "resnet34")     // a ClassifierArchitecture
public protocol RegistryKind {
    /// What the table holds for each name.
    associatedtype Entry
    /// What one entry is called in messages: "task", "classifier architecture", "data format".
    static var noun: String { get }
}

/// The tasks recipes name with `task:`.
public enum Tasks: RegistryKind {
    public typealias Entry = any RecipeTask
    public static let noun = "task"
}

/// Training hooks a recipe adds by name under `hooks.extra`.
public enum Hooks: RegistryKind {
    public typealias Entry = HookFactory
    public static let noun = "hook"
}

/// Generators of demo and synthetic data sets (`lorakit data NAME`).
public enum DataGenerators: RegistryKind {
    public typealias Entry = DataGenerator
    public static let noun = "data generator"
}
