import Foundation
import Tasks

/// What `AudioVisualModels` adds to a registry: the `lips_from_speech` task (the `av_speech`
/// model, `av_clips` data) and the `av-speech` data generator (spoken words with rendered mouth
/// frames, landmarks and phoneme timing). Registered always by the runtime,
/// through the same protocol a plugin uses.
public enum AudioVisualModelsPlugin: LoRAKitPlugin {
    public static let name = "audio_visual_models"

    public static func register(into r: inout Registry) throws {
        try r.registerGenerator(AVSpeechData.generator)
        try r.registerTask(LipsRecipeTask())
        try r.registerTask(AVRecognitionRecipeTask())
        try r.registerTask(SyncRecipeTask())
    }
}
