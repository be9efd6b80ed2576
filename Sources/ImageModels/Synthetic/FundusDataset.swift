import Foundation
import Tensor

/// Errors from generating a synthetic fundus set; each names the setting or file at fault.
public enum FundusDatasetError: Error, Equatable, CustomStringConvertible {
    /// The grade distribution needs five non-negative finite weights with a positive sum.
    case invalidGradeDistribution([Double])
    case invalidCount(Int)
    case invalidSize(Int)
    /// The image encoder failed for this image.
    case encodingFailed(idCode: String, reason: String)
    /// A file or folder could not be written.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidGradeDistribution(let weights):
            return "grade distribution \(weights) must be \(FundusGenerator.gradeCount) non-negative weights with a positive sum"
        case .invalidCount(let count): return "image count must be at least 1, got \(count)"
        case .invalidSize(let size): return "image size must be 8 to 4096 pixels, got \(size)"
        case .encodingFailed(let id, let reason): return "could not encode image \(id): \(reason)"
        case .writeFailed(let path, let reason): return "could not write \(path): \(reason)"
        }
    }
}

/// Writes synthetic fundus sets in the layout of the public APTOS retinopathy set, so that the same
/// recipe reads them and a user's real download:
///
///     DIR/labels.csv          id_code,diagnosis      (one row per image, grade 0–4)
///     DIR/images/<id_code>.png
///     DIR/dataset.json        how the set was made (site, camera, size, seed, counts)
///
/// Row `i` of `labels.csv` is image `i` of the generator and of `SyntheticFundusDataset` with the
/// same settings. `labels.csv` is written last, so its presence marks a complete set.
public enum FundusDataset {
    /// The grade frequencies of the APTOS 2019 training set (1805, 370, 999, 193, 295 of 3662
    /// images): skewed towards healthy eyes, with few severe ones.
    public static let aptosGradeDistribution: [Double] = [0.493, 0.101, 0.273, 0.053, 0.080]

