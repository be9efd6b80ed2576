import ArgumentParser
import Foundation
import Recipes
import Runtime
import Tasks

/// `lorakit data NAME --out DIR [--option value …]`: runs a registered data generator (the
/// synthetic retina photographs of the main demo: `lorakit data retina --site target --out DIR`).
/// Without a name, lists the generators and their options.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Generate a demo or synthetic data set with a registered generator (lorakit data to list them).",
        discussion: "Each generator takes its own options, written --name value; lorakit data lists them."
    )

    @Argument(help: "The generator, e.g. retina.") var name: String?
    @Option(help: "Output directory.") var out: String?
    @Argument(parsing: .allUnrecognized, help: "The generator's options, --name value.") var options: [String] = []

    func run() throws {
        let invocation = LoRAKitCLI.invocation
        var registry = try Registry.standard(builtIns: invocation.builtIns, plugins: invocation.plugins)
        try registry.load(plugins: invocation.plugins.map { $0.name })
        guard let name else {
            for (name, generator) in registry.entries(DataGenerators.self) {
                print("\(name): \(generator.summary)")
                for spec in generator.options {
                    print("  --\(spec.name.replacingOccurrences(of: "_", with: "-")): \(spec.help) (\(spec.expectation)"
                          + (spec.defaultText.map { "; default \($0)" } ?? "") + ")")
                }
            }
            return
        }
        let generator = try registry.lookup(DataGenerators.self, name)
        let values = try Self.parse(options)
        guard let out else { throw ValidationError("give --out DIR") }
        let parsed = Options(values, owner: "data generator \(name)", keyPrefix: "", specs: generator.options)
        let problems = parsed.problems()
        guard problems.isEmpty else {
            // Problems name option keys; the user wrote flags (`some_name` is `--some-name`).
            throw UsageError(problems.map { problem in
                "--" + problem.key.replacingOccurrences(of: "_", with: "-") + String("\(problem)".dropFirst(problem.key.count))
            }.joined(separator: "\n"))
        }
        print(try generator.generate(URL(fileURLWithPath: out), parsed, standardError))
    }

    /// `--key value` and `--key=value` pairs; `--some-name` is option `some_name`. Values are
    /// typed as a recipe would type them (integers, numbers, booleans, else text).
    static func parse(_ arguments: [String]) throws -> [String: RecipeValue] {
        var values: [String: RecipeValue] = [:]
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ValidationError("unexpected argument '\(argument)'; generator options are written --name value")
            }
            var flag = String(argument.dropFirst(2))
            let value: String
            if let equals = flag.firstIndex(of: "=") {
                value = String(flag[flag.index(after: equals)...])
                flag = String(flag[..<equals])
            } else {
                guard i + 1 < arguments.count else { throw ValidationError("--\(flag) needs a value") }
                i += 1
                value = arguments[i]
            }
            let key = flag.replacingOccurrences(of: "-", with: "_")
            guard values[key] == nil else { throw ValidationError("--\(flag) is given twice") }
            if let int = Int(value) { values[key] = .int(int) }
            else if let double = Double(value), double.isFinite, value.contains(where: \.isNumber) { values[key] = .double(double) }
            else if value == "true" || value == "false" { values[key] = .bool(value == "true") }
            else { values[key] = .string(value) }
            i += 1
        }
        return values
    }
}
