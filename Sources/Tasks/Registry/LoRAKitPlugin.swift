/// A plugin: Swift code outside LoRAKit's sources that adds tasks, architectures (with new layer
/// types and their LoRA forms), data formats, transforms, metrics, hooks or data generators under
/// names recipes use.
///
/// A plugin lives in the user's own Swift package, which depends on LoRAKit's library products and
/// has a `main.swift` that calls `LoRAKitCLI.main(plugins: [MyPlugin.self])`: one linked binary,
/// no dynamic loading, no ABI coupling (see PLUGINS.md for why this mechanism). A recipe lists the
/// plugins it needs under `plugins:`; only those register, so two plugins that use the same name
/// can live in one program as long as no recipe asks for both.
///
/// LoRAKit's own modalities are written the same way (`ImageModelsPlugin`, `TextModelsPlugin`) and
/// registered always, as built-ins: the plugin protocol is all a modality needs.
public protocol LoRAKitPlugin: Sendable {
    /// The name recipes list under `plugins:`.
    static var name: String { get }
    /// Adds the plugin's names to `registry`; a name that is taken is an error naming the plugin.
    static func register(into registry: inout Registry) throws
}
