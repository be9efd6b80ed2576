import Foundation

/// One JSON value of a JSON Lines record, decoded without Foundation's `NSNumber`, so that
/// `true`, `1` and `1.5` stay apart.
enum JSONLineValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONLineValue])
    case object([String: JSONLineValue])

    init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var values: [JSONLineValue] = []
            while !array.isAtEnd { values.append(try array.decode(JSONLineValue.self)) }
            self = .array(values)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var values: [String: JSONLineValue] = [:]
            for key in object.allKeys { values[key.stringValue] = try object.decode(JSONLineValue.self, forKey: key) }
            self = .object(values)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? single.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? single.decode(Double.self) {
            self = .number(value)
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    /// Why a line is not JSON, in a short sentence.
    struct ParseFailure: Error {
        var reason: String
    }

    /// Parses one line.
    static func parse(_ bytes: ArraySlice<UInt8>) -> Result<JSONLineValue, ParseFailure> {
        do {
            return .success(try JSONDecoder().decode(JSONLineValue.self, from: Data(bytes)))
        } catch DecodingError.dataCorrupted {
            // JSONDecoder only says "not valid JSON"; JSONSerialization says where.
            do {
                _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            } catch {
                if let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String {
                    return .failure(ParseFailure(reason: detail))
                }
            }
            return .failure(ParseFailure(reason: "the line is not valid JSON"))
        } catch {
            return .failure(ParseFailure(reason: String(describing: error)))
        }
    }

    /// How the value reads in an error message.
    var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return String(value)
        case .integer(let value): return String(value)
        case .number(let value): return String(value)
        case .string(let value): return value
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The JSON type's name, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
