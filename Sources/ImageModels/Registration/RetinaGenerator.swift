import Foundation
import Tasks

/// `lorakit data retina`: labelled synthetic fundus photographs graded 0–4, for one of two camera
/// sites, in the APTOS layout (`labels.csv` with `id_code,diagnosis`, and `images/<id_code>.png`).
enum RetinaGenerator {
    static let generator = DataGenerator(
        name: "retina",
        summary: "synthetic retina photographs graded 0–4 in the APTOS layout (labels.csv + images/)",
        options: [
            .integer("count", min: 1, default: 400, help: "number of images"),
            .integer("size", min: 16, max: 4096, default: 128, help: "image side in pixels (square)"),
            .choice("site", ["source", "target"], default: "source", help: "camera site"),
            .integer("seed", min: 0, default: 0, help: "seed"),
        ]) { directory, options, _ in
        let siteName = try options.string("site", default: "source")
        guard let site = FundusSite(name: siteName) else {
            throw RegistryError.invalidOption(key: options.key("site"), reason: "expected source or target, got \(siteName)")
        }
        let count = try options.int("count", default: 400), size = try options.int("size", default: 128)
        let start = Date()
        let rows = try FundusDataset.write(to: directory, count: count, site: site, size: size,
                                           seed: UInt64(try options.int("seed", default: 0))) { pixels, width, height in
            Data(try Image(height: height, width: width, channels: 3, pixels: pixels).pngData())
        }
        var histogram = [Int](repeating: 0, count: 5)
        for row in rows { histogram[row.grade] += 1 }
        return String(format: "wrote %d %@-site images (%dpx) to %@ in %.1f s; grades 0–4: %@", rows.count, siteName, size,
                      directory.path, Date().timeIntervalSince(start), histogram.map(String.init).joined(separator: "/"))
    }
}
