import Foundation
import Recipes
import SafeTensors

/// A run's output directory as a report reads it: the resolved recipe, `summary.json`,
/// `metrics.jsonl`, `labels.json` and the adapter's shapes. Whatever is missing or unreadable is
/// listed in `problems` rather than thrown, so that the report of a run killed halfway still
/// shows what it logged.
public struct RunRecord {
    /// One logged optimizer step.
    public struct Step {
        public var step: Int
        public var loss: Double
        public var learningRate: Double?
        public var seconds: Double?
        public var itemsPerSecond: Double?
        public var peakTensorMiB: Double?
        public var residentMiB: Double?
    }

    public let directory: URL
    /// A short name: the directory's last component.
    public var name: String { directory.lastPathComponent }
    public var recipeText: String?
    /// The resolved recipe, decoded (nil when it cannot be read).
    public var recipe: Recipe?
    public var summary: [String: Any]?
    public var steps: [Step] = []
    /// Validation metrics by step, in logged order.
    public var validations: [(step: Int, metrics: [String: Double])] = []
    /// The step budget the run started with, if logged.
    public var totalSteps: Int?
    /// Whether the run's end was logged.
    public var ended = false
    public var checkpoints: [Int] = []
    /// Errors the run logged.
    public var errors: [String] = []
    /// LoRA layers of the run's adapter, with their ranks (from the adapter file's shapes).
    public var adapterLayers: [(key: String, rank: Int)] = []
    public var labels: [String]?
    /// What is missing or could not be read, in words.
    public var problems: [String] = []

    public init(directory: URL) {
        self.directory = directory
        let fm = FileManager.default
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        if let text = try? String(contentsOfFile: path("recipe.yaml"), encoding: .utf8) {
            recipeText = text
            recipe = try? RecipeLoader().load(yaml: text, path: path("recipe.yaml")).recipe
            if recipe == nil { problems.append("recipe.yaml cannot be decoded") }
        } else {
            problems.append("no recipe.yaml")
        }
        if fm.fileExists(atPath: path("summary.json")) {
            if let data = fm.contents(atPath: path("summary.json")),
               let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                summary = object
            } else {
                problems.append("summary.json cannot be read")
            }
        } else {
            problems.append("no summary.json: the run did not finish")
        }
        if let data = fm.contents(atPath: path("labels.json")) { labels = try? JSONDecoder().decode([String].self, from: data) }
        readMetrics(path("metrics.jsonl"))
        readAdapter(directory.appendingPathComponent("adapter/adapter_model.safetensors").path)
    }

    private mutating func readMetrics(_ file: String) {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            problems.append("no metrics.jsonl (was hooks.metrics_log off?)")
            return
        }
        var unreadable = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let event = object["event"] as? String else {
                unreadable += 1
                continue
            }
            let step = object["step"] as? Int
            switch event {
            case "run_start": totalSteps = object["total_steps"] as? Int
            case "step":
                guard let step, let loss = Self.number(object["loss"]) else { unreadable += 1; continue }
                steps.append(Step(step: step, loss: loss, learningRate: Self.number(object["lr"]),
                                  seconds: Self.number(object["step_seconds"]), itemsPerSecond: Self.number(object["items_per_second"]),
                                  peakTensorMiB: Self.number(object["peak_tensor_mib"]), residentMiB: Self.number(object["rss_mib"])))
            case "validation":
                guard let step, let metrics = object["metrics"] as? [String: Any] else { unreadable += 1; continue }
                validations.append((step, metrics.compactMapValues { Self.number($0) }))
            case "checkpoint": if let step { checkpoints.append(step) }
            case "error": errors.append(object["message"] as? String ?? "an error")
            case "run_end": ended = true
            default: break
            }
        }
        if unreadable > 0 { problems.append("\(unreadable) line\(unreadable == 1 ? "" : "s") of metrics.jsonl could not be read (cut off when the run was killed?)") }
        if !ended && summary == nil, let last = steps.last?.step {
            problems.append("the log stops at step \(last)\(totalSteps.map { " of \($0)" } ?? "")")
        }
        if validations.isEmpty { problems.append("no validation metrics were logged") }
    }

    private mutating func readAdapter(_ file: String) {
        guard FileManager.default.fileExists(atPath: file), let adapter = try? SafeTensorsFile(path: file) else { return }
        for name in adapter.names where name.hasSuffix(".lora_A.weight") || name.hasSuffix(".lora_embedding_A") {
            guard let shape = adapter.info(name)?.shape, let rank = shape.first else { continue }
            var key = name.replacingOccurrences(of: ".lora_A.weight", with: "").replacingOccurrences(of: ".lora_embedding_A", with: "")
            if key.hasPrefix("base_model.model.") { key.removeFirst("base_model.model.".count) }
            adapterLayers.append((key, rank))
        }
    }

    static func number(_ value: Any?) -> Double? {
        if let v = value as? Double { return v }
        if let v = value as? Int { return Double(v) }
        if let v = value as? NSNumber { return v.doubleValue }
        return nil
    }

    // MARK: - Summary fields

    public func summaryNumber(_ key: String) -> Double? { Self.number(summary?[key]) }
    public func summaryText(_ key: String) -> String? { summary?[key] as? String }
    /// The written model's validation metrics (summary.json), else the last logged ones.
    public var finalMetrics: [String: Double] {
        ((summary?["metrics"] as? [String: Any])?.compactMapValues { Self.number($0) }) ?? validations.last?.metrics ?? [:]
    }
    /// The monitored metric and whether higher is better (the recipe's `hooks.checkpoint`).
    public var monitor: (name: String, higherIsBetter: Bool)? {
        recipe.map { ($0.hooks.checkpoint.monitor, $0.hooks.checkpoint.mode == .max) }
    }
}
