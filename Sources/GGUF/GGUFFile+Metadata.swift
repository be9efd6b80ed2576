/// Typed reading of metadata, with errors that name the file and the key.
///
/// Each accessor throws `GGUFError.missingKey` when the key is absent and `.wrongType` when its
/// value has another type; use `contains(key:)` first for optional keys:
///
///     let heads = try gguf.int("llama.attention.head_count")
///     let addBOS = gguf.contains(key: "tokenizer.ggml.add_bos_token") ? try gguf.bool("tokenizer.ggml.add_bos_token") : false
extension GGUFFile {
    /// Whether the metadata has `key`.
    public func contains(key: String) -> Bool { metadata[key] != nil }

    /// The value of `key` as stored.
    /// - Throws: `GGUFError.missingKey`.
    public func value(_ key: String) throws -> GGUFValue {
        guard let value = metadata[key] else { throw GGUFError.missingKey(path: path, key: key) }
        return value
    }

    /// A `STRING`.
    public func string(_ key: String) throws -> String {
        try typed(key, "STRING") { $0.stringValue }
    }

    /// Any integer type (`UINT8` … `INT64`) whose value fits in `Int`.
    public func int(_ key: String) throws -> Int {
        try typed(key, "an integer that fits in Int") { $0.intValue }
    }

    /// A `FLOAT32` (converted exactly) or a `FLOAT64`.
    public func float(_ key: String) throws -> Double {
        try typed(key, "FLOAT32 or FLOAT64") { $0.doubleValue }
    }

    /// A `BOOL`.
    public func bool(_ key: String) throws -> Bool {
        try typed(key, "BOOL") { $0.boolValue }
    }

    /// An `ARRAY` of `STRING`.
    public func strings(_ key: String) throws -> [String] {
        try array(key, "ARRAY[STRING]", of: [.string]) { $0.stringValue }
    }

    /// An `ARRAY` of any integer type, every element fitting in `Int`.
    public func ints(_ key: String) throws -> [Int] {
        try array(key, "ARRAY of integers that fit in Int",
                  of: [.uint8, .int8, .uint16, .int16, .uint32, .int32, .uint64, .int64]) { $0.intValue }
    }

    /// An `ARRAY` of `FLOAT32` (converted exactly) or `FLOAT64`.
    public func floats(_ key: String) throws -> [Double] {
        try array(key, "ARRAY[FLOAT32] or ARRAY[FLOAT64]", of: [.float32, .float64]) { $0.doubleValue }
    }

    // MARK: - Helpers

    private func typed<T>(_ key: String, _ expected: String, _ read: (GGUFValue) -> T?) throws -> T {
        let value = try value(key)
        guard let result = read(value) else {
            throw GGUFError.wrongType(path: path, key: key, expected: expected, found: describe(value))
        }
        return result
    }

    private func array<T>(_ key: String, _ expected: String, of types: Set<GGUFValueType>,
                          _ read: (GGUFValue) -> T?) throws -> [T] {
        let value = try value(key)
        guard case let .array(elementType, elements) = value, types.contains(elementType) else {
            throw GGUFError.wrongType(path: path, key: key, expected: expected, found: describe(value))
        }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            guard let item = read(element) else {
                throw GGUFError.wrongType(path: path, key: key, expected: expected,
                                          found: "\(value.typeName) with element \(i) = \(describe(element))")
            }
            result.append(item)
        }
        return result
    }

    /// The type, and the value when it is short (a number that did not fit says which).
    private func describe(_ value: GGUFValue) -> String {
        switch value {
        case .array(_, let elements): return "\(value.typeName) of \(elements.count) elements"
        case .string(let s): return s.count <= 40 ? "STRING \"\(s)\"" : "STRING of \(s.utf8.count) bytes"
        case .uint64(let v): return "UINT64 \(v)"
        case .int64(let v): return "INT64 \(v)"
        case .bool(let v): return "BOOL \(v)"
        default: return value.typeName
        }
    }
}
