import ArgumentParser

/// `lorakit bench …`: the benchmarks, in one place.
public struct BenchCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run LoRAKit's benchmarks (build with -c release).",
        subcommands: [BenchKernelsCommand.self, BenchLoRALayersCommand.self, BenchResNetCommand.self,
                      BenchBertCommand.self, BenchLlamaCommand.self, BenchLLMCommand.self, BenchAudioFeaturesCommand.self,
                      BenchAudioCommand.self, BenchAVCommand.self]
    )
}
