import Foundation

/// Reading the files a tokenizer comes in, with errors that name the file.
enum TokenizerFiles {
    static func read(_ url: URL) throws -> Data {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw TokenizerError.fileNotFound(path: path)
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
        }
    }

    /// The tokens of a `vocab.txt`, one a line, the line number (from 0) being the id.
    ///
    /// Lines end at `\n`; a `\r` before it is dropped; a final `\n` does not start another
    /// token. An empty line is the empty token, as in Hugging Face's `load_vocab`.
    static func vocabularyLines(_ url: URL) throws -> [String] {
        let data = try read(url)
        var tokens: [String] = []
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            let bytes = buffer.bindMemory(to: UInt8.self)
            var lineStart = 0
            var index = 0
            func addLine(_ end: Int) throws {
                var stop = end
                if stop > lineStart && bytes[stop - 1] == 0x0D { stop -= 1 }
                guard let token = String(validating: bytes[lineStart..<stop], as: UTF8.self) else {
                    throw TokenizerError.invalidUTF8(path: url.path, line: tokens.count + 1)
                }
                tokens.append(token)
            }
            while index < bytes.count {
                if bytes[index] == 0x0A {
                    try addLine(index)
                    lineStart = index + 1
                }
                index += 1
            }
            if lineStart < bytes.count { try addLine(bytes.count) }
        }
        if tokens.isEmpty { throw TokenizerError.invalidVocabulary(path: url.path, reason: "the file has no tokens") }
        return tokens
    }

    /// The top-level object of a JSON file.
    static func jsonObject(_ url: URL) throws -> JSONObject {
        let data = try read(url)
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw TokenizerError.malformedJSON(path: url.path, reason: Self.reason(error))
        }
        guard let object = value as? [String: Any] else {
            throw TokenizerError.malformedJSON(path: url.path, reason: "the top level is not an object")
        }
        return JSONObject(path: url.path, keyPath: "", storage: object)
    }

    private static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        return error.localizedDescription
    }
}

/// A JSON object read from `path`, with typed accessors that throw `TokenizerError.invalidField`
/// naming the key's full path.
struct JSONObject {
    let path: String
    let keyPath: String
    let storage: [String: Any]

    func fullKey(_ key: String) -> String { keyPath.isEmpty ? key : keyPath + "." + key }

    /// The value at `key`, or `nil` when it is absent or `null`.
    func value(_ key: String) -> Any? {
        guard let value = storage[key], !(value is NSNull) else { return nil }
        return value
    }

    func typed<T>(_ key: String, _ type: T.Type, _ description: String) throws -> T? {
        guard let value = value(key) else { return nil }
        guard let typed = value as? T else {
            throw TokenizerError.invalidField(path: path, key: fullKey(key), reason: "expected \(description)")
        }
        return typed
    }

    func object(_ key: String) throws -> JSONObject? {
        try typed(key, [String: Any].self, "an object").map {
            JSONObject(path: path, keyPath: fullKey(key), storage: $0)
        }
    }

    func string(_ key: String) throws -> String? { try typed(key, String.self, "a string") }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        if let number = value as? NSNumber, !(value is String) { return number.boolValue }
        throw TokenizerError.invalidField(path: path, key: fullKey(key), reason: "expected true or false")
    }

    func int(_ key: String) throws -> Int? {
        guard let value = value(key) else { return nil }
        if let number = value as? NSNumber, !(value is String) {
            let double = number.doubleValue
            if double == double.rounded() && abs(double) < 9e15 { return number.intValue }
        }
        throw TokenizerError.invalidField(path: path, key: fullKey(key), reason: "expected an integer")
    }

    func array(_ key: String) throws -> [Any]? { try typed(key, [Any].self, "an array") }

    func required<T>(_ value: T?, _ key: String) throws -> T {
        guard let value else {
            throw TokenizerError.invalidField(path: path, key: fullKey(key), reason: "missing")
        }
        return value
    }

    /// A token spelled either as a string or, as older `tokenizer_config.json` files do, as an
    /// object with a `content` string.
    func tokenSpelling(_ key: String) throws -> String? {
        if let object = try? object(key), let content = try object.string("content") { return content }
        return try string(key)
    }
}
