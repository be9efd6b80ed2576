import Foundation
import Plots
import Tensor
import Training

extension ClassificationSession {
    /// How many validation inputs the report shows with their predictions.
    static let previewCount = 24

    /// The validation split through `model`: a confusion matrix, per-class precision, recall and
    /// F1, the ROC curves of the recipe's metrics that have them, and a grid of inputs with their
    /// true and predicted classes (when the modality can show its inputs).
    public func reportSections(for model: Classifier) throws -> [ReportSection] {
        guard hasValidationData else {
            return [ReportSection(title: "Validation", html: "<p class=\"missing\">The recipe has no validation data.</p>")]
        }
        let data = try dataset(.validation)
        let objective = try objective(for: model)
        let classes = try classCount()
        let names = try classNames() ?? (0..<classes).map(String.init)
        var metrics = objective.metrics()
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var previews: [(input: Tensor, label: Int, predicted: Int, probability: Float)] = []
        let wasTraining = model.module.isTraining
        model.module.eval()
        defer { model.module.train(wasTraining) }
        let batchSize = setup.recipe.data.evalBatchSize
        var start = 0
        while start < data.count {
            var items: [ClassificationItem] = []
            for i in start..<min(start + batchSize, data.count) {
                var context = ItemContext(epoch: 0, index: i, seed: setup.recipe.train.seed)
                items.append(try data.item(at: i, context: &context))
            }
            start += items.count
            let batch = try data.collate(items)
            let logits = try withNoGrad { try objective.forward(model.module, batch.inputs) }
            for i in metrics.indices { metrics[i].update(logits: logits, labels: batch.labels) }
            let probabilities = logits.softmax(axis: -1).scalars
            for (row, item) in items.enumerated() {
                let p = probabilities[(row * classes)..<(row * classes + classes)]
                let predicted = p.indices.max { p[$0] < p[$1] }.map { $0 - row * classes } ?? 0
                if (0..<classes).contains(item.label) { confusion[item.label][predicted] += 1 }
                if previews.count < Self.previewCount { previews.append((item.input, item.label, predicted, p[row * classes + predicted])) }
            }
        }
        var sections = [ReportSection(title: "Confusion matrix (validation)", html: Self.confusionHTML(confusion, names: names)),
                        ReportSection(title: "Per-class precision and recall", html: Self.perClassHTML(confusion, names: names))]
        let curves = metrics.compactMap { $0 as? ROCCurveProviding }.flatMap { metric in
            metric.rocCurves().map { (name: "\(metric.name) \($0.name)", points: $0.points) }
        }
        if !curves.isEmpty {
            let plot = Plot(title: "ROC curves (validation)", x: Axis("false positive rate", range: 0...1),
                            y: Axis("true positive rate", range: 0...1),
                            series: curves.map { Series($0.name, points: $0.points.map { ($0.fpr, $0.tpr) }) }
                                + [Series("chance", points: [(0, 0), (1, 1)], color: "#999999", dashed: true)],
                            height: 360)
            sections.append(ReportSection(title: "ROC curves", html: plot.svg()))
        }
        if let preview = setup.registry.entry(InputPreviews.self, task.input.name) {
            let cells = previews.compactMap { p -> String? in
                guard let image = preview.render(p.input) else { return nil }
                let right = p.label == p.predicted
                return "<figure class=\"\(right ? "right" : "wrong")\">\(image)<figcaption>true \(SVG.escape(Self.name(p.label, names)))<br>"
                    + "predicted \(SVG.escape(Self.name(p.predicted, names))) (\(String(format: "%.2f", p.probability)))</figcaption></figure>"
            }
            if !cells.isEmpty {
                sections.append(ReportSection(title: "Validation inputs and predictions",
                                              html: "<div class=\"grid\">" + cells.joined() + "</div>"))
            }
        }
        return sections
    }

    static func name(_ index: Int, _ names: [String]) -> String { names.indices.contains(index) ? names[index] : String(index) }

    /// Rows: true classes; columns: predicted; cells shaded by the row's share.
    static func confusionHTML(_ matrix: [[Int]], names: [String]) -> String {
        var html = "<table class=\"confusion\"><tr><th>true \\ predicted</th>"
            + names.map { "<th>\(SVG.escape($0))</th>" }.joined() + "<th>total</th></tr>"
        for (i, row) in matrix.enumerated() {
            let total = row.reduce(0, +)
            html += "<tr><th>\(SVG.escape(name(i, names)))</th>"
            for (j, count) in row.enumerated() {
                let share = total > 0 ? Double(count) / Double(total) : 0
                let color = i == j ? "0, 114, 178" : "213, 94, 0"
                html += "<td style=\"background: rgba(\(color), \(String(format: "%.2f", share)))\">\(count)</td>"
            }
            html += "<td>\(total)</td></tr>"
        }
        return html + "</table>"
    }

    /// Precision, recall, F1 and support of each class, from the confusion matrix.
    static func perClassHTML(_ matrix: [[Int]], names: [String]) -> String {
        var html = "<table class=\"numbers\"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
        for c in matrix.indices {
            let tp = matrix[c][c], support = matrix[c].reduce(0, +)
            let predicted = matrix.reduce(0) { $0 + $1[c] }
            let precision = predicted > 0 ? Double(tp) / Double(predicted) : nil
            let recall = support > 0 ? Double(tp) / Double(support) : nil
            let f1 = precision.flatMap { p in recall.map { r in p + r > 0 ? 2 * p * r / (p + r) : 0 } }
            let text = { (v: Double?) in v.map { String(format: "%.3f", $0) } ?? "–" }
            html += "<tr><td>\(SVG.escape(name(c, names)))</td><td>\(text(precision))</td><td>\(text(recall))</td>"
                + "<td>\(text(f1))</td><td>\(support)</td></tr>"
        }
        return html + "</table>"
    }
}
