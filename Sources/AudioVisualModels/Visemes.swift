import AudioModels
import Foundation

/// The 15 visemes of MPEG-4 Facial Animation (ISO/IEC 14496-2, table C-5): mouth shapes that
/// groups of phonemes share. `rest` is MPEG-4's viseme 0 (none), used for pauses.
public enum Viseme: Int, CaseIterable, Codable, Sendable {
    case rest = 0, pbm, fv, th, td, kg, chsh, sz, nl, r, aa, e, ih, oh, ou

    /// The mouth shape the viseme aims at.
    public var target: MouthShape {
        switch self {
        case .rest: return MouthShape(open: 0.05, spread: 0, round: 0)
        case .pbm: return MouthShape(open: 0, spread: 0, round: 0.1)
        case .fv: return MouthShape(open: 0.08, spread: 0.1, round: 0)
        case .th: return MouthShape(open: 0.25, spread: 0.1, round: 0)
        case .td: return MouthShape(open: 0.25, spread: 0.15, round: 0)
        case .kg: return MouthShape(open: 0.35, spread: 0.1, round: 0)
        case .chsh: return MouthShape(open: 0.25, spread: -0.2, round: 0.6)
        case .sz: return MouthShape(open: 0.12, spread: 0.35, round: 0)
        case .nl: return MouthShape(open: 0.3, spread: 0.1, round: 0)
        case .r: return MouthShape(open: 0.25, spread: -0.2, round: 0.5)
        case .aa: return MouthShape(open: 1, spread: 0.1, round: 0)
        case .e: return MouthShape(open: 0.55, spread: 0.35, round: 0)
        case .ih: return MouthShape(open: 0.3, spread: 0.55, round: 0)
        case .oh: return MouthShape(open: 0.7, spread: -0.3, round: 0.6)
        case .ou: return MouthShape(open: 0.3, spread: -0.5, round: 1)
        }
    }

    /// How strongly the viseme holds its shape against its neighbours (Cohen & Massaro's
    /// dominance magnitude): lip closures and lip-teeth contacts must be reached, while the lips
    /// hardly take part in t, d, k, g, n, l, h and follow the vowels around them.
    public var dominance: Double {
        switch self {
        case .pbm: return 6
        case .fv: return 3
        case .ou, .chsh: return 1.2
        case .oh, .aa, .e, .ih: return 0.8
        case .r, .sz, .th: return 0.6
        case .rest: return 0.5
        case .td, .kg, .nl: return 0.15
        }
    }

    /// The visemes of one eSpeak NG English phoneme (its ASCII name): one, or two for
    /// diphthongs, whose span is split in halves (`aI` → aa then ih).
    ///
    /// | eSpeak NG phonemes | viseme |
    /// |---|---|
    /// | `_` `_:` `_!` `;` (pauses) | rest |
    /// | p b m | pbm |
    /// | f v | fv |
    /// | T D | th |
    /// | t t2 t# t[ d d2 | td |
    /// | k g N h x | kg |
    /// | tS dZ S Z | chsh |
    /// | s z | sz |
    /// | n l @L | nl |
    /// | r r- | r |
    /// | a a# aa A: A@ V VR | aa |
    /// | e E e@ 3 3: @ @2 @5 | e |
    /// | i i: I I# I2 IR j | ih |
    /// | 0 O: O2 O@ o@ | oh |
    /// | u: U w w# | ou |
    /// | aI aI2 (aa, ih) · aU (aa, ou) · eI (e, ih) · oU (oh, ou) · OI (oh, ih) · i@ i@3 (ih, e) · U@ (ou, e) | two |
    ///
    /// Anything else maps by its first letter's vowel or consonant class (unknown: e).
    public static func of(phone: String) -> [Viseme] {
        if phone.hasPrefix("_") || phone == ";" || phone.isEmpty { return [.rest] }
        switch phone {
        case "aI", "aI2", "aI@": return [.aa, .ih]
        case "aU": return [.aa, .ou]
        case "eI": return [.e, .ih]
        case "oU": return [.oh, .ou]
        case "OI": return [.oh, .ih]
        case "i@", "i@3", "I@": return [.ih, .e]
        case "U@": return [.ou, .e]
        case "p", "b", "m": return [.pbm]
        case "f", "v": return [.fv]
        case "T", "D": return [.th]
        case "t", "t2", "t#", "t[", "d", "d2", "d#": return [.td]
        case "k", "g", "N", "h", "x": return [.kg]
        case "tS", "dZ", "S", "Z": return [.chsh]
        case "s", "z": return [.sz]
        case "n", "l", "@L", "n-", "l/": return [.nl]
        case "r", "r-": return [.r]
        case "a", "a#", "aa", "A:", "A@", "V", "VR": return [.aa]
        case "e", "E", "e@", "3", "3:", "@", "@2", "@5": return [.e]
        case "i", "i:", "I", "I#", "I2", "IR", "j": return [.ih]
        case "0", "O:", "O2", "O@", "o@", "O": return [.oh]
        case "u:", "U", "w", "w#", "u": return [.ou]
        default:
            switch phone.first! {
            case "a", "A", "V": return [.aa]
            case "i", "I", "j": return [.ih]
            case "o", "O", "0": return [.oh]
            case "u", "U", "w": return [.ou]
            case "p", "b", "m": return [.pbm]
            default: return [.e]
            }
        }
    }
}

