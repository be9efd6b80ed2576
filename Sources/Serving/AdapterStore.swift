import Foundation
import LoRA
import NN
import Runtime
import Tasks
import Tensor

/// What a server knows of a loaded adapter.
public struct AdapterInfo: Codable, Sendable, Equatable {
    public var name: String
    /// Relative to the adapter root.
    public var path: String
    public var rank: Int
    public var alpha: Double
    public var targetModules: [String]
    public var modulesToSave: [String]

    enum CodingKeys: String, CodingKey {
        case name, path, rank, alpha, targetModules = "target_modules", modulesToSave = "modules_to_save"
    }
}

/// A request the server refuses, with its HTTP status.
public struct ServeError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var message: String
    /// Seconds a client should wait before retrying (503).
    public var retryAfter: Int?

    public init(_ status: Int, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}

/// The adapters a server holds on its one base, by name: loaded from under the adapter root, all or
/// nothing, by the model thread; listed from any thread.
protocol AdapterCatalog: AnyObject, Sendable {
    var adapters: [AdapterInfo] { get }
    func info(_ name: String) -> AdapterInfo?
    @discardableResult func load(name: String, path: String) throws -> AdapterInfo
    func unload(_ name: String) throws
}

/// The adapter root and the directories under it.
struct AdapterRoot {
    /// Absolute, symbolic links resolved; nil: no adapters can be loaded.
    let url: URL?

    init(_ root: URL?) { url = root.map { $0.standardizedFileURL.resolvingSymlinksInPath() } }

    /// The adapter directory `path` names under the root, refusing anything outside it.
    func resolve(_ path: String) throws -> URL {
        guard let root = url else { throw ServeError(403, "this server loads no adapters: start it with --adapters DIR") }
        guard !path.isEmpty, !path.contains("\0") else { throw ServeError(400, "path: give a directory under the adapter root") }
        let resolved = (path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path))
            .standardizedFileURL.resolvingSymlinksInPath()
        guard resolved.path == root.path || resolved.path.hasPrefix(root.path + "/") else {
            throw ServeError(403, "path \(path) is outside the adapter root")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ServeError(404, "no adapter directory \(path) under the adapter root")
        }
        guard FileManager.default.fileExists(atPath: resolved.appendingPathComponent(PEFTAdapterFile.configName).path) else {
            throw ServeError(422, "\(path) holds no \(PEFTAdapterFile.configName): not a PEFT adapter")
        }
        return resolved
    }

    func relative(_ dir: URL) -> String {
        guard let root = url else { return dir.path }
        return dir.path == root.path ? "." : String(dir.path.dropFirst(root.path.count + 1))
    }

    /// The directory and configuration of an adapter about to load as `name` into `list`:
    /// a valid, unused name and a PEFT adapter under the root.
    func prepare(name: String, path: String, list: AdapterList) throws -> (dir: URL, config: LoRAConfig) {
        try Self.checkName(name)
        guard list.info(name) == nil else { throw ServeError(409, "adapter \(name) is loaded; unload it first") }
        let dir = try resolve(path)
        do { return (dir, try PEFTAdapterFile.loadConfig(from: dir.path)) } catch { throw ServeError(422, "\(error)") }
    }

    func info(_ name: String, _ dir: URL, _ config: LoRAConfig) -> AdapterInfo {
        AdapterInfo(name: name, path: relative(dir), rank: config.rank, alpha: Double(config.alpha),
                    targetModules: config.targetModules, modulesToSave: config.modulesToSave)
    }

    static func checkName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains), name.first != ".", name.first != "-" else {
            throw ServeError(400, "adapter names are 1–64 letters, digits, '.', '_' or '-', not starting with '.' or '-'; got \"\(name)\"")
        }
    }
}

/// A thread-safe list of loaded adapters.
final class AdapterList: @unchecked Sendable {
    private let lock = NSLock()
    private var loaded: [AdapterInfo] = []
    var all: [AdapterInfo] { lock.withLock { loaded } }
    func info(_ name: String) -> AdapterInfo? { lock.withLock { loaded.first { $0.name == name } } }
    func add(_ info: AdapterInfo) { lock.withLock { loaded.append(info) } }
    func remove(_ name: String) { lock.withLock { loaded.removeAll { $0.name == name } } }
}

