import Audio
import CEspeakNG
import Foundation

/// One phoneme of synthesised speech, in eSpeak NG's ASCII names (`h`, `@`, `oU`, `tS`, `_:`
/// for a pause), with its time span in seconds from the start of the audio.
public struct SpokenPhone: Codable, Equatable, Sendable {
    public var phone: String
    public var start: Double
    public var end: Double

    public init(phone: String, start: Double, end: Double) {
        self.phone = phone
        self.start = start
        self.end = end
    }
}

/// Speech with its phoneme timing.
public struct SpokenText: Sendable {
    /// 16 kHz mono.
    public var samples: [Float]
    public var phones: [SpokenPhone]
}

/// eSpeak NG in-process through its C API (Debian's `libespeak-ng-dev`), with phoneme events:
/// the audio and, for every phoneme, the time eSpeak NG starts it — the timing that lip
/// movements follow. The library keeps global state, so calls are serialised.
public enum EspeakSpeech {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var rate: Int32 = 0
    nonisolated(unsafe) private static var samples: [Int16] = []
    nonisolated(unsafe) private static var events: [(phone: String, sample: Int)] = []

    private static let callback: @convention(c) (UnsafeMutablePointer<Int16>?, Int32, UnsafeMutablePointer<espeak_EVENT>?) -> Int32 = {
        wav, count, list in
        if let wav, count > 0 { EspeakSpeech.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
        guard var event = list else { return 0 }
        while event.pointee.type != espeakEVENT_LIST_TERMINATED {
            if event.pointee.type == espeakEVENT_PHONEME {
                let name = withUnsafeBytes(of: event.pointee.id.string) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                EspeakSpeech.events.append((name, Int(event.pointee.sample)))
            }
            event += 1
        }
        return 0
    }

    /// `language+variant` as the `espeak-ng -v` command finds it: the voice file whose languages
    /// include `language` (`en-gb` is the voice `gmw/en`), by its identifier, with the variant.
    private static func resolve(_ voice: String) throws -> String {
        let parts = voice.split(separator: "+", maxSplits: 1).map(String.init)
        guard let language = parts.first, var list = espeak_ListVoices(nil) else { return voice }
        while let entry = list.pointee {
            // `languages`: a priority byte, a language name, a zero byte; repeated; ended by a zero byte.
            if var p = entry.pointee.languages.map({ UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) }) {
                while p.pointee != 0 {
                    let name = String(cString: p + 1)
                    if name == language, let id = entry.pointee.identifier {
                        return String(cString: id) + (parts.count > 1 ? "+" + parts[1] : "")
                    }
                    p += 1 + name.utf8.count + 1
                }
            }
            list += 1
        }
        return voice
    }

    /// Speaks `text` in `voice` (`en-us+m3`, as `espeak-ng -v`) at `speed` words per minute and
    /// `pitch` (0–99). Phones run from one event to the next; the last ends with the audio.
    /// - Throws: `AudioError.invalid` when eSpeak NG cannot start, does not know the voice, or fails.
    public static func speak(_ text: String, voice: String, speed: Int = 175, pitch: Int = 50) throws -> SpokenText {
        lock.lock()
        defer { lock.unlock() }
        if rate == 0 {
            let r = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, Int32(espeakINITIALIZE_PHONEME_EVENTS))
            guard r > 0 else { throw AudioError.invalid("eSpeak NG cannot start (apt-get install espeak-ng-data libespeak-ng1)") }
            rate = r
            espeak_SetSynthCallback(callback)
        }
        let resolved = try resolve(voice)
        guard espeak_SetVoiceByName(voice) == EE_OK || espeak_SetVoiceByName(resolved) == EE_OK else {
            throw AudioError.invalid("eSpeak NG has no voice '\(voice)'")
        }
        espeak_SetParameter(espeakRATE, Int32(speed), 0)
        espeak_SetParameter(espeakPITCH, Int32(pitch), 0)
        samples = []
        events = []
        let status = text.withCString { c in
            espeak_Synth(c, strlen(c) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, nil)
        }
        guard status == EE_OK, espeak_Synchronize() == EE_OK else {
            throw AudioError.invalid("eSpeak NG failed to speak '\(text)' in \(voice) (\(status))")
        }
        let native = samples.map { Float($0) / 32_768 }
        let clip = try AudioClip(samples: native, sampleRate: Int(rate)).resampled(to: 16_000, quality: .medium)
        let seconds = Double(native.count) / Double(rate)
        var phones: [SpokenPhone] = []
        for (i, e) in events.enumerated() {
            let start = Double(e.sample) / Double(rate)
            let end = i + 1 < events.count ? Double(events[i + 1].sample) / Double(rate) : seconds
            if end > start { phones.append(SpokenPhone(phone: e.phone, start: start, end: end)) }
        }
        return SpokenText(samples: clip.samples, phones: phones)
    }
}
