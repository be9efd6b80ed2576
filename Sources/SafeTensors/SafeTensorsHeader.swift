import Foundation

/// The parsed and fully validated JSON header of a safetensors file.
///
/// Validation follows the reference implementation: every entry has a known `dtype`, a shape of
/// non-negative integers and `data_offsets` `[begin, end]` inside the data buffer with
/// `end - begin == product(shape) × dtype size`; sorted by offset, the tensors tile the data
/// buffer exactly (no overlap, no gap, nothing after the last one). Duplicate names, which JSON
/// parsers silently collapse, are found by scanning the header's top-level keys.
struct SafeTensorsHeader {
    static let metadataKey = "__metadata__"

    var entries: [String: TensorInfo]
    var metadata: [String: String]

    /// Parses `json` (the header bytes, possibly padded with spaces).
    /// - Parameters:
    ///   - dataByteCount: size of the data buffer that follows the header.
    ///   - path: the file, for error messages.
    static func parse(_ json: UnsafeRawBufferPointer, dataByteCount: Int, path: String) throws -> SafeTensorsHeader {
        guard String(validating: json, as: UTF8.self) != nil else {
            throw SafeTensorsError.invalidJSON(path: path, reason: "header is not valid UTF-8")
        }
        let object: Any
        do {
            let data = json.count == 0 ? Data() :
                Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: json.baseAddress!), count: json.count,
                     deallocator: .none)
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            let nsError = error as NSError
            let reason = nsError.userInfo[NSDebugDescriptionErrorKey] as? String ?? nsError.localizedDescription
            throw SafeTensorsError.invalidJSON(path: path, reason: reason)
        }
        guard let root = object as? [String: Any] else { throw SafeTensorsError.headerNotAnObject(path: path) }

        if let keys = topLevelKeys(json), keys.count != root.count {
            var seen = Set<String>()
            for key in keys where !seen.insert(key).inserted {
                throw SafeTensorsError.duplicateName(path: path, name: key)
            }
        }

        var metadata: [String: String] = [:]
        if let value = root[metadataKey], !(value is NSNull) {
            guard let map = value as? [String: Any] else {
                throw SafeTensorsError.invalidMetadata(path: path, key: nil, reason: "is not a JSON object")
            }
            for key in map.keys.sorted() {
                guard let string = map[key] as? String else {
                    throw SafeTensorsError.invalidMetadata(path: path, key: key, reason: "value is not a string")
                }
                metadata[key] = string
            }
        }

        var entries: [String: TensorInfo] = [:]
        for name in root.keys.sorted() where name != metadataKey {
            entries[name] = try parseEntry(name: name, root[name]!, dataByteCount: dataByteCount, path: path)
        }
        try checkCoverage(entries.values, dataByteCount: dataByteCount, path: path)
        return SafeTensorsHeader(entries: entries, metadata: metadata)
    }

    /// Validates one tensor's entry on its own.
    private static func parseEntry(name: String, _ value: Any, dataByteCount: Int, path: String) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw SafeTensorsError.entryNotAnObject(path: path, tensor: name)
        }
        func field(_ key: String) throws -> Any {
            guard let v = entry[key] else { throw SafeTensorsError.missingField(path: path, tensor: name, field: key) }
            return v
        }
        let dtypeValue = try field("dtype"), shapeValue = try field("shape"), offsetsValue = try field("data_offsets")

        guard let dtypeName = dtypeValue as? String else {
            throw SafeTensorsError.invalidField(path: path, tensor: name, field: "dtype", reason: "is not a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(path: path, tensor: name, dtype: dtypeName)
        }

        guard let shapeArray = shapeValue as? [Any] else {
            throw SafeTensorsError.invalidField(path: path, tensor: name, field: "shape", reason: "is not an array")
        }
        var shape: [Int] = []
        for element in shapeArray {
            guard let dim = jsonInteger(element) else {
                throw SafeTensorsError.invalidField(path: path, tensor: name, field: "shape",
                                                    reason: "holds \(element), not an integer in range")
            }
            shape.append(dim)
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw SafeTensorsError.negativeDimension(path: path, tensor: name, shape: shape)
        }

        guard let offsets = offsetsValue as? [Any], offsets.count == 2,
              let begin = jsonInteger(offsets[0]), let end = jsonInteger(offsets[1]), begin >= 0, end >= 0 else {
            throw SafeTensorsError.invalidField(path: path, tensor: name, field: "data_offsets",
                                                reason: "is not [begin, end] with two non-negative integers")
        }
        guard begin <= end else {
            throw SafeTensorsError.invertedOffsets(path: path, tensor: name, begin: begin, end: end)
        }
        guard end <= dataByteCount else {
            throw SafeTensorsError.offsetsOutOfBounds(path: path, tensor: name, begin: begin, end: end,
                                                      dataByteCount: dataByteCount)
        }
        let expected = byteCount(shape: shape, dtype: dtype)
        guard expected == end - begin else {
            throw SafeTensorsError.sizeMismatch(path: path, tensor: name, dtype: dtypeName, shape: shape,
                                                expectedByteCount: expected, actualByteCount: end - begin)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    /// `product(shape) × dtype size`, or nil when it overflows `Int`. A zero dimension makes the
    /// product zero whatever the others are.
    static func byteCount(shape: [Int], dtype: SafeTensorsDType) -> Int? {
        if shape.contains(0) { return 0 }
        var total = dtype.byteSize
        for dim in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Checks that the tensors, sorted by offset, tile `0..<dataByteCount` exactly.
    private static func checkCoverage(_ infos: some Collection<TensorInfo>, dataByteCount: Int, path: String) throws {
        let sorted = infos.sorted {
            ($0.dataRange.lowerBound, $0.dataRange.upperBound, $0.name) <
                ($1.dataRange.lowerBound, $1.dataRange.upperBound, $1.name)
        }
        var covered = 0
        var previous: String?
        for info in sorted {
            if info.dataRange.lowerBound < covered, let previous {
                throw SafeTensorsError.overlappingTensors(path: path, first: previous, second: info.name)
            }
            if info.dataRange.lowerBound > covered {
                throw SafeTensorsError.uncoveredData(path: path, begin: covered, end: info.dataRange.lowerBound)
            }
            covered = info.dataRange.upperBound
            previous = info.name
        }
        if covered != dataByteCount {
            throw SafeTensorsError.uncoveredData(path: path, begin: covered, end: dataByteCount)
        }
    }

    /// A JSON integer that fits in `Int`; nil for booleans, fractions, floats written with a
    /// point or exponent, and values out of range.
    private static func jsonInteger(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !(number is NSDecimalNumber) else { return nil }
        switch String(cString: number.objCType) {
        case "c", "C", "f", "d": return nil  // "c" is how Foundation types a JSON boolean
        case "Q", "L", "I", "S":
            let u = number.uint64Value
            return u <= UInt64(Int.max) ? Int(u) : nil
        default: return number.int64Value <= Int64(Int.max) ? Int(number.int64Value) : nil
        }
    }

    /// The keys of the top-level object in document order, duplicates included (nil if the
    /// text is not shaped as expected; it has already been parsed as valid JSON).
    static func topLevelKeys(_ json: UnsafeRawBufferPointer) -> [String]? {
        var keys: [String] = []
        var depth = 0
        var expectKey = false
        var i = 0
        let n = json.count
        while i < n {
            let c = json[i]
            switch c {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < n && json[i] != UInt8(ascii: "\"") {
                    i += json[i] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard i < n else { return nil }
                if depth == 1 && expectKey {
                    let literal = Data(json[start...i])
                    guard let key = try? JSONSerialization.jsonObject(with: literal, options: [.fragmentsAllowed])
                            as? String else { return nil }
                    keys.append(key)
                    expectKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth == 1 { expectKey = c == UInt8(ascii: "{") }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectKey = true }
            default:
                break
            }
            i += 1
        }
        return keys
    }
}
