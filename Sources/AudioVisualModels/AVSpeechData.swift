import Audio
import AudioModels
import Foundation
import ImageModels
import SafeTensors
import Tasks
import Tensor

/// Audio-visual speech made offline (`lorakit data av-speech`): a word spoken by eSpeak NG
/// in-process with its phoneme timing, the phonemes mapped to MPEG-4 visemes (`Viseme.of`),
/// the visemes turned into mouth shapes by Cohen–Massaro coarticulation with the speaker's lip
/// lead (`Coarticulation`), the shapes into the 20 mouth landmarks of the 68-point layout
/// (`MouthLandmarks`), and those into grey mouth crops (`MouthRenderer`) at `fps`.
///
/// Speakers are an eSpeak NG voice and a mouth style (width, jaw range, lip thickness, lip lead,
/// skin and lip greys). `speakers: base` draws human-like voices and styles in one range; `new`
/// draws the Klatt, whispered, croaking and robotic voices with wider mouths, larger jaw range,
/// thicker lips and earlier lips — the speaker a base model must be adapted to. Speakers are
/// dealt to the splits so that test speakers are never trained on.
///
/// Each clip is a folder `SPLIT/clip_NNNNN/` with `audio.wav` (16 kHz), `frames/NNNN.png`
/// (grey, `size` × `size`, frame k shows time k / fps) and `meta.json` (transcript, label, speaker,
/// phones and viseme segments with times, landmarks and mouth opening per frame); `SPLIT.jsonl`
/// lists the clips `{"path", "label", "text"}`. Real recordings become the same layout with
/// scripts/av_from_video (ffmpeg and dlib's 68-point predictor).
public enum AVSpeechData {
    public static let generator = DataGenerator(
        name: "av-speech",
        summary: "spoken words with rendered mouth frames, landmarks and phoneme timing (eSpeak NG), base or new speakers",
        options: [
            .integer("count", min: 1, default: 40, help: "training clips per word"),
            .integer("eval_count", min: 1, default: 10, help: "validation and test clips per word, each"),
            .string("words", default: CommandsData.defaultWords.joined(separator: ","), help: "the words, comma-separated"),
            .choice("speakers", ["base", "new"], default: "base", help: "the speaker family (voices and mouth styles)"),
            .number("seconds", above: 0.5, atMost: 10, default: 1.6, help: "clip length"),
            .integer("size", min: 16, max: 256, default: 48, help: "mouth crop side in pixels"),
            .integer("fps", min: 1, max: 100, default: 25, help: "video frames per second"),
            .integer("seed", min: 0, default: 0, help: "seed"),
        ]) { directory, options, log in
        let words = try options.string("words", default: CommandsData.defaultWords.joined(separator: ","))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard words.count >= 2, Set(words).count == words.count, words.allSatisfy({ !$0.isEmpty }) else {
            throw RegistryError.invalidOption(key: "words", reason: "give at least two distinct words, comma-separated")
        }
        let settings = Settings(words: words, count: try options.int("count", default: 40), evalCount: try options.int("eval_count", default: 10),
                                newSpeakers: try options.string("speakers", default: "base") == "new",
                                seconds: try options.double("seconds", default: 1.6), size: try options.int("size", default: 48),
                                fps: try options.int("fps", default: 25), seed: UInt64(try options.int("seed", default: 0)))
        return try write(to: directory, settings: settings, log: log)
    }

    public struct Settings: Sendable {
        public var words: [String], count: Int, evalCount: Int, newSpeakers: Bool, seconds: Double, size: Int, fps: Int, seed: UInt64
    }

    /// A speaker: a voice, how fast and high it speaks, and a mouth style.
    public struct Speaker: Codable, Sendable {
        public var voice: String
        public var speed: Int
        public var pitch: Int
        public var style: SpeakerStyle
    }

    /// What `meta.json` holds.
    public struct ClipMeta: Codable, Sendable {
        public var text: String
        public var label: String
        public var speaker: Speaker
        public var fps: Int
        public var size: Int
        public var frames: Int
        public var phones: [SpokenPhone]
        public var visemes: [Coarticulation.Segment]
        /// Per frame, the 20 landmarks as [x, y] pairs.
        public var landmarks: [[[Double]]]
        /// Per frame, the inner-lip distance (pixels).
        public var opening: [Double]
    }

