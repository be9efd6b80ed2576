import Foundation

/// Reads recipes: YAML text → `extends` merged → overrides applied → strictly decoded `Recipe`.
///
///     let loaded = try RecipeLoader().load(path: "recipes/retina/resnet34_lora.yaml",
///                                          overrides: ["lora.rank=32", "train.epochs=1"])
///     try loaded.validate(in: context)          // semantic checks, before any training
///     try loaded.yaml().write(to: outputDirectory.appendingPathComponent("recipe.yaml"), …)
///
/// `extends: base.yaml` (relative to the file that says it) starts from another recipe: the
/// child's keys deep-merge over the base's (mappings merge key by key, lists and scalars
/// replace, `null` removes); bases may extend further, and a cycle is an error. Errors point into
/// the file that wrote the offending key, or at the override.
public struct RecipeLoader {
    /// Where relative paths in overrides, and a relative recipe path, resolve.
    public var workingDirectory: String

    public init(workingDirectory: String = FileManager.default.currentDirectoryPath) {
        self.workingDirectory = workingDirectory
    }

    /// Reads and decodes the recipe file at `path`.
    /// - Parameters:
    ///   - path: the recipe file; messages name it as given.
    ///   - overrides: `dotted.key=value` strings, applied in order after `extends`.
    /// - Throws: `RecipeError` (unreadable file, YAML syntax, unknown key, wrong type, missing
    ///   key, `extends` cycle, malformed override).
    public func load(path: String, overrides: [String] = []) throws -> LoadedRecipe {
        let absolute = RecipeDecoder.resolve(path, against: workingDirectory)
        let text: String
        do { text = try String(contentsOfFile: absolute, encoding: .utf8) } catch {
            throw RecipeError.unreadableFile(path: path, reason: Self.reason(error, absolute), location: nil)
        }
        return try load(yaml: text, path: path, overrides: overrides)
    }

    /// Decodes recipe text that belongs to the file `path` (which need not exist): its relative
    /// paths and `extends` resolve against that file's directory, and messages name `path`.
    public func load(yaml: String, path: String, overrides: [String] = []) throws -> LoadedRecipe {
        let parsed = try overrides.map(RecipeOverride.init(parsing:))
        var files: [String] = []
        var root = try tree(yaml: yaml, display: path, absolute: RecipeDecoder.resolve(path, against: workingDirectory),
                            chain: [], files: &files)
        for override in parsed { try override.apply(to: &root, directory: workingDirectory) }
        let decoder = RecipeDecoder()
        let recipe = try Recipe.decode(root, with: decoder)
        var loaded = LoadedRecipe(recipe: recipe, locations: decoder.locations, overrides: parsed, files: files)
        loaded.directories = decoder.directories
        return loaded
    }

    /// The file's tree with its `extends` chain merged in; `chain` holds the files on the way here
    /// (absolute, display) to catch cycles.
    private func tree(yaml: String, display: String, absolute: String, chain: [(String, String)],
                      files: inout [String]) throws -> SourceNode {
        files.append(display)
        let directory = (absolute as NSString).deletingLastPathComponent
        let fileStart = SourceLocation.file(display, line: 1, column: 1)
        guard var root = try SourceNode.parse(yaml, source: .file(display), directory: directory) else {
            return SourceNode(value: .mapping([]), location: fileStart, directory: directory)
        }
        if root.isNull { return SourceNode(value: .mapping([]), location: fileStart, directory: directory) }
        guard root.entries != nil else {
            throw RecipeError.syntax(location: root.location,
                                     message: "a recipe is a mapping of keys (task, model, data, …), found \(root.kindDescription)")
        }
        guard let extends = root.removeEntry("extends"), !extends.value.isNull else { return root }
        guard case let .scalar(name, _) = extends.value.value else {
            throw RecipeError.typeMismatch(key: "extends", location: extends.value.location,
                                           expected: "a path to a recipe", found: extends.value.kindDescription)
        }
        let baseAbsolute = RecipeDecoder.resolve(name, against: directory)
        let baseDisplay = name.hasPrefix("/") || name.hasPrefix("~")
            ? name : Self.normalize(((display as NSString).deletingLastPathComponent as NSString).appendingPathComponent(name))
        let here = chain + [(Self.canonical(absolute), display)]
        if here.contains(where: { $0.0 == Self.canonical(baseAbsolute) }) {
            throw RecipeError.extendsCycle(files: here.map(\.1) + [baseDisplay], location: extends.value.location)
        }
        let text: String
        do { text = try String(contentsOfFile: baseAbsolute, encoding: .utf8) } catch {
            throw RecipeError.unreadableFile(path: baseDisplay, reason: Self.reason(error, baseAbsolute),
                                             location: extends.value.location)
        }
        let base = try tree(yaml: text, display: baseDisplay, absolute: baseAbsolute, chain: here, files: &files)
        return SourceNode.merged(base: base, child: root)
    }

