import NN
import Tensor

/// A layer that can host LoRA adapters: its LoRA form (`makeLoRAHost`) replaces it in the
/// module tree and shares its parameters. Plugins conform their own layers to add LoRA forms.
public protocol LoRAAdaptable: Module {
    /// The LoRA form of this layer, holding this layer's parameters and no adapters yet.
    func makeLoRAHost() throws -> LoRAHost
}

/// The LoRA form of a layer: it computes `base(x) + Σ scaling · B(A(dropout(x)))` over its
/// active adapters, and merges adapters into its base weight and back.
///
/// A host says only what is particular to its layer kind, as PEFT's `Linear`/`Conv2d`/`Embedding`
/// LoRA layers do:
///
/// - how an adapter is shaped and starts (`makeFactors`),
/// - what update of the base weight it stands for (`deltaWeight`),
/// - how its forward adds an adapter's output (the closure it passes to `applyAdapters`).
///
/// Everything else comes from the extension in `LoRAHost+Adapters.swift` and the `adapters`
/// container: adding (checked first, then applied), activating, deleting, merging and unmerging,
/// PiSSA initialisation, variants such as DoRA (`LoRAVariant`), parameter counts. A minimal host:
///
///     final class LoRAThing: Thing, LoRAHost {
///         let adapters = LoRAAdapters()
///         func makeFactors(_ s: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
///             LoRAInit.factors(rank: s.rank, inFeatures: n, outFeatures: m, fanIn: n, settings: s, generator: &generator)
///         }
///         func deltaWeight(_ adapter: LoRAAdapter) -> Tensor { adapter.b.matmul(adapter.a) * adapter.scaling }
///         override func callAsFunction(_ x: Tensor) -> Tensor {
///             applyAdapters(to: super.callAsFunction(x), input: x) { y, h, adapter in
///                 y = y + h.matmul(adapter.a, transposeB: true).matmul(adapter.b, transposeB: true) * adapter.scaling
///             }
///         }
///     }
public protocol LoRAHost: Module {
    /// The adapters and which of them are active or merged (child key `adapters`, so adapter
    /// parameters are `<layer>.adapters.<name>.lora_A.weight`). Declare it as a stored `let`.
    var adapters: LoRAAdapters { get }
    /// The base weight that merging changes (default: this module's own `weight`).
    var baseWeight: ParameterSlot { get }
    /// Parameters of the base layer alone (default: `weight` and `bias`).
    var baseParameterCount: Int { get }
    /// The factors of a new adapter with `settings`: A [r, in, …] and B [out, r, …] in the shapes
    /// of PEFT's files, initialised per `settings.initialization` (`LoRAInit.factors`; PiSSA
    /// replaces them afterwards). Throws when the layer cannot take these settings (a rank that
    /// does not divide a grouped convolution's groups). Must not change the layer: injection
    /// prepares every layer before it changes any.
    func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor)
    /// The update `scaling · B·A` that `adapter` stands for, in the shape merging adds to the base
    /// weight.
    func deltaWeight(_ adapter: LoRAAdapter) -> Tensor
    /// File key names of A and B in PEFT adapter files (`lora_A.weight` / `lora_embedding_A`, …).
    var peftFactorKeys: (a: String, b: String) { get }
    /// Whether adapters can merge into the base weight (not for grouped convolutions).
    var supportsMerge: Bool { get }
}

/// A host whose update `s·B·A` has its base weight's own shape, output rows first, and whose
/// output is that weight applied to the input (plus bias). Such a weight can be decomposed:
/// PiSSA takes the adapter's factors from its SVD, and DoRA splits it into a magnitude per
/// output and a direction. Hosts that conform get both; others refuse them when an adapter is added.
public protocol WeightDecomposableHost: LoRAHost {
    /// Whether this instance qualifies (a grouped convolution's update has another layout).
    var isWeightDecomposable: Bool { get }
    /// `B(A(h))` without scaling, in the layer's output shape.
    func adapterOutput(_ h: Tensor, _ adapter: LoRAAdapter) -> Tensor
    /// The base weight applied to `h`, without the bias.
    func baseOutputWithoutBias(_ h: Tensor) -> Tensor
    /// A vector over the outputs, [out], shaped to broadcast against the layer's output ([out]
    /// for `Linear`, [1, out, 1, 1] for `Conv2d`: also PEFT's shape of DoRA's magnitude).
    func perOutput(_ v: Tensor) -> Tensor
}

extension WeightDecomposableHost {
    public var isWeightDecomposable: Bool { true }
}
