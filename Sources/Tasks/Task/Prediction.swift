import Foundation

/// A JSON value, for what `predict` prints and `eval` reports: typed, so a task cannot hand the
/// printer something JSON cannot hold.
public enum JSONValue: Equatable, Sendable, Encodable {
    case string(String)
    case number(Double)
    case integer(Int)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .string(v): try c.encode(v)
        case let .number(v): if v.isFinite { try c.encode(v) } else { try c.encodeNil() }    // JSON has no NaN
        case let .integer(v): try c.encode(v)
        case let .bool(v): try c.encode(v)
        case let .array(v): try c.encode(v)
        case let .object(v): try c.encode(v)
        case .null: try c.encodeNil()
        }
    }

    /// One line of JSON, keys sorted.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

extension JSONValue: Decodable {
    /// Any JSON value (integers that fit `Int` stay integers).
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int.self) { self = .integer(v) }
        else if let v = try? c.decode(Double.self) { self = .number(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }
}

/// What `predict` gives for one input: the fields of its JSON object and a line for people.
public struct Prediction: Sendable {
    /// The input as the user gave it (a path, a text).
    public var input: String
    /// The JSON object `predict --json` prints (the runner adds `input`).
    public var fields: [String: JSONValue]
    /// A line for people: `photo.png: grade 2 (p = 0.81)`.
    public var summary: String

    public init(input: String, fields: [String: JSONValue], summary: String) {
        self.input = input
        self.fields = fields
        self.summary = summary
    }

    /// The JSON object, with `input`.
    public var json: JSONValue {
        var object = fields
        object["input"] = .string(input)
        return .object(object)
    }
}