    private static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    /// `a/./b/../c` → `a/c`, lexically, keeping a relative path relative.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    private static func reason(_ error: Error, _ absolute: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) { return "no such file (\(absolute))" }
        if isDirectory.boolValue { return "is a directory (\(absolute))" }
        return (error as NSError).localizedDescription
    }
}

/// A decoded recipe with what it came from: where each key was written, the overrides applied
/// and the files read.
public struct LoadedRecipe {
    public var recipe: Recipe
    /// Dotted key (`lora.rank`, `data.transforms[0].name`, and sections such as `lora`) → where
    /// its value was written; keys left at their defaults are absent.
    public var locations: [String: SourceLocation]
    /// The overrides applied, in order.
    public var overrides: [RecipeOverride]
    /// The recipe file, then each file it extends, in order.
    public var files: [String]
    /// Dotted key → the directory a relative path written there resolves against (the writing
    /// file's, or the working directory for an override); see `resolvePath(_:of:)`.
    public var directories: [String: String] = [:]

    public init(recipe: Recipe, locations: [String: SourceLocation] = [:], overrides: [RecipeOverride] = [],
                files: [String] = []) {
        self.recipe = recipe
        self.locations = locations
        self.overrides = overrides
        self.files = files
    }

    /// Where `key` was written, or else its nearest enclosing section that was; the recipe file
    /// itself when none was.
    public func location(of key: String) -> SourceLocation {
        var key = key
        while true {
            if let location = locations[key] { return location }
            guard let cut = key.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            key = String(key[..<cut])
        }
        return locations[""] ?? .file(files.first ?? "recipe")
    }

    /// `path` as written at `key`, made absolute against the directory of the file (or override)
    /// that wrote it: for free-form values (`model.options`, `data.options`, transform options)
    /// that an entry declares to be paths; the schema's own path keys are resolved when decoded.
    public func resolvePath(_ path: String, of key: String) -> String {
        var probe = key
        while true {
            if let directory = directories[probe] { return RecipeDecoder.resolve(path, against: directory) }
            guard let cut = probe.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            probe = String(probe[..<cut])
        }
        return RecipeDecoder.resolve(path, against: FileManager.default.currentDirectoryPath)
    }

    /// The resolved recipe as YAML (`Recipe.yaml()`), headed by comments naming the files it
    /// came from and the overrides applied; it decodes to an equal recipe.
    public func yaml() -> String {
        var header = "# Resolved recipe"
        if let file = files.first { header += " from \(file)" }
        if files.count > 1 { header += " (extends \(files.dropFirst().joined(separator: ", ")))" }
        header += "\n"
        if !overrides.isEmpty {
            let texts = overrides.map { $0.text.replacingOccurrences(of: "\n", with: "\\n") }
            header += "# Overrides: \(texts.joined(separator: " "))\n"
        }
        return header + recipe.yaml()
    }
}
