import Tensor

/// One step of a long short-term memory cell (PyTorch's `nn.LSTMCell`, its keys and gate order):
///
///     [i, f, g, o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh        four blocks of `hidden`, in that order
///     c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
///     h' = σ(o) ⊙ tanh(c')
///
/// Shapes: `x` [N, input], `h`, `c` [N, hidden]; `weight_ih` [4·hidden, input], `weight_hh`
/// [4·hidden, hidden], `bias_ih`, `bias_hh` [4·hidden]. Composed of the engine's differentiable
/// operations, so gradients flow to the input, the state and every parameter.
open class LSTMCell: Module {
    @Parameter(key: "weight_ih") public var weightIH: Tensor
    @Parameter(key: "weight_hh") public var weightHH: Tensor
    @OptionalParameter(key: "bias_ih") public var biasIH: Tensor?
    @OptionalParameter(key: "bias_hh") public var biasHH: Tensor?

    public var inputSize: Int { weightIH.shape[1] }
    public var hiddenSize: Int { weightHH.shape[1] }

    /// PyTorch's initialisation: every parameter ~ U(±1/√hidden).
    public init(_ inputSize: Int, _ hiddenSize: Int, bias: Bool = true, generator: inout RandomGenerator) {
        let bound = 1 / Float(hiddenSize).squareRoot()
        let u = { (shape: [Int], g: inout RandomGenerator) in Tensor.uniform(shape, low: -bound, high: bound, generator: &g) }
        _weightIH = Parameter(wrappedValue: u([4 * hiddenSize, inputSize], &generator), key: "weight_ih")
        _weightHH = Parameter(wrappedValue: u([4 * hiddenSize, hiddenSize], &generator), key: "weight_hh")
        _biasIH = OptionalParameter(wrappedValue: bias ? u([4 * hiddenSize], &generator) : nil, key: "bias_ih")
        _biasHH = OptionalParameter(wrappedValue: bias ? u([4 * hiddenSize], &generator) : nil, key: "bias_hh")
        super.init()
    }

    /// A cell with the given parameters (shapes as above).
    public init(weightIH: Tensor, weightHH: Tensor, biasIH: Tensor? = nil, biasHH: Tensor? = nil) {
        let hidden = weightHH.shape.count == 2 ? weightHH.shape[1] : 0
        precondition(weightHH.shape == [4 * hidden, hidden] && weightIH.rank == 2 && weightIH.shape[0] == 4 * hidden,
                     "LSTMCell: weight_ih \(weightIH.shape) and weight_hh \(weightHH.shape) must be [4·hidden, input] and [4·hidden, hidden]")
        for b in [biasIH, biasHH].compactMap({ $0 }) { precondition(b.shape == [4 * hidden], "LSTMCell: bias \(b.shape) != [\(4 * hidden)]") }
        _weightIH = Parameter(wrappedValue: weightIH, key: "weight_ih")
        _weightHH = Parameter(wrappedValue: weightHH, key: "weight_hh")
        _biasIH = OptionalParameter(wrappedValue: biasIH, key: "bias_ih")
        _biasHH = OptionalParameter(wrappedValue: biasHH, key: "bias_hh")
        super.init()
    }

    /// One step: `x` [N, input] and the state (zeros when nil) → the new (h, c), each [N, hidden].
    open func callAsFunction(_ x: Tensor, state: (h: Tensor, c: Tensor)? = nil) -> (h: Tensor, c: Tensor) {
        precondition(x.rank == 2 && x.shape[1] == inputSize, "LSTMCell: input must be [N, \(inputSize)], got \(x.shape)")
        let n = x.shape[0]
        let (h, c) = state ?? (Tensor.zeros([n, hiddenSize]), Tensor.zeros([n, hiddenSize]))
        precondition(h.shape == [n, hiddenSize] && c.shape == [n, hiddenSize],
                     "LSTMCell: the state must be two [\(n), \(hiddenSize)] tensors, got \(h.shape) and \(c.shape)")
        let gates = Tensor.linear(x, weight: weightIH, bias: biasIH) + Tensor.linear(h, weight: weightHH, bias: biasHH)
        let parts = gates.split(size: hiddenSize, axis: 1)
        let newC = parts[1].sigmoid() * c + parts[0].sigmoid() * parts[2].tanh()
        return (parts[3].sigmoid() * newC.tanh(), newC)
    }
}

/// A stack of LSTM layers over sequences (PyTorch's `nn.LSTM`, unidirectional, its keys
/// `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, … `_lK`): layer k reads layer
/// k − 1's outputs. Inputs are [N, T, input] (`batchFirst`, the default) or [T, N, input].
open class LSTM: Module {
    /// The layers' cells, in order (their parameters appear under PyTorch's flat keys).
    public let cells: [LSTMCell]
    public let batchFirst: Bool

    public init(_ inputSize: Int, _ hiddenSize: Int, layers: Int = 1, bias: Bool = true, batchFirst: Bool = true,
                generator: inout RandomGenerator) {
        precondition(layers >= 1, "LSTM: at least one layer")
        var cells: [LSTMCell] = []
        for k in 0..<layers { cells.append(LSTMCell(k == 0 ? inputSize : hiddenSize, hiddenSize, bias: bias, generator: &generator)) }
        self.cells = cells
        self.batchFirst = batchFirst
        super.init()
    }

    public init(cells: [LSTMCell], batchFirst: Bool = true) {
        precondition(!cells.isEmpty, "LSTM: at least one layer")
        for (a, b) in zip(cells, cells.dropFirst()) {
            precondition(b.inputSize == a.hiddenSize, "LSTM: a layer of input \(b.inputSize) after one of hidden \(a.hiddenSize)")
        }
        self.cells = cells
        self.batchFirst = batchFirst
        super.init()
    }

    /// The cells' parameters under `weight_ih_l0`-style keys instead of as children.
    open override func items() -> [(key: String, item: Item)] {
        var out = super.items().filter { if case .children = $0.item { return false } else { return true } }
        for (k, cell) in cells.enumerated() {
            for (key, item) in cell.items() { out.append(("\(key)_l\(k)", item)) }
        }
        return out
    }

    /// `x` [N, T, input] (or [T, N, input]) and per-layer initial states (zeros when nil) →
    /// the last layer's outputs [N, T, hidden] (or [T, N, hidden]) and each layer's final (h, c).
    open func callAsFunction(_ x: Tensor, state: [(h: Tensor, c: Tensor)]? = nil) -> (output: Tensor, state: [(h: Tensor, c: Tensor)]) {
        precondition(x.rank == 3 && x.shape[batchFirst ? 1 : 0] >= 1 && x.shape[2] == cells[0].inputSize,
                     "LSTM: input must be [\(batchFirst ? "N, T" : "T, N"), \(cells[0].inputSize)] with T ≥ 1, got \(x.shape)")
        if let state { precondition(state.count == cells.count, "LSTM: \(state.count) initial states for \(cells.count) layers") }
        let timeAxis = batchFirst ? 1 : 0
        var steps = x.split(size: 1, axis: timeAxis).map { $0.squeezed(timeAxis) }    // T × [N, input]
        var finals: [(h: Tensor, c: Tensor)] = []
        for (k, cell) in cells.enumerated() {
            var s = state?[k]
            var outputs: [Tensor] = []
            for step in steps {
                let next = cell(step, state: s)
                outputs.append(next.h)
                s = next
            }
            if let s { finals.append(s) }
            steps = outputs
        }
        return (Tensor.stack(steps, axis: timeAxis), finals)
    }
}
