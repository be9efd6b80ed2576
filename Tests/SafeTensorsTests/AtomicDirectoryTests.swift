import Foundation
import Glibc
import XCTest
@testable import SafeTensors

/// `AtomicDirectory` called directly: which steps run (exchange, fallback, first write), what a
/// failure leaves, caller-built directories, and the cleaning of leftovers. The kills between
/// steps are in `AtomicDirectoryKillTests`.
final class AtomicDirectoryTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory() }
    override func tearDown() { directory.remove() }

    private var target: String { directory.file("adapter") }

    private func tree(_ path: String) throws -> String { DirectoryTrees.name(of: try DirectoryTrees.read(path)) }

    /// Writes `tree` to the target, recording the steps.
    @discardableResult
    private func write(_ tree: [String: [UInt8]], exchange: Bool = true) throws -> [AtomicDirectory.Step] {
        var steps: [AtomicDirectory.Step] = []
        let options = AtomicDirectory.Options(exchange: exchange, hook: { steps.append($0) })
        try AtomicDirectory.write(target, options: options) { try DirectoryTrees.write(tree, into: $0) }
        return steps
    }

    func testFirstWriteRenamesAndASecondOneExchanges() throws {
        XCTAssertEqual(try write(DirectoryTrees.old), [.staged, .placed])
        XCTAssertEqual(try tree(target), "old")
        // ext4 and tmpfs implement RENAME_EXCHANGE; the replacement is one exchange.
        XCTAssertEqual(try write(DirectoryTrees.new), [.staged, .exchanged])
        XCTAssertEqual(try tree(target), "new")
        XCTAssertEqual(try directory.contents(), ["adapter"])
    }

    func testFallbackSetsTheOldDirectoryAsideThenRemovesIt() throws {
        try write(DirectoryTrees.old)
        XCTAssertEqual(try write(DirectoryTrees.new, exchange: false), [.staged, .setAside, .placed])
        XCTAssertEqual(try tree(target), "new")
        XCTAssertEqual(try directory.contents(), ["adapter"])
    }

    func testAFailingBodyLeavesTheOldDirectoryAndNoLeftovers() throws {
        struct Refused: Error {}
        try write(DirectoryTrees.old)
        XCTAssertThrowsError(try AtomicDirectory.write(target) { staging in
            try DirectoryTrees.write(DirectoryTrees.new, into: staging)
            throw Refused()
        }) { XCTAssertTrue($0 is Refused) }
        XCTAssertEqual(try tree(target), "old")
        XCTAssertEqual(try directory.contents(), ["adapter"])
    }

    func testTheParentIsCreated() throws {
        let deep = directory.file("a/b/adapter")
        try AtomicDirectory.write(deep) { try DirectoryTrees.write(DirectoryTrees.third, into: $0) }
        XCTAssertEqual(try tree(deep), "third")
    }

    func testReplaceWithACallerBuiltDirectory() throws {
        try write(DirectoryTrees.old)
        let built = directory.file("built")
        try DirectoryTrees.write(DirectoryTrees.new, into: built)
        try AtomicDirectory.replace(at: target, with: built)
        XCTAssertEqual(try tree(target), "new")
        XCTAssertEqual(try directory.contents(), ["adapter"])
    }

    func testReplaceFromAnotherFileSystemFailsAndMovesNothing() throws {
        var shm = stat(), tmp = stat()
        guard stat("/dev/shm", &shm) == 0, stat(directory.path, &tmp) == 0, shm.st_dev != tmp.st_dev else {
            throw XCTSkip("needs /dev/shm on another file system than \(directory.path)")
        }
        let built = "/dev/shm/lorakit-atomic-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: built) }
        try DirectoryTrees.write(DirectoryTrees.new, into: built)
        try write(DirectoryTrees.old)
        XCTAssertThrowsError(try AtomicDirectory.replace(at: target, with: built)) { error in
            guard case .io(let path, _, let code)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, self.target)
            XCTAssertEqual(code, EXDEV)
        }
        XCTAssertEqual(try tree(target), "old")
        XCTAssertEqual(try tree(built), "new")
        XCTAssertEqual(try directory.contents(), ["adapter"])
    }

    func testAFileAtTheDestinationIsNotReplaced() throws {
        try writeBytes(Array("keep".utf8), to: target)
        XCTAssertThrowsError(try write(DirectoryTrees.new)) { error in
            guard case .io(let path, _, let code)? = error as? SafeTensorsError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, self.target)
            XCTAssertEqual(code, ENOTDIR)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data("keep".utf8))
        XCTAssertEqual(try directory.contents(), ["adapter"])
    }

    func testLeftoversOfExitedProcessesAreCleanedAndThoseOfRunningOnesKept() throws {
        let dead = try DirectoryTrees.deadProcessID()
        let deadStaging = ".adapter.tmp-\(dead)-1f", deadAside = ".adapter.old-\(dead)-2e"
        let mine = ".adapter.tmp-\(getpid())-3d", other = ".other.tmp-\(dead)-4c", unrelated = ".adapter.tmp-x"
        for name in [deadStaging, mine, other, unrelated] { try DirectoryTrees.write(DirectoryTrees.third, into: directory.file(name)) }
        try DirectoryTrees.write(DirectoryTrees.old, into: directory.file(deadAside))
        // The target is missing: the set-aside old directory comes back, the rest of it goes.
        AtomicDirectory.removeLeftovers(in: directory.path, name: "adapter")
        XCTAssertEqual(try tree(target), "old")
        XCTAssertEqual(try directory.contents(), [other, unrelated, mine, "adapter"].sorted())
        // Without a name, every target's leftovers of exited processes go.
        AtomicDirectory.removeLeftovers(in: directory.path)
        XCTAssertEqual(try directory.contents(), [unrelated, mine, "adapter"].sorted())
    }

    func testASetAsideDirectoryIsRemovedWhenTheTargetExists() throws {
        let dead = try DirectoryTrees.deadProcessID()
        try write(DirectoryTrees.new)
        try DirectoryTrees.write(DirectoryTrees.old, into: directory.file(".adapter.old-\(dead)-9"))
        try write(DirectoryTrees.third)
        XCTAssertEqual(try tree(target), "third")
        XCTAssertEqual(try directory.contents(), ["adapter"])
    }

    func testRemoveLeavesNothingHalfDeleted() throws {
        try write(DirectoryTrees.new)
        try AtomicDirectory.remove(target)
        XCTAssertEqual(try directory.contents(), [])
        XCTAssertNoThrow(try AtomicDirectory.remove(target))        // nothing there: not an error
    }
}
