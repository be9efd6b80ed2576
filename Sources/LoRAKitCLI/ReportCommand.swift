import ArgumentParser
import Foundation
import Runtime

/// `lorakit report RUN_DIR… [--out FILE]`: a self-contained HTML report of one run or comparing
/// several.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of a run (or comparing several): curves, the run's identity, and what its task shows of the trained model."
    )

    @Argument(help: "Run directories (output_dir of train).") var runs: [String]
    @Option(help: "The HTML file to write (default: RUN_DIR/report.html for one run, report.html for several).") var out: String?
    @Flag(help: "Skip what needs the trained model and its data (confusion matrix, ROC curves, inputs).") var noModel = false

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run directory") }
        for run in runs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: run, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("\(run): no such run directory")
            }
        }
    }

    func run() throws {
        let file = URL(fileURLWithPath: out ?? (runs.count == 1 ? runs[0] + "/report.html" : "report.html"))
        try Self.write(runs.map { URL(fileURLWithPath: $0) }, to: file, withModel: !noModel)
        print("wrote \(file.path)")
    }

    /// Writes a report with this program's registry (built-ins and plugins) for the task sections.
    static func write(_ runs: [URL], to file: URL, withModel: Bool) throws {
        let invocation = LoRAKitCLI.invocation
        try RunReport.write(runs, to: file, open: withModel ? { recipe in
            try RecipeRun(path: recipe.path, builtIns: invocation.builtIns, plugins: invocation.plugins, log: standardError)
        } : nil)
    }
}
