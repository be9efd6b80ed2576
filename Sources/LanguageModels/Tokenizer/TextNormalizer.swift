import Foundation

/// A `tokenizer.json` normaliser that byte-level BPE tokenizers use: Unicode normalisation forms,
/// alone or in a sequence (`tokenizers`' `NFC`, `NFD`, `NFKC`, `NFKD`, `Sequence`).
enum TextNormalizer: Sendable, Equatable {
    case nfc, nfd, nfkc, nfkd
    indirect case sequence([TextNormalizer])

    func callAsFunction(_ text: String) -> String {
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case let .sequence(steps): return steps.reduce(text) { $1($0) }
        }
    }
}
