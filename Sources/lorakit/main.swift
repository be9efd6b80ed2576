// The `lorakit` command. A user's own package builds the same tool with plugins compiled in by
// calling `LoRAKitCLI.main(plugins: [MyPlugin.self])` (see Plugins/SqueezeExcite).
import LoRAKitCLI

LoRAKitCLI.main()
