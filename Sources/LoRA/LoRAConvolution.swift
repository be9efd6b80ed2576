import NN
import Tensor

/// The LoRA form of `Conv2d`, laid out as PEFT's: A is a convolution with the base layer's kernel,
/// stride, padding and dilation from all input channels to r, B a 1×1 convolution from r to the
/// outputs with the base layer's groups:
///
///     y = conv(x, W) + b + s · conv₁ₓ₁(conv(dropout(x), A), B)
///
/// Shapes: A [r, C, kh, kw], B [O, r/groups, 1, 1] (PEFT's file shapes). PEFT leaves dilation
/// out of A, which breaks on dilated convolutions; here A keeps it, so the shapes line up.
/// With groups > 1 the update couples channels across groups, so it cannot merge into the grouped
/// base weight (PEFT refuses the same); r must be divisible by groups.
public final class LoRAConv2d: Conv2d, LoRAHost {
    @Child public var adapters = ModuleDict<LoRAAdapter>()
    public let adapterState = AdapterState()

    public init(base: Conv2d) {
        super.init(weight: base.weight, bias: base.bias, stride: base.stride, padding: base.padding,
                   dilation: base.dilation, groups: base.groups)
        copyTrainability(from: base, keys: ["weight", "bias"])
        train(base.isTraining)
    }

    public var baseWeight: ParameterSlot { parameterSlot("weight")! }
    public var baseParameterCount: Int { weight.count + (bias?.count ?? 0) }

    public func makeAdapter(_ settings: AdapterSettings, seed: UInt64,
                            generator: inout RandomGenerator) throws -> LoRAAdapter {
        let r = settings.rank
        guard r % groups == 0 else {
            throw LoRAError.invalidConfig("rank \(r) must be divisible by the conv's groups \(groups)")
        }
        let k = kernelSize
        var (a, b) = LoRAInit.factors(rank: r, inFeatures: inputChannels, outFeatures: outputChannels,
                                      fanIn: inputChannels * k.height * k.width,
                                      aShapeTail: [k.height, k.width], settings: settings, generator: &generator)
        b = Tensor.zeros([outputChannels, r / groups, 1, 1])
        if settings.initialization == .pissa {
            guard groups == 1 else { throw LoRAError.unsupported(key: "", reason: "PiSSA on a grouped convolution") }
            let (pa, pb, residual) = try LoRAInit.pissa(weight: weight.detached(), rank: r, scaling: settings.scaling)
            a = pa.reshaped([r, inputChannels, k.height, k.width])
            b = pb.reshaped([outputChannels, r, 1, 1])
            baseWeight.tensor = residual
        }
        var magnitude: Tensor?
        if settings.useDoRA {
            guard groups == 1 else { throw LoRAError.unsupported(key: "", reason: "DoRA on a grouped convolution") }
            let delta = withNoGrad { denseDelta(a: a, b: b, scaling: settings.scaling) }
            magnitude = DoRA.initialMagnitude(base: weight.detached(), delta: delta).reshaped([1, outputChannels, 1, 1])
        }
        return LoRAAdapter(a: a, b: b, magnitude: magnitude, settings: settings, seed: seed)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        denseDelta(a: adapter.a, b: adapter.b, scaling: adapter.scaling)
    }

    /// `s · B·A` as a dense [O, C, kh, kw] weight (for groups 1 this is the base weight's shape).
    private func denseDelta(a: Tensor, b: Tensor, scaling: Float) -> Tensor {
        let r = a.shape[0], o = b.shape[0]
        if groups == 1 {
            return (b.reshaped([o, r]).matmul(a.reshaped([r, -1])) * scaling).reshaped([o] + Array(a.shape.dropFirst()))
        }
        // Grouped B: output o of group j reads the r/groups adapter channels of group j.
        let rg = r / groups, og = o / groups
        var parts: [Tensor] = []
        for j in 0..<groups {
            let bj = b.slice(axis: 0, start: j * og, end: (j + 1) * og).reshaped([og, rg])
            let aj = a.slice(axis: 0, start: j * rg, end: (j + 1) * rg).reshaped([rg, -1])
            parts.append(bj.matmul(aj))
        }
        return (Tensor.concat(parts, axis: 0) * scaling).reshaped([o] + Array(a.shape.dropFirst()))
    }

