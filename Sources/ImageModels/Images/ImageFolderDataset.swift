import Foundation
import Tensor
import Training

/// Images in one subfolder per class (torchvision's `ImageFolder`):
///
///     root/cat/001.png   root/cat/more/002.jpg   root/dog/003.png …
///
/// A class's label is its index in `classNames`. Without given class names, the classes are the
/// subfolder names, sorted (torchvision's rule). With `classNames` (the recipe's
/// `model.class_names`, or the training split's classes for a validation folder) labels are
/// mapped by name: a folder that lacks some classes still numbers the others as the training
/// split does, and a subfolder that is not one of the classes is an error naming it and the
/// classes there are — never a silent new index.
/// Files are found recursively, those of a folder first, then its subfolders, each in sorted
/// order (torchvision's order), keeping those whose extension is in `extensions` (any case);
/// hidden files and folders are ignored. The format is still read from each file's magic bytes.
///
/// When the dataset is built every file is checked (`verification`: by default header and
/// structure only, no decoding); a bad file fails the build with an error naming it, or with
/// `badFiles: .skip` is left out and listed in `skipped`. An item is the decoded image,
/// converted to `colorMode`, passed through `transform` with the item's generator, as a
/// `[C, H, W]` tensor.
public struct ImageFolderDataset: Dataset {
    public typealias Item = (input: Tensor, label: Int)

    /// Extensions read by default (the formats decoded).
    public static let defaultExtensions = ["png", "jpg", "jpeg"]

    public let root: String
    /// Class names, label i being `classNames[i]`: those given, or the subfolders sorted.
    public let classNames: [String]
    /// The files kept, in order.
    public let samples: [ImageSample]
    /// Files left out with `badFiles: .skip`.
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
    ///   - root: the folder holding one subfolder per class.
    ///   - classNames: the classes in index order; every subfolder must be one of them, and not
    ///     every class needs a subfolder. Nil: the sorted subfolders.
    ///   - transform: applied to each decoded image (default: none).
    ///   - colorMode: channels after decoding (default RGB, as torchvision's loader).
    ///   - extensions: file extensions to read, without dots, any case.
    ///   - badFiles: stop at the first bad file (`.fail`) or leave bad files out (`.skip`).
    ///   - verification: how each file is checked now (`.header`: cheap; `.full`: decode all).
    /// - Throws: `ImageDatasetError` (no such folder, no classes, a class without images, no
    ///   readable image at all, bad `classNames`, a subfolder not among them) or, with `.fail`,
    ///   the first bad file's `ImageError`.
    public init(root: String, classNames: [String]? = nil, transform: any ImageTransform = Compose(),
                colorMode: ColorMode = .rgb, extensions: [String] = ImageFolderDataset.defaultExtensions,
                badFiles: BadFilePolicy = .fail, verification: ImageVerification = .header) throws {
        let fileManager = FileManager.default
        if let classNames {
            do { try ClassLabelResolver.validate(classNames: classNames) } catch { throw ImageDatasetError(error) }
        }
        guard isDirectory(root, fileManager) else { throw ImageDatasetError.notADirectory(path: root) }
        let accepted = Set(extensions.map { $0.lowercased().hasPrefix(".") ? String($0.lowercased().dropFirst()) : $0.lowercased() })
        let folders = try visibleEntries(of: root, fileManager).filter { isDirectory(root + "/" + $0, fileManager) }
        guard !folders.isEmpty else { throw ImageDatasetError.noClasses(root: root) }
        let names = classNames ?? folders
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })

        var candidates: [ImageSample] = []
        for name in folders {
            let folder = root + "/" + name
            guard let label = index[name] else {
                throw ImageDatasetError.unknownClassFolder(path: folder, name: name, classNames: names)
            }
            let files = try imageFiles(in: folder, accepted: accepted, fileManager)
            guard !files.isEmpty else {
                throw ImageDatasetError.emptyClass(path: folder, extensions: accepted.sorted())
            }
            candidates += files.map { ImageSample(path: $0, label: label) }
        }
        let (kept, skipped) = try ImageItemReader.screen(candidates, policy: badFiles, verification: verification)
        guard !kept.isEmpty else { throw ImageDatasetError.noImages(path: root, skipped: skipped.count) }
        self.root = root
        self.classNames = names
        self.samples = kept
        self.skipped = skipped
        self.reader = ImageItemReader(colorMode: colorMode, transform: transform)
    }

    public var count: Int { samples.count }

    /// Labels of all samples, in order (for class weights or stratified splits).
    public var labels: [Int] { samples.map(\.label) }

    public func item(at index: Int, context: inout ItemContext) throws -> Item {
        let sample = samples[index]
        return (try reader.tensor(path: sample.path, generator: &context.generator), sample.label)
    }
}

private func isDirectory(_ path: String, _ fileManager: FileManager) -> Bool {
    var flag: ObjCBool = false
    return fileManager.fileExists(atPath: path, isDirectory: &flag) && flag.boolValue
}

/// Entry names of a folder, hidden ones left out, sorted.
private func visibleEntries(of folder: String, _ fileManager: FileManager) throws -> [String] {
    do {
        return try fileManager.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
    } catch {
        throw ImageDatasetError.unreadable(path: folder, reason: "\(error.localizedDescription)")
    }
}

/// Image files under `folder`: its own files, then each subfolder's, in sorted order.
private func imageFiles(in folder: String, accepted: Set<String>, _ fileManager: FileManager) throws -> [String] {
    var files: [String] = []
    var folders: [String] = []
    for name in try visibleEntries(of: folder, fileManager) {
        let path = folder + "/" + name
        if isDirectory(path, fileManager) {
            folders.append(path)
        } else if let dot = name.lastIndex(of: "."), accepted.contains(name[name.index(after: dot)...].lowercased()) {
            files.append(path)
        }
    }
    for sub in folders { files += try imageFiles(in: sub, accepted: accepted, fileManager) }
    return files
}
