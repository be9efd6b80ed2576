@_exported import Tensor
import XCTest

/// The outcome of comparing analytic gradients with finite differences.
public struct GradientCheckResult: CustomStringConvertible {
    /// Per input, the largest |analytic − numeric| over its elements.
    public var maxAbsoluteError: [Double]
    /// Per input, the first element that failed, with both values.
    public var failures: [(input: Int, index: Int, analytic: Double, numeric: Double)]
    public var passed: Bool { failures.isEmpty }

    public var description: String {
        if passed { return "gradients match (max abs error \(maxAbsoluteError))" }
        return failures.map { "input \($0.input)[\($0.index)]: analytic \($0.analytic), numeric \($0.numeric)" }
            .joined(separator: "; ")
    }
}

/// Compares the gradients that `backward()` computes for `f` with central finite differences.
///
/// The scalar checked is `Σ f(inputs) ⊙ w` for fixed random weights `w`, so every output
/// element's gradient is exercised, not just their sum. Finite differences are taken in Float64
/// from Float32 evaluations: `(L(x + ε) − L(x − ε)) / 2ε`.
///
/// - Parameters:
///   - inputs: the points to check at; each is made a leaf requiring a gradient.
///   - wrt: indices of the inputs to check (default: all).
///   - epsilon: the finite-difference step.
///   - atol, rtol: an element passes when |analytic − numeric| ≤ atol + rtol·|numeric|.
///   - f: the function; it may ignore inputs not listed in `wrt`.
public func gradientCheck(_ inputs: [Tensor], wrt: [Int]? = nil, epsilon: Double = 1e-2,
                          atol: Double = 2e-3, rtol: Double = 2e-2, seed: UInt64 = 7,
                          _ f: ([Tensor]) -> Tensor) -> GradientCheckResult {
    let checked = wrt ?? Array(inputs.indices)
    let base = inputs.map { $0.detached().copy() }
    var rng = RandomGenerator(seed: seed)
    let probe = withNoGrad { f(base) }
    let weights = Tensor.uniform(probe.shape, low: -1, high: 1, generator: &rng)

    func loss(_ xs: [Tensor]) -> Double {
        let y = withNoGrad { f(xs) }.scalars
        let w = weights.scalars
        var s = 0.0
        for i in y.indices { s += Double(y[i]) * Double(w[i]) }
        return s
    }

    // Analytic.
    let leaves = base.enumerated().map { checked.contains($0.offset) ? $0.element.requiringGrad() : $0.element }
    let out = f(leaves)
    (out * weights).sum().backward()

    var result = GradientCheckResult(maxAbsoluteError: [], failures: [])
    for i in checked {
        let analytic = (leaves[i].grad ?? Tensor.zeros(base[i].shape)).scalars
        var values = base[i].scalars
        var maxErr = 0.0
        for j in values.indices {
            let orig = values[j]
            var xs = base
            values[j] = Float(Double(orig) + epsilon)
            xs[i] = Tensor(values, shape: base[i].shape)
            let up = loss(xs)
            values[j] = Float(Double(orig) - epsilon)
            xs[i] = Tensor(values, shape: base[i].shape)
            let down = loss(xs)
            values[j] = orig
            let numeric = (up - down) / (2 * epsilon)
            let a = Double(analytic[j])
            let err = abs(a - numeric)
            maxErr = max(maxErr, err)
            if !(err <= atol + rtol * abs(numeric)) && !result.failures.contains(where: { $0.input == i }) {
                result.failures.append((i, j, a, numeric))
            }
        }
        result.maxAbsoluteError.append(maxErr)
    }
    return result
}

/// Asserts that `f`'s gradients match finite differences (see `gradientCheck`).
public func checkGradients(_ inputs: [Tensor], wrt: [Int]? = nil, epsilon: Double = 1e-2,
                           atol: Double = 2e-3, rtol: Double = 2e-2,
                           file: StaticString = #filePath, line: UInt = #line,
                           _ f: ([Tensor]) -> Tensor) {
    let r = gradientCheck(inputs, wrt: wrt, epsilon: epsilon, atol: atol, rtol: rtol, f)
    XCTAssertTrue(r.passed, r.description, file: file, line: line)
}

/// Asserts that two tensors have the same shape and agree within `atol + rtol·|expected|`
/// elementwise; the message names the worst element.
public func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 1e-4,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let a = actual.scalars, e = expected.scalars
    var worst = -1
    var worstExcess: Float = 0
    for i in a.indices {
        let excess = abs(a[i] - e[i]) - (atol + rtol * abs(e[i]))
        if excess > worstExcess || !a[i].isFinite && e[i].isFinite { worst = i; worstExcess = max(excess, .infinity) }
    }
    if worst >= 0 {
        XCTFail("\(message) element \(worst): \(a[worst]) vs expected \(e[worst])", file: file, line: line)
    }
}

/// A seeded random tensor for tests.
public func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, generator: &rng)
}