    static func speakers(new: Bool, count: Int, generator rng: inout RandomGenerator) -> [Speaker] {
        let variants = new ? CommandsData.shiftedVariants : CommandsData.baseVariants
        func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * Double(rng.nextUniform()) }
        return (0..<count).map { _ in
            let voice = CommandsData.accents[Int(rng.next() % UInt64(CommandsData.accents.count))] + "+"
                + variants[Int(rng.next() % UInt64(variants.count))]
            let style = new
                ? SpeakerStyle(width: uniform(1.1, 1.25), jaw: uniform(1.2, 1.4), lips: uniform(1.2, 1.4), lead: uniform(0.07, 0.1),
                               skin: uniform(0.45, 0.55), lipTone: uniform(0.25, 0.32))
                : SpeakerStyle(width: uniform(0.85, 1.05), jaw: uniform(0.8, 1.1), lips: uniform(0.8, 1.1), lead: uniform(0.02, 0.05),
                               skin: uniform(0.58, 0.7), lipTone: uniform(0.34, 0.42))
            return Speaker(voice: voice, speed: 140 + Int(rng.next() % 50), pitch: 30 + Int(rng.next() % 50), style: style)
        }
    }

    static func write(to directory: URL, settings s: Settings, log: @escaping (String) -> Void) throws -> String {
        var rng = RandomGenerator(seed: s.seed &+ (s.newSpeakers ? 104_729 : 0))
        let people = speakers(new: s.newSpeakers, count: s.newSpeakers ? 25 : 50, generator: &rng)
        let fifth = people.count / 5
        let pools = ["train": Array(people[(2 * fifth)...]), "validation": Array(people[..<fifth]),
                     "test": Array(people[fifth..<(2 * fifth)])]
        var summary: [String] = []
        for (split, perWord) in [("train", s.count), ("validation", s.evalCount), ("test", s.evalCount)] {
            let pool = pools[split]!
            var lines = ""
            var n = 0
            for _ in 0..<perWord {
                for word in s.words {
                    let speaker = pool[Int(rng.next() % UInt64(pool.count))]
                    let name = String(format: "clip_%05d", n)
                    let folder = directory.appendingPathComponent(split).appendingPathComponent(name)
                    try writeClip(word, speaker: speaker, settings: s, to: folder, generator: &rng)
                    let record = try JSONSerialization.data(withJSONObject: ["path": "\(split)/\(name)", "label": word, "text": word],
                                                            options: [.sortedKeys, .withoutEscapingSlashes])
                    lines += String(decoding: record, as: UTF8.self) + "\n"
                    n += 1
                }
            }
            try AtomicFileWriter.write(contentsOf: Array(lines.utf8), to: directory.appendingPathComponent("\(split).jsonl").path)
            log("\(split): \(n) clips")
            summary.append("\(n) \(split) clips (\(pool.count) speakers)")
        }
        return "wrote " + summary.joined(separator: ", ") + " of \(s.words.count) words, \(s.newSpeakers ? "new" : "base") speakers, "
            + "\(s.size)×\(s.size) mouth frames at \(s.fps) fps, to \(directory.path)"
    }

    /// One clip: the word at a random place in `seconds`, its frames, audio and metadata.
    static func writeClip(_ word: String, speaker: Speaker, settings s: Settings, to folder: URL,
                          generator rng: inout RandomGenerator) throws {
        let spoken = try EspeakSpeech.speak(word, voice: speaker.voice, speed: speaker.speed + Int(rng.next() % 21) - 10,
                                            pitch: speaker.pitch)
        // The spoken part, from the first to the last phone that is not a pause.
        let voiced = spoken.phones.filter { Viseme.of(phone: $0.phone) != [.rest] }
        let first = max(0, (voiced.first?.start ?? 0) - 0.03), last = (voiced.last?.end ?? Double(spoken.samples.count) / 16_000) + 0.03
        let length = Int(s.seconds * 16_000)
        var speech = Array(spoken.samples[min(spoken.samples.count, Int(first * 16_000))..<min(spoken.samples.count, Int(last * 16_000))])
        if speech.count > length - 1_600 { speech = Array(speech.prefix(length - 1_600)) }
        let offset = 800 + Int(rng.next() % UInt64(max(1, length - 1_600 - speech.count + 1)))
        let peak = max(speech.map(abs).max() ?? 1, 1e-6)
        let loudness = Float(0.3 + 0.5 * Double(rng.nextUniform()))
        var audio = [Float](repeating: 0, count: length)
        for (k, v) in speech.enumerated() { audio[offset + k] = v / peak * loudness }
        let floor = Float((AudioAugmentation.power(speech) / 1e5).squareRoot()) * loudness / peak
        audio = audio.map { $0 + floor * rng.nextNormal() }
        // Phones on the clip's time line, those cut off dropped.
        let shift = Double(offset) / 16_000 - first
        let end = Double(offset + speech.count) / 16_000
        let phones = spoken.phones.compactMap { p -> SpokenPhone? in
            let a = p.start + shift, b = min(p.end + shift, end)
            return b > a && a >= 0 ? SpokenPhone(phone: p.phone, start: a, end: b) : nil
        }
        let segments = Coarticulation.segments(phones)
        let frames = Int(s.seconds * Double(s.fps))
        let shapes = Coarticulation.shapes(segments, at: (0..<frames).map { Double($0) / Double(s.fps) }, lead: speaker.style.lead)
        let marks = shapes.map { MouthLandmarks.points($0, style: speaker.style, size: s.size) }

        let fm = FileManager.default
        try? fm.removeItem(at: folder)
        let frameFolder = folder.appendingPathComponent("frames")
        try fm.createDirectory(at: frameFolder, withIntermediateDirectories: true)
        for (k, points) in marks.enumerated() {
            let grey = MouthRenderer.render(points, style: speaker.style, size: s.size)
            try Image(height: s.size, width: s.size, channels: 1, pixels: grey)
                .writePNG(to: frameFolder.appendingPathComponent(String(format: "%04d.png", k)).path)
        }
        try AudioFile.write(AudioClip(samples: audio, sampleRate: 16_000), to: folder.appendingPathComponent("audio.wav").path)
        let meta = ClipMeta(text: word, label: word, speaker: speaker, fps: s.fps, size: s.size, frames: frames, phones: phones,
                            visemes: segments, landmarks: marks.map { $0.map { [($0.x * 100).rounded() / 100, ($0.y * 100).rounded() / 100] } },
                            opening: marks.map { (MouthLandmarks.opening($0) * 100).rounded() / 100 })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFileWriter.write(contentsOf: Array(try encoder.encode(meta)), to: folder.appendingPathComponent("meta.json").path)
    }
}
