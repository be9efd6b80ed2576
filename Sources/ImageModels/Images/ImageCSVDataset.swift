import Glibc
import Tensor
import Training

/// How the label column of an image CSV is read: `.integers` (whole numbers from 0 are class
/// indices, APTOS `diagnosis` 0–4), `.names` (any text names a class) or `.automatic` (as text
/// files: integers when every label is a whole number, unless given class names all match);
/// the rules of `ClassLabelFormat`, which text files share.
public typealias CSVLabelEncoding = ClassLabelFormat

/// Images listed in a CSV file with their labels, in a folder of images: `image,label` files,
/// and the APTOS 2019 layout (`id_code,diagnosis`, images `<id_code>.png`, see `aptos`).
///
/// Each row names an image by the `imageColumn` value, relative to `imageDirectory` (an
/// absolute path is used as is); the file is the first of `value + extension` that exists, for
/// `extensions` in order (`""`: the value itself). Files are checked when the dataset is built,
/// as in `ImageFolderDataset`; a row whose image does not exist counts as a bad file.
///
/// The CSV is read by `CSVTable` (RFC 4180; spaces around unquoted values are dropped), and the
/// labels by `ClassLabelResolver`, as for text files: with `classNames` given (the recipe's
/// `model.class_names`, or the training split's classes for a validation list) a name label
/// must be one of them and an integer label must index them, so every split numbers the
/// classes alike even when one lacks a class; an unknown label is an error naming the file, the
/// line, the value and the classes there are. Without `classNames` the file decides: `"0"`,
/// `"1"`, … up to the largest integer label, or the distinct names sorted.
public struct ImageCSVDataset: Dataset {
    public typealias Item = (input: Tensor, label: Int)

    public let csv: String
    public let imageDirectory: String
    /// Class names, label `k` being `classNames[k]`: those given, or `"0"`, `"1"`, … for integer
    /// labels (up to the largest), or the distinct names sorted by Unicode scalars.
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
    ///   - labels: how labels are read (`.integers`, `.names` or `.automatic`).
    ///   - classNames: the classes in index order (the recipe's or the training split's); nil
    ///     lets this file decide.
    ///   - transform, colorMode, badFiles, verification: as for `ImageFolderDataset`.
    /// - Throws: `ImageDatasetError` for an unreadable or malformed CSV, a missing column, a
    ///   bad or unknown label (naming file, line and value) or bad `classNames`, and with
    ///   `.fail` for a row without image (`missingImage`) or the first bad image's `ImageError`.
    public init(csv: String, imageDirectory: String, imageColumn: String = "image", labelColumn: String = "label",
                extensions: [String] = ["", ".png", ".jpg", ".jpeg"], labels: CSVLabelEncoding = .integers,
                classNames: [String]? = nil, transform: any ImageTransform = Compose(), colorMode: ColorMode = .rgb,
                badFiles: BadFilePolicy = .fail, verification: ImageVerification = .header) throws {
        let bytes: [UInt8]
        do {
            bytes = try ImageFile.read(csv).bytes
        } catch let error as ImageError {
            if case .unreadable(_, let reason) = error { throw ImageDatasetError.unreadable(path: csv, reason: reason) }
            throw error
        }
        let table: CSVTable
        let imageIndex: Int, labelIndex: Int
        do {
            table = try CSVTable(bytes: bytes, path: csv, trimsUnquotedFields: true)
            imageIndex = try table.column(imageColumn)
            labelIndex = try table.column(labelColumn)
        } catch {
            throw ImageDatasetError(error)
        }
        let suffixes = extensions.map { $0.isEmpty || $0.hasPrefix(".") ? $0 : "." + $0 }

        // Labels first, so a bad label is reported whatever the files.
        let resolved: (labels: [Int], classNames: [String])
        do {
            let resolver = try ClassLabelResolver(path: csv, format: labels, classNames: classNames)
            guard !table.records.isEmpty else { throw ImageDatasetError.noImages(path: csv, skipped: 0) }
            resolved = try resolver.resolve(table.records.map { RawClassLabel(line: $0.line, value: .text($0.fields[labelIndex])) })
        } catch let error as ClassLabelError {
            throw ImageDatasetError(error)
        }
        let labelValues = resolved.labels
        let names = resolved.classNames

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

    /// The five APTOS grades, 0 no retinopathy … 4 proliferative.
    public static let aptosClassNames = ["0", "1", "2", "3", "4"]

    /// The APTOS 2019 Blindness Detection layout: `train.csv` with columns `id_code,diagnosis`
    /// (0 no retinopathy … 4 proliferative) and images `<imageDirectory>/<id_code>.png`.
    /// - Parameter classNames: names of the grades 0…4 in order (the recipe's
    ///   `model.class_names`); nil means `aptosClassNames`. Either way a grade must index them,
    ///   so a split without grade 4 still has five classes.
    public static func aptos(csv: String, imageDirectory: String, classNames: [String]? = nil,
                             transform: any ImageTransform = Compose(), badFiles: BadFilePolicy = .fail,
                             verification: ImageVerification = .header) throws -> ImageCSVDataset {
        try ImageCSVDataset(csv: csv, imageDirectory: imageDirectory, imageColumn: "id_code", labelColumn: "diagnosis",
                            extensions: [".png", ""], labels: .integers, classNames: classNames ?? aptosClassNames,
                            transform: transform, badFiles: badFiles, verification: verification)
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
