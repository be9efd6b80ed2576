import Foundation
import NN
import SafeTensors
import Tensor

/// Loads a model's weights from safetensors the usual way, for architectures whose checkpoints
/// need no loader of their own.
public enum WeightLoading {
    /// Loads `weights` into `module`.
    /// - `.pretrained` with `replaceHead`: every key outside `headKeys` must be in the file and the
    ///   file may hold nothing else but head keys (which are dropped: the new head keeps its fresh
    ///   initialisation).
    /// - `.pretrained` without `replaceHead`, and `.complete`: the file must match the model
    ///   exactly (buffers with a documented default, such as `num_batches_tracked`, may be absent).
    /// - Throws: `WeightLoadingError` naming the file and the keys or shapes that differ.
    public static func load(_ weights: ModelWeights, into module: Module, headKeys: [String], replaceHead: Bool) throws {
        guard let url = weights.url else { return }
        var values: [String: Tensor]
        do { values = try SafeTensorsFile(path: url.path).tensors() } catch {
            throw WeightLoadingError(path: url.path, reason: "\(error)")
        }
        do {
            if case .pretrained = weights, replaceHead, !headKeys.isEmpty {
                // The checkpoint's head (if any) is dropped and the fresh head's own values stand
                // in for it, so the strict load checks every other key.
                let heads = headKeys.map { $0 + "." }
                let isHead = { (key: String) in heads.contains { key.hasPrefix($0) } }
                values = values.filter { !isHead($0.key) }
                for (key, value) in module.stateDict() where isHead(key) { values[key] = value }
                try module.load(values, strict: true)
            } else {
                try module.load(values, strict: true)
            }
        } catch {
            throw WeightLoadingError(path: url.path, reason: "\(error)")
        }
    }
}

/// Weights that could not be loaded: the file and why.
public struct WeightLoadingError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String

    /// `path: reason`, the path once (the reason of a file error often names it already).
    public var description: String { reason.contains(path) ? reason : "\(path): \(reason)" }
}
