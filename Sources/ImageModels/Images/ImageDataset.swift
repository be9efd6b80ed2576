import Tensor
import Training

/// What a dataset does with a file it cannot read when it is built.
public enum BadFilePolicy: String, Sendable, Codable {
    /// Stop at the first bad file with an error naming it.
    case fail
    /// Leave bad files out and list them in `skipped`.
    case skip
}

/// A file a dataset left out, and why.
public struct SkippedImage: Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// One example of an image dataset: a file and its class.
public struct ImageSample: Equatable, Sendable {
    public var path: String
    public var label: Int

    public init(path: String, label: Int) {
        self.path = path
        self.label = label
    }
}

/// Why an image dataset could not be built or an item read. Cases name the folder, file, line
/// or column at fault; a bad image itself is reported as its `ImageError`.
public enum ImageDatasetError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The path is missing or not a folder.
    case notADirectory(path: String)
    /// A file the dataset needs (a CSV) cannot be read.
    case unreadable(path: String, reason: String)
    /// An image-folder root without class subfolders.
    case noClasses(root: String)
    /// A class folder without any file of the accepted extensions.
    case emptyClass(path: String, extensions: [String])
    /// Nothing is left to train on (`skipped` files were left out).
    case noImages(path: String, skipped: Int)
    /// The CSV is malformed at `line`.
    case csvSyntax(path: String, line: Int, reason: String)
    /// The CSV has no column `column`.
    case missingColumn(path: String, column: String, available: [String])
    /// A label that cannot be read as the requested kind (empty, negative, not a whole number
    /// where indices were asked for, …); `reason` says which.
    case invalidLabel(path: String, line: Int, value: String, reason: String)
    /// An integer label outside `0 ..< classCount` of the given class names.
    case labelOutOfRange(path: String, line: Int, label: Int, classCount: Int)
    /// A label name that is not one of the given class names.
    case unknownLabel(path: String, line: Int, label: String, classNames: [String])
    /// A class folder (`path`, class `name`) that is not one of the given class names.
    case unknownClassFolder(path: String, name: String, classNames: [String])
    /// The given class names are empty, or one is empty, or one repeats.
    case invalidClassNames(reason: String)
    /// No image file exists for the CSV row at `line`; `tried` lists the paths looked for.
    case missingImage(csv: String, line: Int, tried: [String])
    /// The transform pipeline refused the image read from `path`.
    case transformFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .notADirectory(let path): return "\(path) is not a folder"
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .noClasses(let root): return "\(root) has no class folders (expected one subfolder of images per class)"
        case .emptyClass(let path, let extensions):
            return "class folder \(path) has no image files (extensions: \(extensions.joined(separator: ", ")))"
        case .noImages(let path, let skipped):
            return "\(path): no readable images" + (skipped > 0 ? " (\(skipped) bad files skipped)" : "")
        case .csvSyntax(let path, let line, let reason): return "\(path), line \(line): \(reason)"
        case .missingColumn(let path, let column, let available):
            return "\(path): no column '\(column)' in the header (columns: \(available.joined(separator: ", ")))"
        case .invalidLabel(let path, let line, let value, let reason):
            return "\(path), line \(line): label '\(value)': \(reason)"
        case .labelOutOfRange(let path, let line, let label, let classCount):
            return "\(path), line \(line): label \(label) is outside the \(classCount) classes 0 ..< \(classCount)"
        case .unknownLabel(let path, let line, let label, let classNames):
            return "\(path), line \(line): label '\(label)' is not one of the classes \(quoted(classNames))"
        case .unknownClassFolder(let path, let name, let classNames):
            return "class folder \(path): '\(name)' is not one of the classes \(quoted(classNames))"
        case .invalidClassNames(let reason):
            return "invalid class names: \(reason)"
        case .missingImage(let csv, let line, let tried):
            return "\(csv), line \(line): no image file; tried \(tried.joined(separator: ", "))"
        case .transformFailed(let path, let reason): return "transforming \(path): \(reason)"
        }
    }
}

private func quoted(_ names: [String]) -> String { names.map { "'\($0)'" }.joined(separator: ", ") }

extension ImageDatasetError {
    /// The image-dataset form of a CSV reading error.
    init(_ error: CSVError) {
        switch error {
        case let .missingColumn(path, _, column, available):
            self = .missingColumn(path: path, column: column, available: available)
        default:
            self = .csvSyntax(path: error.path, line: error.line, reason: error.reason)
        }
    }

    /// The image-dataset form of a label error.
    init(_ error: ClassLabelError) {
        switch error {
        case let .invalidLabel(path, line, value, reason): self = .invalidLabel(path: path, line: line, value: value, reason: reason)
        case let .labelOutOfRange(path, line, label, classCount):
            self = .labelOutOfRange(path: path, line: line, label: label, classCount: classCount)
        case let .unknownLabel(path, line, label, classNames):
            self = .unknownLabel(path: path, line: line, label: label, classNames: classNames)
        case let .invalidClassNames(reason): self = .invalidClassNames(reason: reason)
        }
    }
}

/// What both image datasets share: how files are checked when the dataset is built and how an
/// item is read.
struct ImageItemReader: Sendable {
    var colorMode: ColorMode
    var transform: any ImageTransform

    /// Decodes `path`, converts its channels, applies the transform with the item's generator
    /// and returns the `[C, H, W]` tensor.
    func tensor(path: String, generator: inout RandomGenerator) throws -> Tensor {
        let image = try Image(contentsOfFile: path, mode: colorMode)
        do {
            return try transform.apply(image, generator: &generator).tensor()
        } catch let error as ImageTransformError {
            throw ImageDatasetError.transformFailed(path: path, reason: error.description)
        }
    }

    /// Checks each candidate's file with `verification`; with `.fail` the first bad file's error
    /// is thrown, with `.skip` bad files are returned in `skipped`.
    static func screen(_ candidates: [ImageSample], policy: BadFilePolicy,
                       verification: ImageVerification) throws -> (kept: [ImageSample], skipped: [SkippedImage]) {
        var kept: [ImageSample] = []
        var skipped: [SkippedImage] = []
        kept.reserveCapacity(candidates.count)
        for sample in candidates {
            do {
                _ = try ImageHeader(contentsOfFile: sample.path, verification: verification)
                kept.append(sample)
            } catch let error as ImageError {
                if policy == .fail { throw error }
                skipped.append(SkippedImage(path: sample.path, reason: error.description))
            }
        }
        return (kept, skipped)
    }
}
