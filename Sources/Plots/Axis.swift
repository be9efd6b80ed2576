import Foundation

/// One axis of a plot: its label, its scale and the range it shows, with the ticks that mark it.
public struct Axis: Sendable {
    public enum Scale: String, Sendable {
        case linear
        /// Base-10 logarithmic; values ≤ 0 cannot be shown and are left out.
        case log
    }

    public var label: String
    public var scale: Scale
    /// The range shown; nil: from the data (padded to nice tick values on a linear scale).
    public var range: ClosedRange<Double>?

    public init(_ label: String, scale: Scale = .linear, range: ClosedRange<Double>? = nil) {
        self.label = label
        self.scale = scale
        self.range = range
    }

    /// Whether the axis can show `value`.
    func shows(_ value: Double) -> Bool { value.isFinite && (scale == .linear || value > 0) }

    /// The range shown for data spanning `lower ... upper`, and its ticks.
    func layout(dataLower lower: Double, dataUpper upper: Double) -> (range: ClosedRange<Double>, ticks: [Double]) {
        if let range { return (range, Self.ticks(in: range, scale: scale)) }
        switch scale {
        case .linear:
            var lo = lower, hi = upper
            if lo == hi { lo -= lo == 0 ? 1 : abs(lo) * 0.1; hi += hi == 0 ? 1 : abs(hi) * 0.1 }
            let step = Self.niceStep((hi - lo) / 5)
            let range = (floor(lo / step) * step)...(ceil(hi / step) * step)
            return (range, Self.ticks(in: range, scale: .linear))
        case .log:
            let lo = pow(10, floor(log10(lower))), hi = pow(10, ceil(log10(upper)))
            let range = lo...(hi > lo ? hi : lo * 10)
            return (range, Self.ticks(in: range, scale: .log))
        }
    }

    /// A step of 1, 2, 2.5 or 5 × 10ᵏ near `raw` (the "nice numbers" of Heckbert's Graphics Gems
    /// algorithm, with 2.5 so that ranges overshoot their data less).
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// Ticks inside `range`: multiples of a nice step (linear), or powers of ten with 2× and 5×
    /// between them when the range spans fewer than three decades (log).
    static func ticks(in range: ClosedRange<Double>, scale: Scale) -> [Double] {
        switch scale {
        case .linear:
            let step = niceStep((range.upperBound - range.lowerBound) / 5)
            // k · step, rounded to the step's decimals (0.6, not 0.6000000000000001).
            let decimals = pow(10, max(0, -floor(log10(step))))
            var ticks: [Double] = []
            var k = ceil(range.lowerBound / step - 1e-9)
            while k * step <= range.upperBound + step * 1e-9 && ticks.count < 50 {
                let t = (k * step * decimals).rounded() / decimals
                ticks.append(t == 0 ? 0 : t)
                k += 1
            }
            return ticks
        case .log:
            let first = Int(floor(log10(range.lowerBound))), last = Int(ceil(log10(range.upperBound)))
            let multiples: [Double] = last - first < 3 ? [1, 2, 5] : [1]
            var ticks: [Double] = []
            for e in first...max(first, last) {
                for m in multiples {
                    let t = m * pow(10, Double(e))
                    if t >= range.lowerBound * (1 - 1e-9) && t <= range.upperBound * (1 + 1e-9) { ticks.append(t) }
                }
            }
            return ticks
        }
    }

    /// `value` as a tick label: short, without trailing zeros (1, 0.25, 1e-05, 12k).
    static func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        let a = abs(value)
        if a >= 1e6 || a < 1e-3 {
            let e = Int(floor(log10(a)))
            let m = value / pow(10, Double(e))
            return (abs(m - m.rounded()) < 1e-9 ? String(Int(m.rounded())) : String(format: "%.3g", m)) + "e\(e)"
        }
        if a >= 1e4, abs(value / 1000 - (value / 1000).rounded()) < 1e-9 { return "\(Int((value / 1000).rounded()))k" }
        var text = String(format: "%.4f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
