/// A named set of points drawn in one colour: a line, markers, or both.
public struct Series: Sendable {
    public enum Style: String, Sendable {
        case line, markers, lineAndMarkers
    }

    public var name: String
    /// Points in data coordinates; non-finite values (and values a log axis cannot show) are left out.
    public var points: [(x: Double, y: Double)]
    public var style: Style
    /// A CSS colour; nil: the next colour of the plot's palette.
    public var color: String?
    public var dashed: Bool

    public init(_ name: String, points: [(x: Double, y: Double)], style: Style = .line, color: String? = nil,
                dashed: Bool = false) {
        self.name = name
        self.points = points
        self.style = style
        self.color = color
        self.dashed = dashed
    }
}

/// A horizontal line across the plot at `y` (a reference such as full fine-tuning's score).
public struct ReferenceLine: Sendable {
    public var y: Double
    public var label: String

    public init(y: Double, label: String) {
        self.y = y
        self.label = label
    }
}

/// A vertical line at `x` (the best checkpoint's step).
public struct Marker: Sendable {
    public var x: Double
    public var label: String

    public init(x: Double, label: String) {
        self.x = x
        self.label = label
    }
}

/// Colours that stay distinct for the colour-blind (Okabe and Ito's palette).
public enum Palette {
    public static let colors = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

    public static func color(_ index: Int) -> String { colors[index % colors.count] }
}