/// A mouth's articulation: `open` the lip aperture (0 closed … 1 wide open, mostly the jaw),
/// `spread` the lips drawn sideways (−1 pursed … 1 spread), `round` lip rounding and protrusion
/// (0 … 1).
public struct MouthShape: Codable, Equatable, Sendable {
    public var open: Double
    public var spread: Double
    public var round: Double

    public init(open: Double, spread: Double, round: Double) {
        self.open = open
        self.spread = spread
        self.round = round
    }
}

/// How one speaker moves and looks: mouth width, jaw range, lip thickness, the skin and lip
/// greys, and how early the lips move before the sound (`lead`, seconds; anticipatory
/// coarticulation varies by speaker).
public struct SpeakerStyle: Codable, Equatable, Sendable {
    public var width: Double
    public var jaw: Double
    public var lips: Double
    public var lead: Double
    public var skin: Double
    public var lipTone: Double

    public init(width: Double = 1, jaw: Double = 1, lips: Double = 1, lead: Double = 0.04, skin: Double = 0.62, lipTone: Double = 0.38) {
        self.width = width
        self.jaw = jaw
        self.lips = lips
        self.lead = lead
        self.skin = skin
        self.lipTone = lipTone
    }
}

/// Coarticulation by Cohen & Massaro's dominance model (1993): every viseme segment pulls the
/// mouth towards its target with a dominance `α · exp(−θ |t − c|)` around its centre `c` (moved
/// earlier by the speaker's `lead`), steeper after the centre than before it (the lips anticipate
/// more than they carry over); the shape at `t` is the dominance-weighted mean of the targets.
public enum Coarticulation {
    /// Decay rates (1/s) before and after a segment's centre.
    public static let anticipation = 40.0
    public static let carryover = 55.0

    /// One viseme segment: its viseme and span (seconds).
    public struct Segment: Codable, Equatable, Sendable {
        public var viseme: Viseme
        public var start: Double
        public var end: Double
    }

    /// The viseme segments of timed phones (diphthongs split in halves).
    public static func segments(_ phones: [SpokenPhone]) -> [Segment] {
        phones.flatMap { p -> [Segment] in
            let visemes = Viseme.of(phone: p.phone)
            let step = (p.end - p.start) / Double(visemes.count)
            return visemes.enumerated().map { i, v in
                Segment(viseme: v, start: p.start + Double(i) * step, end: p.start + Double(i + 1) * step)
            }
        }
    }

    /// The mouth shape at each of `times` (seconds); `rest` where no segment reaches.
    public static func shapes(_ segments: [Segment], at times: [Double], lead: Double) -> [MouthShape] {
        times.map { t in
            var weight = 0.02, open = 0.02 * Viseme.rest.target.open, spread = 0.0, round = 0.0
            for s in segments {
                let centre = (s.start + s.end) / 2 - lead
                let half = (s.end - s.start) / 2
                // Full dominance inside the segment's own span, decaying outside it.
                let distance = max(0, abs(t - centre) - half)
                let rate = t < centre ? anticipation : carryover
                let d = s.viseme.dominance * exp(-rate * distance)
                guard d > 1e-6 else { continue }
                let target = s.viseme.target
                weight += d
                open += d * target.open
                spread += d * target.spread
                round += d * target.round
            }
            return MouthShape(open: open / weight, spread: spread / weight, round: round / weight)
        }
    }
}
