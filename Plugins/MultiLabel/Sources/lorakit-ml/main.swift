// The `lorakit` command with the multi-label plugin compiled in (and LoRAKit's demo models, which
// the example recipe uses).
import Demos
import LoRAKit
import MultiLabel

LoRAKitCLI.main(plugins: [MultiLabelPlugin.self], builtIns: [DemosPlugin.self])
