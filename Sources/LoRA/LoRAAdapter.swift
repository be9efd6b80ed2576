import NN
import Tensor

/// One adapter on one layer: the factors A (down-projection, r × in) and B (up-projection,
/// out × r), the DoRA magnitude when used, the adapter's settings and its variant.
///
/// Keys inside a host are `adapters.<name>.lora_A.weight`, `…lora_B.weight` and
/// `…lora_magnitude_vector`, so PEFT's file keys follow by dropping `adapters.<name>.`.
public final class LoRAAdapter: Module {
    @Parameter public var a: Tensor
    @Parameter public var b: Tensor
    @OptionalParameter public var magnitude: Tensor?
    public let settings: AdapterSettings
    /// Dropout on the adapter's input, with its own seeded generator (saved with checkpoints).
    public var dropoutGenerator: RandomGenerator
    /// How this adapter departs from plain LoRA (DoRA), or nil for plain LoRA. Set when the
    /// host prepares the adapter (`LoRAHost.prepareAdapter`).
    public internal(set) var variant: LoRAVariant?

    /// - Parameters:
    ///   - aName, bName: the file keys of the factors (`lora_A.weight` or PEFT's embedding names).
    public init(a: Tensor, b: Tensor, magnitude: Tensor? = nil, settings: AdapterSettings,
                aName: String = "lora_A.weight", bName: String = "lora_B.weight", seed: UInt64) {
        _a = Parameter(wrappedValue: a, key: aName)
        _b = Parameter(wrappedValue: b, key: bName)
        _magnitude = OptionalParameter(wrappedValue: magnitude, key: "lora_magnitude_vector")
        self.settings = settings
        self.dropoutGenerator = RandomGenerator(seed: seed)
        super.init()
    }

    public var scaling: Float { settings.scaling }
    public var rank: Int { settings.rank }

    /// The adapter's input after dropout (identity in evaluation mode or with p = 0).
    public func dropped(_ x: Tensor) -> Tensor {
        guard isTraining, settings.dropout > 0 else { return x }
        return x.dropout(settings.dropout, training: true, generator: &dropoutGenerator)
    }
}

extension LoRAAdapter: StochasticModule {
    public var generatorState: [UInt64] {
        get { dropoutGenerator.state }
        set { dropoutGenerator = RandomGenerator(state: newValue) }
    }
}
