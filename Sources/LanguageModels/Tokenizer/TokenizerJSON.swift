import Foundation

/// Typed access to a parsed `tokenizer.json`, with errors naming the file and the key path
/// (`model.merges[3]`).
struct TokenizerJSON {
    let source: String
    let value: Any?
    let key: String

    /// Reads and parses `url`.
    static func load(_ url: URL) throws -> TokenizerJSON {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BPETokenizerError.unreadableFile(source: url.path, reason: error.localizedDescription)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: TokenizerJSON.escapingByteOrderMarks(data)) } catch {
            throw BPETokenizerError.malformedJSON(source: url.path, reason: error.localizedDescription)
        }
        guard object is [String: Any] else {
            throw BPETokenizerError.malformedJSON(source: url.path, reason: "the top level is not an object")
        }
        return TokenizerJSON(source: url.path, value: object, key: "")
    }

    /// `data` with every U+FEFF written as the escape `\ufeff` (a leading one dropped): Foundation's
    /// JSONSerialization on Linux drops a raw U+FEFF that starts a string value, which would
    /// silently change a token; escaped, it is kept. U+FEFF can only occur inside strings in JSON.
    static func escapingByteOrderMarks(_ data: Data) -> Data {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        var bytes = [UInt8](data)
        if bytes.starts(with: bom) { bytes.removeFirst(3) }
        guard bytes.indices.dropLast(2).contains(where: { bytes[$0] == 0xEF && bytes[$0 + 1] == 0xBB && bytes[$0 + 2] == 0xBF })
        else { return Data(bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        var i = 0
        while i < bytes.count {
            if i + 2 < bytes.count && bytes[i] == 0xEF && bytes[i + 1] == 0xBB && bytes[i + 2] == 0xBF {
                out += Array("\\ufeff".utf8)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return Data(out)
    }

    private func path(_ name: String) -> String { key.isEmpty ? name : "\(key).\(name)" }

    /// The member `name` (absent and null alike give a value of nil).
    subscript(_ name: String) -> TokenizerJSON {
        let member = (value as? [String: Any])?[name]
        return TokenizerJSON(source: source, value: member is NSNull ? nil : member, key: path(name))
    }

    var isNull: Bool { value == nil }

    func invalid(_ reason: String) -> BPETokenizerError {
        .invalidValue(source: source, key: key, reason: reason)
    }

    func unsupported(_ value: String) -> BPETokenizerError {
        .unsupported(source: source, key: key, value: value)
    }

    func string() throws -> String {
        guard let value else { throw BPETokenizerError.missingKey(source: source, key: key) }
        guard let s = value as? String else { throw invalid("expected a string") }
        return s
    }

    func optionalString() throws -> String? { isNull ? nil : try string() }

    func bool(default fallback: Bool) throws -> Bool {
        guard let value else { return fallback }
        guard let flag = value as? Bool else { throw invalid("expected true or false") }
        return flag
    }

    func int() throws -> Int {
        guard let value else { throw BPETokenizerError.missingKey(source: source, key: key) }
        guard let number = value as? NSNumber, let int = Int(exactly: number.doubleValue) else {
            throw invalid("expected an integer")
        }
        return int
    }

    func array() throws -> [TokenizerJSON] {
        guard let value else { throw BPETokenizerError.missingKey(source: source, key: key) }
        guard let items = value as? [Any] else { throw invalid("expected an array") }
        return items.enumerated().map { TokenizerJSON(source: source, value: $1 is NSNull ? nil : $1, key: "\(key)[\($0)]") }
    }

    func object() throws -> [String: Any] {
        guard let value else { throw BPETokenizerError.missingKey(source: source, key: key) }
        guard let object = value as? [String: Any] else { throw invalid("expected an object") }
        return object
    }
}
