import ArgumentParser
import Foundation
import ImageModels

/// `lorakit data …`: demo data generators.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Generate demo datasets.", subcommands: [RetinaDataCommand.self]
    )
}

/// `lorakit data retina --out DIR`: a labelled synthetic fundus set in the APTOS layout
/// (`labels.csv` with `id_code,diagnosis`, and `images/<id_code>.png`).
struct RetinaDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retina",
        abstract: "Write synthetic retina photographs graded 0–4 in the APTOS layout (labels.csv + images/)."
    )

    @Option(help: "Output directory.") var out: String
    @Option(help: "Number of images.") var count = 400
    @Option(help: "Image size in pixels (square).") var size = 128
    @Option(help: "Camera site: source or target.") var site = "source"
    @Option(help: "Seed.") var seed: UInt64 = 0

    func run() throws {
        guard let camera = FundusSite(name: site) else { throw UsageError("--site must be source or target, got \(site)") }
        let start = Date()
        let rows = try FundusDataset.write(to: URL(fileURLWithPath: out), count: count, site: camera, size: size, seed: seed) {
            pixels, width, height in
            Data(try Image(height: height, width: width, channels: 3, pixels: pixels).pngData())
        }
        let seconds = Date().timeIntervalSince(start)
        var histogram = [Int](repeating: 0, count: 5)
        for r in rows { histogram[r.grade] += 1 }
        print(String(format: "wrote %d %@-site images (%dpx) to %@ in %.1f s; grades 0–4: %@", rows.count, site, size, out,
                     seconds, histogram.map(String.init).joined(separator: "/")))
    }
}
