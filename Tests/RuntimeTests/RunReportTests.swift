import Demos
import Foundation
import ImageModels
import Runtime
import Tasks
import XCTest

/// `lorakit report`'s HTML: its structure, the plotted values against the metrics files, a run
/// killed halfway, and the page as a browser renders it.
final class RunReportTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "lorakit-report-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Trains the tiny demo recipe into a fresh directory and writes its report.
    func trainedRun() throws -> (directory: URL, html: String) {
        let out = URL(fileURLWithPath: temporaryDirectory())
        let recipe = root.appendingPathComponent("recipes/examples/tiny_convnet_lora.yaml").path
        let run = try RecipeRun(path: recipe, overrides: ["output_dir=\(out.path)", "train.epochs=3"], builtIns: [DemosPlugin.self])
        _ = try run.train()
        let file = out.appendingPathComponent("report.html")
        try RunReport.write([out], to: file) { recipe in try RecipeRun(path: recipe.path, builtIns: [DemosPlugin.self]) }
        return (out, try String(contentsOf: file, encoding: .utf8))
    }

    /// The `data-points` of the series named `name` in the plot titled `title`.
    func points(_ html: String, plot title: String, series name: String) -> [(Double, Double)]? {
        guard let plotStart = html.range(of: "aria-label=\"\(title)\"") else { return nil }
        let plot = html[plotStart.upperBound...].prefix { _ in true }
        guard let end = plot.range(of: "</svg>"), let s = plot[..<end.lowerBound].range(of: "data-name=\"\(name)\" data-points=\"") else { return nil }
        let text = plot[s.upperBound...].prefix { $0 != "\"" }
        return text.split(separator: " ").map { pair in
            let xy = pair.split(separator: ",")
            return (Double(xy[0])!, Double(xy[1])!)
        }
    }

    func records(_ directory: URL) throws -> [[String: Any]] {
        try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func testThePlottedValuesAreTheLoggedOnes() throws {
        let (directory, html) = try trainedRun()
        XCTAssertTrue(html.hasPrefix("<!doctype html>"))
        XCTAssertFalse(html.contains("<script"), "no scripts")
        XCTAssertFalse(html.contains("http://") && !html.contains("xmlns=\"http://www.w3.org/2000/svg\""), "nothing fetched")
        for heading in ["Run", "Training", "Validation", "Confusion matrix (validation)", "Per-class precision and recall",
                        "LoRA targets", "Resolved recipe"] {
            XCTAssertTrue(html.contains("<h2>\(heading)</h2>"), heading)
        }
        let logged = try records(directory)
        let steps = logged.filter { $0["event"] as? String == "step" }
        let loss = try XCTUnwrap(points(html, plot: "Loss", series: "training loss"))
        XCTAssertEqual(loss.count, 36)
        XCTAssertEqual(loss.map(\.0), steps.map { Double($0["step"] as! Int) })
        XCTAssertEqual(loss.map(\.1), steps.map { $0["loss"] as! Double })
        let lr = try XCTUnwrap(points(html, plot: "Learning rate", series: "learning rate"))
        XCTAssertEqual(lr.map(\.1), steps.map { $0["lr"] as! Double })
        let validations = logged.filter { $0["event"] as? String == "validation" }
        let accuracy = try XCTUnwrap(points(html, plot: "accuracy", series: "accuracy"))
        XCTAssertEqual(accuracy.map(\.1), validations.map { ($0["metrics"] as! [String: Any])["accuracy"] as! Double })
        // The written checkpoint is marked where summary.json says.
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("summary.json"))) as! [String: Any]
        if summary["final"] as? String == "best" {
            XCTAssertTrue(html.contains("class=\"marker\" data-x=\"\(Double(summary["final_step"] as! Int))\""))
        }
        XCTAssertTrue(html.contains("\(summary["trainable_parameters"] as! Int) of \(summary["total_parameters"] as! Int)"))
        // The confusion matrix counts every validation image once (64 of them).
        let matrix = String(html[html.range(of: "<table class=\"confusion\">")!.lowerBound...].prefix { _ in true })
        let table = matrix[..<matrix.range(of: "</table>")!.upperBound]
        let cells = table.components(separatedBy: "<td style=").dropFirst().compactMap { cell -> Int? in
            Int(cell[cell.index(after: cell.firstIndex(of: ">")!)...].prefix { $0.isNumber })
        }
        XCTAssertEqual(cells.count, 16)
        XCTAssertEqual(cells.reduce(0, +), 64)
        // The adapter's layers with their ranks.
        XCTAssertTrue(html.contains("<tr><td>conv1</td><td>4</td></tr>") && html.contains("<tr><td>conv2</td><td>4</td></tr>"))
    }

    /// A run killed halfway (no summary.json, a cut-off last line) still gives a report, which
    /// says what is missing and plots what was logged.
    func testAKilledRunsReportSaysWhatIsMissing() throws {
        let (directory, _) = try trainedRun()
        try FileManager.default.removeItem(at: directory.appendingPathComponent("summary.json"))
        let jsonl = directory.appendingPathComponent("metrics.jsonl")
        let lines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n")
        let cut = lines.firstIndex { $0.contains("\"step\":20,") }!
        try (lines[..<cut].joined(separator: "\n") + "\n" + lines[cut].prefix(25)).write(to: jsonl, atomically: true, encoding: .utf8)
        let html = RunReport.html([RunRecord(directory: directory)], sections: [])
        XCTAssertTrue(html.contains("What is missing"))
        XCTAssertTrue(html.contains("no summary.json: the run did not finish"), html)
        XCTAssertTrue(html.contains("1 line of metrics.jsonl could not be read"))
        XCTAssertTrue(html.contains("the log stops at step 19 of 36"))
        XCTAssertEqual(try XCTUnwrap(points(html, plot: "Loss", series: "training loss")).count, 19)
        // Nothing at all logged: still a page, saying so.
        let empty = URL(fileURLWithPath: temporaryDirectory())
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let bare = RunReport.html([RunRecord(directory: empty)], sections: [])
        XCTAssertTrue(bare.contains("no metrics.jsonl") && bare.contains("no recipe.yaml") && bare.contains("Loss: no values"))
    }

    func testSeveralRunsAreComparedSideBySide() throws {
        let a = try trainedRun().directory
        let out = URL(fileURLWithPath: temporaryDirectory())
        let recipe = root.appendingPathComponent("recipes/examples/tiny_convnet_lora.yaml").path
        _ = try RecipeRun(path: recipe, overrides: ["output_dir=\(out.path)", "train.epochs=2", "lora=null", "train.mode=full"],
                          builtIns: [DemosPlugin.self]).train()
        let html = RunReport.html([RunRecord(directory: a), RunRecord(directory: out)], sections: [])
        XCTAssertTrue(html.contains("<h2>Runs</h2>") && html.contains("<h2>Quality against trainable parameters</h2>"))
        XCTAssertTrue(html.contains("class=\"reference\"") && html.contains("full fine-tuning (\(out.lastPathComponent))"),
                      "full fine-tuning is the reference line")
        XCTAssertNotNil(points(html, plot: "Training loss", series: a.lastPathComponent))
        XCTAssertNotNil(points(html, plot: "Training loss", series: out.lastPathComponent))
    }

    /// The page in headless Chromium: a screenshot that is not blank, and no console errors (the
    /// check is shown to catch one on a page that logs an error).
    func testTheReportRendersInABrowser() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile) else {
            if ProcessInfo.processInfo.environment["LORAKIT_REQUIRE_CHROMIUM"] == "1" { XCTFail("chromium is not installed") }
            throw XCTSkip("chromium is not installed (scripts/setup installs it)")
        }
        func render(_ page: URL) throws -> (screenshot: Image, log: String) {
            let shot = URL(fileURLWithPath: temporaryDirectory() + ".png")
            addTeardownBlock { try? FileManager.default.removeItem(at: shot) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: chromium)
            p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
                           "--user-data-dir=\(temporaryDirectory())", "--window-size=1200,1600", "--screenshot=\(shot.path)", page.absoluteString]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, log)
            return (try Image(contentsOfFile: shot.path, mode: .rgb), log)
        }
        func consoleErrors(_ log: String) -> [Substring] {
            log.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") || $0.contains("Failed to load") }
        }
        let control = URL(fileURLWithPath: temporaryDirectory() + ".html")
        try "<html><body><script>console.error('broken page')</script></body></html>".write(to: control, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: control) }
        XCTAssertFalse(consoleErrors(try render(control).log).isEmpty, "the console check sees an error when there is one")

        let (directory, _) = try trainedRun()
        let (screenshot, log) = try render(directory.appendingPathComponent("report.html"))
        XCTAssertEqual(consoleErrors(log), [], log)
        XCTAssertEqual([screenshot.width, screenshot.height], [1200, 1600])
        // Not blank: many distinct colours and a real spread of brightness.
        let pixels = screenshot.pixels
        var distinct = Set<Int>()
        for i in stride(from: 0, to: pixels.count, by: 3) {
            let r = Int(pixels[i] * 255), g = Int(pixels[i + 1] * 255), b = Int(pixels[i + 2] * 255)
            distinct.insert((r << 16) | (g << 8) | b)
        }
        XCTAssertGreaterThan(distinct.count, 50)
        let mean = pixels.reduce(0, +) / Float(pixels.count)
        var variance: Float = 0
        for v in pixels { variance += (v - mean) * (v - mean) }
        let spread = (variance / Float(pixels.count)).squareRoot()
        XCTAssertGreaterThan(spread, 0.1)
    }
}
