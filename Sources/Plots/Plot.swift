import Foundation

/// A 2-D plot drawn as inline SVG: axes with ticks (linear or logarithmic), several series, a
/// legend, horizontal reference lines and vertical markers. The one place in LoRAKit that draws
/// SVG; reports and sweeps use it.
///
/// The SVG carries its data for checking: the root element records the plot area and the ranges
/// (`data-x-min`, …), and each series' group its name and points in data coordinates
/// (`data-points="x,y x,y"`), so a test can compare what is drawn with what was logged.
public struct Plot: Sendable {
    public var title: String
    public var x: Axis
    public var y: Axis
    public var series: [Series]
    public var referenceLines: [ReferenceLine]
    public var markers: [Marker]
    public var width: Double
    public var height: Double

    public init(title: String, x: Axis, y: Axis, series: [Series] = [], referenceLines: [ReferenceLine] = [],
                markers: [Marker] = [], width: Double = 560, height: Double = 320) {
        self.title = title
        self.x = x
        self.y = y
        self.series = series
        self.referenceLines = referenceLines
        self.markers = markers
        self.width = width
        self.height = height
    }

    /// The plot area inside the margins (room for tick labels, axis labels, title and legend).
    var area: (left: Double, right: Double, top: Double, bottom: Double) {
        (64, width - 16, 34, height - 46 - legendHeight)
    }

    var legendHeight: Double {
        let named = series.count + referenceLines.count
        return named > 1 || !referenceLines.isEmpty ? Double((named + 2) / 3) * 16 + 4 : 0
    }

    /// The series' points an axis can show.
    func visible(_ s: Series) -> [(x: Double, y: Double)] { s.points.filter { x.shows($0.x) && y.shows($0.y) } }

    /// The drawn ranges and ticks, from the data, reference lines and markers.
    func layout() -> (x: ClosedRange<Double>, xTicks: [Double], y: ClosedRange<Double>, yTicks: [Double])? {
        let points = series.flatMap(visible)
        let xs = points.map(\.x) + markers.map(\.x).filter(x.shows)
        let ys = points.map(\.y) + referenceLines.map(\.y).filter(y.shows)
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else { return nil }
        let (xr, xt) = x.layout(dataLower: x0, dataUpper: x1)
        let (yr, yt) = y.layout(dataLower: y0, dataUpper: y1)
        return (xr, xt, yr, yt)
    }

    /// Pixel position of a data value on an axis spanning `range` drawn from pixel `from` (the
    /// range's lower bound) to pixel `to` (its upper bound; smaller than `from` for a y axis).
    static func position(_ v: Double, _ range: ClosedRange<Double>, _ scale: Axis.Scale, from: Double, to: Double) -> Double {
        let t: Double
        switch scale {
        case .linear: t = (v - range.lowerBound) / (range.upperBound - range.lowerBound)
        case .log: t = (log10(v) - log10(range.lowerBound)) / (log10(range.upperBound) - log10(range.lowerBound))
        }
        return from + t * (to - from)
    }

