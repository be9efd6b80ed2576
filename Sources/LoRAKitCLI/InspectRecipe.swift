import Foundation
import LoRA
import Runtime
import Tasks

/// `lorakit inspect RECIPE`: the model's modules with parameter counts, and which layers the
/// recipe's LoRA targets match.
enum InspectRecipe {
    static func run(path: String, json: Bool) throws {
        let run = try RecipeArguments.parse([path]).run()
        try run.validate(ignoringMissingFilesOf: RecipeRun.dataFileKeys)
        let inspection = try run.inspect()
        if json {
            var object: [String: JSONValue] = [
                "architecture": .string(inspection.architecture), "parameters": .integer(inspection.parameters),
                "modules": .array(inspection.modules.map {
                    .object(["key": .string($0.key), "type": .string($0.type), "parameters": .integer($0.parameters)])
                }),
            ]
            if let report = inspection.lora {
                object["lora"] = .object([
                    "layers": .array(report.layers.map {
                        .object(["key": .string($0.key), "rank": .integer($0.rank), "base_parameters": .integer($0.baseParameters),
                                 "adapter_parameters": .integer($0.adapterParameters)])
                    }),
                    "adapter_parameters": .integer(report.adapterParameters),
                    "warnings": .array(report.warnings.map { .string($0) }),
                ])
            }
            try printJSON(.object(object))
            return
        }
        print("\(inspection.architecture): \(inspection.parameters) parameters")
        let targets = Set(inspection.lora?.layers.map(\.key) ?? [])
        for m in inspection.modules {
            print("  \(targets.contains(m.key) ? "*" : " ") \(m.key) [\(m.type)] \(m.parameters)")
        }
        if let report = inspection.lora { print(report.description) }
    }
}
