import Foundation
import XCTest

/// Real pretrained models that scripts fetch into `data/models` (nothing of them is committed).
/// A test that needs one is skipped when it is absent, unless `LORAKIT_REQUIRE_MODELS=1`
/// (`scripts/test` sets it, after fetching them), where it fails.
public enum RealModels {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String
    }

    /// SmolLM2-135M-Instruct as a Q4_1 GGUF (`scripts/fetch_smollm2`): in `$LORAKIT_SMOLLM2` (a
    /// directory), else in `data/models/smollm2` under the repository.
    public static func smolLM2(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        try locate("SmolLM2-135M-Instruct.Q4_1.gguf", variable: "LORAKIT_SMOLLM2", directory: "data/models/smollm2",
                   script: "scripts/fetch_smollm2", file: file, line: line)
    }

    /// Silero VAD's 16 kHz weights (`scripts/fetch_silero_vad`): in `$LORAKIT_SILERO_VAD`, else in
    /// `data/models/silero_vad` under the repository.
    public static func sileroVAD(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        try locate("silero_vad_16k.safetensors", variable: "LORAKIT_SILERO_VAD", directory: "data/models/silero_vad",
                   script: "scripts/fetch_silero_vad", file: file, line: line)
    }

    static func locate(_ name: String, variable: String, directory: String, script: String,
                       file: StaticString, line: UInt) throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        // Sources/TestSupport/RealModels.swift → the repository.
        let folder = environment[variable].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
            ?? URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(directory, isDirectory: true)
        let model = folder.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: model.path) { return model }
        let message = "\(name) not found in \(folder.path): run \(script)"
        if environment["LORAKIT_REQUIRE_MODELS"] == "1" {
            XCTFail(message, file: file, line: line)
            throw Missing(description: message)
        }
        throw XCTSkip(message, file: file, line: line)
    }
}
