@testable import Tensor
import XCTest

/// The caching allocator: exact-size reuse, carving large requests out of larger cached blocks,
/// merging freed neighbours back, long-lived allocations kept apart, and trimming. Each test uses
/// a pool of its own, so tensors elsewhere do not disturb it.
final class BufferPoolTests: XCTestCase {
    let mib = 1 << 20

    func testExactSizeIsReusedWithoutNewMemory() {
        let pool = BufferPool()
        let a = pool.allocate(byteCount: 3 * mib)
        pool.release(a, byteCount: 3 * mib)
        let b = pool.allocate(byteCount: 3 * mib)
        XCTAssertEqual(a, b)
        XCTAssertEqual(pool.segmentByteCount, 3 * mib)
        pool.release(b, byteCount: 3 * mib)
    }

    func testLargeRequestsAreCarvedFromALargerBlockAndMergeBack() {
        let pool = BufferPool()
        let big = pool.allocate(byteCount: 8 * mib)
        pool.release(big, byteCount: 8 * mib)
        XCTAssertEqual(pool.cachedByteCount, 8 * mib)

        // Two 2 MiB requests come out of the cached 8 MiB block, one after the other.
        let a = pool.allocate(byteCount: 2 * mib)
        let b = pool.allocate(byteCount: 2 * mib)
        XCTAssertEqual(a, big)
        XCTAssertEqual(b, big + 2 * mib)
        XCTAssertEqual(pool.segmentByteCount, 8 * mib, "no new memory")
        XCTAssertEqual(pool.statistics.live, 4 * mib)
        XCTAssertEqual(pool.cachedByteCount, 4 * mib)

        // Freed in either order, the pieces merge back into the whole block.
        pool.release(a, byteCount: 2 * mib)
        pool.release(b, byteCount: 2 * mib)
        XCTAssertEqual(pool.cachedByteCount, 8 * mib)
        let whole = pool.allocate(byteCount: 8 * mib)
        XCTAssertEqual(whole, big)
        XCTAssertEqual(pool.segmentByteCount, 8 * mib)
        pool.release(whole, byteCount: 8 * mib)
    }

    func testMergingStaysInsideASegment() {
        let pool = BufferPool()
        // Two segments; whatever their addresses, blocks of one never merge into the other.
        let s1 = pool.allocate(byteCount: 4 * mib)
        let s2 = pool.allocate(byteCount: 4 * mib)
        pool.release(s1, byteCount: 4 * mib)
        pool.release(s2, byteCount: 4 * mib)
        let a = pool.allocate(byteCount: 6 * mib)
        XCTAssertTrue(a != s1 && a != s2, "6 MiB does not fit in either 4 MiB segment")
        XCTAssertEqual(pool.segmentByteCount, 14 * mib)
        pool.release(a, byteCount: 6 * mib)
    }

    func testSmallRequestsAreNotCarved() {
        let pool = BufferPool()
        let big = pool.allocate(byteCount: 4 * mib)
        pool.release(big, byteCount: 4 * mib)
        let small = pool.allocate(byteCount: 1000)
        XCTAssertNotEqual(small, big)
        XCTAssertEqual(Int(bitPattern: small) % BufferPool.alignment, 0)
        pool.release(small, byteCount: 1000)
    }

    func testLongLivedAllocationsGetMemoryOfTheirOwn() {
        let pool = BufferPool()
        let big = pool.allocate(byteCount: 8 * mib)
        pool.release(big, byteCount: 8 * mib)
        let kept = BufferPool.$longLived.withValue(true) { pool.allocate(byteCount: 2 * mib) }
        XCTAssertNotEqual(kept, big, "not carved out of the cached block")
        XCTAssertEqual(pool.segmentByteCount, 10 * mib)
        // A cached whole segment of the exact size is fine for it.
        pool.release(kept, byteCount: 2 * mib)
        let again = BufferPool.$longLived.withValue(true) { pool.allocate(byteCount: 2 * mib) }
        XCTAssertEqual(again, kept)
        pool.release(again, byteCount: 2 * mib)
    }

    func testTrimReturnsFreeSegmentsOnly() {
        let pool = BufferPool()
        let a = pool.allocate(byteCount: 4 * mib)
        let b = pool.allocate(byteCount: 2 * mib)
        pool.release(a, byteCount: 4 * mib)
        pool.trim()
        XCTAssertEqual(pool.segmentByteCount, 2 * mib, "the live segment stays")
        XCTAssertEqual(pool.cachedByteCount, 0)
        pool.release(b, byteCount: 2 * mib)
        pool.trim()
        XCTAssertEqual(pool.segmentByteCount, 0)
    }

    func testPeakCountsLiveBytes() {
        let pool = BufferPool()
        let a = pool.allocate(byteCount: 2 * mib)
        let b = pool.allocate(byteCount: 3 * mib)
        pool.release(a, byteCount: 2 * mib)
        pool.release(b, byteCount: 3 * mib)
        XCTAssertEqual(pool.statistics.peak, 5 * mib)
        XCTAssertEqual(pool.statistics.live, 0)
    }
}
