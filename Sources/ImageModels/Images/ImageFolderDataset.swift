import Foundation
import Tensor
import Training

/// Images in one subfolder per class (torchvision's `ImageFolder`):
///
///     root/cat/001.png   root/cat/more/002.jpg   root/dog/003.png …
///
/// Classes are the subfolder names, sorted; a class's label is its index in `classNames`.
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
    /// Class names, sorted; label i is `classNames[i]`.
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
    ///   - transform: applied to each decoded image (default: none).
    ///   - colorMode: channels after decoding (default RGB, as torchvision's loader).
    ///   - extensions: file extensions to read, without dots, any case.
    ///   - badFiles: stop at the first bad file (`.fail`) or leave bad files out (`.skip`).
    ///   - verification: how each file is checked now (`.header`: cheap; `.full`: decode all).
    /// - Throws: `ImageDatasetError` (no such folder, no classes, a class without images, no
    ///   readable image at all) or, with `.fail`, the first bad file's `ImageError`.
    public init(root: String, transform: any ImageTransform = Compose(), colorMode: ColorMode = .rgb,
                extensions: [String] = ImageFolderDataset.defaultExtensions, badFiles: BadFilePolicy = .fail,
                verification: ImageVerification = .header) throws {
        let fileManager = FileManager.default
        guard isDirectory(root, fileManager) else { throw ImageDatasetError.notADirectory(path: root) }
        let accepted = Set(extensions.map { $0.lowercased().hasPrefix(".") ? String($0.lowercased().dropFirst()) : $0.lowercased() })
        let classes = try visibleEntries(of: root, fileManager).filter { isDirectory(root + "/" + $0, fileManager) }
        guard !classes.isEmpty else { throw ImageDatasetError.noClasses(root: root) }

        var candidates: [ImageSample] = []
        for (label, name) in classes.enumerated() {
            let folder = root + "/" + name
            let files = try imageFiles(in: folder, accepted: accepted, fileManager)
            guard !files.isEmpty else {
                throw ImageDatasetError.emptyClass(path: folder, extensions: accepted.sorted())
            }
            candidates += files.map { ImageSample(path: $0, label: label) }
        }
        let (kept, skipped) = try ImageItemReader.screen(candidates, policy: badFiles, verification: verification)
        guard !kept.isEmpty else { throw ImageDatasetError.noImages(path: root, skipped: skipped.count) }
        self.root = root
        self.classNames = classes
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
