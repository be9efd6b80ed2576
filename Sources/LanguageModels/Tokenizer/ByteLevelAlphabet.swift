/// GPT-2's byte ↔ character map: every byte gets a printable character, so that byte-level BPE
/// can treat any UTF-8 text as a string of visible characters.
///
/// Bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` map to themselves (the characters U+0021…U+00FF of those
/// code points); the other 68 bytes (controls, space, U+007F…U+00A0, soft hyphen) map, in byte
/// order, to U+0100, U+0101, …: the space becomes `Ġ` (U+0120), the newline `Ċ` (U+010A).
/// (OpenAI's `bytes_to_unicode`, `tokenizers`' `bytes_char`.)
enum ByteLevelAlphabet {
    /// The character of each byte.
    static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte of each character of the alphabet, by code point (nil outside the alphabet).
    static let bytes: [UInt8?] = {
        var table = [UInt8?](repeating: nil, count: 0x144)
        for (byte, scalar) in scalars.enumerated() { table[Int(scalar.value)] = UInt8(byte) }
        return table
    }()

    /// The byte that `scalar` stands for, or nil when it is not in the alphabet.
    @inline(__always)
    static func byte(of scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        return v < bytes.count ? bytes[v] : nil
    }

    /// `text`'s UTF-8 bytes spelled in the alphabet (`"a b"` → `"aĠb"`).
    static func spell<S: Sequence>(_ utf8: S) -> String where S.Element == UInt8 {
        var result = String.UnicodeScalarView()
        for byte in utf8 { result.append(scalars[Int(byte)]) }
        return String(result)
    }

    /// The bytes that `token` stands for when every character is in the alphabet, nil otherwise.
    static func bytes(of token: String) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let b = byte(of: scalar) else { return nil }
            result.append(b)
        }
        return result
    }
}
