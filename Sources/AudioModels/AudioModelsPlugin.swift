import Foundation
import Tasks

/// What `AudioModels` adds to a registry: the `vad` task (Silero VAD adapted to labelled clips) and
/// the `vad` data generator (espeak-ng speech, clean or in telephone-band babble). Registered
/// always by the runtime, through the same protocol a plugin uses.
public enum AudioModelsPlugin: LoRAKitPlugin {
    public static let name = "audio_models"

    public static func register(into r: inout Registry) throws {
        try r.registerTask(VADRecipeTask())
        try r.registerGenerator(VADData.generator)
    }
}