/// The adapters loaded on the served base model, by name. Loads and unloads change the model, so
/// only the scheduler's worker, which also runs it, calls them; `adapters` and `info` are safe
/// from any thread (a snapshot).
///
/// Loading is all or nothing: the adapter's files are checked against the model (targets that
/// exist, shapes that fit, saved modules that can be routed per row) before it is kept; a failure
/// leaves the model as it was. Adapters come only from directories under the adapter root.
final class AdapterStore: AdapterCatalog, @unchecked Sendable {
    let served: ServedModel
    let root: AdapterRoot
    private let list = AdapterList()
    /// The loaded adapters, in load order.
    var adapters: [AdapterInfo] { list.all }
    /// The base model's values of every saved-module tensor an adapter has replaced so far.
    private var baseSaved: [String: Tensor] = [:]

    init(served: ServedModel, root: URL?) {
        self.served = served
        self.root = AdapterRoot(root)
    }

    func info(_ name: String) -> AdapterInfo? { list.info(name) }

    @discardableResult
    func load(name: String, path: String) throws -> AdapterInfo {
        let (dir, config) = try root.prepare(name: name, path: path, list: list)
        // The model holds the base values of every saved module between requests: keep them.
        let savedKeys = savedKeys(config)
        let state = served.module.stateDict()
        for key in savedKeys where baseSaved[key] == nil { baseSaved[key] = state[key] }
        do { try PEFTAdapterFile.load(into: served.lora, from: dir.path, as: name) } catch {
            throw ServeError(422, "adapter \(name) does not fit the served model: \(error)")
        }
        let values = served.module.stateDict().filter { savedKeys.contains($0.key) }
        do {
            try served.module.load(baseSaved.filter { savedKeys.contains($0.key) }, strict: false)
            served.lora.resetRoutedModules()
            try served.lora.routeSavedModules(of: name, values: values)
        } catch {
            try? served.module.load(baseSaved.filter { savedKeys.contains($0.key) }, strict: false)
            served.lora.resetRoutedModules()
            try? served.lora.deleteAdapter(name)
            throw ServeError(422, "adapter \(name) cannot be served: \(error)")
        }
        let info = root.info(name, dir, config)
        list.add(info)
        return info
    }

    func unload(_ name: String) throws {
        guard info(name) != nil else { throw ServeError(404, "no adapter \(name) is loaded") }
        try served.lora.deleteAdapter(name)
        served.lora.unrouteSavedModules(of: name)
        list.remove(name)
    }

    /// The state keys of the modules `config` saves (trains in full).
    private func savedKeys(_ config: LoRAConfig) -> Set<String> {
        var keys = Set<String>()
        for (path, module) in served.module.namedModules()
        where !(module is LoRAHost) && config.modulesToSave.contains(where: { TargetMatcher.matches(pattern: $0, key: path) }) {
            for (k, _) in module.stateDict() where !k.contains("adapters.") { keys.insert(path.isEmpty ? k : path + "." + k) }
        }
        return keys
    }
}

/// The adapters of a served decoder (`AdapterServingGenerator`), switched per generation.
final class GeneratorStore: AdapterCatalog, @unchecked Sendable {
    let generator: AdapterServingGenerator
    let root: AdapterRoot
    private let list = AdapterList()
    var adapters: [AdapterInfo] { list.all }

    init(generator: AdapterServingGenerator, root: URL?) {
        self.generator = generator
        self.root = AdapterRoot(root)
    }

    func info(_ name: String) -> AdapterInfo? { list.info(name) }

    @discardableResult
    func load(name: String, path: String) throws -> AdapterInfo {
        let (dir, config) = try root.prepare(name: name, path: path, list: list)
        do { _ = try generator.loadAdapter(name, from: dir) } catch {
            throw ServeError(422, "adapter \(name) does not fit the served model: \(error)")
        }
        let info = root.info(name, dir, config)
        list.add(info)
        return info
    }

    func unload(_ name: String) throws {
        guard info(name) != nil else { throw ServeError(404, "no adapter \(name) is loaded") }
        try generator.unloadAdapter(name)
        list.remove(name)
    }
}
