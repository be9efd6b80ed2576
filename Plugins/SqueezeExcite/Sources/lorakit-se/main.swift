// The `lorakit` command with the squeeze-and-excitation plugin compiled in (and LoRAKit's demo
// data, which the example recipe uses).
import Demos
import LoRAKit
import SqueezeExcite

LoRAKitCLI.main(plugins: [SqueezeExcitePlugin.self], builtIns: [DemosPlugin.self])
