import Foundation
import NN
import SafeTensors
import Tensor

/// The trainer's own state in a checkpoint (`trainer_state.json`).
public struct TrainerStateRecord: Codable, Equatable {
    public var formatVersion = 1
    /// Optimizer steps completed.
    public var step: Int
    /// The loader position of the next batch to train on.
    public var epoch: Int
    public var batchInEpoch: Int
    public var seed: UInt64
    /// Every RNG in the model (dropout, adapters' dropout), by module path.
    public var generatorStates: [String: [UInt64]]
    public var optimizerScalars: [String: Double]
    /// Hooks' states by hook position and type (`0.EarlyStopping`).
    public var hookStates: [String: [String: Double]]
    /// What identifies the run (the recipe, flattened to `key: value`), and its hash.
    public var runIdentity: [String: String]
    public var runHash: String
    /// Mean training loss of every completed step, so a resumed run's curve is whole.
    public var lossHistory: [Double]
    /// In data-parallel training, every rank's RNG states (rank order), so that each rank resumes
    /// its own dropout stream; nil for one process.
    public var rankGeneratorStates: [[String: [UInt64]]]? = nil
}

/// Checkpoint directories under one folder: `step-000120/`, each complete or absent, and a
/// `latest` file naming the newest complete one.
///
/// A checkpoint is written into a hidden staging directory beside its final name, synced, and
/// put in place by `AtomicDirectory` (an atomic exchange when the step's directory already
/// exists); then `latest` is replaced atomically. A crash or SIGKILL at any moment leaves either
/// the previous state or the new one, never a half-written checkpoint under a `step-` name or
/// named by `latest`. Staging directories of a killed run are hidden and removed by
/// `removeLeftovers()` (the trainer calls it when it starts).
public struct CheckpointStore {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    public static let modelFile = "model.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let stateFile = "trainer_state.json"
    public static let adapterDirectory = "adapter"

    /// Name of the checkpoint of `step`.
    public static func name(step: Int) -> String { String(format: "step-%06d", step) }

    /// The step of a checkpoint directory named by `name(step:)`, or nil.
    public static func step(of url: URL) -> Int? {
        let name = url.lastPathComponent
        guard name.hasPrefix("step-") else { return nil }
        return Int(name.dropFirst(5))
    }

    /// Writes a checkpoint with `write` filling a staging directory; returns its final URL.
    /// - Throws: `TrainingError.checkpoint` naming the step's directory; the previous
    ///   checkpoints and `latest` are then as they were.
    @discardableResult
    public func save(step: Int, _ write: (URL) throws -> Void) throws -> URL {
        let final = directory.appendingPathComponent(CheckpointStore.name(step: step))
        do {
            try AtomicDirectory.write(final.path) { staging in try write(URL(fileURLWithPath: staging)) }
            try AtomicFileWriter.write(contentsOf: Array((final.lastPathComponent + "\n").utf8),
                                       to: directory.appendingPathComponent("latest").path)
        } catch {
            throw TrainingError.checkpoint(path: final.path, reason: "\(error)")
        }
        return final
    }

    /// The newest complete checkpoint, if any.
    public func latest() -> URL? {
        let latest = directory.appendingPathComponent("latest")
        guard let text = try? String(contentsOf: latest, encoding: .utf8) else { return nil }
        let url = directory.appendingPathComponent(text.trimmingCharacters(in: .whitespacesAndNewlines))
        return FileManager.default.fileExists(atPath: url.appendingPathComponent(CheckpointStore.stateFile).path) ? url : nil
    }

    /// Complete checkpoints, oldest first.
    public func all() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("step-") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// Removes a checkpoint (never the one `latest` names), renaming it to a hidden name first
    /// so that no half-deleted `step-` directory is ever listed.
    public func remove(_ url: URL) {
        // Paths, not URLs: a URL made after the directory exists ends in "/", one made before does not.
        guard url.standardizedFileURL.path != latest()?.standardizedFileURL.path else { return }
        try? AtomicDirectory.remove(url.path)
    }

    /// Removes staging directories left by a run that was killed while saving (and restores a
    /// checkpoint directory that a killed fallback replacement had set aside; see
    /// `AtomicDirectory`). Names of earlier versions (`.tmp-*`, `.latest-*`) go too.
    public func removeLeftovers() {
        AtomicDirectory.removeLeftovers(in: directory.path)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for n in names where n.hasPrefix(".tmp-") || n.hasPrefix(".latest-") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(n))
        }
    }
}

/// Errors of training runs; each names the step, file or setting involved.
public enum TrainingError: Error, CustomStringConvertible {
    case checkpoint(path: String, reason: String)
    /// Resuming with a run whose identity (recipe) changed; lists `key: old → new`.
    case runChanged(checkpoint: String, changes: [String])
    case invalidConfiguration(String)
    /// A hook stopped the run because of a failure (e.g. a non-finite loss), with where it happened.
    case stopped(String)
    case data(epoch: Int, batch: Int, underlying: Error)

    public var description: String {
        switch self {
        case let .checkpoint(path, reason): return "checkpoint \(path): \(reason)"
        case let .runChanged(checkpoint, changes):
            return "the run differs from the one that wrote \(checkpoint): \(changes.joined(separator: "; ")) (resume with force to accept)"
        case let .invalidConfiguration(m): return "invalid training configuration: \(m)"
        case let .stopped(m): return m
        case let .data(epoch, batch, underlying): return "reading batch \(batch) of epoch \(epoch): \(underlying)"
        }
    }
}

/// A stable hash of a run identity (FNV-1a over the sorted `key=value` lines).
public func runHash(_ identity: [String: String]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for (k, v) in identity.sorted(by: { $0.key < $1.key }) {
        for byte in (k + "=" + v + "\n").utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }
    return String(format: "%016llx", h)
}