    /// The grade of every image: exactly the distribution's share of `count` (largest remainders
    /// rounded up), in an order shuffled by `seed`, so small sets still hold every common grade.
    public static func grades(count: Int, distribution: [Double] = aptosGradeDistribution,
                              seed: UInt64) throws -> [Int] {
        guard count >= 1 else { throw FundusDatasetError.invalidCount(count) }
        guard distribution.count == FundusGenerator.gradeCount,
              distribution.allSatisfy({ $0.isFinite && $0 >= 0 }),
              distribution.reduce(0, +) > 0 else {
            throw FundusDatasetError.invalidGradeDistribution(distribution)
        }
        let total = distribution.reduce(0, +)
        let exact = distribution.map { $0 / total * Double(count) }
        var quota = exact.map { Int($0.rounded(.down)) }
        let byRemainder = exact.indices.sorted { (exact[$0] - Double(quota[$0]), $1) > (exact[$1] - Double(quota[$1]), $0) }
        for k in 0..<(count - quota.reduce(0, +)) { quota[byRemainder[k % byRemainder.count]] += 1 }
        var labels = quota.enumerated().flatMap { Array(repeating: $0.offset, count: $0.element) }
        // Fisher–Yates written out, so the order is the same on every Swift version.
        var random = RandomGenerator(seed: FundusRandom.mix(seed ^ 0x6C61_6265_6C73))
        for i in stride(from: labels.count - 1, to: 0, by: -1) {
            labels.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        return labels
    }

    /// The `id_code` of image `index`: 12 hex digits like APTOS's, distinct for distinct indices
    /// below 2⁴⁸ (a bijective mix of the index, keyed by the seed).
    public static func idCode(index: Int, seed: UInt64) -> String {
        let mask: UInt64 = (1 << 48) - 1
        var x = (UInt64(index) ^ FundusRandom.mix(seed)) & mask
        x = (x &* 0x9E37_79B9_7F4B) & mask       // odd multiplier: a bijection mod 2⁴⁸
        x ^= x >> 23
        x = (x &* 0xBF58_476D_1CE5) & mask
        x ^= x >> 29
        let hex = String(x, radix: 16)
        return String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// Writes `count` images of `site` at `size`×`size` pixels and their grades.
    ///
    /// Images are rendered and encoded in parallel on the shared thread pool, a chunk at a time.
    /// - Parameters:
    ///   - directory: created if missing; existing files of the same names are replaced.
    ///   - gradeDistribution: five weights (grades 0–4), normalised; APTOS's by default.
    ///   - fileExtension: of the image files (match the encoder).
    ///   - encode: turns one image into file bytes; it gets channel-major floats in [0, 1]
    ///     (`FundusGenerator.image(index:grade:)`'s layout; `FundusGenerator.interleavedRGB8`
    ///     converts), the width and the height. Called from several threads at once.
    /// - Returns: the `(idCode, grade)` rows written to `labels.csv`.
    @discardableResult
    public static func write(to directory: URL, count: Int, site: FundusSite, size: Int, seed: UInt64,
                             gradeDistribution: [Double] = aptosGradeDistribution, fileExtension: String = "png",
                             encode: (_ pixels: [Float], _ width: Int, _ height: Int) throws -> Data)
        throws -> [(idCode: String, grade: Int)] {
        guard (8...4096).contains(size) else { throw FundusDatasetError.invalidSize(size) }
        let labels = try grades(count: count, distribution: gradeDistribution, seed: seed)
        let ids = (0..<count).map { idCode(index: $0, seed: seed) }
        let imageFolder = directory.appendingPathComponent("images", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: imageFolder, withIntermediateDirectories: true)
        } catch {
            throw FundusDatasetError.writeFailed(path: imageFolder.path, reason: error.localizedDescription)
        }

        let generator = FundusGenerator(site: site, size: size, seed: seed)
        let failure = FirstError()
        parallelFor(count, grain: 1) { begin, end in
            for i in begin..<end where !failure.isSet {
                let url = imageFolder.appendingPathComponent("\(ids[i]).\(fileExtension)")
                let data: Data
                do {
                    data = try encode(generator.image(index: i, grade: labels[i]), size, size)
                } catch {
                    failure.set(.encodingFailed(idCode: ids[i], reason: "\(error)"))
                    return
                }
                do { try data.write(to: url) } catch {
                    failure.set(.writeFailed(path: url.path, reason: error.localizedDescription))
                    return
                }
            }
        }
        if let error = failure.error { throw error }

        let camera = site.camera
        let description: [String: Any] = [
            "generator": "lorakit-fundus", "version": 1, "site": site.name, "size": size,
            "seed": String(seed), "count": count, "grade_distribution": gradeDistribution,
            "grade_counts": (0..<FundusGenerator.gradeCount).map { g in labels.filter { $0 == g }.count },
            "camera": [
                "red_gain": camera.redGain, "green_gain": camera.greenGain, "blue_gain": camera.blueGain,
                "exposure": camera.exposure, "exposure_jitter": camera.exposureJitter,
                "contrast": camera.contrast, "blur": camera.blur, "noise": camera.noise,
                "field_radius": camera.fieldRadius, "field_center_x": camera.fieldCenterX,
                "field_center_y": camera.fieldCenterY, "vignetting": camera.vignetting,
                "dust_probability": camera.dustProbability,
            ] as [String: Any],
        ]
        var csv = "id_code,diagnosis\n"
        for i in 0..<count { csv += "\(ids[i]),\(labels[i])\n" }
        let jsonURL = directory.appendingPathComponent("dataset.json")
        let csvURL = directory.appendingPathComponent("labels.csv")
        do {
            let json = try JSONSerialization.data(withJSONObject: description, options: [.prettyPrinted, .sortedKeys])
            try json.write(to: jsonURL, options: .atomic)
        } catch {
            throw FundusDatasetError.writeFailed(path: jsonURL.path, reason: error.localizedDescription)
        }
        do { try Data(csv.utf8).write(to: csvURL, options: .atomic) } catch {
            throw FundusDatasetError.writeFailed(path: csvURL.path, reason: error.localizedDescription)
        }
        return zip(ids, labels).map { (idCode: $0, grade: $1) }
    }
}

/// The first error raised by any of several threads.
private final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: FundusDatasetError?

    var error: FundusDatasetError? { lock.lock(); defer { lock.unlock() }; return stored }
    var isSet: Bool { error != nil }

    func set(_ error: FundusDatasetError) {
        lock.lock()
        if stored == nil { stored = error }
        lock.unlock()
    }
}
