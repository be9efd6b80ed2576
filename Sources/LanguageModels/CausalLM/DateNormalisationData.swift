import Foundation
import SafeTensors
import Tasks
import Tensor

/// An instruction task with one right answer per question, for exact match: a date written as
/// people write it ("the 5th of March, 2021", "5-Mar-2021", "2021, March 5", seven forms, three
/// phrasings of the request) to be answered in ISO 8601 (`2021-03-05`), as chat conversations in
/// JSON lines (`{"messages": [user, assistant]}`). `answer: us` asks for `03/05/2021` instead: a
/// related task, for starting one adapter from the other (`train.init_adapter`).
///
/// The splits have no date in common (dates 1950–2049 are dealt out to them), so the test split
/// asks about dates training never showed. Seeded: the same options give the same files.
public enum DateNormalisationData {
    public static let generator = DataGenerator(
        name: "dates",
        summary: "chat JSON lines asking for dates in ISO 8601 (train/validation/test.jsonl), for causal_lm with exact_match",
        options: [
            .integer("count", min: 1, default: 2000, help: "training conversations"),
            .integer("eval_count", min: 1, default: 200, help: "validation and test conversations, each"),
            .integer("seed", min: 0, default: 0, help: "seed"),
            .choice("answer", ["iso", "us"], default: "iso", help: "the answer's form: iso (2021-03-05) or us (03/05/2021)"),
        ]) { directory, options, _ in
        let count = try options.int("count", default: 2000), evalCount = try options.int("eval_count", default: 200)
        let seed = UInt64(try options.int("seed", default: 0))
        let answer = try options.string("answer", default: "iso") == "us" ? Answer.us : .iso
        let splits = try write(to: directory, counts: [("train", count), ("validation", evalCount), ("test", evalCount)], seed: seed,
                               answer: answer)
        return "wrote " + splits.map { "\($0.count) \($0.name) conversations" }.joined(separator: ", ") + " to \(directory.path)"
    }

    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                         "November", "December"]
    /// The form of the answer: ISO 8601, or the US numeric form (a related task, for transfer).
    public enum Answer: Sendable {
        case iso, us

        var requests: [String] {
            switch self {
            case .iso: return ["Write this date as YYYY-MM-DD: %@", "Convert to ISO 8601 (YYYY-MM-DD): %@",
                               "What is %@ in YYYY-MM-DD format? Answer with the date only."]
            case .us: return ["Write this date as MM/DD/YYYY: %@", "Convert to the US numeric form (MM/DD/YYYY): %@",
                              "What is %@ in MM/DD/YYYY format? Answer with the date only."]
            }
        }

        func written(_ d: Day) -> String {
            switch self {
            case .iso: return d.iso
            case .us: return String(format: "%02d/%02d/%04d", d.month, d.day, d.year)
            }
        }
    }

    /// A calendar date.
    public struct Day: Hashable, Sendable {
        public var year: Int, month: Int, day: Int
        public var iso: String { String(format: "%04d-%02d-%02d", year, month, day) }
    }

    /// `day` as people write it, in form `form` (0..<7).
    public static func written(_ d: Day, form: Int) -> String {
        let month = months[d.month - 1], short = String(month.prefix(3))
        switch form {
        case 0: return "\(month) \(d.day), \(d.year)"
        case 1: return "\(d.day) \(month) \(d.year)"
        case 2: return "the \(ordinal(d.day)) of \(month), \(d.year)"
        case 3: return "\(short) \(d.day), \(d.year)"
        case 4: return "\(d.day)-\(short)-\(d.year)"
        case 5: return "\(month) \(ordinal(d.day)), \(d.year)"
        default: return "\(d.year), \(month) \(d.day)"
        }
    }

    static func ordinal(_ n: Int) -> String {
        let suffix = (11...13).contains(n % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][n % 10] ?? "th"
        return "\(n)\(suffix)"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// One conversation about `day`.
    static func conversation(_ d: Day, answer: Answer, generator: inout RandomGenerator) -> [ChatMessage] {
        let form = Int.random(in: 0..<7, using: &generator)
        let requests = answer.requests
        let request = requests[Int.random(in: 0..<requests.count, using: &generator)]
        return [ChatMessage(role: "user", content: String(format: request, written(d, form: form))),
                ChatMessage(role: "assistant", content: answer.written(d))]
    }

    /// Writes `name.jsonl` for each split (atomically) with the given number of conversations.
    @discardableResult
    public static func write(to directory: URL, counts: [(name: String, count: Int)], seed: UInt64,
                             answer: Answer = .iso) throws -> [(name: String, count: Int)] {
        var generator = RandomGenerator(seed: seed)
        var days: [Day] = []
        for year in 1950..<2050 {
            for month in 1...12 { for day in 1...daysIn(month: month, year: year) { days.append(Day(year: year, month: month, day: day)) } }
        }
        days.shuffle(using: &generator)
        let needed = counts.reduce(0) { $0 + $1.count }
        guard needed <= days.count else {
            throw RegistryError.invalidOption(key: "count", reason: "at most \(days.count) conversations in all (one per date), asked for \(needed)")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var start = 0
        for (name, count) in counts {
            var lines = ""
            for d in days[start..<(start + count)] {
                let json = try encoder.encode(["messages": conversation(d, answer: answer, generator: &generator)])
                lines += String(decoding: json, as: UTF8.self) + "\n"
            }
            start += count
            try AtomicFileWriter.write(contentsOf: Array(lines.utf8), to: directory.appendingPathComponent("\(name).jsonl").path)
        }
        return counts
    }
}
