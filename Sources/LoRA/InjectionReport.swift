import Foundation
import NN

/// What injecting an adapter did (or, for a dry run, would do).
public struct InjectionReport: CustomStringConvertible {
    public struct Layer {
        public var key: String
        public var type: String
        public var rank: Int
        public var alpha: Float
        public var baseParameters: Int
        public var adapterParameters: Int
    }

    public var adapterName: String
    public var layers: [Layer]
    /// Parameters of the whole model (base, without adapters).
    public var modelParameters: Int
    /// Parameters that train: adapters plus biases and saved modules per the configuration.
    public var trainableParameters: Int
    /// Layers whose adapter is not smaller than the layer itself.
    public var warnings: [String]

    public var adapterParameters: Int { layers.reduce(0) { $0 + $1.adapterParameters } }
    public var trainableFraction: Double { Double(trainableParameters) / Double(max(modelParameters, 1)) }

    public var description: String {
        var lines = ["adapter '\(adapterName)': \(layers.count) layers"]
        for l in layers {
            lines.append("  \(l.key) [\(l.type)] r=\(l.rank) alpha=\(l.alpha): base \(l.baseParameters), adapter \(l.adapterParameters)")
        }
        lines.append("model parameters \(modelParameters); trainable \(trainableParameters) (\(String(format: "%.3f", trainableFraction * 100)) %)")
        lines += warnings.map { "warning: \($0)" }
        return lines.joined(separator: "\n")
    }
}
