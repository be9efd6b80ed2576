import Foundation
import Glibc
import Training
import XCTest

/// `CheckpointStore` on a temporary folder: saving a step again replaces it whole, a failed save
/// changes nothing, removal and leftovers leave no hidden or half-deleted directory. (Kills in the
/// middle of a save are in `ResumeTests`; kills between the steps of the replacement itself in
/// `SafeTensorsTests.AtomicDirectoryKillTests`.)
final class CheckpointStoreTests: XCTestCase {
    private func store() -> CheckpointStore {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("lorakit-store-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return CheckpointStore(directory: url)
    }

    private func entries(_ store: CheckpointStore) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: store.directory.path).sorted()
    }

    private func text(_ url: URL, _ name: String) throws -> String {
        try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
    }

    /// A checkpoint whose state file says `tag`, with one more file `extra` when given.
    private func save(_ store: CheckpointStore, step: Int, tag: String, extra: String? = nil) throws -> URL {
        try store.save(step: step) { dir in
            try Data(tag.utf8).write(to: dir.appendingPathComponent(CheckpointStore.stateFile))
            if let extra { try Data(extra.utf8).write(to: dir.appendingPathComponent(extra)) }
        }
    }

    func testSavingAStepAgainReplacesItWhole() throws {
        let store = store()
        let first = try save(store, step: 3, tag: "first", extra: "only-first")
        XCTAssertEqual(first.lastPathComponent, "step-000003")
        XCTAssertEqual(store.latest()?.lastPathComponent, "step-000003")
        _ = try save(store, step: 3, tag: "second")
        XCTAssertEqual(try text(first, CheckpointStore.stateFile), "second")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: first.path), [CheckpointStore.stateFile])
        XCTAssertEqual(try entries(store), ["latest", "step-000003"])
    }

    func testAFailedSaveChangesNothing() throws {
        struct Full: Error {}
        let store = store()
        _ = try save(store, step: 1, tag: "one")
        _ = try save(store, step: 2, tag: "two")
        XCTAssertThrowsError(try store.save(step: 2) { dir in
            try Data("half".utf8).write(to: dir.appendingPathComponent(CheckpointStore.stateFile))
            throw Full()
        }) { error in
            guard case .checkpoint(let path, _)? = error as? TrainingError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, store.directory.appendingPathComponent("step-000002").path)
        }
        XCTAssertEqual(store.latest()?.lastPathComponent, "step-000002")
        XCTAssertEqual(try text(store.latest()!, CheckpointStore.stateFile), "two")
        XCTAssertEqual(try entries(store), ["latest", "step-000001", "step-000002"])
    }

    func testRemoveKeepsTheLatestAndLeavesNoHiddenDirectory() throws {
        let store = store()
        let one = try save(store, step: 1, tag: "one")
        let two = try save(store, step: 2, tag: "two")
        store.remove(two)                                       // `latest` names it: kept
        store.remove(one)
        XCTAssertEqual(try entries(store), ["latest", "step-000002"])
        XCTAssertEqual(store.all().map(\.lastPathComponent), ["step-000002"])
    }

    func testLeftoversOfAKilledRunAreCleaned() throws {
        let store = store()
        _ = try save(store, step: 1, tag: "one")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        let dead = process.processIdentifier
        let fm = FileManager.default
        // A half-written staging directory, a set-aside step whose replacement was killed, a
        // half-written `latest` and a staging directory of the earlier naming.
        for name in [".step-000002.tmp-\(dead)-a1", ".step-000005.old-\(dead)-b2", ".tmp-step-000003-\(dead)"] {
            try fm.createDirectory(at: store.directory.appendingPathComponent(name), withIntermediateDirectories: false)
        }
        try Data("x".utf8).write(to: store.directory.appendingPathComponent(".step-000005.old-\(dead)-b2/\(CheckpointStore.stateFile)"))
        try Data("step".utf8).write(to: store.directory.appendingPathComponent(".latest.tmp-\(dead)-c3"))
        store.removeLeftovers()
        XCTAssertEqual(try entries(store), ["latest", "step-000001", "step-000005"])
        XCTAssertEqual(try text(store.directory.appendingPathComponent("step-000005"), CheckpointStore.stateFile), "x")
    }
}
