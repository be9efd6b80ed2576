// The `lorakit` command: the standard modules, the demo model and data (tiny_convnet,
// synthetic_patterns) and the benchmarks. A user's own package builds the same tool with plugins
// compiled in by calling `LoRAKitCLI.main(plugins: [MyPlugin.self])` (see Plugins/SqueezeExcite).
import Bench
import Demos
import LoRAKitCLI

LoRAKitCLI.main(builtIns: [DemosPlugin.self], commands: [BenchCommand.self])
