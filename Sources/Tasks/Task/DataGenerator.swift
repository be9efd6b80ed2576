import Foundation

/// A generator of a data set on disk (`lorakit data NAME --out DIR [--option value …]`): the
/// synthetic retina photographs of the main demo, and whatever plugins add.
public struct DataGenerator: Sendable {
    public var name: String
    public var summary: String
    /// The command-line options (`--count 400`), checked before it runs.
    public var options: [OptionSpec]
    /// Writes the data set into `directory` and returns a line saying what it wrote.
    public var generate: @Sendable (_ directory: URL, _ options: Options, _ log: @escaping (String) -> Void) throws -> String

    public init(name: String, summary: String, options: [OptionSpec],
                generate: @escaping @Sendable (URL, Options, @escaping (String) -> Void) throws -> String) {
        self.name = name
        self.summary = summary
        self.options = options
        self.generate = generate
    }
}
