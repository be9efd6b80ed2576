import Audio
import Foundation
import SafeTensors
import Tasks
import Tensor

/// Labelled voice-activity data made offline: sentences spoken by espeak-ng (Debian's
/// `espeak-ng`, installed by scripts/setup) in many voices, placed in clips with silence around
/// them, and labelled per 512-sample chunk (Silero VAD's step) from the clean speech before any
/// noise: a chunk is speech when its clean energy is within 40 dB of the clip's loudest chunk.
///
/// `condition: telephone_babble` then adds babble (four other talkers at equal energy, from 16
/// streams of the split's voices) at an SNR
/// drawn from `snr_min … snr_max` dB and passes the mixture through the telephone band
/// (300–3,400 Hz): the condition Silero VAD was not made for. `clean` adds only a faint noise
/// floor (50 dB below the speech). Splits: `train` (`count` clips), `validation` and `test`
/// (`eval_count` each), with voices dealt out so that the test voices are never trained on.
/// Each split is a folder of 16-bit WAV files and `SPLIT.jsonl` lines `{"path", "labels"}`.
public enum VADData {
    public static let generator = DataGenerator(
        name: "vad",
        summary: "speech clips (espeak-ng voices) with per-chunk speech labels, clean or telephone-band babble, for task vad",
        options: [
            .integer("count", min: 1, default: 400, help: "training clips"),
            .integer("eval_count", min: 1, default: 100, help: "validation and test clips, each"),
            .choice("condition", ["clean", "telephone_babble"], default: "telephone_babble", help: "what is added to the speech"),
            .number("snr_min", default: 0, help: "lowest speech-to-babble ratio in dB"),
            .number("snr_max", default: 10, help: "highest speech-to-babble ratio in dB"),
            .number("seconds", above: 1, atMost: 30, default: 6, help: "clip length"),
            .integer("seed", min: 0, default: 0, help: "seed"),
            .path("from", help: "JSON lines {path, labels per 512-sample chunk} of real recordings (scripts/label_real_speech.py): "
                  + "writes only a test split of them, each placed in clips and given the condition"),
            .integer("variants", min: 1, default: 8, help: "with from: clips made of each recording (placement, SNR, babble)"),
        ]) { directory, options, log in
        let settings = Settings(count: try options.int("count", default: 400), evalCount: try options.int("eval_count", default: 100),
                                babble: try options.string("condition", default: "telephone_babble") == "telephone_babble",
                                snr: (try options.double("snr_min", default: 0), try options.double("snr_max", default: 10)),
                                seconds: try options.double("seconds", default: 6), seed: UInt64(try options.int("seed", default: 0)))
        guard settings.snr.0 <= settings.snr.1 else {
            throw RegistryError.invalidOption(key: "snr_min", reason: "\(settings.snr.0) dB is above snr_max \(settings.snr.1) dB")
        }
        if let recordings = try options.path("from") {
            return try writeReal(recordings, copies: try options.int("variants", default: 8), to: directory, settings: settings, log: log)
        }
        return try write(to: directory, settings: settings, log: log)
    }

    public struct Settings: Sendable {
        public var count: Int, evalCount: Int, babble: Bool, snr: (Double, Double), seconds: Double, seed: UInt64
    }

