import Glibc
import Tensor
import Training

/// How the label column of a CSV is read.
public enum CSVLabelEncoding: String, Sendable, Codable {
    /// Whole numbers from 0 are the class indices (APTOS `diagnosis` 0–4); anything else is an
    /// error naming the line.
    case integers
    /// Any text; the distinct names, sorted, are the classes.
    case names
}

/// Images listed in a CSV file with their labels, in a folder of images: `image,label` files,
/// and the APTOS 2019 layout (`id_code,diagnosis`, images `<id_code>.png`, see `aptos`).
///
/// Each row names an image by the `imageColumn` value, relative to `imageDirectory` (an
/// absolute path is used as is); the file is the first of `value + extension` that exists, for
/// `extensions` in order (`""`: the value itself). Files are checked when the dataset is built,
/// as in `ImageFolderDataset`; a row whose image does not exist counts as a bad file.
public struct ImageCSVDataset: Dataset {
    public typealias Item = (input: Tensor, label: Int)

    public let csv: String
    public let imageDirectory: String
    /// Class names: `"0"`, `"1"`, … for integer labels (up to the largest), otherwise the
    /// distinct names, sorted.
    public let classNames: [String]
    public let samples: [ImageSample]
    public let skipped: [SkippedImage]
    public var transform: any ImageTransform {
        get { reader.transform }
        set { reader.transform = newValue }
    }
    public var colorMode: ColorMode {
        get { reader.colorMode }
        set { reader.colorMode = newValue }
    }
    private var reader: ImageItemReader

    /// - Parameters:
    ///   - csv: the CSV file; its first row names the columns.
    ///   - imageDirectory: the folder image names are relative to.
    ///   - imageColumn: the column naming each image.
    ///   - labelColumn: the column holding each label.
    ///   - extensions: suffixes tried in order to find a row's file (`""`: the name as is;
    ///     `"png"` and `".png"` both mean the suffix `.png`).
    ///   - labels: how labels are read (`.integers` or `.names`).
    ///   - transform, colorMode, badFiles, verification: as for `ImageFolderDataset`.
    /// - Throws: `ImageDatasetError` for an unreadable or malformed CSV, a missing column or a
    ///   bad label (naming file and line), and with `.fail` for a row without image
    ///   (`missingImage`) or the first bad image's `ImageError`.
    public init(csv: String, imageDirectory: String, imageColumn: String = "image", labelColumn: String = "label",
                extensions: [String] = ["", ".png", ".jpg", ".jpeg"], labels: CSVLabelEncoding = .integers,
                transform: any ImageTransform = Compose(), colorMode: ColorMode = .rgb,
                badFiles: BadFilePolicy = .fail, verification: ImageVerification = .header) throws {
        let bytes: [UInt8]
        do {
            bytes = try ImageFile.read(csv).bytes
        } catch let error as ImageError {
            if case .unreadable(_, let reason) = error { throw ImageDatasetError.unreadable(path: csv, reason: reason) }
            throw error
        }
        let table = try CSVTable(text: String(decoding: bytes, as: UTF8.self), path: csv)
        let imageIndex = try table.column(imageColumn)
        let labelIndex = try table.column(labelColumn)
        let suffixes = extensions.map { $0.isEmpty || $0.hasPrefix(".") ? $0 : "." + $0 }

        // Labels first, so a bad label is reported whatever the files.
        var labelValues: [Int] = []
        var names: [String] = []
        switch labels {
        case .integers:
            for record in table.records {
                let text = record.fields[labelIndex]
                guard let value = Int(text), value >= 0 else {
                    throw ImageDatasetError.invalidLabel(path: csv, line: record.line, value: text)
                }
                labelValues.append(value)
            }
            names = (0...(labelValues.max() ?? 0)).map(String.init)
        case .names:
            for record in table.records where record.fields[labelIndex].isEmpty {
                throw ImageDatasetError.invalidLabel(path: csv, line: record.line, value: "")
            }
            names = Set(table.records.map { $0.fields[labelIndex] }).sorted()
            let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            labelValues = table.records.map { index[$0.fields[labelIndex]]! }
        }

        var candidates: [ImageSample] = []
        var skipped: [SkippedImage] = []
        for (record, label) in zip(table.records, labelValues) {
            let name = record.fields[imageIndex]
            guard !name.isEmpty else {
                throw ImageDatasetError.csvSyntax(path: csv, line: record.line, reason: "empty '\(imageColumn)' value")
            }
            let base = name.hasPrefix("/") ? name : imageDirectory + "/" + name
            let tried = suffixes.map { base + $0 }
            if let path = tried.first(where: isRegularFile) {
                candidates.append(ImageSample(path: path, label: label))
            } else if badFiles == .fail {
                throw ImageDatasetError.missingImage(csv: csv, line: record.line, tried: tried)
            } else {
                skipped.append(SkippedImage(path: base, reason: ImageDatasetError.missingImage(csv: csv, line: record.line, tried: tried).description))
            }
        }
        let screened = try ImageItemReader.screen(candidates, policy: badFiles, verification: verification)
        skipped += screened.skipped
        guard !screened.kept.isEmpty else { throw ImageDatasetError.noImages(path: csv, skipped: skipped.count) }
        self.csv = csv
        self.imageDirectory = imageDirectory
        self.classNames = names
        self.samples = screened.kept
        self.skipped = skipped
        self.reader = ImageItemReader(colorMode: colorMode, transform: transform)
    }

    /// The APTOS 2019 Blindness Detection layout: `train.csv` with columns `id_code,diagnosis`
    /// (0 no retinopathy … 4 proliferative) and images `<imageDirectory>/<id_code>.png`.
    public static func aptos(csv: String, imageDirectory: String, transform: any ImageTransform = Compose(),
                             badFiles: BadFilePolicy = .fail, verification: ImageVerification = .header) throws -> ImageCSVDataset {
        try ImageCSVDataset(csv: csv, imageDirectory: imageDirectory, imageColumn: "id_code", labelColumn: "diagnosis",
                            extensions: [".png", ""], labels: .integers, transform: transform,
                            badFiles: badFiles, verification: verification)
    }

    public var count: Int { samples.count }

    /// Labels of all samples, in order.
    public var labels: [Int] { samples.map(\.label) }

    public func item(at index: Int, context: inout ItemContext) throws -> Item {
        let sample = samples[index]
        return (try reader.tensor(path: sample.path, generator: &context.generator), sample.label)
    }
}

private func isRegularFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}