    /// A grouped base weight cannot hold the cross-group update.
    public var supportsMerge: Bool { groups == 1 }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        var y = super.callAsFunction(x)
        for adapter in forwardAdapters {
            let h = adapter.dropped(x)
            let down = h.conv2d(weight: adapter.a, stride: stride, padding: padding, dilation: dilation)
            guard let m = adapter.magnitude else {
                // Scaling the small B rather than the output saves a pass over the activations.
                y.addConv2d(down, weight: adapter.b * adapter.scaling, groups: groups)       // [N, O, H', W']
                continue
            }
            let lora = down.conv2d(weight: adapter.b, groups: groups)
            let s = DoRA.scale(base: weight, delta: deltaWeight(adapter), magnitude: m).reshaped([1, -1, 1, 1])
            let baseNoBias = h.conv2d(weight: weight, stride: stride, padding: padding, dilation: dilation)
            y = y + baseNoBias * (s - 1) + lora * (s * adapter.scaling)
        }
        return y
    }
}

/// The LoRA form of `Conv1d`: as `LoRAConv2d` in one dimension. A [r, C, k], B [O, r/groups, 1].
public final class LoRAConv1d: Conv1d, LoRAHost {
    @Child public var adapters = ModuleDict<LoRAAdapter>()
    public let adapterState = AdapterState()

    public init(base: Conv1d) {
        super.init(weight: base.weight, bias: base.bias, stride: base.stride, padding: base.padding,
                   dilation: base.dilation, groups: base.groups)
        copyTrainability(from: base, keys: ["weight", "bias"])
        train(base.isTraining)
    }

    public var baseWeight: ParameterSlot { parameterSlot("weight")! }
    public var baseParameterCount: Int { weight.count + (bias?.count ?? 0) }

    public func makeAdapter(_ settings: AdapterSettings, seed: UInt64,
                            generator: inout RandomGenerator) throws -> LoRAAdapter {
        let r = settings.rank
        guard r % groups == 0 else {
            throw LoRAError.invalidConfig("rank \(r) must be divisible by the conv's groups \(groups)")
        }
        guard settings.initialization != .pissa, !settings.useDoRA else {
            throw LoRAError.unsupported(key: "", reason: "PiSSA and DoRA are implemented for Linear and Conv2d, not Conv1d")
        }
        var (a, b) = LoRAInit.factors(rank: r, inFeatures: inputChannels, outFeatures: outputChannels,
                                      fanIn: inputChannels * kernelSize, aShapeTail: [kernelSize],
                                      settings: settings, generator: &generator)
        b = Tensor.zeros([outputChannels, r / groups, 1])
        return LoRAAdapter(a: a, b: b, settings: settings, seed: seed)
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        let r = adapter.rank, o = outputChannels
        precondition(groups == 1, "delta weight of a grouped Conv1d adapter has no grouped form")
        return (adapter.b.reshaped([o, r]).matmul(adapter.a.reshaped([r, -1])) * adapter.scaling)
            .reshaped([o, inputChannels, kernelSize])
    }

    public var supportsMerge: Bool { groups == 1 }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        var y = super.callAsFunction(x)
        for adapter in forwardAdapters {
            let down = adapter.dropped(x).conv1d(weight: adapter.a, stride: stride, padding: padding, dilation: dilation)
            y = y + down.conv1d(weight: adapter.b, groups: groups) * adapter.scaling
        }
        return y
    }
}

extension Conv2d: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRAConv2d(base: self) }
}

extension Conv1d: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRAConv1d(base: self) }
}
