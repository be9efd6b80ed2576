import Foundation
import LoRA
import NN
import Tasks

/// Several PEFT adapters on one loaded decoder, switched per request: each adapter's factors sit
/// beside the shared (quantised) base weights, and only the chosen one runs.
extension LanguageModelTextGenerator: AdapterServingGenerator where Model: Module {
    public func loadAdapter(_ name: String, from directory: URL) throws -> String {
        let lora = adapters ?? LoRAModel(wrapping: model)
        guard !lora.adapterNames.contains(name) else { throw LoRAError.duplicateAdapter(name) }
        let active = lora.activeAdapters
        let config = try PEFTAdapterFile.load(into: lora, from: directory.path, as: name)
        adapters = lora
        try lora.setActiveAdapters(active)          // loading does not change which adapter runs
        model.eval()                                // generation: no adapter dropout
        let parameters = lora.hosts.compactMap { $0.host.adapters[name]?.parameterCount }.reduce(0, +)
        return "adapter \(name) from \(directory.path): rank \(config.rank) on \(config.targetModules.joined(separator: ", ")), "
            + "\(parameters) parameters"
    }

    public var adapterNames: [String] { adapters?.adapterNames ?? [] }

    public func useAdapter(_ name: String?) throws {
        guard let name else {
            try adapters?.setActiveAdapters([])
            return
        }
        guard let adapters else { throw LoRAError.unknownAdapter(name, available: []) }
        try adapters.setActiveAdapters([name])
    }

    public func unloadAdapter(_ name: String) throws {
        guard let adapters, adapters.adapterNames.contains(name) else { throw LoRAError.unknownAdapter(name, available: adapterNames) }
        if adapters.activeAdapters.contains(name) { try adapters.setActiveAdapters([]) }
        try adapters.deleteAdapter(name)
    }
}
