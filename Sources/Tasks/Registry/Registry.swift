import Training

/// Everything a run can name in a recipe: tasks, the architectures and data formats each task
/// uses, transforms, metrics, hooks, data generators, and the plugins compiled in. A value built
/// for each run (the built-in modalities plus the plugins the recipe lists), never a global.
///
/// Entries live in tables keyed by a `RegistryKind`; the kind's type fixes the entry type, so
/// `lookup(Classifiers.self, "resnet34")` returns a `ClassifierArchitecture`. Type erasure
/// happens here, once: a table stores its entries as `Any` and only this type reads them back,
/// through the same kind that stored them.
public struct Registry {
    private struct Table {
        var noun: String
        var entries: [String: Any] = [:]
        /// Who registered each name: "LoRAKit", a built-in module or a plugin.
        var owners: [String: String] = [:]
    }

    private var tables: [ObjectIdentifier: Table] = [:]
    /// Metrics of classification (they read logits and class labels), by the names recipes use.
    public var metrics = MetricRegistry.builtIn
    /// Plugins compiled into this program, by name; they register when a recipe lists them.
    public private(set) var availablePlugins: [String: LoRAKitPlugin.Type] = [:]
    /// Plugins (and built-in modules) registered so far, in order.
    public private(set) var loadedPlugins: [String] = []
    /// The plugin whose `register` is running (names duplicates in errors).
    private var registering = "LoRAKit"

    /// An empty registry (no tasks; the built-in metrics).
    public init() {}

    // MARK: - Entries

    /// Adds `entry` under `name` in `kind`'s table.
    /// - Throws: `RegistryError.duplicate` when the name is taken in that table.
    public mutating func register<K: RegistryKind>(_ kind: K.Type, _ name: String, _ entry: K.Entry) throws {
        let id = ObjectIdentifier(kind)
        var table = tables[id] ?? Table(noun: K.noun)
        guard table.entries[name] == nil else {
            throw RegistryError.duplicate(kind: K.noun, name: name, plugin: registering)
        }
        table.entries[name] = entry
        table.owners[name] = registering
        tables[id] = table
    }

    /// The entry named `name` in `kind`'s table, or nil.
    public func entry<K: RegistryKind>(_ kind: K.Type, _ name: String) -> K.Entry? {
        // Only `register` writes a table, with entries of `K.Entry`: the cast cannot fail.
        tables[ObjectIdentifier(kind)]?.entries[name] as? K.Entry
    }

    /// The entry named `name` in `kind`'s table.
    /// - Throws: `RegistryError.unknown` listing the names the table has.
    public func lookup<K: RegistryKind>(_ kind: K.Type, _ name: String) throws -> K.Entry {
        guard let entry = entry(kind, name) else {
            throw RegistryError.unknown(kind: K.noun, name: name, known: names(kind))
        }
        return entry
    }

    /// The names in `kind`'s table, sorted.
    public func names<K: RegistryKind>(_ kind: K.Type) -> [String] {
        (tables[ObjectIdentifier(kind)]?.entries.keys).map { $0.sorted() } ?? []
    }

    /// Every entry of `kind`, sorted by name.
    public func entries<K: RegistryKind>(_ kind: K.Type) -> [(name: String, entry: K.Entry)] {
        names(kind).compactMap { name in entry(kind, name).map { (name, $0) } }
    }

    /// Who registered `name` in `kind`'s table ("LoRAKit", a module or a plugin), if it is there.
    public func owner<K: RegistryKind>(of name: String, in kind: K.Type) -> String? {
        tables[ObjectIdentifier(kind)]?.owners[name]
    }

    // MARK: - Conveniences

    /// Registers a task under its name.
    public mutating func registerTask(_ task: some RecipeTask) throws {
        try register(Tasks.self, task.name, task)
    }

    /// The task a recipe names.
    public func task(_ name: String) throws -> any RecipeTask { try lookup(Tasks.self, name) }

    /// Adds a classification metric (see `metrics`).
    public mutating func registerMetric(_ name: String, _ factory: @escaping () -> any Metric) throws {
        do { try metrics.register(name, factory: factory) } catch {
            throw RegistryError.duplicate(kind: "metric", name: name, plugin: registering)
        }
    }

    /// Adds a hook recipes list under `hooks.extra`.
    public mutating func registerHook(_ name: String, _ factory: HookFactory) throws {
        try register(Hooks.self, name, factory)
    }

    /// Adds a data generator (`lorakit data NAME`).
    public mutating func registerGenerator(_ generator: DataGenerator) throws {
        try register(DataGenerators.self, generator.name, generator)
    }

    // MARK: - Plugins

    /// Registers `module` now (a built-in modality, or a plugin every recipe of this program uses).
    public mutating func install(_ module: LoRAKitPlugin.Type) throws {
        try run(module)
    }

    /// Makes plugins available by name (they register only when a recipe lists them).
    /// - Throws: `RegistryError.duplicate` when two plugins have one name.
    public mutating func makeAvailable(_ plugins: [LoRAKitPlugin.Type]) throws {
        for p in plugins {
            guard availablePlugins[p.name] == nil else {
                throw RegistryError.duplicate(kind: "plugin", name: p.name, plugin: p.name)
            }
            availablePlugins[p.name] = p
        }
    }

    /// Registers the plugins a recipe lists; an unknown name, a failing plugin or a name
    /// registered twice is an error naming the plugin.
    public mutating func load(plugins names: [String]) throws {
        for name in names {
            guard let plugin = availablePlugins[name] else {
                throw RegistryError.unknown(kind: "plugin", name: name, known: Array(availablePlugins.keys))
            }
            try run(plugin)
        }
    }

    /// Runs a plugin's registration on a copy, so that a plugin that fails halfway leaves the
    /// registry as it was.
    private mutating func run(_ plugin: LoRAKitPlugin.Type) throws {
        guard !loadedPlugins.contains(plugin.name) else { return }
        var copy = self
        copy.registering = plugin.name
        do { try plugin.register(into: &copy) } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError.pluginFailed(name: plugin.name, reason: "\(error)")
        }
        copy.registering = "LoRAKit"
        copy.loadedPlugins.append(plugin.name)
        self = copy
    }
}
