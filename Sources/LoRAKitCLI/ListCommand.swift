import ArgumentParser
import Runtime
import Tasks

/// `lorakit list`: what recipes can name in this program — tasks, architectures, data formats,
/// transforms, metrics, hooks, generative model formats, data generators and plugins — with their
/// options.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the tasks, architectures, data formats, metrics, hooks and plugins recipes can name."
    )

    func run() throws {
        let invocation = LoRAKitCLI.invocation
        var registry = try Registry.standard(builtIns: invocation.builtIns, plugins: invocation.plugins)
        // What the compiled-in plugins add is listed too (a recipe registers only those it lists).
        try registry.load(plugins: invocation.plugins.map { $0.name })
        for (name, task) in registry.entries(Tasks.self) {
            print("task \(name): \(task.summary)")
            for line in task.listing(in: registry) { print("  " + line) }
        }
        print("hooks (hooks.extra):")
        for (name, h) in registry.entries(Hooks.self) {
            print("  \(name): \(h.summary)")
            for line in optionListing(h.options) { print(line) }
        }
        print("generative model formats (lorakit generate MODEL):")
        for (name, format) in registry.entries(GenerativeModels.self) { print("  \(name): \(format.summary)") }
        print("data generators (lorakit data NAME): \(registry.names(DataGenerators.self).joined(separator: ", "))")
        let plugins = registry.availablePlugins.keys.sorted()
        print("plugins (plugins:): \(plugins.isEmpty ? "none compiled in" : plugins.joined(separator: ", "))")
    }
}
