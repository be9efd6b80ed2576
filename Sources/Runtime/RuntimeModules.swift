import Tasks
import Training
import ImageModels
import TextModels
import LanguageModels
import AudioModels
import AudioVisualModels

/// LoRAKit's built-in core: the hooks every run can name.
public enum CorePlugin: LoRAKitPlugin {
    public static let name = "core"

    public static func register(into r: inout Registry) throws {
        try r.registerHook("lr_monitor", HookFactory(summary: "logs the learning rate of every step") { _ in LearningRateMonitor() })
        try r.registerHook("timer", HookFactory(summary: "times steps and evaluations") { _ in TimerHook() })
    }
}

extension Registry {
    /// The modules every run has: the core hooks, the image, text, audio and audio-visual modalities, and the
    /// decoder language models `lorakit generate` loads.
    public static let standardModules: [LoRAKitPlugin.Type] = [CorePlugin.self, ImageModelsPlugin.self, TextModelsPlugin.self,
                                                                 LanguageModelsPlugin.self, AudioModelsPlugin.self,
                                                                 AudioVisualModelsPlugin.self]

    /// A registry with the standard modules and `builtIns` registered, and `plugins` available to
    /// recipes that list them.
    public static func standard(builtIns: [LoRAKitPlugin.Type] = [], plugins: [LoRAKitPlugin.Type] = []) throws -> Registry {
        var registry = Registry()
        for module in standardModules + builtIns { try registry.install(module) }
        try registry.makeAvailable(plugins)
        return registry
    }
}
