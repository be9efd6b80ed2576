import Training
import XCTest

final class ItemContextTests: XCTestCase {
    func testGeneratorDependsOnlyOnSeedEpochAndIndex() {
        var a = ItemContext(epoch: 2, index: 7, seed: 1)
        var b = ItemContext(epoch: 2, index: 7, seed: 1)
        XCTAssertEqual(a.generator.next(), b.generator.next())
        var c = ItemContext(epoch: 3, index: 7, seed: 1)
        var d = ItemContext(epoch: 2, index: 8, seed: 1)
        var e = ItemContext(epoch: 2, index: 7, seed: 2)
        let x = ItemContext(epoch: 2, index: 7, seed: 1).generator
        XCTAssertNotEqual(c.generator.next(), { var g = x; return g.next() }())
        XCTAssertNotEqual(d.generator.next(), { var g = x; return g.next() }())
        XCTAssertNotEqual(e.generator.next(), { var g = x; return g.next() }())
    }
}
