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
/// base weight (PEFT refuses the same), nor carry PiSSA or DoRA; r must be divisible by groups.
public final class LoRAConv2d: Conv2d, WeightDecomposableHost {
    public let adapters = LoRAAdapters()

    public init(base: Conv2d) {
        super.init(weight: base.weight, bias: base.bias, stride: base.stride, padding: base.padding,
                   dilation: base.dilation, groups: base.groups)
        copyTrainability(from: base, keys: ["weight", "bias"])
        train(base.isTraining)
    }

    public func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
        let r = settings.rank
        guard r % groups == 0 else {
            throw LoRAError.invalidConfig("rank \(r) must be divisible by the conv's groups \(groups)")
        }
        let k = kernelSize
        let (a, _) = LoRAInit.factors(rank: r, inFeatures: inputChannels, outFeatures: outputChannels,
                                      fanIn: inputChannels * k.height * k.width,
                                      aShapeTail: [k.height, k.width], settings: settings, generator: &generator)
        return (a, Tensor.zeros([outputChannels, r / groups, 1, 1]))
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        let a = adapter.a, b = adapter.b
        let r = a.shape[0], o = b.shape[0]
        if groups == 1 {
            return (b.reshaped([o, r]).matmul(a.reshaped([r, -1])) * adapter.scaling).reshaped([o] + Array(a.shape.dropFirst()))
        }
        // Grouped B: output o of group j reads the r/groups adapter channels of group j. The
        // result is dense [O, C, kh, kw], not the grouped weight's shape: it cannot merge.
        let rg = r / groups, og = o / groups
        var parts: [Tensor] = []
        for j in 0..<groups {
            let bj = b.slice(axis: 0, start: j * og, end: (j + 1) * og).reshaped([og, rg])
            let aj = a.slice(axis: 0, start: j * rg, end: (j + 1) * rg).reshaped([rg, -1])
            parts.append(bj.matmul(aj))
        }
        return (Tensor.concat(parts, axis: 0) * adapter.scaling).reshaped([o] + Array(a.shape.dropFirst()))
    }

    /// A grouped base weight cannot hold the cross-group update.
    public var supportsMerge: Bool { groups == 1 }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        applyAdapters(to: super.callAsFunction(x), input: x) { y, h, adapter in
            let down = h.conv2d(weight: adapter.a, stride: stride, padding: padding, dilation: dilation)
            // Scaling the small B rather than the output saves a pass over the activations.
            y.addConv2d(down, weight: adapter.b * adapter.scaling, groups: groups)       // [N, O, H', W']
        }
    }

    // MARK: WeightDecomposableHost

    public var isWeightDecomposable: Bool { groups == 1 }

    public func adapterOutput(_ h: Tensor, _ adapter: LoRAAdapter) -> Tensor {
        h.conv2d(weight: adapter.a, stride: stride, padding: padding, dilation: dilation).conv2d(weight: adapter.b, groups: groups)
    }

    public func baseOutputWithoutBias(_ h: Tensor) -> Tensor {
        h.conv2d(weight: weight, stride: stride, padding: padding, dilation: dilation)
    }

    public func perOutput(_ v: Tensor) -> Tensor { v.reshaped([1, -1, 1, 1]) }
}

/// The LoRA form of `Conv1d`: as `LoRAConv2d` in one dimension. A [r, C, k], B [O, r/groups, 1].
public final class LoRAConv1d: Conv1d, LoRAHost {
    public let adapters = LoRAAdapters()

    public init(base: Conv1d) {
        super.init(weight: base.weight, bias: base.bias, stride: base.stride, padding: base.padding,
                   dilation: base.dilation, groups: base.groups)
        copyTrainability(from: base, keys: ["weight", "bias"])
        train(base.isTraining)
    }

    public func makeFactors(_ settings: AdapterSettings, generator: inout RandomGenerator) throws -> (a: Tensor, b: Tensor) {
        let r = settings.rank
        guard r % groups == 0 else {
            throw LoRAError.invalidConfig("rank \(r) must be divisible by the conv's groups \(groups)")
        }
        let (a, _) = LoRAInit.factors(rank: r, inFeatures: inputChannels, outFeatures: outputChannels,
                                      fanIn: inputChannels * kernelSize, aShapeTail: [kernelSize],
                                      settings: settings, generator: &generator)
        return (a, Tensor.zeros([outputChannels, r / groups, 1]))
    }

    public func deltaWeight(_ adapter: LoRAAdapter) -> Tensor {
        let r = adapter.rank, o = outputChannels
        precondition(groups == 1, "delta weight of a grouped Conv1d adapter has no grouped form")
        return (adapter.b.reshaped([o, r]).matmul(adapter.a.reshaped([r, -1])) * adapter.scaling)
            .reshaped([o, inputChannels, kernelSize])
    }

    public var supportsMerge: Bool { groups == 1 }

    public override func callAsFunction(_ x: Tensor) -> Tensor {
        applyAdapters(to: super.callAsFunction(x), input: x) { y, h, adapter in
            let down = h.conv1d(weight: adapter.a, stride: stride, padding: padding, dilation: dilation)
            y = y + down.conv1d(weight: adapter.b, groups: groups) * adapter.scaling
        }
    }
}

extension Conv2d: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRAConv2d(base: self) }
}

extension Conv1d: LoRAAdaptable {
    public func makeLoRAHost() throws -> LoRAHost { LoRAConv1d(base: self) }
}
