import ArgumentParser
import Foundation
import LoRA
import SafeTensors
import Tasks

/// `lorakit inspect FILE|DIR|RECIPE`: what a safetensors file, an adapter directory or a recipe's
/// model holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors of a safetensors file or adapter, or the modules and LoRA targets of a recipe."
    )

    @Argument(help: "A .safetensors file, a PEFT adapter directory, or a recipe (.yaml).") var path: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw UsageError("\(path): no such file or directory")
        }
        if isDirectory.boolValue {
            let config = try PEFTAdapterFile.loadConfig(from: path)
            let file = try SafeTensorsFile(path: path + "/" + PEFTAdapterFile.weightsName)
            if !json {
                print("PEFT LoRA adapter: r=\(config.rank) alpha=\(config.alpha) dropout=\(config.dropout) " +
                      "rslora=\(config.useRSLoRA) dora=\(config.useDoRA) bias=\(config.bias.rawValue)")
                print("target_modules: \(config.targetModules.joined(separator: ", "))")
                if !config.modulesToSave.isEmpty { print("modules_to_save: \(config.modulesToSave.joined(separator: ", "))") }
            }
            try printTensors(file)
        } else if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
            try InspectRecipe.run(path: path, json: json)
        } else {
            try printTensors(try SafeTensorsFile(path: path))
        }
    }

    private func printTensors(_ file: SafeTensorsFile) throws {
        let infos = file.names.compactMap { file.info($0) }
        if json {
            let rows: [JSONValue] = infos.map {
                .object(["name": .string($0.name), "dtype": .string($0.dtype.rawValue), "shape": .array($0.shape.map { .integer($0) })])
            }
            try printJSON(.object(["tensors": .array(rows), "metadata": .object(file.metadata.mapValues { .string($0) })]))
            return
        }
        let width = max(4, infos.map(\.name.count).max() ?? 0)
        print("name".padding(toLength: width, withPad: " ", startingAt: 0) + "  dtype  shape")
        var total = 0
        for i in infos {
            print(i.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " +
                  i.dtype.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0) + "  \(i.shape)")
            total += i.elementCount
        }
        print("\(infos.count) tensors, \(total) elements")
    }
}
