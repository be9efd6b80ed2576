import Foundation
import Plots
import Tasks

/// `lorakit report`: one self-contained HTML file (inline SVG and CSS, no scripts) about one run,
/// or comparing several — how training went, what the run is, and what its task shows of the
/// trained model (through `TaskSession.reportSections`).
public enum RunReport {
    /// The report of `records`. `sections[i]` are the task's sections for run `i` (or the reason
    /// they are missing).
    public static func html(_ records: [RunRecord], sections: [Result<[ReportSection], Error>]) -> String {
        let title = records.count == 1 ? "LoRAKit run report: \(records[0].name)" : "LoRAKit report: \(records.count) runs"
        var body = ""
        if records.count == 1 {
            body += runSections(records[0], sections: sections.first)
        } else {
            body += comparison(records)
            for (i, record) in records.enumerated() {
                body += "<details class=\"run\"><summary>\(SVG.escape(record.name)) — \(SVG.escape(record.directory.path))</summary>"
                    + runSections(record, sections: sections.indices.contains(i) ? sections[i] : nil) + "</details>"
            }
        }
        let subtitle = records.map { $0.directory.path }.joined(separator: ", ")
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(SVG.escape(title))</title><style>\(ReportStyle.css)</style></head>
        <body><header><h1>\(SVG.escape(title))</h1><p>\(SVG.escape(subtitle))</p></header><main>
        \(body)
        </main></body></html>

        """
    }

    // MARK: - One run

    static func runSections(_ r: RunRecord, sections: Result<[ReportSection], Error>?) -> String {
        var html = ""
        if !r.problems.isEmpty || !r.errors.isEmpty {
            html += "<section class=\"problems\"><h2>What is missing</h2><ul>"
                + (r.problems + r.errors.map { "the run logged an error: \($0)" }).map { "<li>\(SVG.escape($0))</li>" }.joined()
                + "</ul></section>"
        }
        html += "<section><h2>Run</h2>\(identity(r))</section>"
        html += "<section><h2>Training</h2><div class=\"plots\">\(trainingPlots(r).map { $0.svg() }.joined())</div></section>"
        html += "<section><h2>Validation</h2>"
        let validation = validationPlots(r)
        html += validation.isEmpty ? "<p class=\"missing\">No validation metrics were logged.</p>"
            : "<div class=\"plots\">\(validation.map { $0.svg() }.joined())</div>"
        html += "</section>"
        switch sections {
        case let .success(list)?:
            for s in list { html += "<section><h2>\(SVG.escape(s.title))</h2>\(s.html)</section>" }
        case let .failure(error)?:
            html += "<section class=\"problems\"><h2>The trained model</h2><p class=\"missing\">Not shown: \(SVG.escape("\(error)"))</p></section>"
        case nil: break
        }
        if !r.adapterLayers.isEmpty {
            html += "<section><h2>LoRA targets</h2><table><tr><th>layer</th><th>rank</th></tr>"
                + r.adapterLayers.map { "<tr><td>\(SVG.escape($0.key))</td><td>\($0.rank)</td></tr>" }.joined() + "</table></section>"
        }
        if let text = r.recipeText { html += "<section><h2>Resolved recipe</h2><pre>\(SVG.escape(text))</pre></section>" }
        return html
    }

    static func identity(_ r: RunRecord) -> String {
        var rows: [(String, String)] = []
        if let recipe = r.recipe {
            rows.append(("task", recipe.task))
            rows.append(("model", recipe.model.architecture + (recipe.model.weights.map { " from \($0)" } ?? " (random initialisation)")))
            rows.append(("mode", recipe.train.mode.rawValue + (recipe.lora.map { ", rank \($0.rank), alpha \(YAMLNumber.text(Double($0.alpha)))" } ?? "")))
        }
        if let trainable = r.summaryNumber("trainable_parameters"), let total = r.summaryNumber("total_parameters") {
            rows.append(("trainable parameters", String(format: "%.0f of %.0f (%.2f %%)", trainable, total, 100 * trainable / max(total, 1))))
        }
        if let steps = r.summaryNumber("steps") { rows.append(("steps", String(format: "%.0f", steps) + (r.summaryNumber("epochs").map { String(format: " (%.0f epochs)", $0) } ?? ""))) }
        if let final = r.summaryText("final"), let step = r.summaryNumber("final_step") {
            rows.append(("written model", final == "best" ? String(format: "the best checkpoint, step %.0f", step) : String(format: "the last, step %.0f", step)))
        }
        let metrics = r.finalMetrics
        if !metrics.isEmpty {
            rows.append(("its validation metrics", metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")))
        }
        if let seconds = r.summaryNumber("seconds") { rows.append(("wall time", String(format: "%.1f s", seconds))) }
        if let step = r.summaryNumber("mean_step_seconds") { rows.append(("mean step", String(format: "%.0f ms", 1000 * step))) }
        if let peak = r.summaryNumber("peak_tensor_bytes") { rows.append(("peak tensor memory", String(format: "%.1f MiB", peak / 1_048_576))) }
        for (key, label) in [("machine", "machine"), ("lorakit_version", "LoRAKit"), ("commit", "commit"), ("started", "started")] {
            if let text = r.summaryText(key) { rows.append((label, text)) }
        }
        if let threads = r.summaryNumber("threads") { rows.append(("threads", String(format: "%.0f", threads))) }
        if let reason = r.summaryText("stop_reason") { rows.append(("stopped early", reason)) }
        return "<table class=\"identity\">" + rows.map { "<tr><th>\(SVG.escape($0.0))</th><td>\(SVG.escape($0.1))</td></tr>" }.joined() + "</table>"
    }

    /// Training loss (with the validation loss), learning rate, step time, throughput and memory
    /// against steps.
    static func trainingPlots(_ r: RunRecord) -> [Plot] {
        let steps = r.steps
        var loss = [Series("training loss", points: steps.map { (Double($0.step), $0.loss) })]
        let validationLoss = r.validations.compactMap { v in v.metrics["loss"].map { (Double(v.step), $0) } }
        if !validationLoss.isEmpty { loss.append(Series("validation loss", points: validationLoss, style: .lineAndMarkers)) }
        let positive = (steps.map(\.loss) + validationLoss.map(\.1)).allSatisfy { $0 > 0 }
        var plots = [Plot(title: "Loss", x: Axis("step"), y: Axis("loss", scale: positive ? .log : .linear), series: loss)]
        func series(_ name: String, _ value: (RunRecord.Step) -> Double?) -> Series {
            Series(name, points: steps.compactMap { s in value(s).map { (Double(s.step), $0) } })
        }
        plots.append(Plot(title: "Learning rate", x: Axis("step"), y: Axis("learning rate"), series: [series("learning rate") { $0.learningRate }]))
        plots.append(Plot(title: "Step time", x: Axis("step"), y: Axis("seconds per step"), series: [series("step time") { $0.seconds }]))
        plots.append(Plot(title: "Throughput", x: Axis("step"), y: Axis("items per second"), series: [series("items/s") { $0.itemsPerSecond }]))
        plots.append(Plot(title: "Memory", x: Axis("step"), y: Axis("MiB"),
                          series: [series("peak tensor memory") { $0.peakTensorMiB }, series("resident memory") { $0.residentMiB }]))
        return plots
    }

    /// Every validation metric against steps, the written checkpoint marked.
    static func validationPlots(_ r: RunRecord) -> [Plot] {
        let names = Set(r.validations.flatMap(\.metrics.keys)).subtracting(["loss"]).sorted()
        var markers: [Marker] = []
        if r.summaryText("final") == "best", let step = r.summaryNumber("final_step") {
            markers.append(Marker(x: step, label: String(format: "best (step %.0f)", step)))
        }
        return names.map { name in
            Plot(title: name, x: Axis("step"), y: Axis(name),
                 series: [Series(name, points: r.validations.compactMap { v in v.metrics[name].map { (Double(v.step), $0) } },
                                 style: .lineAndMarkers)],
                 markers: markers)
        }
    }

    // MARK: - Several runs

    static func comparison(_ records: [RunRecord]) -> String {
        var html = "<section><h2>Runs</h2>\(comparisonTable(records))</section>"
        if let plot = qualityPlot(records) { html += "<section><h2>Quality against trainable parameters</h2>\(plot.svg())</section>" }
        var plots = [Plot(title: "Training loss", x: Axis("step"), y: Axis("loss"),
                          series: records.map { r in Series(r.name, points: r.steps.map { (Double($0.step), $0.loss) }) })]
        let names = Set(records.flatMap { $0.validations.flatMap(\.metrics.keys) }).sorted()
        for name in names {
            plots.append(Plot(title: "validation \(name)", x: Axis("step"), y: Axis(name), series: records.map { r in
                Series(r.name, points: r.validations.compactMap { v in v.metrics[name].map { (Double(v.step), $0) } }, style: .lineAndMarkers)
            }))
        }
        return html + "<section><h2>Curves</h2><div class=\"plots\">\(plots.map { $0.svg() }.joined())</div></section>"
    }

    static func comparisonTable(_ records: [RunRecord]) -> String {
        let metrics = Set(records.flatMap { $0.finalMetrics.keys }).sorted()
        var html = "<table><tr><th>run</th><th>mode</th><th>rank</th><th>trainable parameters</th><th>trainable %</th>"
            + metrics.map { "<th>\(SVG.escape($0))</th>" }.joined() + "<th>step ms</th><th>peak MiB</th><th>wall s</th></tr>"
        let monitor = records.first?.monitor
        let best: Double? = monitor.flatMap { m in
            let values = records.compactMap { $0.finalMetrics[m.name] }
            return m.higherIsBetter ? values.max() : values.min()
        }
        for r in records {
            let trainable = r.summaryNumber("trainable_parameters"), total = r.summaryNumber("total_parameters")
            let isBest = monitor.flatMap { m in r.finalMetrics[m.name] }.map { $0 == best } ?? false
            html += "<tr\(isBest ? " class=\"best\"" : "")><td>\(SVG.escape(r.name))</td><td>\(SVG.escape(r.recipe?.train.mode.rawValue ?? "?"))</td>"
                + "<td>\(r.recipe?.lora.map { String($0.rank) } ?? "–")</td>"
                + "<td>\(trainable.map { String(format: "%.0f", $0) } ?? "–")</td>"
                + "<td>\(trainable.flatMap { t in total.map { String(format: "%.3f", 100 * t / max($0, 1)) } } ?? "–")</td>"
                + metrics.map { m in "<td>\(r.finalMetrics[m].map { String(format: "%.4f", $0) } ?? "–")</td>" }.joined()
                + "<td>\(r.summaryNumber("mean_step_seconds").map { String(format: "%.0f", 1000 * $0) } ?? "–")</td>"
                + "<td>\(r.summaryNumber("peak_tensor_bytes").map { String(format: "%.1f", $0 / 1_048_576) } ?? "–")</td>"
                + "<td>\(r.summaryNumber("seconds").map { String(format: "%.1f", $0) } ?? "–")</td></tr>"
        }
        return html + "</table>"
    }

    /// The monitored metric against trainable parameters (log scale) for the LoRA runs, with full
    /// fine-tuning as a reference line.
    static func qualityPlot(_ records: [RunRecord]) -> Plot? {
        guard let monitor = records.first?.monitor else { return nil }
        var points: [(x: Double, y: Double)] = [], references: [ReferenceLine] = []
        for r in records {
            guard let value = r.finalMetrics[monitor.name], let trainable = r.summaryNumber("trainable_parameters") else { continue }
            if r.recipe?.train.mode == .full {
                references.append(ReferenceLine(y: value, label: "full fine-tuning (\(r.name))"))
            } else {
                points.append((trainable, value))
            }
        }
        guard !points.isEmpty else { return nil }
        return Plot(title: "\(monitor.name) against trainable parameters", x: Axis("trainable parameters", scale: .log),
                    y: Axis(monitor.name), series: [Series("LoRA runs", points: points.sorted { $0.x < $1.x }, style: .lineAndMarkers)],
                    referenceLines: references, width: 640, height: 360)
    }
}

/// Numbers as the recipe writes them (shortest form).
enum YAMLNumber {
    static func text(_ x: Double) -> String { x.rounded() == x && abs(x) < 1e15 ? String(Int(x)) : String(x) }
}
