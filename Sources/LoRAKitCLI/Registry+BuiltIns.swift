import Foundation
import NN
import Tensor
import Training

extension Registry {
    /// The architectures, dataset formats, metrics and hooks LoRAKit ships, plus the plugins
    /// compiled into the program (registered only when a recipe names them).
    public static func builtIn(plugins: [LoRAKitPlugin.Type] = []) throws -> Registry {
        var r = Registry()
        try r.registerArchitecture("tiny_convnet") { request in
            let size = request.inputSize ?? 12
            let model = TinyConvNet(channels: try request.int("channels", default: 1), size: size,
                                    classes: request.classes, width: try request.int("width", default: 8), seed: request.seed)
            return BuiltModel(module: model, forward: { m, x in (m as! TinyConvNet)(x) }, headKey: "head",
                              inputDescription: "images [N, channels, \(size), \(size)]")
        }
        try r.registerDataset("synthetic_patterns") { request in
            let seed = UInt64(try request.int("data_seed", default: 1)) &+ (request.role == .train ? 0 : 1_000)
            let count = try request.int(request.role == .train ? "count" : "validation_count",
                                        default: request.role == .train ? 256 : 64)
            let data = SyntheticPatterns(count: count, classCount: try request.int("classes", default: 4),
                                         size: request.inputSize ?? 12, channels: try request.int("channels", default: 1),
                                         seed: seed)
            return AnyClassificationDataset(data, labels: (0..<data.count).map(data.label(at:)))
        }
        // predict on synthetic patterns takes "pattern:<index>": that item of the validation set.
        try r.registerInputLoader("synthetic_patterns") { request in
            let data = try r.dataset("synthetic_patterns")(DataRequest(format: request.format, role: .validation, path: nil,
                                                                         options: request.options, inputSize: request.inputSize,
                                                                         seed: request.seed))
            return { input in
                guard input.hasPrefix("pattern:"), let i = Int(input.dropFirst(8)), (0..<data.count).contains(i) else {
                    throw UsageError("synthetic_patterns inputs are pattern:<index> with index in 0..<\(data.count), got '\(input)'")
                }
                var context = ItemContext(epoch: 0, index: i, seed: request.seed)
                return try data.item(at: i, context: &context).input
            }
        }
        try registerImages(&r)
        try registerText(&r)
        try r.registerMetric("referable_auc") { ThresholdAUC(threshold: 2) }
        try registerBuiltInHooks(&r)
        try r.makeAvailable(plugins)
        return r
    }

    private static func registerBuiltInHooks(_ r: inout Registry) throws {
        try r.registerHook("lr_monitor") { _ in LearningRateMonitor() }
        try r.registerHook("timer") { _ in TimerHook() }
    }
}

extension ModelRequest {
    /// An integer option, or `default`; a non-integer value is an error naming it.
    public func int(_ key: String, default value: Int) throws -> Int {
        guard let text = options[key] else { return value }
        guard let v = Int(text) else {
            throw RegistryError.invalidOption(kind: "architecture", name: architecture, option: key, reason: "expected an integer, got '\(text)'")
        }
        return v
    }
}

extension DataRequest {
    /// A string option, or `default`.
    public func string(_ key: String, default value: String? = nil) -> String? { options[key] ?? value }

    /// An integer option, or `default`; a non-integer value is an error naming it.
    public func int(_ key: String, default value: Int) throws -> Int {
        guard let text = options[key] else { return value }
        guard let v = Int(text) else {
            throw RegistryError.invalidOption(kind: "dataset format", name: format, option: key, reason: "expected an integer, got '\(text)'")
        }
        return v
    }

    public func double(_ key: String, default value: Double) throws -> Double {
        guard let text = options[key] else { return value }
        guard let v = Double(text) else {
            throw RegistryError.invalidOption(kind: "dataset format", name: format, option: key, reason: "expected a number, got '\(text)'")
        }
        return v
    }
}
