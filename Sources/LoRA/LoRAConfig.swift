import Foundation
import NN
import Tensor

/// How a new adapter's matrices start.
public enum LoRAInitialization: String, Codable, Sendable {
    /// PyTorch's default for A (kaiming-uniform, a = √5), B = 0: the adapter starts as a no-op.
    case kaiming
    /// A ~ N(0, 1/r), B = 0 (PEFT's `init_lora_weights="gaussian"`).
    case gaussian
    /// PiSSA: A, B from the top-r singular triplets of the base weight, which keeps the residual
    /// `W − s·B·A` (PEFT's `init_lora_weights="pissa"`). Changes the base weight.
    case pissa
}

/// Which biases train alongside the adapters (PEFT's `bias`).
public enum LoRABiasMode: String, Codable, Sendable {
    /// No bias trains.
    case none
    /// Every bias in the model trains.
    case all
    /// Only the biases of adapted layers train.
    case loraOnly = "lora_only"
}

/// Everything that configures LoRA on a model; mirrors PEFT's `LoraConfig`.
public struct LoRAConfig: Equatable, Sendable {
    /// Rank r of the update `B·A`.
    public var rank: Int
    /// Scale numerator: the update is multiplied by `alpha / r` (or `alpha / √r` with rsLoRA).
    public var alpha: Float
    /// Dropout applied to the adapter's input in training.
    public var dropout: Float
    /// rsLoRA scaling `alpha / √r`, which keeps updates stable at high rank.
    public var useRSLoRA: Bool
    public var initialization: LoRAInitialization
    /// DoRA: decompose into a magnitude vector and a LoRA-updated direction.
    public var useDoRA: Bool
    /// Per-layer rank overrides: regex pattern → rank (matched as PEFT does, `(.*\.)?pattern$`).
    public var rankPattern: [String: Int]
    /// Per-layer alpha overrides: regex pattern → alpha.
    public var alphaPattern: [String: Float]
    public var bias: LoRABiasMode
    /// Layers to adapt: exact keys, `.suffix` names (`query` matches `encoder.layer.0.attention.self.query`),
    /// globs (`layer*.conv?`) or regexes written `re:pattern` (full match).
    public var targetModules: [String]
    /// Layers never adapted, checked before targets; same pattern forms.
    public var excludeModules: [String]
    /// Modules trained in full and saved with the adapter (e.g. a new classifier head).
    public var modulesToSave: [String]

    public init(rank: Int = 8, alpha: Float = 8, dropout: Float = 0, useRSLoRA: Bool = false,
                initialization: LoRAInitialization = .kaiming, useDoRA: Bool = false,
                rankPattern: [String: Int] = [:], alphaPattern: [String: Float] = [:],
                bias: LoRABiasMode = .none, targetModules: [String], excludeModules: [String] = [],
                modulesToSave: [String] = []) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.useRSLoRA = useRSLoRA
        self.initialization = initialization
        self.useDoRA = useDoRA
        self.rankPattern = rankPattern
        self.alphaPattern = alphaPattern
        self.bias = bias
        self.targetModules = targetModules
        self.excludeModules = excludeModules
        self.modulesToSave = modulesToSave
    }

    /// Checks values that would make adapters meaningless.
    public func validate() throws {
        guard rank >= 1 else { throw LoRAError.invalidConfig("rank must be ≥ 1, got \(rank)") }
        guard alpha > 0, alpha.isFinite else { throw LoRAError.invalidConfig("alpha must be > 0, got \(alpha)") }
        guard dropout >= 0, dropout < 1 else { throw LoRAError.invalidConfig("dropout must be in [0, 1), got \(dropout)") }
        for (p, r) in rankPattern where r < 1 { throw LoRAError.invalidConfig("rank_pattern \(p): rank must be ≥ 1, got \(r)") }
        for (p, a) in alphaPattern where !(a > 0) { throw LoRAError.invalidConfig("alpha_pattern \(p): alpha must be > 0, got \(a)") }
        for p in Array(rankPattern.keys) + Array(alphaPattern.keys) where (try? NSRegularExpression(pattern: p)) == nil {
            throw LoRAError.invalidConfig("pattern \(p) is not a valid regular expression")
        }
        guard !targetModules.isEmpty else { throw LoRAError.invalidConfig("target_modules is empty") }
    }

    /// The settings of the adapter on the layer at `key`, after rank and alpha patterns.
    public func settings(for key: String) -> AdapterSettings {
        let r = LoRAConfig.patternValue(rankPattern, key) ?? rank
        let a = LoRAConfig.patternValue(alphaPattern, key) ?? alpha
        return AdapterSettings(rank: r, alpha: a, dropout: dropout, useRSLoRA: useRSLoRA,
                               initialization: initialization, useDoRA: useDoRA)
    }

    /// The value of the first pattern (in sorted order, for determinism) that matches `key` as
    /// PEFT's `get_pattern_key` does: `re.match(rf"(.*\.)?({pattern})$", key)`.
    static func patternValue<V>(_ patterns: [String: V], _ key: String) -> V? {
        for p in patterns.keys.sorted() {
            guard let re = try? NSRegularExpression(pattern: "^(.*\\.)?(\(p))$") else { continue }
            if re.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)) != nil { return patterns[p] }
        }
        return nil
    }
}

/// The resolved settings of one adapter on one layer.
public struct AdapterSettings: Equatable, Sendable {
    public var rank: Int
    public var alpha: Float
    public var dropout: Float
    public var useRSLoRA: Bool
    public var initialization: LoRAInitialization
    public var useDoRA: Bool

    public init(rank: Int, alpha: Float, dropout: Float = 0, useRSLoRA: Bool = false,
                initialization: LoRAInitialization = .kaiming, useDoRA: Bool = false) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.useRSLoRA = useRSLoRA
        self.initialization = initialization
        self.useDoRA = useDoRA
    }

    /// The factor on `B·A`: `alpha / r`, or `alpha / √r` with rsLoRA.
    public var scaling: Float { useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }
}
