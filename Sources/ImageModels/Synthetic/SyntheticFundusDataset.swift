import Tensor
import Training

/// A synthetic fundus set in memory: item `i` is `FundusGenerator.image(index: i, grade:)` as a
/// `[3, size, size]` tensor (RGB in [0, 1]) with its grade — the same images and grades that
/// `FundusDataset.write` puts in files with the same settings, with no files at all.
///
/// Images are rendered when read (a few milliseconds each at 128 px), independently of the
/// loader's order and threads; `precompute: true` renders them all once, in parallel, at
/// `3 · size² · count` floats of memory.
public struct SyntheticFundusDataset: Dataset {
    public let generator: FundusGenerator
    /// The grade of each item.
    public let labels: [Int]
    private let cache: [[Float]]?

    public var count: Int { labels.count }

    /// - Parameters:
    ///   - count: number of images.
    ///   - site: the camera imitated.
    ///   - size: width and height in pixels (8 to 4096).
    ///   - seed: fixes images and grades.
    ///   - gradeDistribution: five weights for grades 0–4 (APTOS's by default); the grades
    ///     follow them exactly, in a seeded order (`FundusDataset.grades`).
    ///   - precompute: render every image now instead of on each read.
    /// - Throws: `FundusDatasetError` for an invalid count, size or distribution.
    public init(count: Int, site: FundusSite, size: Int, seed: UInt64,
                gradeDistribution: [Double] = FundusDataset.aptosGradeDistribution,
                precompute: Bool = false) throws {
        guard (8...4096).contains(size) else { throw FundusDatasetError.invalidSize(size) }
        labels = try FundusDataset.grades(count: count, distribution: gradeDistribution, seed: seed)
        generator = FundusGenerator(site: site, size: size, seed: seed)
        cache = precompute ? generator.images(indices: Array(0..<count), grades: labels) : nil
    }

    /// Image `index` and its grade; `context` is unused (no augmentation here: recipes add
    /// transforms on top).
    public func item(at index: Int, context: inout ItemContext) throws -> (input: Tensor, label: Int) {
        precondition(index >= 0 && index < count, "SyntheticFundusDataset: index \(index) outside 0..<\(count)")
        let n = generator.size
        let pixels = cache?[index] ?? generator.image(index: index, grade: labels[index])
        return (Tensor(pixels, shape: [3, n, n]), labels[index])
    }
}
