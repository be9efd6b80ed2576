import ArgumentParser
import Foundation
import Plots
import Recipes
import Runtime

/// `lorakit sweep RECIPE --ranks 4,8,16,32,64`: the recipe once per LoRA rank, and a table and plot
/// of the metric against trainable parameters — the rank trade-off of the LoRA paper, measured.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Train a LoRA recipe at several ranks; write a table (Markdown, CSV, JSON) and an SVG plot."
    )

    @OptionGroup var arguments: RecipeArguments
    @Option(help: "Comma-separated ranks.") var ranks = "4,8,16,32,64"
    @Option(help: "Scale alpha with the rank (alpha = factor × r); default keeps the recipe's alpha.") var alphaFactor: Double?

    struct Row: Codable {
        var rank: Int
        var metric: String
        var value: Double?
        var trainableParameters: Int
        var trainablePercent: Double
        var stepMilliseconds: Double
        var peakMiB: Double
        var output: String
    }

    /// The ranks, each ≥ 1, none twice.
    var rankList: [Int] {
        get throws {
            let list = try ranks.split(separator: ",", omittingEmptySubsequences: false).map { text -> Int in
                guard let r = Int(text.trimmingCharacters(in: .whitespaces)), r >= 1 else {
                    throw ValidationError("--ranks: '\(text)' is not a rank ≥ 1")
                }
                return r
            }
            if let repeated = list.enumerated().first(where: { list[..<$0.offset].contains($0.element) }) {
                throw ValidationError("--ranks: rank \(repeated.element) is listed twice")
            }
            return list
        }
    }

    func validate() throws {
        _ = try rankList
        if let alphaFactor, !(alphaFactor > 0) { throw ValidationError("--alpha-factor must be > 0, got \(alphaFactor)") }
    }

    func run() throws {
        let rankList = try self.rankList
        let base = try arguments.run()
        try base.validate()
        guard base.recipe.train.mode == .lora else { throw UsageError("sweep needs a LoRA recipe (train.mode: lora)") }
        let root = base.output.appendingPathComponent("sweep")
        let monitor = base.recipe.eval.monitor
        var rows: [Row] = []
        for r in rankList {
            var overrides = arguments.overrides + ["lora.rank=\(r)", "output_dir=\(root.appendingPathComponent("r\(r)").path)"]
            if let alphaFactor { overrides.append("lora.alpha=\(alphaFactor * Double(r))") }
            let run = try RecipeArguments.parse([arguments.recipe]).run(overrides: overrides)
            try run.validate(training: true)
            standardError("sweep: rank \(r)")
            let result = try run.train()
            rows.append(Row(rank: r, metric: monitor, value: result.metrics[monitor], trainableParameters: result.trainableParameters,
                            trainablePercent: 100 * Double(result.trainableParameters) / Double(max(result.totalParameters, 1)),
                            stepMilliseconds: 1000 * result.meanStepSeconds, peakMiB: Double(result.peakBytes) / 1_048_576,
                            output: run.output.path))
        }
        try write(rows, to: root)
        print(markdown(rows))
        print("wrote \(root.path)/sweep.{md,csv,json,svg}")
        let report = root.appendingPathComponent("report.html")
        try ReportCommand.write(rows.map { URL(fileURLWithPath: $0.output) }, to: report, withModel: false)
        print("wrote \(report.path)")
    }

    func markdown(_ rows: [Row]) -> String {
        var lines = ["| rank | \(rows.first?.metric ?? "metric") | trainable parameters | trainable % | step ms | peak MiB |",
                     "|---:|---:|---:|---:|---:|---:|"]
        for r in rows {
            lines.append(String(format: "| %d | %@ | %d | %.3f | %.1f | %.1f |", r.rank, r.value.map { String(format: "%.4f", $0) } ?? "–",
                                r.trainableParameters, r.trainablePercent, r.stepMilliseconds, r.peakMiB))
        }
        return lines.joined(separator: "\n")
    }

    func write(_ rows: [Row], to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data((markdown(rows) + "\n").utf8).write(to: dir.appendingPathComponent("sweep.md"), options: .atomic)
        var csv = "rank,metric,value,trainable_parameters,trainable_percent,step_ms,peak_mib\n"
        for r in rows {
            csv += "\(r.rank),\(r.metric),\(r.value.map { String($0) } ?? ""),\(r.trainableParameters),\(r.trainablePercent),\(r.stepMilliseconds),\(r.peakMiB)\n"
        }
        try Data(csv.utf8).write(to: dir.appendingPathComponent("sweep.csv"), options: .atomic)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        try encoder.encode(rows).write(to: dir.appendingPathComponent("sweep.json"), options: .atomic)
        try Data(svg(rows).utf8).write(to: dir.appendingPathComponent("sweep.svg"), options: .atomic)
    }

    /// The metric against trainable parameters (log scale), one point per rank.
    func svg(_ rows: [Row]) -> String {
        let metric = rows.first?.metric ?? "metric"
        return Plot(title: "\(metric) against trainable parameters (ranks \(rows.map { String($0.rank) }.joined(separator: ", ")))",
                    x: Axis("trainable parameters", scale: .log), y: Axis(metric),
                    series: [Series("LoRA", points: rows.compactMap { r in r.value.map { (Double(max(r.trainableParameters, 1)), $0) } },
                                    style: .lineAndMarkers)],
                    width: 640, height: 400).svg() + "\n"
    }
}
