import Audio
import Foundation
import SafeTensors
import Tasks
import Tensor

/// Spoken-command data made offline, for `audio_classification`: command words (by default the
/// ten of Speech Commands' core set) spoken by espeak-ng in one of two voice families, one second
/// each, at a random place, speed, pitch and loudness.
///
/// - `voices: base`: human-like variants (m1–m8, f1–f5 and 22 named voices) in five English accents;
/// - `voices: shifted`: a family the base never hears: the Klatt formant voices, whispered,
///   croaking and robotic variants, in the same accents.
///
/// Within a family the voices are dealt out so that test voices are never trained on (a fifth for
/// validation, a fifth for test). `condition: telephone_babble` adds babble (four talkers speaking
/// sentences, from 16 streams of the split's voices) at `snr_min … snr_max` dB over the word, then
/// the 300–3,400 Hz band; `clean` adds a faint noise floor only. Output: `SPLIT/WORD/NNNNN.wav`
/// (format `audio_folder`) and `SPLIT.jsonl` manifests `{"path", "label", "text", "start", "end"}`
/// with the word's extent in seconds (format `audio_jsonl`). Seeded.
public enum CommandsData {
    public static let defaultWords = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    public static let accents = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029"]
    public static let baseVariants = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "adam", "alex", "andy",
                               "david", "ed", "edward", "john", "linda", "paul", "rob", "robert", "steph", "max", "michael", "benjamin",
                               "caleb", "quincy", "travis", "victor", "zac", "norbert", "aunty"]
    public static let shiftedVariants = ["klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "whisper", "whisperf", "croak", "robosoft",
                                  "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8", "UniRobot",
                                  "anikaRobot", "Demonic", "Tweaky"]

    public static let generator = DataGenerator(
        name: "commands",
        summary: "one-second spoken command words (espeak-ng, base or shifted voice family, clean or telephone-band babble) "
            + "for task audio_classification",
        options: [
            .integer("count", min: 1, default: 200, help: "training clips per word"),
            .integer("eval_count", min: 1, default: 40, help: "validation and test clips per word, each"),
            .string("words", default: defaultWords.joined(separator: ","), help: "the command words, comma-separated"),
            .choice("voices", ["base", "shifted"], default: "base", help: "the voice family"),
            .choice("condition", ["clean", "telephone_babble"], default: "clean", help: "what is added to the speech"),
            .number("snr_min", default: 0, help: "lowest speech-to-babble ratio in dB"),
            .number("snr_max", default: 10, help: "highest speech-to-babble ratio in dB"),
            .integer("seed", min: 0, default: 0, help: "seed"),
        ]) { directory, options, log in
        let words = try options.string("words", default: defaultWords.joined(separator: ","))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard words.count >= 2, Set(words).count == words.count, words.allSatisfy({ !$0.isEmpty && !$0.contains("/") }) else {
            throw RegistryError.invalidOption(key: "words", reason: "give at least two distinct words, comma-separated")
        }
        let settings = Settings(words: words, count: try options.int("count", default: 200),
                                evalCount: try options.int("eval_count", default: 40),
                                shifted: try options.string("voices", default: "base") == "shifted",
                                babble: try options.string("condition", default: "clean") == "telephone_babble",
                                snr: (try options.double("snr_min", default: 0), try options.double("snr_max", default: 10)),
                                seed: UInt64(try options.int("seed", default: 0)))
        guard settings.snr.0 <= settings.snr.1 else {
            throw RegistryError.invalidOption(key: "snr_min", reason: "\(settings.snr.0) dB is above snr_max \(settings.snr.1) dB")
        }
        return try write(to: directory, settings: settings, log: log)
    }

    public struct Settings: Sendable {
        public var words: [String], count: Int, evalCount: Int, shifted: Bool, babble: Bool, snr: (Double, Double), seed: UInt64
    }

    static let length = 16_000

    static func write(to directory: URL, settings s: Settings, log: @escaping (String) -> Void) throws -> String {
        var rng = RandomGenerator(seed: s.seed &+ (s.shifted ? 7_919 : 0))
        var voices = accents.flatMap { a in (s.shifted ? shiftedVariants : baseVariants).map { "\(a)+\($0)" } }
        voices.shuffle(using: &rng)
        let fifth = voices.count / 5
        let pools = ["train": Array(voices[(2 * fifth)...]), "validation": Array(voices[..<fifth]), "test": Array(voices[fifth..<(2 * fifth)])]
        let synthesizer = try Synthesizer()
        var summary: [String] = []
        for (split, perWord) in [("train", s.count), ("validation", s.evalCount), ("test", s.evalCount)] {
            let pool = pools[split]!
            var talkers: [[Float]] = []
            if s.babble {
                for _ in 0..<16 {
                    var t: [Float] = []
                    while t.count < 4 * length {
                        t += try synthesizer.speak(VADData.sentence(&rng), voice: pool[Int(rng.next() % UInt64(pool.count))],
                                                   speed: 150 + Int(rng.next() % 40), pitch: 40 + Int(rng.next() % 40))
                    }
                    talkers.append(t)
                }
            }
            var lines = ""
            for (w, word) in s.words.enumerated() {
                let folder = directory.appendingPathComponent(split).appendingPathComponent(word)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for i in 0..<perWord {
                    let voice = pool[Int(rng.next() % UInt64(pool.count))]
                    let clip = try makeClip(word, voice: voice, settings: s, talkers: talkers, synthesizer: synthesizer, generator: &rng)
                    let name = String(format: "%05d.wav", i)
                    try AudioFile.write(AudioClip(samples: clip.samples, sampleRate: 16_000), to: folder.appendingPathComponent(name).path)
                    let record: [String: Any] = ["path": "\(split)/\(word)/\(name)", "label": word, "text": word, "voice": voice,
                                                 "start": Double(clip.start) / 16_000, "end": Double(clip.end) / 16_000]
                    lines += String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self) + "\n"
                }
                log("\(split): \(word) (\(w + 1) of \(s.words.count))")
            }
            try AtomicFileWriter.write(contentsOf: Array(lines.utf8), to: directory.appendingPathComponent("\(split).jsonl").path)
            summary.append("\(perWord * s.words.count) \(split) clips (\(pool.count) voices)")
        }
        return "wrote " + summary.joined(separator: ", ") + " of \(s.words.count) words, \(s.shifted ? "shifted" : "base") voices, "
            + "\(s.babble ? "telephone-band babble" : "clean"), to \(directory.path)"
    }

    /// One second: the word at a random place (its extent from the clean speech's energy), then
    /// the condition.
    static func makeClip(_ word: String, voice: String, settings s: Settings, talkers: [[Float]], synthesizer: Synthesizer,
                         generator rng: inout RandomGenerator) throws -> (samples: [Float], start: Int, end: Int) {
        var speech = try synthesizer.speak(word, voice: voice, speed: 130 + Int(rng.next() % 70), pitch: 25 + Int(rng.next() % 55))
        // espeak-ng pads words with silence: keep the voiced part (within 40 dB of its loudest 10 ms).
        let frame = 160
        let energies = stride(from: 0, to: speech.count, by: frame).map { f in
            speech[f..<min(f + frame, speech.count)].reduce(Float(0)) { $0 + $1 * $1 }
        }
        let top = energies.max() ?? 0
        let voiced = energies.indices.filter { top > 0 && energies[$0] >= top * 1e-4 }
        if let first = voiced.first, let last = voiced.last {
            speech = Array(speech[(first * frame)..<min((last + 1) * frame, speech.count)])
        }
        if speech.count > length - 800 { speech = Array(speech.prefix(length - 800)) }
        let start = 400 + Int(rng.next() % UInt64(max(1, length - 800 - speech.count + 1)))
        let loudness = Float(0.2 + 0.6 * Double(rng.nextUniform()))
        let peak = max(speech.map(abs).max() ?? 1, 1e-6)
        var clean = [Float](repeating: 0, count: length)
        for (k, v) in speech.enumerated() { clean[start + k] = v / peak * loudness }
        var mixed = clean
        if s.babble {
            var chosen = Array(talkers.indices)
            chosen.shuffle(using: &rng)
            let streams = chosen.prefix(4).map { k -> [Float] in
                let stream = talkers[k], offset = Int(rng.next() % UInt64(stream.count))
                return (0..<length).map { stream[(offset + $0) % stream.count] }
            }
            let snr = s.snr.0 + (s.snr.1 - s.snr.0) * Double(rng.nextUniform())
            let babble = AudioAugmentation.babble(streams)
            // The SNR over the word itself.
            let k = (AudioAugmentation.power(Array(clean[start..<(start + speech.count)]))
                     / (AudioAugmentation.power(babble) * pow(10, snr / 10))).squareRoot()
            mixed = zip(clean, babble).map { $0 + Float(k) * $1 }
            mixed = try AudioAugmentation.telephone(AudioClip(samples: mixed, sampleRate: 16_000)).samples
        }
        let floor = Float((AudioAugmentation.power(Array(clean[start..<(start + speech.count)])) / 1e5).squareRoot())
        mixed = mixed.map { $0 + floor * rng.nextNormal() }
        let top2 = mixed.map(abs).max() ?? 1
        if top2 > 0.99 { mixed = mixed.map { $0 * 0.99 / top2 } }
        return (mixed, start, start + speech.count)
    }
}
