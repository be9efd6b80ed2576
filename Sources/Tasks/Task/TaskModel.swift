import Foundation
import NN

/// What every task's model offers the runner: the module tree (which LoRA adapts, optimisers
/// train and checkpoints save) and what belongs to the task's head.
public protocol TaskModel {
    /// The module tree, with the reference implementation's keys.
    var module: Module { get }
    /// Keys of the head modules: trained alone by a linear probe, replaced by a new head, and
    /// trained and saved in full with an adapter when new. Empty for models without one.
    var headKeys: [String] { get }
    /// Writes what another command or tool needs beside full weights to rebuild this model (a
    /// Transformer's `config.json`, its tokenizer files), into `directory`.
    func writeCompanions(to directory: URL) throws
}

extension TaskModel {
    public func writeCompanions(to directory: URL) throws {}
}
