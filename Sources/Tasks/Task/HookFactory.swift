import Training

/// A hook recipes add by name (`hooks.extra: [{name: lr_monitor}]`), with its options.
public struct HookFactory {
    public var summary: String
    public var options: [OptionSpec]
    public var make: (Options) throws -> TrainerHook

    public init(summary: String, options: [OptionSpec] = [], make: @escaping (Options) throws -> TrainerHook) {
        self.summary = summary
        self.options = options
        self.make = make
    }
}
