import Foundation
@testable import Plots
import XCTest

final class PlotTests: XCTestCase {
    func testNiceTicks() {
        XCTAssertEqual(Axis.ticks(in: 0...1, scale: .linear), [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(Axis.ticks(in: 0...250, scale: .linear), [0, 50, 100, 150, 200, 250])
        XCTAssertEqual(Axis.ticks(in: 1e3...1e7, scale: .log), [1e3, 1e4, 1e5, 1e6, 1e7])
        XCTAssertEqual(Axis.ticks(in: 10...1000, scale: .log), [10, 20, 50, 100, 200, 500, 1000])
        let (range, ticks) = Axis("x").layout(dataLower: 0.37, dataUpper: 0.92)
        XCTAssertEqual(range, 0.2...1.0, "steps of 0.2 around 0.37 … 0.92")
        XCTAssertEqual(ticks, [0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(Axis.label(0.25), "0.25")
        XCTAssertEqual(Axis.label(1e-5), "1e-5")
        XCTAssertEqual(Axis.label(20000), "20k")
        XCTAssertEqual(Axis.label(3), "3")
    }

    /// Every drawn point sits where the axes put its data value, and the data attributes carry the
    /// values exactly (what the report tests compare with the metrics files).
    func testPointsAreDrawnWhereTheirValuesBelong() throws {
        let points: [(x: Double, y: Double)] = [(1, 0.5), (10, 0.25), (100, 0.125), (1000, .nan)]
        let plot = Plot(title: "a <b> & c", x: Axis("steps", scale: .log), y: Axis("loss"),
                        series: [Series("train", points: points, style: .lineAndMarkers)],
                        referenceLines: [ReferenceLine(y: 0.4, label: "full")], markers: [Marker(x: 10, label: "best")])
        let svg = plot.svg()
        XCTAssertTrue(svg.contains("a &lt;b&gt; &amp; c"))
        func attribute(_ name: String, in text: String) -> String? {
            guard let r = text.range(of: "\(name)=\"") else { return nil }
            return String(text[r.upperBound...].prefix { $0 != "\"" })
        }
        let left = Double(attribute("data-left", in: svg)!)!, right = Double(attribute("data-right", in: svg)!)!
        let top = Double(attribute("data-top", in: svg)!)!, bottom = Double(attribute("data-bottom", in: svg)!)!
        let xMin = Double(attribute("data-x-min", in: svg)!)!, xMax = Double(attribute("data-x-max", in: svg)!)!
        let yMin = Double(attribute("data-y-min", in: svg)!)!, yMax = Double(attribute("data-y-max", in: svg)!)!
        XCTAssertEqual(xMin, 1)
        XCTAssertEqual(xMax, 100, "the NaN point is left out")
        let series = String(svg[svg.range(of: "class=\"series\"")!.lowerBound...])
        XCTAssertEqual(attribute("data-points", in: series), "1.0,0.5 10.0,0.25 100.0,0.125")
        var circles: [(Double, Double)] = []
        var rest = Substring(series)
        while let r = rest.range(of: "<circle cx=\"") {
            rest = rest[r.upperBound...]
            let cx = Double(rest.prefix { $0 != "\"" })!
            let cy = Double(rest[rest.range(of: "cy=\"")!.upperBound...].prefix { $0 != "\"" })!
            circles.append((cx, cy))
        }
        XCTAssertEqual(circles.count, 3)
        for (i, p) in points.prefix(3).enumerated() {
            let expectedX = left + (log10(p.x) - log10(xMin)) / (log10(xMax) - log10(xMin)) * (right - left)
            let expectedY = bottom + (p.y - yMin) / (yMax - yMin) * (top - bottom)
            XCTAssertEqual(circles[i].0, expectedX, accuracy: 0.06)
            XCTAssertEqual(circles[i].1, expectedY, accuracy: 0.06)
        }
        XCTAssertTrue(svg.contains("class=\"marker\" data-x=\"10.0\""))
        XCTAssertTrue(svg.contains("class=\"reference\" data-y=\"0.4\""))
        XCTAssertTrue(svg.contains(">full</text>") && svg.contains(">train</text>"), "both are in the legend")
    }

    func testAPlotWithoutValuesSaysSo() {
        let svg = Plot(title: "accuracy", x: Axis("step"), y: Axis("accuracy"), series: [Series("v", points: [])]).svg()
        XCTAssertTrue(svg.contains("accuracy: no values"), svg)
    }
}
