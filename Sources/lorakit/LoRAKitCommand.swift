import ArgumentParser

/// The `lorakit` command line.
@main
struct LoRAKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lorakit",
        abstract: "Fine-tune pretrained models with low-rank adaptation (LoRA).",
        subcommands: [BenchCommand.self]
    )
}
