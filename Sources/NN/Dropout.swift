import Tensor

/// Inverted dropout (PyTorch's `nn.Dropout`, Srivastava et al. 2014): in training mode each
/// element is zeroed with probability `p` and the kept ones are scaled by `1/(1 − p)`,
///
///     y = x ⊙ m / (1 − p),   m ~ Bernoulli(1 − p) elementwise,
///
/// so the expected value is unchanged; in evaluation mode `y = x`. Shapes: any → the same.
///
/// The layer owns its generator, which advances by one draw per call that drops elements; a
/// trainer saves and restores it through `StochasticModule` (`Module.generatorStates()`).
open class Dropout: Module, UnaryLayer, StochasticModule {
    /// The chance `p` that an element is zeroed, in `[0, 1]`.
    public let probability: Float
    /// The random source for the masks.
    public var generator: RandomGenerator

    /// - Parameters:
    ///   - probability: the chance `p` of dropping an element (PyTorch's default 0.5).
    ///   - seed: seeds this layer's own generator.
    public init(_ probability: Float = 0.5, seed: UInt64) {
        precondition(probability >= 0 && probability <= 1, "dropout probability must lie in [0, 1], got \(probability)")
        self.probability = probability
        generator = RandomGenerator(seed: seed)
        super.init()
    }

    /// A layer whose generator is split off `generator` (which advances by one draw).
    public convenience init(_ probability: Float = 0.5, generator: inout RandomGenerator) {
        self.init(probability, seed: generator.next())
    }

    public var generatorState: [UInt64] {
        get { generator.state }
        set { generator = RandomGenerator(state: newValue) }
    }

    /// `x` → `x` with elements dropped in training mode, unchanged in evaluation mode.
    open func callAsFunction(_ x: Tensor) -> Tensor {
        x.dropout(probability, training: isTraining, generator: &generator)
    }
}
