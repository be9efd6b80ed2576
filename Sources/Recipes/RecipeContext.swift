/// One problem a semantic check found, keyed by the dotted key to blame; `LoadedRecipe.validate`
/// turns it into a `RecipeError` at that key's location.
public struct RecipeProblem: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// The value is not allowed; the message says why.
        case invalid(String)
        /// A file or directory the key names does not exist (`path` resolved).
        case missingFile(path: String, expected: String)
        /// The key must be given here; the reason says why.
        case missingKey(reason: String?)
    }

    /// `lora.rank`, `data.transforms[1].name`, `lora.target_modules[0]`.
    public var key: String
    public var kind: Kind
    /// The nearest valid value, for an unknown name.
    public var suggestion: String?

    public init(key: String, kind: Kind, suggestion: String? = nil) {
        self.key = key
        self.kind = kind
        self.suggestion = suggestion
    }

    /// A value that is not allowed.
    public static func invalid(_ key: String, _ message: String, suggestion: String? = nil) -> RecipeProblem {
        RecipeProblem(key: key, kind: .invalid(message), suggestion: suggestion)
    }

    public var description: String {
        switch kind {
        case let .invalid(message): return "\(key): \(message)" + (suggestion.map { " (did you mean \"\($0)\"?)" } ?? "")
        case let .missingFile(path, expected): return "\(key): no such \(expected): \(path)"
        case let .missingKey(reason): return "\(key): missing required key" + (reason.map { " (\($0))" } ?? "")
        }
    }
}

/// A check of a whole recipe, returning what it finds wrong.
public typealias RecipeCheck = (Recipe) -> [RecipeProblem]

/// The names one kind of registry knows (architectures, data formats, metrics, …), with optional
/// checks to run when a recipe uses a name. Built by whoever owns the real registry — recipes
/// never consult globals.
///
///     RecipeNames(["image_csv", "image_folder"],
///                 checks: ["image_csv": { recipe, key in
///                     recipe.data.imageColumn == nil ? [.init(key: "data.image_column", kind: .missingKey(reason: "image_csv needs it"))] : []
///                 }])
public struct RecipeNames {
    /// A family of names recognised by a rule, such as `top<k>_accuracy`.
    public struct Family {
        /// How the names look, for messages and suggestions.
        public var description: String
        public var contains: (String) -> Bool

        public init(_ description: String, contains: @escaping (String) -> Bool) {
            self.description = description
            self.contains = contains
        }
    }

    /// A check run for a recipe that uses a name; `key` is where the name is written
    /// (`model.architecture`, `data.transforms[2].name`).
    public typealias Check = (_ recipe: Recipe, _ key: String) -> [RecipeProblem]

    /// Exact names.
    public var names: Set<String>
    public var families: [Family]
    /// Checks by name, run when the recipe uses that name.
    public var checks: [String: Check]
    /// Accept every name (nothing to check against).
    public var acceptsAny: Bool

    public init(_ names: some Sequence<String>, families: [Family] = [], checks: [String: Check] = [:]) {
        self.names = Set(names)
        self.families = families
        self.checks = checks
        self.acceptsAny = false
    }

    /// Accepts every name: for registries a caller does not check.
    public static var any: RecipeNames {
        var names = RecipeNames([])
        names.acceptsAny = true
        return names
    }

    public func contains(_ name: String) -> Bool {
        acceptsAny || names.contains(name) || families.contains { $0.contains(name) }
    }

    /// The known names, sorted, then the families' descriptions.
    public var listing: [String] { names.sorted() + families.map(\.description) }

    /// Nil when `name` is known, else a problem at `key` suggesting the nearest name.
    func problem(_ name: String, key: String, kind: String) -> RecipeProblem? {
        guard !contains(name) else { return nil }
        let known = listing
        let list = known.isEmpty ? "none are registered" : "known: \(known.joined(separator: ", "))"
        return .invalid(key, "unknown \(kind) \"\(name)\" (\(list))", suggestion: Suggestion.nearest(to: name, in: known))
    }
}

/// What the run knows, against which a recipe is validated: the registries' names (and their
/// checks) and any further checks. Every registry defaults to `.any` (unchecked); the command
/// line fills in the real registries, after loading the recipe's plugins.
public struct RecipeContext {
    public var tasks: RecipeNames
    public var architectures: RecipeNames
    public var dataFormats: RecipeNames
    public var transforms: RecipeNames
    public var metrics: RecipeNames
    public var plugins: RecipeNames
    /// Hooks `hooks.extra` may name.
    public var hooks: RecipeNames
    /// Checks run on every recipe, after the built-in ones.
    public var checks: [RecipeCheck]

    public init(tasks: RecipeNames = .any, architectures: RecipeNames = .any, dataFormats: RecipeNames = .any,
                transforms: RecipeNames = .any, metrics: RecipeNames = .any, plugins: RecipeNames = .any,
                hooks: RecipeNames = .any, checks: [RecipeCheck] = []) {
        self.hooks = hooks
        self.tasks = tasks
        self.architectures = architectures
        self.dataFormats = dataFormats
        self.transforms = transforms
        self.metrics = metrics
        self.plugins = plugins
        self.checks = checks
    }
}
