import Foundation

/// Turns the raw labels of a classification file into class indices and class names, by the
/// same rules for every modality (text CSV/JSONL files, image CSV lists).
///
/// The classes are, in order:
/// - the explicit `classNames` when given (the recipe's `model.class_names`, or the training
///   split's classes for a validation split): a name label must be one of them, an integer
///   label must lie in `0 ..< classNames.count`. This is how a validation file gets the same
///   indices as its training file even when it lacks a class;
/// - otherwise, for names, the distinct names sorted by Unicode scalar values, and for integers
///   `"0"`, `"1"`, … up to the largest label.
///
/// Names are trimmed of surrounding white space. See `ClassLabelFormat` for how names and
/// integers are told apart.
public struct ClassLabelResolver: Sendable {
    /// The file the labels come from, named in errors.
    public var path: String
    public var format: ClassLabelFormat
    public var classNames: [String]?

    /// - Parameters:
    ///   - path: the file, named in errors.
    ///   - format: how labels are read.
    ///   - classNames: the classes in index order; nil derives them from the labels.
    /// - Throws: `ClassLabelError.invalidClassNames` when `classNames` is empty, holds an
    ///   empty name or repeats one.
    public init(path: String, format: ClassLabelFormat, classNames: [String]?) throws(ClassLabelError) {
        if let classNames { try Self.validate(classNames: classNames) }
        self.path = path
        self.format = format
        self.classNames = classNames
    }

    /// The class index of every label, in order, and the class names.
    /// - Precondition: `labels` is not empty (a file without records is the caller's error).
    /// - Throws: `ClassLabelError` naming the file and the line of the first bad label.
    public func resolve(_ labels: [RawClassLabel]) throws(ClassLabelError) -> (labels: [Int], classNames: [String]) {
        precondition(!labels.isEmpty, "resolve needs at least one label")
        switch try kind(of: labels) {
        case .integers: return try integers(labels)
        case .names: return try names(labels)
        case .automatic: preconditionFailure("kind(of:) decides between names and integers")
        }
    }

    /// Checks explicit class names: at least one, none empty, none repeated.
    public static func validate(classNames: [String]) throws(ClassLabelError) {
        guard !classNames.isEmpty else { throw ClassLabelError.invalidClassNames(reason: "the list is empty") }
        var seen = Set<String>()
        for name in classNames {
            guard !name.isEmpty else { throw ClassLabelError.invalidClassNames(reason: "a name is empty") }
            guard seen.insert(name).inserted else {
                throw ClassLabelError.invalidClassNames(reason: "'\(name)' appears more than once")
            }
        }
    }

    /// A label field read as a class index: optional white space around an optional sign and
    /// decimal digits.
    public static func wholeNumber(_ text: String) -> Int? {
        Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: - Rules

    /// Names or integers, as asked or as the labels show.
    private func kind(of labels: [RawClassLabel]) throws(ClassLabelError) -> ClassLabelFormat {
        guard format == .automatic else { return format }
        // JSON numbers and strings must not be mixed; CSV fields are all text, and are integers
        // when every one is a whole number.
        let first = labels[0]
        for label in labels.dropFirst() {
            switch (first.value, label.value) {
            case (.integer, .text(let name)):
                throw ClassLabelError.invalidLabel(path: path, line: label.line, value: name,
                    reason: "a string, while line \(first.line) has a number; use one kind, or choose labels: .names")
            case (.text, .integer(let value)):
                throw ClassLabelError.invalidLabel(path: path, line: label.line, value: String(value),
                    reason: "a number, while line \(first.line) has a string; use one kind, or choose labels: .names")
            default: continue
            }
        }
        if case .integer = first.value { return .integers }
        // Explicit names that every label matches win over digits ("1", "2", "5" star ratings).
        if let classNames {
            let known = Set(classNames)
            let allNames = labels.allSatisfy { label in
                if case .text(let name) = label.value { return known.contains(name.trimmingCharacters(in: .whitespacesAndNewlines)) }
                return false
            }
            if allNames { return .names }
        }
        let allIntegers = labels.allSatisfy { label in
            if case .text(let name) = label.value { return Self.wholeNumber(name) != nil }
            return false
        }
        return allIntegers ? .integers : .names
    }

    private func integers(_ raw: [RawClassLabel]) throws(ClassLabelError) -> (labels: [Int], classNames: [String]) {
        var labels: [Int] = []
        labels.reserveCapacity(raw.count)
        for label in raw {
            let value: Int
            switch label.value {
            case .integer(let number): value = number
            case .text(let text):
                guard let number = Self.wholeNumber(text) else {
                    throw ClassLabelError.invalidLabel(path: path, line: label.line, value: text,
                                                       reason: "not a class index (a whole number from 0)")
                }
                value = number
            }
            if let classNames, value < 0 || value >= classNames.count {
                throw ClassLabelError.labelOutOfRange(path: path, line: label.line, label: value, classCount: classNames.count)
            }
            guard value >= 0 else {
                throw ClassLabelError.invalidLabel(path: path, line: label.line, value: String(value),
                                                   reason: "a class index cannot be negative")
            }
            labels.append(value)
        }
        return (labels, classNames ?? (0...labels.max()!).map(String.init))
    }

    private func names(_ raw: [RawClassLabel]) throws(ClassLabelError) -> (labels: [Int], classNames: [String]) {
        var trimmed: [String] = []
        trimmed.reserveCapacity(raw.count)
        for label in raw {
            let name: String
            switch label.value {
            case .integer(let value): name = String(value)
            case .text(let text): name = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard !name.isEmpty else {
                throw ClassLabelError.invalidLabel(path: path, line: label.line, value: name, reason: "the label is empty")
            }
            trimmed.append(name)
        }
        let names = classNames ?? Set(trimmed).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var labels: [Int] = []
        labels.reserveCapacity(raw.count)
        for (label, name) in zip(raw, trimmed) {
            guard let value = index[name] else {
                throw ClassLabelError.unknownLabel(path: path, line: label.line, label: name, classNames: names)
            }
            labels.append(value)
        }
        return (labels, names)
    }
}
