import Audio
import Foundation
import Recipes
import Tasks
import Tensor

/// One augmentation of the training split: on the 16 kHz waveform (before the clip is cut to
/// length) or on its log-mel features. Each draws from the item's generator, which the loader
/// seeds from the run's seed, the epoch and the index: runs repeat and resume exactly.
public enum AudioTransformStep {
    case waveform(([Float], inout RandomGenerator) throws -> [Float])
    case features((Tensor, inout RandomGenerator) throws -> Tensor)
}

/// The audio augmentations recipes list under `data.transforms` (a registry table, so plugins
/// can add their own). They apply to the training split only.
public enum AudioTransforms: RegistryKind {
    public typealias Entry = AudioTransformEntry
    public static let noun = "audio transform"
}

public struct AudioTransformEntry {
    public var definition: TransformDefinition
    public var make: (Options) throws -> AudioTransformStep

    public init(definition: TransformDefinition, make: @escaping (Options) throws -> AudioTransformStep) {
        self.definition = definition
        self.make = make
    }
}

extension AudioTransforms {
    /// The steps a recipe lists.
    public static func steps(_ transforms: [TransformRequest], registry: Registry) throws -> [AudioTransformStep] {
        try transforms.map { try registry.lookup(AudioTransforms.self, $0.name).make($0.options) }
    }

    public static func definitions(in registry: Registry) -> [TransformDefinition] {
        registry.entries(AudioTransforms.self).map(\.entry.definition)
    }

    /// `gain`, `noise`, `speed`, `telephone` and `spec_augment` (`Audio.AudioAugmentation`).
    static func registerBuiltIns(_ r: inout Registry) throws {
        let probability = OptionSpec.number("p", atLeast: 0, atMost: 1, default: 0.5, help: "probability of applying it")
        @Sendable func ordered(_ low: String, _ high: String) -> @Sendable (Options, Recipe) -> [RecipeProblem] {
            { options, _ in
                guard let lo = try? options.double(low), let hi = try? options.double(high), lo > hi else { return [] }
                return [.invalid(options.key(low), "\(lo) is above \(high) \(hi)")]
            }
        }
        func uniform(_ g: inout RandomGenerator, _ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * Double(g.nextUniform()) }
        func applies(_ g: inout RandomGenerator, _ p: Double) -> Bool { Double(g.nextUniform()) < p }

        try add(&r, "gain", "a random gain in min_db … max_db", [
            .number("min_db", default: -6, help: "lowest gain in dB"), .number("max_db", default: 6, help: "highest gain in dB"), probability,
        ], check: ordered("min_db", "max_db")) { o in
            let (lo, hi, p) = (try o.double("min_db", default: -6), try o.double("max_db", default: 6), try o.double("p", default: 0.5))
            return .waveform { x, g in applies(&g, p) ? AudioAugmentation.gain(x, decibels: uniform(&g, lo, hi)) : x }
        }
        try add(&r, "noise", "white noise at a random SNR in snr_min … snr_max dB (over the whole clip)", [
            .number("snr_min", default: 5, help: "lowest signal-to-noise ratio in dB"),
            .number("snr_max", default: 30, help: "highest signal-to-noise ratio in dB"), probability,
        ], check: ordered("snr_min", "snr_max")) { o in
            let (lo, hi, p) = (try o.double("snr_min", default: 5), try o.double("snr_max", default: 30), try o.double("p", default: 0.5))
            return .waveform { x, g in
                guard applies(&g, p), AudioAugmentation.power(x) > 0 else { return x }
                let noise = (0..<x.count).map { _ in g.nextNormal() }
                return try AudioAugmentation.addNoise(x, noise: noise, snr: uniform(&g, lo, hi))
            }
        }
        try add(&r, "speed", "speed perturbation by a random factor in min … max (pitch and tempo; libsamplerate)", [
            .number("min", above: 0, default: 0.9, help: "lowest factor"), .number("max", above: 0, default: 1.1, help: "highest factor"),
            probability,
        ], check: ordered("min", "max")) { o in
            let (lo, hi, p) = (try o.double("min", default: 0.9), try o.double("max", default: 1.1), try o.double("p", default: 0.5))
            return .waveform { x, g in
                guard applies(&g, p) else { return x }
                return try AudioAugmentation.speed(AudioClip(samples: x, sampleRate: AudioFeaturePipeline.sampleRate),
                                                   factor: uniform(&g, lo, hi)).samples
            }
        }
        try add(&r, "telephone", "the 300–3,400 Hz telephone band", [probability]) { o in
            let p = try o.double("p", default: 0.5)
            return .waveform { x, g in
                applies(&g, p) ? try AudioAugmentation.telephone(AudioClip(samples: x, sampleRate: AudioFeaturePipeline.sampleRate)).samples : x
            }
        }
        try add(&r, "spec_augment", "SpecAugment frequency and time masks on the log-mel features (ESPnet's defaults)", [
            .integer("frequency_masks", min: 0, default: 2, help: "frequency masks"),
            .integer("max_frequency_width", min: 0, default: 27, help: "widest frequency mask, in mel bins"),
            .integer("time_masks", min: 0, default: 2, help: "time masks"),
            .integer("max_time_width", min: 0, default: 40, help: "widest time mask, in frames (10 ms)"),
            .number("max_time_ratio", atLeast: 0, atMost: 1, default: 0.2, help: "widest time mask as a share of the frames"),
            .number("p", atLeast: 0, atMost: 1, default: 1, help: "probability of applying it"),
        ]) { o in
            let f = try o.int("frequency_masks", default: 2), fw = try o.int("max_frequency_width", default: 27)
            let t = try o.int("time_masks", default: 2), tw = try o.int("max_time_width", default: 40)
            let ratio = try o.double("max_time_ratio", default: 0.2), p = try o.double("p", default: 1)
            return .features { x, g in
                guard applies(&g, p) else { return x }
                return AudioAugmentation.specAugment(x, frequencyMasks: f, maxFrequencyWidth: fw, timeMasks: t, maxTimeWidth: tw,
                                                     maxTimeRatio: ratio, generator: &g)
            }
        }
    }

    private static func add(_ r: inout Registry, _ name: String, _ summary: String, _ options: [OptionSpec],
                            check: @escaping @Sendable (Options, Recipe) -> [RecipeProblem] = { _, _ in [] },
                            make: @escaping (Options) throws -> AudioTransformStep) throws {
        try r.register(AudioTransforms.self, name, AudioTransformEntry(
            definition: TransformDefinition(name: name, summary: summary, options: options, check: check), make: make))
    }
}
