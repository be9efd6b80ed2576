import NN
import TestSupport
import XCTest

final class DropoutTests: XCTestCase {
    func testTrainingDropsAboutPAndScalesTheRest() {
        let d = Dropout(0.3, seed: 1)
        XCTAssertTrue(d.stateDict().isEmpty)
        let x = randomTensor([10_000], seed: 10, low: 1, high: 2)
        let y = d(x)
        let xs = x.scalars, ys = y.scalars
        let dropped = ys.filter { $0 == 0 }.count
        // Binomial(10000, 0.3): standard deviation 46.
        XCTAssertEqual(Double(dropped), 3000, accuracy: 250)
        for i in xs.indices where ys[i] != 0 {
            XCTAssertEqual(ys[i], xs[i] / 0.7, accuracy: 1e-6)
        }
    }

    func testEvaluationIsIdentityAndLeavesTheGeneratorAlone() {
        let d = Dropout(0.5, seed: 2)
        d.eval()
        let before = d.generatorState
        let x = randomTensor([64], seed: 3)
        XCTAssertEqual(d(x).scalars, x.scalars)
        XCTAssertEqual(d.generatorState, before)
        d.train()
        XCTAssertNotEqual(d(x).scalars, x.scalars)
        XCTAssertNotEqual(d.generatorState, before)
    }

    func testSameSeedSameMaskAndSuccessiveCallsDiffer() {
        let x = Tensor.ones([256])
        let a = Dropout(0.5, seed: 9), b = Dropout(0.5, seed: 9)
        let first = a(x).scalars
        XCTAssertEqual(first, b(x).scalars)
        XCTAssertNotEqual(first, a(x).scalars)
    }

    func testGradientIsTheMaskTimesScale() {
        let d = Dropout(0.25, seed: 4)
        let x = randomTensor([50], seed: 5).requiringGrad()
        let y = d(x)
        y.sum().backward()
        let ys = y.scalars, g = x.grad!.scalars
        for i in ys.indices { XCTAssertEqual(g[i], ys[i] == 0 ? 0 : 1 / 0.75, accuracy: 1e-6) }
    }

    func testGeneratorStatesSaveAndRestoreEveryStochasticModule() throws {
        var rng = RandomGenerator(seed: 6)
        let net = Sequential(Dropout(0.5, generator: &rng), Linear(8, 8, generator: &rng),
                             Dropout(0.5, generator: &rng))
        let states = net.generatorStates()
        XCTAssertEqual(states.keys.sorted(), ["0", "2"])
        let x = randomTensor([4, 8], seed: 7)
        let first = net(x).scalars
        XCTAssertNotEqual(net(x).scalars, first)
        try net.restoreGeneratorStates(states)
        XCTAssertEqual(net(x).scalars, first, "restored generators draw the same masks")
    }

    func testRestoreRejectsBadStatesAndChangesNothing() throws {
        var rng = RandomGenerator(seed: 8)
        let net = Sequential(Dropout(0.5, generator: &rng), Dropout(0.1, generator: &rng))
        let saved = net.generatorStates()
        XCTAssertThrowsError(try net.restoreGeneratorStates(["0": saved["0"]!])) { error in
            XCTAssertEqual(error as? ModuleError, .missingKeys(["1"]))
        }
        XCTAssertThrowsError(try net.restoreGeneratorStates(saved.merging(["9": [1, 2, 3, 4]]) { a, _ in a })) { error in
            XCTAssertEqual(error as? ModuleError, .unexpectedKeys(["9"]))
        }
        let other = ["0": [UInt64](repeating: 5, count: 4), "1": [0, 0, 0, 0]]
        XCTAssertThrowsError(try net.restoreGeneratorStates(other))
        XCTAssertEqual(net.generatorStates(), saved, "a failed restore changes nothing")
        try net.restoreGeneratorStates(["1": [1, 2, 3, 4]], strict: false)
        XCTAssertEqual(net.generatorStates()["1"], [1, 2, 3, 4])
        XCTAssertEqual(net.generatorStates()["0"], saved["0"])
    }
}