    /// espeak-ng voices (language, variant) dealt out to the splits.
    static let languages = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en"]
    static let variants = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak", "whisper", "klatt", "klatt2"]
    static let words = """
        the a of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all
        were we when your can said there use an each which she do how their if will up other about out many then them these so some her
        would make like him into time has look two more write go see number no way could people my than first water been call who oil
        its now find long down day did get come made may part over new sound take only little work know place year live me back give most
        very after thing our just name good sentence man think say great where help through much before line right too mean old any same
        tell boy follow came want show also around form three small set put end does another well large must big even such because turn
        here why ask went men read need land different home us move try kind hand picture again change off play spell air away animal
        house point page letter mother answer found study still learn should america world high every near add food between own below
        country plant last school father keep tree never start city earth eye light thought head under story saw left few while along
        might close something seem next hard open example begin life always those both paper together got group often run important
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    /// Writes the three splits; returns a line for people.
    static func write(to directory: URL, settings: Settings, log: @escaping (String) -> Void) throws -> String {
        var rng = RandomGenerator(seed: settings.seed)
        var voices = languages.flatMap { l in variants.map { "\(l)+\($0)" } }
        voices.shuffle(using: &rng)
        // A fifth of the voices for validation, a fifth for test, the rest for training.
        let fifth = voices.count / 5
        let pools = ["train": Array(voices[(2 * fifth)...]), "validation": Array(voices[..<fifth]),
                     "test": Array(voices[fifth..<(2 * fifth)])]
        let synthesizer = try Synthesizer()
        var summary: [String] = []
        for (split, count) in [("train", settings.count), ("validation", settings.evalCount), ("test", settings.evalCount)] {
            let folder = directory.appendingPathComponent(split)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var lines = ""
            var speechChunks = 0, chunks = 0
            // Babble talkers: a pool of streams per split (the split's voices), each clip mixing four.
            let length = Int(settings.seconds * 16_000) / SileroVAD.chunk * SileroVAD.chunk
            var talkers: [[Float]] = []
            if settings.babble {
                for _ in 0..<16 {
                    var t: [Float] = []
                    while t.count < length {
                        t += try synthesizer.speak(sentence(&rng), voice: pools[split]![Int(rng.next() % UInt64(pools[split]!.count))],
                                                   speed: 150 + Int(rng.next() % 40), pitch: 40 + Int(rng.next() % 40))
                    }
                    talkers.append(t)
                }
            }
            for i in 0..<count {
                let clip = try makeClip(settings, voices: pools[split]!, talkers: talkers, synthesizer: synthesizer, generator: &rng)
                let name = String(format: "clip_%05d.wav", i)
                try AudioFile.write(AudioClip(samples: clip.samples, sampleRate: 16_000), to: folder.appendingPathComponent(name).path)
                let json = try JSONSerialization.data(withJSONObject: ["path": "\(split)/\(name)", "labels": clip.labels], options: [.sortedKeys])
                lines += String(decoding: json, as: UTF8.self) + "\n"
                speechChunks += clip.labels.reduce(0, +)
                chunks += clip.labels.count
                if (i + 1) % 100 == 0 { log("\(split): \(i + 1) of \(count) clips") }
            }
            try AtomicFileWriter.write(contentsOf: Array(lines.utf8), to: directory.appendingPathComponent("\(split).jsonl").path)
            summary.append(String(format: "%d %@ clips (%.0f %% speech chunks)", count, split, 100 * Double(speechChunks) / Double(max(chunks, 1))))
        }
        return "wrote " + summary.joined(separator: ", ") + " to \(directory.path)"
    }

    /// Real recordings labelled per chunk (16 kHz or resampled), each placed `copies` times at a
    /// chunk-aligned random offset in a clip of `seconds` (longer recordings fill their own clip,
    /// with a chunk of silence after), then given the condition with babble from the test
    /// split's voices: a test split of real speech for models trained on synthetic clips.
    static func writeReal(_ manifest: URL, copies: Int, to directory: URL, settings: Settings,
                          log: @escaping (String) -> Void) throws -> String {
        let text: String
        do { text = try String(contentsOf: manifest, encoding: .utf8) } catch {
            throw AudioError.cannotOpen(path: manifest.path, reason: "cannot read the list: \(error.localizedDescription)")
        }
        var recordings: [(samples: [Float], labels: [Int])] = []
        for (i, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let place = "\(manifest.path):\(i + 1)"
            guard case let .object(o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)),
                  case let .string(path)? = o["path"], case let .array(values)? = o["labels"] else {
                throw AudioError.invalid("\(place): expected {\"path\": …, \"labels\": [0 or 1 per 512-sample chunk]}")
            }
            let labels = values.compactMap { v -> Int? in if case let .integer(x) = v, x == 0 || x == 1 { return x } else { return nil } }
            guard labels.count == values.count, !labels.isEmpty else { throw AudioError.invalid("\(place): labels must be 0 or 1") }
            let file = path.hasPrefix("/") ? path : manifest.deletingLastPathComponent().appendingPathComponent(path).path
            let clip = try AudioFile.read(file).mono()
            let samples = clip.sampleRate == 16_000 ? clip.samples : try clip.resampled(to: 16_000, quality: .best).samples
            let chunks = (samples.count + SileroVAD.chunk - 1) / SileroVAD.chunk
            guard abs(chunks - labels.count) <= 1 else {
                throw AudioError.invalid("\(place): \(labels.count) labels for \(chunks) chunks of \(file)")
            }
            recordings.append((samples, labels))
        }
        guard !recordings.isEmpty else { throw AudioError.invalid("\(manifest.path): no recordings") }
        var rng = RandomGenerator(seed: settings.seed &+ 1)
        var voices = languages.flatMap { l in variants.map { "\(l)+\($0)" } }
        voices.shuffle(using: &rng)
        let synthesizer = try Synthesizer()
        let minimum = Int(settings.seconds * 16_000) / SileroVAD.chunk
        var talkers: [[Float]] = []
        if settings.babble {
            for _ in 0..<16 {
                var t: [Float] = []
                while t.count < minimum * SileroVAD.chunk {
                    t += try synthesizer.speak(sentence(&rng), voice: voices[Int(rng.next() % UInt64(voices.count))],
                                               speed: 150 + Int(rng.next() % 40), pitch: 40 + Int(rng.next() % 40))
                }
                talkers.append(t)
            }
        }
        let folder = directory.appendingPathComponent("test")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var lines = "", speechChunks = 0, allChunks = 0, n = 0
        for recording in recordings {
            let own = recording.labels.count
            let chunks = max(minimum, own + 1)
            for _ in 0..<copies {
                let offset = Int(rng.next() % UInt64(chunks - own + 1))
                var clean = [Float](repeating: 0, count: chunks * SileroVAD.chunk)
                var labels = [Int](repeating: 0, count: chunks)
                let loudness = Float(0.3 + 0.5 * Double(rng.nextUniform()))
                let peak = max(recording.samples.map(abs).max() ?? 1, 1e-6)
                for (k, v) in recording.samples.enumerated() where offset * SileroVAD.chunk + k < clean.count {
                    clean[offset * SileroVAD.chunk + k] = v / peak * loudness
                }
                for (k, l) in recording.labels.enumerated() where offset + k < chunks { labels[offset + k] = l }
                let mixed = try condition(clean, labels: labels, settings: settings, talkers: talkers, generator: &rng)
                let name = String(format: "real_%05d.wav", n)
                try AudioFile.write(AudioClip(samples: mixed, sampleRate: 16_000), to: folder.appendingPathComponent(name).path)
                let json = try JSONSerialization.data(withJSONObject: ["path": "test/\(name)", "labels": labels],
                                                      options: [.sortedKeys, .withoutEscapingSlashes])
                lines += String(decoding: json, as: UTF8.self) + "\n"
                speechChunks += labels.reduce(0, +)
                allChunks += chunks
                n += 1
            }
        }
        try AtomicFileWriter.write(contentsOf: Array(lines.utf8), to: directory.appendingPathComponent("test.jsonl").path)
        return String(format: "wrote %d test clips of %d real recordings (%.0f %% speech chunks) to %@", n, recordings.count,
                      100 * Double(speechChunks) / Double(max(allChunks, 1)), directory.path)
    }

    static func sentence(_ rng: inout RandomGenerator) -> String {
        (0..<(3 + Int(rng.next() % 6))).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
    }

    /// One clip: 1–2 utterances at random places, labels from the clean speech, then the condition.
    static func makeClip(_ s: Settings, voices: [String], talkers pool: [[Float]], synthesizer: Synthesizer,
                         generator rng: inout RandomGenerator) throws -> (samples: [Float], labels: [Int]) {
        let length = Int(s.seconds * 16_000) / SileroVAD.chunk * SileroVAD.chunk
        var clean = [Float](repeating: 0, count: length)
        let utterances = 1 + Int(rng.next() % 2)
        for u in 0..<utterances {
            let voice = voices[Int(rng.next() % UInt64(voices.count))]
            var speech = try synthesizer.speak(sentence(&rng), voice: voice, speed: 140 + Int(rng.next() % 60), pitch: 30 + Int(rng.next() % 50))
            let room = length / utterances
            if speech.count > room - 1600 { speech = Array(speech.prefix(max(0, room - 1600))) }
            let start = u * room + Int(rng.next() % UInt64(max(1, room - speech.count)))
            let loudness = Float(0.3 + 0.5 * Double(rng.nextUniform()))
            let peak = speech.map(abs).max() ?? 1
            for (k, v) in speech.enumerated() where start + k < length { clean[start + k] += v / max(peak, 1e-6) * loudness }
        }
        // Labels: chunk energy within 40 dB of the loudest chunk.
        let energies = stride(from: 0, to: length, by: SileroVAD.chunk).map { c in
            clean[c..<(c + SileroVAD.chunk)].reduce(0) { $0 + $1 * $1 }
        }
        let top = energies.max() ?? 0
        let labels = energies.map { top > 0 && $0 >= top * 1e-4 ? 1 : 0 }
        return (try condition(clean, labels: labels, settings: s, talkers: pool, generator: &rng), labels)
    }

    /// The condition added to clean speech labelled per chunk: babble at the SNR over the
    /// speech chunks, then the telephone band (`telephone_babble`), and a faint noise floor.
    static func condition(_ clean: [Float], labels: [Int], settings s: Settings, talkers pool: [[Float]],
                          generator rng: inout RandomGenerator) throws -> [Float] {
        let length = clean.count
        var mixed = clean
        if s.babble {
            // Four talkers of the pool, each from a random point (looped).
            var chosen = Array(pool.indices)
            chosen.shuffle(using: &rng)
            let talkers = chosen.prefix(4).map { k -> [Float] in
                let stream = pool[k], offset = Int(rng.next() % UInt64(stream.count))
                return (0..<length).map { stream[(offset + $0) % stream.count] }
            }
            let snr = s.snr.0 + (s.snr.1 - s.snr.0) * Double(rng.nextUniform())
            // The SNR over the speech itself (its active part), as SNRs of noisy speech are quoted.
            let active = zip(clean, stride(from: 0, to: length, by: 1)).filter { labels[$0.1 / SileroVAD.chunk] == 1 }.map(\.0)
            let babble = AudioAugmentation.babble(talkers)
            let k = (AudioAugmentation.power(active) / (AudioAugmentation.power(babble) * pow(10, snr / 10))).squareRoot()
            mixed = zip(clean, babble).map { $0 + Float(k) * $1 }
            mixed = try AudioAugmentation.telephone(AudioClip(samples: mixed, sampleRate: 16_000)).samples
        }
        // A faint noise floor (50 dB below the speech), so that no chunk is digital silence.
        let floor = Float((AudioAugmentation.power(clean) / 1e5).squareRoot())
        mixed = mixed.map { $0 + floor * rng.nextNormal() }
        let peak = mixed.map(abs).max() ?? 1
        if peak > 0.99 { mixed = mixed.map { $0 * 0.99 / peak } }
        return mixed
    }
}

/// espeak-ng as a subprocess: text in a voice → 16 kHz mono samples.
final class Synthesizer {
    let executable: URL
    let scratch: URL

    init() throws {
        let candidates = ["/usr/bin/espeak-ng", "/usr/local/bin/espeak-ng"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw AudioError.invalid("espeak-ng is not installed (apt-get install espeak-ng; scripts/setup installs it)")
        }
        executable = URL(fileURLWithPath: path)
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lorakit-espeak-\(UUID().uuidString).wav")
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    func speak(_ text: String, voice: String, speed: Int, pitch: Int) throws -> [Float] {
        let p = Process()
        p.executableURL = executable
        p.arguments = ["-v", voice, "-s", String(speed), "-p", String(pitch), "-w", scratch.path, text]
        let errors = Pipe()
        p.standardError = errors
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw AudioError.invalid("espeak-ng -v \(voice) failed (\(p.terminationStatus)): \(message)")
        }
        return try AudioFile.read(scratch.path).mono().resampled(to: 16_000, quality: .medium).samples
    }
}
