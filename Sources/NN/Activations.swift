import Tensor

// Activation functions as layers without parameters, for `Sequential` and for models whose
// activation is a configuration choice. Each applies its op elementwise: shapes any → the same.

/// `max(x, 0)` (PyTorch's `nn.ReLU`).
open class ReLU: Module, UnaryLayer {
    public override init() { super.init() }
    open func callAsFunction(_ x: Tensor) -> Tensor { x.relu() }
}

/// The Gaussian error linear unit (PyTorch's `nn.GELU`, Hendrycks & Gimpel 2016):
///
///     exact:  x · Φ(x) = 0.5 · x · (1 + erf(x / √2))
///     tanh:   0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
open class GELU: Module, UnaryLayer {
    /// How Φ is evaluated (PyTorch's `approximate`: `'none'` is `.exact`, `'tanh'` is `.tanh`).
    public let approximation: GELUApproximation

    public init(approximation: GELUApproximation = .exact) {
        self.approximation = approximation
        super.init()
    }

    open func callAsFunction(_ x: Tensor) -> Tensor { x.gelu(approximation) }
}

/// `x · σ(x)` (PyTorch's `nn.SiLU`, also called swish).
open class SiLU: Module, UnaryLayer {
    public override init() { super.init() }
    open func callAsFunction(_ x: Tensor) -> Tensor { x.silu() }
}

/// `σ(x) = 1 / (1 + e⁻ˣ)` (PyTorch's `nn.Sigmoid`).
open class Sigmoid: Module, UnaryLayer {
    public override init() { super.init() }
    open func callAsFunction(_ x: Tensor) -> Tensor { x.sigmoid() }
}

/// `tanh(x)` (PyTorch's `nn.Tanh`).
open class Tanh: Module, UnaryLayer {
    public override init() { super.init() }
    open func callAsFunction(_ x: Tensor) -> Tensor { x.tanh() }
}

/// `x` unchanged (PyTorch's `nn.Identity`): a placeholder where a layer is optional, such as a
/// classifier head removed for feature extraction.
open class Identity: Module, UnaryLayer {
    public override init() { super.init() }
    open func callAsFunction(_ x: Tensor) -> Tensor { x }
}
