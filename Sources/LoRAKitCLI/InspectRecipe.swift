import Foundation
import LoRA
import NN

/// `lorakit inspect RECIPE`: the model's modules with parameter counts, and which layers the
/// recipe's LoRA targets match.
enum InspectRecipe {
    static func run(path: String, json: Bool) throws {
        let run = try RecipeRun(path: path, overrides: [], plugins: LoRAKitCLI.plugins)
        try run.validate()
        let built = try run.buildBareModel()
        let model = built.module
        var report: InjectionReport?
        if let lora = run.recipe.lora, run.recipe.train.mode == .lora {
            report = try LoRAModel(wrapping: model).dryRun(lora)
        }
        let modules = model.namedModules().filter { !$0.key.isEmpty && $0.module.children().isEmpty }
        if json {
            var object: [String: Any] = [
                "architecture": run.recipe.model.architecture, "parameters": model.parameterCount,
                "modules": modules.map { ["key": $0.key, "type": "\(type(of: $0.module))", "parameters": $0.module.parameterCount] },
            ]
            if let report {
                object["lora"] = ["layers": report.layers.map { ["key": $0.key, "rank": $0.rank, "base_parameters": $0.baseParameters,
                                                                "adapter_parameters": $0.adapterParameters] as [String: Any] },
                                  "adapter_parameters": report.adapterParameters, "warnings": report.warnings]
            }
            try printJSON(object)
            return
        }
        print("\(run.recipe.model.architecture): \(model.parameterCount) parameters")
        let targets = Set(report?.layers.map(\.key) ?? [])
        for (key, module) in modules {
            print("  \(targets.contains(key) ? "*" : " ") \(key) [\(type(of: module))] \(module.parameterCount)")
        }
        if let report { print(report.description) }
    }
}
