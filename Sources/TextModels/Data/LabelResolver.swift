import Foundation

/// Turns the raw labels of a file into class indices and class names (see
/// `TextClassificationFile` for the rules).
struct LabelResolver {
    var path: String
    var format: TextLabelFormat
    var classNames: [String]?

    func resolve(_ records: [TextClassificationFile.RawRecord]) throws -> (labels: [Int], classNames: [String]) {
        switch try kind(of: records) {
        case .integers: return try integers(records)
        case .names: return try names(records)
        case .automatic: preconditionFailure("kind(of:) decides between names and integers")
        }
    }

    /// Names or integers, as asked or as the labels show.
    private func kind(of records: [TextClassificationFile.RawRecord]) throws -> TextLabelFormat {
        guard format == .automatic else { return format }
        // JSON numbers and strings must not be mixed; CSV fields are all text, and are integers
        // when every one is a whole number.
        let first = records[0]
        for record in records.dropFirst() {
            switch (first.label, record.label) {
            case (.integer, .text(let name)):
                throw TextDataError.invalidLabel(path: path, line: record.line, value: name,
                    reason: "a string, while line \(first.line) has a number; use one kind, or choose labels: .names")
            case (.text, .integer(let value)):
                throw TextDataError.invalidLabel(path: path, line: record.line, value: String(value),
                    reason: "a number, while line \(first.line) has a string; use one kind, or choose labels: .names")
            default: continue
            }
        }
        if case .integer = first.label { return .integers }
        // Explicit names that every label matches win over digits ("1", "2", "5" star ratings).
        if let classNames {
            let known = Set(classNames)
            let allNames = records.allSatisfy { record in
                if case .text(let name) = record.label { return known.contains(name.trimmingCharacters(in: .whitespacesAndNewlines)) }
                return false
            }
            if allNames { return .names }
        }
        let allIntegers = records.allSatisfy { record in
            if case .text(let name) = record.label { return Self.wholeNumber(name) != nil }
            return false
        }
        return allIntegers ? .integers : .names
    }

    private func integers(_ records: [TextClassificationFile.RawRecord]) throws -> (labels: [Int], classNames: [String]) {
        var labels: [Int] = []
        labels.reserveCapacity(records.count)
        for record in records {
            let value: Int
            switch record.label {
            case .integer(let number): value = number
            case .text(let text):
                guard let number = Self.wholeNumber(text) else {
                    throw TextDataError.invalidLabel(path: path, line: record.line, value: text,
                                                     reason: "not a class index (a whole number from 0)")
                }
                value = number
            }
            if let classNames, value < 0 || value >= classNames.count {
                throw TextDataError.labelOutOfRange(path: path, line: record.line, label: value, classCount: classNames.count)
            }
            guard value >= 0 else {
                throw TextDataError.invalidLabel(path: path, line: record.line, value: String(value),
                                                 reason: "a class index cannot be negative")
            }
            labels.append(value)
        }
        return (labels, classNames ?? (0...labels.max()!).map(String.init))
    }

    private func names(_ records: [TextClassificationFile.RawRecord]) throws -> (labels: [Int], classNames: [String]) {
        var raw: [String] = []
        raw.reserveCapacity(records.count)
        for record in records {
            let name: String
            switch record.label {
            case .integer(let value): name = String(value)
            case .text(let text): name = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard !name.isEmpty else {
                throw TextDataError.invalidLabel(path: path, line: record.line, value: name, reason: "the label is empty")
            }
            raw.append(name)
        }
        let names = classNames ?? Set(raw).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var labels: [Int] = []
        labels.reserveCapacity(records.count)
        for (record, name) in zip(records, raw) {
            guard let label = index[name] else {
                throw TextDataError.unknownLabel(path: path, line: record.line, label: name, classNames: names)
            }
            labels.append(label)
        }
        return (labels, names)
    }

    /// A label field read as a class index: optional white space around an optional sign and
    /// decimal digits.
    static func wholeNumber(_ text: String) -> Int? {
        Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
