/// A pair of spatial sizes `(height, width)` for 2-D kernels, strides, paddings and dilations.
/// An integer literal means the same value for both: `stride: 2` is `stride: [2, 2]`.
public struct IntPair: Hashable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral,
    CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    public init(integerLiteral value: Int) { self.init(value, value) }

    /// `[height, width]`; exactly two elements.
    public init(arrayLiteral elements: Int...) {
        precondition(elements.count == 2, "IntPair needs [height, width], got \(elements)")
        self.init(elements[0], elements[1])
    }

    var array: [Int] { [height, width] }

    public var description: String { "(\(height), \(width))" }
}

/// Convolutions on oneDNN (forward, backward-data, backward-weights), with PyTorch's semantics:
/// cross-correlation, zero padding, floor rounding of the output size.
///
/// The output stays in the convolutions' activation layout (channels-last where oneDNN has brgemm
/// kernels, i.e. AVX-512; otherwise oneDNN's choice, nChw8c on AVX2) so that the next convolution,
/// batch norm, pooling or elementwise op reads it without a reorder; `plain()` converts when a
/// plain op needs it. Backward runs only what is needed: backward-data when the input requires a
/// gradient, backward-weights when the weight (or bias) does. With a frozen weight, the input is
/// not kept by the tape, since only `dL/dW` would read it.
extension Tensor {
    /// 2-D convolution (cross-correlation) of `self`, shaped `[N, C, H, W]`.
    ///
    ///     y[n, o, i, j] = b[o] + Σ_{c ∈ group(o), p, q} W[o, c, p, q] ·
    ///                     x[n, c, i·s_h − pad_h + p·d_h, j·s_w − pad_w + q·d_w]
    ///
    /// (out-of-range input positions read 0). Output `[N, O, H', W']` with
    /// `H' = ⌊(H + 2·pad_h − d_h·(k_h − 1) − 1) / s_h⌋ + 1`, likewise `W'`.
    ///
    /// - Parameters:
    ///   - weight: `[O, C / groups, k_h, k_w]`.
    ///   - bias: `[O]`, or nil.
    ///   - stride, padding, dilation: per spatial dimension (PyTorch's meaning; dilation 1 is none).
    ///   - groups: `C` and `O` are split into this many groups convolved separately
    ///     (`groups == C` is a depthwise convolution).
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: IntPair = 1, padding: IntPair = 0,
                       dilation: IntPair = 1, groups: Int = 1) -> Tensor {
        precondition(rank == 4, "conv2d: input must be [N, C, H, W], got \(shape)")
        precondition(weight.rank == 4, "conv2d: weight must be [O, C/groups, kH, kW], got \(weight.shape)")
        Tensor.requireConvolutionF32(self, weight, bias, op: "conv2d")
        let g = Tensor.convolutionGeometry(input: shape, weight: weight.shape, bias: bias?.shape, stride: stride.array,
                                           padding: padding.array, dilation: dilation.array, groups: groups,
                                           op: "conv2d")
        return Tensor.convolution(self, weight: weight, bias: bias, geometry: g, name: "conv2d")
    }

    /// 1-D convolution (cross-correlation) of `self`, shaped `[N, C, L]`.
    ///
    ///     y[n, o, i] = b[o] + Σ_{c ∈ group(o), p} W[o, c, p] · x[n, c, i·s − pad + p·d]
    ///
    /// Output `[N, O, L']`, `L' = ⌊(L + 2·pad − d·(k − 1) − 1) / s⌋ + 1`.
    /// - Parameters:
    ///   - weight: `[O, C / groups, k]`.
    ///   - bias: `[O]`, or nil.
    public func conv1d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                       dilation: Int = 1, groups: Int = 1) -> Tensor {
        precondition(rank == 3, "conv1d: input must be [N, C, L], got \(shape)")
        precondition(weight.rank == 3, "conv1d: weight must be [O, C/groups, k], got \(weight.shape)")
        Tensor.requireConvolutionF32(self, weight, bias, op: "conv1d")
        let g = Tensor.convolutionGeometry(input: shape, weight: weight.shape, bias: bias?.shape, stride: [stride],
                                           padding: [padding], dilation: [dilation], groups: groups, op: "conv1d")
        return Tensor.convolution(self, weight: weight, bias: bias, geometry: g, name: "conv1d")
    }

    /// Checks that `conv2d(weight:bias:stride:padding:dilation:groups:)` can run on an input of
    /// shape `input`, for data that reaches a model's first convolution (an image with the wrong
    /// number of channels, or too small for the kernel), so that a caller can report it instead of
    /// stopping the program as `conv2d` itself does.
    ///
    /// - Throws: `TensorError.invalidShape` naming the input shape and the reason (rank, empty
    ///   batch or channels, too small for the kernel, invalid options), or
    ///   `TensorError.shapeMismatch` naming the input and weight shapes when the input's channels
    ///   differ from what the weight expects.
    public static func validateConv2d(input: [Int], weight: [Int], bias: [Int]? = nil, stride: IntPair = 1,
                                      padding: IntPair = 0, dilation: IntPair = 1, groups: Int = 1) throws {
        guard input.count == 4 else {
            throw TensorError.invalidShape(operation: "conv2d", shape: input, reason: "the input must be [N, C, H, W]")
        }
        guard weight.count == 4 else {
            throw TensorError.invalidShape(operation: "conv2d", shape: weight, reason: "the weight must be [O, C/groups, kH, kW]")
        }
        _ = try checkedConvolutionGeometry(input: input, weight: weight, bias: bias, stride: stride.array,
                                           padding: padding.array, dilation: dilation.array, groups: groups,
                                           op: "conv2d")
    }

    /// Validates shapes and options before any oneDNN call; a failure stops the program with
    /// the message of `checkedConvolutionGeometry`'s error (both shapes, and the reason).
    static func convolutionGeometry(input: [Int], weight: [Int], bias: [Int]?, stride: [Int], padding: [Int],
                                    dilation: [Int], groups: Int, op: String) -> ConvolutionGeometry {
        do {
            return try checkedConvolutionGeometry(input: input, weight: weight, bias: bias, stride: stride,
                                                  padding: padding, dilation: dilation, groups: groups, op: op)
        } catch {
            preconditionFailure("\(error)")
        }
    }

    /// The geometry of a convolution of `input` [N, C, spatial…] by `weight` [O, C/groups,
    /// kernel…] (ranks already checked by the caller).
    /// - Throws: `TensorError.shapeMismatch` (input vs weight channels, bias vs weight) or
    ///   `TensorError.invalidShape` (empty dimensions, options, input too small for the kernel).
    static func checkedConvolutionGeometry(input: [Int], weight: [Int], bias: [Int]?, stride: [Int], padding: [Int],
                                           dilation: [Int], groups: Int, op: String) throws -> ConvolutionGeometry {
        let channels = input[1], out = weight[0]
        guard input.allSatisfy({ $0 >= 1 }) else {
            throw TensorError.invalidShape(operation: op, shape: input,
                                           reason: "the input has an empty dimension (weight \(weight))")
        }
        guard weight.allSatisfy({ $0 >= 1 }) else {
            throw TensorError.invalidShape(operation: op, shape: weight, reason: "the weight has an empty dimension")
        }
        guard groups >= 1 && channels % groups == 0 && out % groups == 0 else {
            throw TensorError.invalidShape(operation: op, shape: input, reason:
                "groups \(groups) must divide input channels \(channels) and output channels \(out) (weight \(weight))")
        }
        guard weight[1] * groups == channels else {
            throw TensorError.shapeMismatch(
                operation: "\(op): input channels (axis 1 of the input) differ from the weight's \(weight[1]) × groups \(groups)",
                lhs: input, rhs: weight)
        }
        if let bias, bias != [out] {
            throw TensorError.shapeMismatch(operation: "\(op): bias must be [\(out)] for the weight", lhs: bias, rhs: weight)
        }
        guard stride.allSatisfy({ $0 >= 1 }) && dilation.allSatisfy({ $0 >= 1 }) && padding.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalidShape(operation: op, shape: input, reason:
                "stride \(stride) and dilation \(dilation) must be ≥ 1, padding \(padding) ≥ 0")
        }
        let g = ConvolutionGeometry(batch: input[0], inChannels: channels, outChannels: out, groups: groups,
                                    inputSize: Array(input[2...]), kernelSize: Array(weight[2...]), stride: stride,
                                    padding: padding, dilation: dilation, hasBias: bias != nil)
        guard g.outputSize.allSatisfy({ $0 >= 1 }) else {
            throw TensorError.invalidShape(operation: op, shape: input, reason:
                "too small for kernel \(weight) with padding \(padding), dilation \(dilation)")
        }
        return g
    }

    /// Stops the program unless input, weight and bias are F32 (oneDNN reads them as floats); a
    /// frozen weight may be BF16 (`toBFloat16`: read by the bf16 kernels, decoded elsewhere).
    static func requireConvolutionF32(_ input: Tensor, _ weight: Tensor, _ bias: Tensor?, op: String) {
        let weightOK = weight.dtype == .float32 || (weight.dtype == .bfloat16 && !weight.requiresGrad)
        precondition(input.dtype == .float32 && weightOK && (bias?.dtype ?? .float32) == .float32,
                     "\(op): input \(input.shape), weight \(weight.shape) and bias must be F32 (a frozen weight may be BF16), got "
                     + "\(input.dtype.rawValue), \(weight.dtype.rawValue) and \(bias?.dtype.rawValue ?? "none")")
    }

    /// The differentiable convolution shared by `conv1d` and `conv2d`.
    static func convolution(_ input: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry,
                            name: String) -> Tensor {
        let needsInput = input.requiresGrad
        let needsWeight = weight.requiresGrad
        let needsBias = bias?.requiresGrad ?? false
        let recording = GradMode.isEnabled && (needsInput || needsWeight || needsBias)
        // The primitive follows the grad mode, not whether this call records: where oneDNN picks
        // layouts itself, inference and training may get different ones, and a LoRA model mixes
        // frozen convs that record nothing with adapters that do. One primitive kind per mode
        // keeps their outputs addable without reorders.
        // In bf16 (`ComputePrecision`) on bf16 operands with f32 results: a frozen weight from its
        // bf16 copy, a trainable one (an adapter, full fine-tuning's f32 master weight) from a bf16
        // copy made once per value (after each optimizer step). When the weight trains, the bf16
        // source the kernel read is what dL/dW keeps (`DNNL.KeptBF16`), not the f32 input.
        // Without an optimised bf16 kernel for `g`, the f32 path runs.
        // A weight held in BF16 runs in bf16 whatever the precision asked (where the CPU can), and
        // is decoded to F32 otherwise.
        let inBF16 = weight.dtype == .bfloat16 ? ComputePrecision.hasBF16Units : ComputePrecision.effective == .bfloat16
        let bf16Output = inBF16
            ? DNNL.runConvolutionForwardBF16(g, source: input, weight: weight, bias: bias, training: GradMode.isEnabled,
                                             name: name)
            : nil
        let weight = bf16Output == nil ? weight.toFloat32() : weight
        let (out, source) = bf16Output.map { ($0.output, input) }
            ?? DNNL.runConvolutionForward(g, source: input, weight: weight, bias: bias, training: GradMode.isEnabled,
                                          name: name)
        guard recording else { return out }

        // dL/dx needs only W; dL/dW needs only x (as the primitive read it, already reordered).
        // Capture each only when its gradient is wanted: a frozen weight keeps x off the tape.
        let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
        let backward = convolutionBackward(g, input: input, weight: weight, source: source, needsBias: needsBias,
                                           bf16: bf16Output.map { .init(data: $0.source, shape: g.sourceShape) },
                                           name: name)
        return Tensor.recordAccumulating(out, op: name, inputs: inputs, backward: backward)
    }

    /// The backward of a convolution of `input` by `weight` that read `source` (the input as the
    /// primitive saw it), adding dL/dx, dL/dW and dL/db (each only if wanted) to the gradients
    /// so far (`Tensor.recordAccumulating`). It keeps W only for dL/dx and the source only for dL/dW.
    ///
    /// dL/dx is added inside the kernel when it runs as a forward convolution (stride 1, AVX-512)
    /// and the gradient so far is unshared and laid out as its output: x feeding several
    /// convolutions (a LoRA convolution's base and A, a residual block) then costs no pass per sum.
    ///
    /// With `bf16` (the bf16 source of a forward that ran in bf16), dL/dx and dL/dW run in bf16 as
    /// well (`DNNL.runConvolutionBackwardDataBF16`, `runConvolutionBackwardWeightsBF16`: bf16
    /// operands, f32 results), or in f32 where oneDNN has no optimised bf16 kernel for them; dL/dW
    /// then keeps that bf16 source instead of the f32 one (half the memory, the same values).
    static func convolutionBackward(_ g: ConvolutionGeometry, input: Tensor, weight: Tensor, source: Tensor,
                                    needsBias: Bool, bf16 keptSource: DNNL.KeptBF16? = nil,
                                    name: String) -> (Tensor, inout [Tensor?]) -> Void {
        let needsWeight = weight.requiresGrad
        let bf16 = keptSource != nil
        let weightForInput = input.requiresGrad ? weight.detached() : nil
        let sourceForWeight = needsWeight && !bf16 ? source : nil
        let keptForWeight = needsWeight ? keptSource : nil
        let inputIsLeaf = input.isLeaf
        return { gradient, grads in
            if bf16, let w = weightForInput {
                var sum = grads[0].take()
                let unique = !inputIsLeaf && sum != nil && isKnownUniquelyReferenced(&sum!.storage)
                if let (d, accumulated) = DNNL.runConvolutionBackwardDataBF16(g, outputGradient: gradient, weight: w,
                                                                              accumulatingInto: unique ? sum : nil,
                                                                              name: name) {
                    // Written in place: what was derived from the old contents (a bf16 copy) is stale.
                    if accumulated { d.storage.noteMutation() }
                    // A leaf (user data) gets a plain gradient; inner nodes take it blocked.
                    let gx = accumulated || !inputIsLeaf ? d : d.plain()
                    grads[0] = accumulated ? d : (sum.map { $0.addingGradient(gx) } ?? gx)
                } else {
                    grads[0] = sum
                    let d = DNNL.runConvolutionBackwardData(g, outputGradient: gradient, weight: w.toFloat32(),
                                                            weightIsFrozen: !needsWeight, name: name)
                    let gx = inputIsLeaf ? d.plain() : d
                    grads[0] = grads[0].map { $0.addingGradient(gx) } ?? gx
                }
            } else if let w = weightForInput {
                if !inputIsLeaf, var sum = grads[0].take() {
                    if isKnownUniquelyReferenced(&sum.storage),
                       DNNL.runConvolutionBackwardData(g, outputGradient: gradient, weight: w, weightIsFrozen: !needsWeight,
                                                       accumulatingInto: sum, name: name) {
                        sum.storage.noteMutation()   // written in place: a bf16 copy of it is stale
                        grads[0] = sum
                    } else {
                        let d = DNNL.runConvolutionBackwardData(g, outputGradient: gradient, weight: w,
                                                                weightIsFrozen: !needsWeight, name: name)
                        grads[0] = sum.addingGradient(d)
                    }
                } else {
                    let d = DNNL.runConvolutionBackwardData(g, outputGradient: gradient, weight: w,
                                                            weightIsFrozen: !needsWeight, name: name)
                    // A leaf (user data) gets a plain gradient; inner nodes take it blocked.
                    let gx = inputIsLeaf ? d.plain() : d
                    grads[0] = grads[0].map { $0.addingGradient(gx) } ?? gx
                }
            }
            var gw: Tensor?, gb: Tensor?
            if needsWeight {
                // The bias gradient comes with the weight gradient (one pass over dL/dy).
                var bg = g
                bg.hasBias = needsBias
                if let kept = keptForWeight,
                   let r = DNNL.runConvolutionBackwardWeightsBF16(bg, source: kept, outputGradient: gradient, name: name) {
                    (gw, gb) = r
                } else {
                    let x = sourceForWeight ?? keptForWeight!.decoded()
                    (gw, gb) = DNNL.runConvolutionBackwardWeights(bg, source: x, outputGradient: gradient, name: name)
                }
            } else if needsBias {
                // Frozen weight, trainable bias: dL/db = Σ_{n, spatial} dL/dy.
                let axes = [0] + Array(2..<(2 + g.spatialRank))
                gb = gradient.plain().detached().sum(axes: axes)
            }
            if let gw { grads[1] = grads[1].map { $0.addingGradient(gw) } ?? gw }
            if let gb, grads.count > 2 { grads[2] = grads[2].map { $0.addingGradient(gb) } ?? gb }
        }
    }
}

