import NN
import TestSupport
import XCTest

final class PoolingTests: XCTestCase {
    /// [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]] as [1, 1, 4, 4].
    private let grid = Tensor((1...16).map(Float.init), shape: [1, 1, 4, 4])

    func testMaxPool() {
        let pool = MaxPool2d(kernelSize: 2)
        XCTAssertTrue(pool.stateDict().isEmpty)
        XCTAssertEqual(pool.stride, IntPair(2, 2), "stride defaults to the kernel size")
        XCTAssertEqual(pool(grid).plain().scalars, [6, 8, 14, 16])
        // 3×3 windows, stride 2, padding 1 (padding never wins): centres at rows/cols 0 and 2.
        let padded = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)(grid).plain()
        XCTAssertEqual(padded.shape, [1, 1, 2, 2])
        XCTAssertEqual(padded.scalars, [6, 8, 14, 16])
        let negative = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)(grid * -1).plain()
        XCTAssertEqual(negative.scalars, [-1, -2, -5, -6])
    }

    func testAvgPoolWithAndWithoutPaddingInTheCount() {
        XCTAssertEqual(AvgPool2d(kernelSize: 2)(grid).plain().scalars, [3.5, 5.5, 11.5, 13.5])
        // Window at the top-left corner with padding 1 covers {1, 2, 5, 6} out of 9 positions.
        let including = AvgPool2d(kernelSize: 3, stride: 2, padding: 1)(grid).plain().scalars
        XCTAssertEqual(including[0], 14.0 / 9, accuracy: 1e-6)
        let excluding = AvgPool2d(kernelSize: 3, stride: 2, padding: 1, countIncludingPadding: false)(grid).plain().scalars
        XCTAssertEqual(excluding[0], 14.0 / 4, accuracy: 1e-6)
    }

    func testAdaptiveAvgPool() {
        let global = AdaptiveAvgPool2d(outputSize: 1)(grid).plain()
        XCTAssertEqual(global.shape, [1, 1, 1, 1])
        XCTAssertEqual(global.item, 8.5, accuracy: 1e-6)
        // 4 rows into 3: windows [0, 2), [1, 3), [2, 4); columns into 1.
        let uneven = AdaptiveAvgPool2d(outputSize: [3, 1])(grid).plain().scalars
        XCTAssertEqual(uneven, [4.5, 8.5, 12.5] as [Float])  // row means 2.5, 6.5, 10.5, 14.5, in pairs
    }

    func testFlatten() {
        let x = randomTensor([2, 3, 2, 2], seed: 1)
        XCTAssertEqual(Flatten()(x).shape, [2, 12])
        XCTAssertEqual(Flatten()(x).scalars, x.scalars)
        XCTAssertEqual(Flatten(startAxis: 0, endAxis: 1)(x).shape, [6, 2, 2])
    }

    func testGradients() {
        let x = randomTensor([1, 2, 4, 4], seed: 2)
        for layer: UnaryLayer in [MaxPool2d(kernelSize: 2), AvgPool2d(kernelSize: 3, stride: 1, padding: 1),
                                  AdaptiveAvgPool2d(outputSize: 3), Flatten()] {
            let r = gradientCheck([x]) { layer($0[0]).plain() }
            XCTAssertTrue(r.passed, "\(type(of: layer)): \(r)")
        }
    }

    func testSmallConvNetInSequential() {
        var rng = RandomGenerator(seed: 3)
        let net = Sequential(Conv2d(1, 4, kernelSize: 3, padding: 1, generator: &rng), BatchNorm2d(4), ReLU(),
                             MaxPool2d(kernelSize: 2), AdaptiveAvgPool2d(outputSize: 1), Flatten(),
                             Linear(4, 2, generator: &rng))
        XCTAssertEqual(net.stateDict().keys.sorted(), [
            "0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var", "1.weight",
            "6.bias", "6.weight",
        ])
        let y = net(randomTensor([2, 1, 6, 6], seed: 4))
        XCTAssertEqual(y.shape, [2, 2])
        y.sum().backward()
        XCTAssertNotNil((net.layers[0] as! Conv2d).weight.grad)
    }
}
