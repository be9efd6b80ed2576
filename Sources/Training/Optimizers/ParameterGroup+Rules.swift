import NN
import Tensor

/// Puts the parameters whose keys match one of `patterns` into a group with its own settings, such
/// as a new classification head trained at ten times the adapters' learning rate.
///
/// A pattern is what `KeyPattern.matches` accepts: an exact key, a prefix ending in `.`, or a glob
/// with `*` and `?` (`"classifier."`, `"*.lora_A.*"`).
public struct ParameterGroupRule: Equatable, Sendable {
    public var name: String
    public var patterns: [String]
    public var learningRate: Float
    /// The group's weight decay; nil takes the default group's.
    public var weightDecay: Float?

    public init(name: String, patterns: [String], learningRate: Float, weightDecay: Float? = nil) {
        self.name = name
        self.patterns = patterns
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }
}

extension ParameterGroup {
    /// Splits parameters into groups by key patterns: each parameter joins the first rule (in
    /// order) with a matching pattern, and the rest form a group named `defaultName` with
    /// `learningRate` and `weightDecay`. So every parameter is in exactly one group. Groups that
    /// end up empty are left out; the order is the rules' order, then the default group.
    ///
    /// A parameter listed twice (the same slot, or a tied weight sharing another's storage) is kept
    /// once, at its first occurrence, as PyTorch's `named_parameters()` does.
    ///
    ///     let groups = try ParameterGroup.grouping(model.trainableParameters(),
    ///         rules: [ParameterGroupRule(name: "head", patterns: ["classifier."], learningRate: 1e-3,
    ///                                    weightDecay: 0)],
    ///         learningRate: 1e-4, weightDecay: 0.01)
    ///
    /// - Throws: `OptimizerError.patternMatchesNothing` for a pattern that matches no parameter's key
    ///   (a typo would otherwise silently train the head at the default rate), and
    ///   `OptimizerError.duplicateGroup` when a rule is named like another or like the default group.
    public static func grouping(_ parameters: [(key: String, slot: ParameterSlot)], rules: [ParameterGroupRule],
                                defaultName: String = "default", learningRate: Float,
                                weightDecay: Float = 0) throws -> [ParameterGroup] {
        var names: Set<String> = [defaultName]
        for rule in rules {
            guard names.insert(rule.name).inserted else { throw OptimizerError.duplicateGroup(name: rule.name) }
            for pattern in rule.patterns where !parameters.contains(where: { KeyPattern.matches(pattern, $0.key) }) {
                throw OptimizerError.patternMatchesNothing(group: rule.name, pattern: pattern)
            }
        }
        var members = [[(key: String, slot: ParameterSlot)]](repeating: [], count: rules.count + 1)
        for parameter in uniqueParameters(parameters) {
            let index = rules.firstIndex { rule in rule.patterns.contains { KeyPattern.matches($0, parameter.key) } }
            members[index ?? rules.count].append(parameter)
        }
        var groups: [ParameterGroup] = []
        for (rule, list) in zip(rules, members) where !list.isEmpty {
            groups.append(ParameterGroup(name: rule.name, parameters: list, learningRate: rule.learningRate,
                                         weightDecay: rule.weightDecay ?? weightDecay))
        }
        if let rest = members.last, !rest.isEmpty {
            groups.append(ParameterGroup(name: defaultName, parameters: rest, learningRate: learningRate,
                                         weightDecay: weightDecay))
        }
        return groups
    }
}

/// `parameters` without repeats (the same slot, or a tied weight sharing another's storage), first
/// occurrence kept.
func uniqueParameters(_ parameters: [(key: String, slot: ParameterSlot)]) -> [(key: String, slot: ParameterSlot)] {
    var slots = Set<ObjectIdentifier>()
    var storages = Set<StorageIdentity>()
    return parameters.filter { _, slot in
        guard slots.insert(ObjectIdentifier(slot)).inserted else { return false }
        guard let tensor = slot.tensor else { return true }
        return storages.insert(StorageIdentity(tensor)).inserted
    }
}
