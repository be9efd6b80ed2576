import Foundation
import Tasks

/// What `AudioModels` adds to a registry: the `vad` task (Silero VAD adapted to labelled clips),
/// the `audio_classification` task with the `audio_transformer` architecture, the audio data
/// formats and augmentations, and the `vad` and `commands` data generators (espeak-ng speech,
/// clean or in telephone-band babble). Registered always by the runtime, through the same
/// protocol a plugin uses.
public enum AudioModelsPlugin: LoRAKitPlugin {
    public static let name = "audio_models"

    public static func register(into r: inout Registry) throws {
        try r.registerTask(VADRecipeTask())
        try r.registerGenerator(VADData.generator)
        try AudioClassification.register(&r)
        try r.registerGenerator(CommandsData.generator)
    }
}
