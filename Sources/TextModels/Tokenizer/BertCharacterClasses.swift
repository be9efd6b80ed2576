/// The character classes of Hugging Face's BERT normalizer and pre-tokenizer.
///
/// Hugging Face's `tokenizers` (the library behind `tokenizer.json` and `BertTokenizerFast`)
/// classifies code points with the `unicode_categories` crate, whose tables are those of
/// Unicode 8.0, while Swift's are current. To tokenize exactly as the reference does, a
/// category test here counts only scalars assigned by Unicode 8.0 (`properties.age`), and the
/// few scalars whose category changed since then are listed by hand. Checked against
/// `tokenizers` 0.23 on every code point: control characters, punctuation and nonspacing marks
/// agree everywhere. Lower-casing (Rust's `char::to_lowercase`) agrees with
/// `properties.lowercaseMapping` on every code point.
///
/// Everything works on Unicode scalars, never on `Character`s: the reference splits and counts
/// code points, so a flag emoji or a letter with a combining accent is several of them.
enum BertCharacterClasses {
    /// Whether `scalar` was assigned by Unicode 8.0, the version of the reference's tables.
    @inline(__always)
    static func isInReferenceTables(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major < 8 || (age.major == 8 && age.minor == 0)
    }

    /// A character that `clean_text` removes: NUL, U+FFFD, and every control, format, private-use
    /// or surrogate scalar (general categories Cc, Cf, Co, Cs) except tab, newline and carriage
    /// return. Unassigned scalars (Cn) are kept, as the reference keeps them.
    @inline(__always)
    static func isRemovedByCleaning(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F
        }
        if value == 0xFFFD { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate:
            return isInReferenceTables(scalar)
        default:
            return false
        }
    }

    /// Whitespace in the Unicode sense (the `White_Space` property, as Rust's
    /// `char::is_whitespace`); tab, newline and carriage return are included.
    @inline(__always)
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return value == 0x20 || (value >= 0x09 && value <= 0x0D)
        }
        return scalar.properties.isWhitespace
    }

    /// Punctuation as BERT splits it: every ASCII non-alphanumeric printable character
    /// (33–47, 58–64, 91–96, 123–126, which includes symbols such as `$`, `+` and `^`), and any
    /// scalar of a Unicode punctuation category (Pc, Pd, Ps, Pe, Pi, Pf, Po).
    @inline(__always)
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x80 {
            return (value >= 33 && value <= 47) || (value >= 58 && value <= 64)
                || (value >= 91 && value <= 96) || (value >= 123 && value <= 126)
        }
        switch value {
        case 0x166D, 0x111C9: return true  // Po in Unicode 8.0 (now So and Mn)
        default: break
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return isInReferenceTables(scalar)
        default:
            return false
        }
    }

    /// A nonspacing mark (Mn), which accent stripping drops after canonical decomposition.
    @inline(__always)
    static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x1734, 0x1171E: return true  // Mn in Unicode 8.0 (now Mc)
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false  // not Mn in Unicode 8.0
        default: break
        }
        return scalar.properties.generalCategory == .nonspacingMark && isInReferenceTables(scalar)
    }

    /// A CJK ideograph, which the normalizer surrounds with spaces so that each becomes a word.
    ///
    /// The blocks are those of the original BERT (unified ideographs and extensions A–F,
    /// compatibility ideographs and their supplement). Hangul, kana and CJK punctuation are not
    /// in them. The range for extensions E/F starts at U+2B920 rather than U+2B820, as it does in
    /// `tokenizers` (the Python `BertTokenizer` starts it at U+2B820; the two disagree on
    /// U+2B820–U+2B91F, and this follows `tokenizer.json`'s implementation).
    @inline(__always)
    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x3400 { return false }
        return (0x4E00...0x9FFF).contains(value)
            || (0x3400...0x4DBF).contains(value)
            || (0x20000...0x2A6DF).contains(value)
            || (0x2A700...0x2B73F).contains(value)
            || (0x2B740...0x2B81F).contains(value)
            || (0x2B920...0x2CEAF).contains(value)
            || (0xF900...0xFAFF).contains(value)
            || (0x2F800...0x2FA1F).contains(value)
    }
}
