// The `lorakit` command with the squeeze-and-excitation plugin compiled in.
import LoRAKitCLI
import SqueezeExcite

LoRAKitCLI.main(plugins: [SqueezeExcitePlugin.self])