    /// The plot as one `<svg>` element.
    public func svg() -> String {
        let a = area
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(SVG.escape(title))\""
        guard let l = layout() else {
            return s + "><text x=\"\(f(width / 2))\" y=\"\(f(height / 2))\" text-anchor=\"middle\" class=\"empty\">"
                + "\(SVG.escape(title)): no values</text></svg>"
        }
        s += " data-x-scale=\"\(x.scale.rawValue)\" data-y-scale=\"\(y.scale.rawValue)\""
            + " data-x-min=\"\(l.x.lowerBound)\" data-x-max=\"\(l.x.upperBound)\" data-y-min=\"\(l.y.lowerBound)\" data-y-max=\"\(l.y.upperBound)\""
            + " data-left=\"\(f(a.left))\" data-right=\"\(f(a.right))\" data-top=\"\(f(a.top))\" data-bottom=\"\(f(a.bottom))\">\n"
        let px = { (v: Double) in Self.position(v, l.x, x.scale, from: a.left, to: a.right) }
        let py = { (v: Double) in Self.position(v, l.y, y.scale, from: a.bottom, to: a.top) }
        s += "<text x=\"\(f(width / 2))\" y=\"18\" text-anchor=\"middle\" class=\"title\">\(SVG.escape(title))</text>\n"
        // Grid and ticks.
        for t in l.yTicks {
            let yy = py(t)
            s += "<line x1=\"\(f(a.left))\" y1=\"\(f(yy))\" x2=\"\(f(a.right))\" y2=\"\(f(yy))\" class=\"grid\"/>"
            s += "<text x=\"\(f(a.left - 6))\" y=\"\(f(yy + 4))\" text-anchor=\"end\" class=\"tick\">\(Axis.label(t))</text>\n"
        }
        for t in l.xTicks {
            let xx = px(t)
            s += "<line x1=\"\(f(xx))\" y1=\"\(f(a.top))\" x2=\"\(f(xx))\" y2=\"\(f(a.bottom))\" class=\"grid\"/>"
            s += "<text x=\"\(f(xx))\" y=\"\(f(a.bottom + 16))\" text-anchor=\"middle\" class=\"tick\">\(Axis.label(t))</text>\n"
        }
        s += "<rect x=\"\(f(a.left))\" y=\"\(f(a.top))\" width=\"\(f(a.right - a.left))\" height=\"\(f(a.bottom - a.top))\" class=\"frame\"/>\n"
        s += "<text x=\"\(f((a.left + a.right) / 2))\" y=\"\(f(a.bottom + 34))\" text-anchor=\"middle\" class=\"axis-label\">"
            + "\(SVG.escape(x.label + (x.scale == .log ? " (log scale)" : "")))</text>\n"
        s += "<text x=\"14\" y=\"\(f((a.top + a.bottom) / 2))\" text-anchor=\"middle\" class=\"axis-label\" "
            + "transform=\"rotate(-90 14 \(f((a.top + a.bottom) / 2)))\">\(SVG.escape(y.label + (y.scale == .log ? " (log)" : "")))</text>\n"
        // Markers and reference lines, under the data.
        for m in markers where x.shows(m.x) {
            let xx = px(m.x)
            s += "<g class=\"marker\" data-x=\"\(m.x)\"><line x1=\"\(f(xx))\" y1=\"\(f(a.top))\" x2=\"\(f(xx))\" y2=\"\(f(a.bottom))\"/>"
                + "<text x=\"\(f(xx + 4))\" y=\"\(f(a.top + 12))\">\(SVG.escape(m.label))</text></g>\n"
        }
        var legend: [(String, String, Bool)] = []
        for (i, r) in referenceLines.enumerated() where y.shows(r.y) {
            let yy = py(r.y), color = Palette.color(series.count + i)
            s += "<g class=\"reference\" data-y=\"\(r.y)\" data-name=\"\(SVG.escape(r.label))\"><line x1=\"\(f(a.left))\" y1=\"\(f(yy))\" "
                + "x2=\"\(f(a.right))\" y2=\"\(f(yy))\" stroke=\"\(color)\" stroke-dasharray=\"6 4\"/></g>\n"
            legend.append((r.label, color, true))
        }
        // Series.
        for (i, series) in series.enumerated() {
            let color = series.color ?? Palette.color(i)
            let points = visible(series)
            let data = points.map { "\($0.x),\($0.y)" }.joined(separator: " ")
            s += "<g class=\"series\" data-name=\"\(SVG.escape(series.name))\" data-points=\"\(data)\" stroke=\"\(color)\" fill=\"\(color)\">"
            if series.style != .markers, points.count > 1 {
                let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                s += "<polyline points=\"\(path)\" fill=\"none\" stroke-width=\"1.8\"\(series.dashed ? " stroke-dasharray=\"5 3\"" : "")/>"
            }
            if series.style != .line || points.count == 1 {
                for p in points { s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\"/>" }
            }
            s += "</g>\n"
            legend.insert((series.name, color, series.dashed), at: i)
        }
        // Legend, below the axis label.
        if legendHeight > 0 {
            for (i, item) in legend.enumerated() {
                let lx = a.left + Double(i % 3) * ((a.right - a.left) / 3), ly = a.bottom + 52 + Double(i / 3) * 16
                s += "<g class=\"legend\"><line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 18))\" y2=\"\(f(ly - 4))\" stroke=\"\(item.1)\" "
                    + "stroke-width=\"2\"\(item.2 ? " stroke-dasharray=\"5 3\"" : "")/><text x=\"\(f(lx + 24))\" y=\"\(f(ly))\">\(SVG.escape(item.0))</text></g>\n"
            }
        }
        return s + "</svg>"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// SVG and HTML text escaping.
public enum SVG {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