extension Tensor {
    /// `self = self + input.conv2d(weight: weight, …)` (no bias), adding the convolution's result
    /// into `self`'s own memory inside the convolution kernel (oneDNN's `sum` post-op) when nothing
    /// else refers to that memory and it has the convolution's output layout: a LoRA convolution's
    /// `y += B(A(x))` without a pass of its own. Otherwise the result is computed and added.
    ///
    /// Gradients are those of the sum: the output's gradient for the old `self` (whose values no
    /// backward reads), and the convolution's for `input` and `weight`.
    public mutating func addConv2d(_ input: Tensor, weight: Tensor, stride: IntPair = 1, padding: IntPair = 0,
                                   dilation: IntPair = 1, groups: Int = 1) {
        precondition(input.rank == 4 && weight.rank == 4,
                     "addConv2d: input must be [N, C, H, W] and weight [O, C/groups, kH, kW], got \(input.shape), \(weight.shape)")
        Tensor.requireConvolutionF32(input, weight, nil, op: "addConv2d")
        precondition(dtype == .float32, "addConv2d: the sum must be F32, got \(dtype.rawValue) \(shape)")
        let g = Tensor.convolutionGeometry(input: input.shape, weight: weight.shape, bias: nil, stride: stride.array,
                                           padding: padding.array, dilation: dilation.array, groups: groups,
                                           op: "addConv2d")
        precondition(shape == g.destinationShape, "addConv2d: \(shape) does not match the convolution's output \(g.destinationShape)")
        let inBF16 = ComputePrecision.effective == .bfloat16 && weight.dtype == .float32
        guard GradMode.isEnabled, offset == 0, weight.dtype == .float32, isKnownUniquelyReferenced(&storage),
              let source = Tensor.accumulateConvolution(g, input: input, weight: weight, into: self, bf16: inBF16) else {
            self = self + input.conv2d(weight: weight, stride: stride, padding: padding, dilation: dilation, groups: groups)
            return
        }
        storage.noteMutation()   // written in place: a bf16 copy of the old contents is stale
        let backward = Tensor.convolutionBackward(g, input: input, weight: weight, source: source.f32, needsBias: false,
                                                  bf16: source.bf16.map { DNNL.KeptBF16(data: $0, shape: g.sourceShape) },
                                                  name: "conv2d")
        let base = self
        self = Tensor.recordAccumulating(detached(), op: "conv2d-accumulate", inputs: [base, input, weight]) { gradient, grads in
            var convolutionGrads = [grads[1].take(), grads[2].take()]
            backward(gradient, &convolutionGrads)
            grads[0] = grads[0].map { $0.addingGradient(gradient) } ?? gradient
            grads[1] = convolutionGrads[0]
            grads[2] = convolutionGrads[1]
        }
    }

    /// `destination += conv(input, weight)` in the kernel, in bf16 or f32; the source dL/dW reads
    /// (f32, and the bf16 one the bf16 kernel read), or nil when no kernel can add in place.
    private static func accumulateConvolution(_ g: ConvolutionGeometry, input: Tensor, weight: Tensor,
                                              into destination: Tensor, bf16: Bool) -> (f32: Tensor, bf16: DNNL.BF16Data?)? {
        if bf16 {
            return DNNL.runConvolutionForwardAccumulatingBF16(g, source: input, weight: weight, into: destination,
                                                              name: "conv2d").map { (input, $0) }
        }
        return DNNL.runConvolutionForwardAccumulating(g, source: input, weight: weight, into: destination,
                                                      name: "conv2d").map { ($0, nil) }
    }
}
