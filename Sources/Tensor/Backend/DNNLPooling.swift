import CDNNL

/// Everything a oneDNN pooling primitive depends on (2-D; the layout of the source is part of it,
/// since pooling reads its input in place, whatever layout it has).
struct PoolingGeometry: Hashable {
    enum Algorithm: String, Hashable {
        case max
        /// Average whose divisor counts padding (PyTorch's `count_include_pad=True`).
        case averageIncludingPadding
        /// Average over the input elements the window covers only.
        case averageExcludingPadding

        var dnnl: dnnl_alg_kind_t {
            switch self {
            case .max: return dnnl_pooling_max
            case .averageIncludingPadding: return dnnl_pooling_avg_include_padding
            case .averageExcludingPadding: return dnnl_pooling_avg_exclude_padding
            }
        }
    }

    var algorithm: Algorithm
    var batch: Int
    var channels: Int
    var inputSize: [Int]
    var kernelSize: [Int]
    var stride: [Int]
    var padding: [Int]
    /// PyTorch's dilation (1: none); oneDNN's is one less.
    var dilation: [Int]

    var spatialRank: Int { inputSize.count }
    var kernelExtent: [Int] { (0..<spatialRank).map { (kernelSize[$0] - 1) * dilation[$0] + 1 } }

    /// `⌊(in + 2p − (k − 1)·d − 1) / s⌋ + 1` (floor mode).
    var outputSize: [Int] {
        (0..<spatialRank).map { (inputSize[$0] + 2 * padding[$0] - kernelExtent[$0]) / stride[$0] + 1 }
    }

    /// Right padding the last window reaches, at least 0 (windows never go past it, so averages
    /// that include padding still divide by the full kernel area, as PyTorch's do).
    var paddingRight: [Int] {
        let out = outputSize, extent = kernelExtent
        return (0..<spatialRank).map {
            Swift.max(0, (out[$0] - 1) * stride[$0] + extent[$0] - inputSize[$0] - padding[$0])
        }
    }

    var sourceShape: [Int] { [batch, channels] + inputSize }
    var destinationShape: [Int] { [batch, channels] + outputSize }

    var key: String {
        "\(algorithm.rawValue)|n\(batch)c\(channels)i\(inputSize)k\(kernelSize)s\(stride)p\(padding)d\(dilation)"
    }

    /// For messages: the algorithm, the shapes and the window.
    var description: String {
        "\(algorithm.rawValue) pooling of input \(sourceShape) to \(destinationShape), kernel \(kernelSize), "
            + "stride \(stride), padding \(padding), dilation \(dilation)"
    }
}

/// Workspace that max pooling's forward fills for its backward (where each maximum came from).
final class PoolingWorkspace: @unchecked Sendable {
    let desc: dnnl_memory_desc_t
    let storage: TensorStorage

    init(_ desc: dnnl_memory_desc_t) {
        var d = desc
        self.desc = desc
        self.storage = TensorStorage(byteCount: Swift.max(dnnl_memory_desc_get_size(&d), 1), dtype: .uint8)
    }
}

extension DNNL {
    /// The forward pooling primitive for `g` reading a source in layout `source`; the destination
    /// layout is oneDNN's choice (the source's, in practice).
    static func poolingForward(_ g: PoolingGeometry, source: dnnl_memory_desc_t, training: Bool) -> Primitive {
        let key = "pool.fwd|\(training ? "train" : "infer")|" + g.key + "|" + BlockedFormat.key(source)
        return context.primitive(key, name: "pooling forward (\(training ? "training" : "inference")): \(g.description)") {
            var src = source, dst = anyDesc(g.destinationShape)
            var desc = dnnl_pooling_v2_desc_t()
            check(dnnl_pooling_v2_forward_desc_init(
                &desc, training ? dnnl_forward_training : dnnl_forward_inference, g.algorithm.dnnl, &src, &dst,
                g.stride.map(Int64.init), g.kernelSize.map(Int64.init), g.dilation.map { Int64($0 - 1) },
                g.padding.map(Int64.init), g.paddingRight.map(Int64.init)), "pooling forward desc init: \(g.description), source \(describe(source))")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil), "pooling forward primitive_desc_create: \(g.description), source \(describe(source))")
            return pd!
        }
    }

    /// The backward pooling primitive: `dL/dx` in the forward source's layout from `dL/dy` in
    /// the forward destination's layout.
    static func poolingBackward(_ g: PoolingGeometry, source: dnnl_memory_desc_t) -> Primitive {
        let forward = poolingForward(g, source: source, training: true)
        let key = "pool.bwd|" + g.key + "|" + BlockedFormat.key(source)
        return context.primitive(key, name: "pooling backward: \(g.description)") {
            var diffSrc = source, diffDst = forward.md(dnnl_query_dst_md)
            var desc = dnnl_pooling_v2_desc_t()
            check(dnnl_pooling_v2_backward_desc_init(
                &desc, g.algorithm.dnnl, &diffSrc, &diffDst,
                g.stride.map(Int64.init), g.kernelSize.map(Int64.init), g.dilation.map { Int64($0 - 1) },
                g.padding.map(Int64.init), g.paddingRight.map(Int64.init)), "pooling backward desc init: \(g.description), source \(describe(source))")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, forward.pd),
                  "pooling backward primitive_desc_create: \(g.description), source \(describe(source))")
            return pd!
        }
    }

    /// Runs forward pooling on `source` in its own layout. With `training` and max pooling, also
    /// returns the workspace its backward needs.
    static func runPoolingForward(_ g: PoolingGeometry, source: Tensor, training: Bool,
                                  name: String) -> (output: Tensor, workspace: PoolingWorkspace?) {
        let src = source.detached()
        let prim = poolingForward(g, source: desc(of: src), training: training)
        let dst = empty(g.destinationShape, prim.md(dnnl_query_dst_md))
        var args = [execArg(DNNL_ARG_SRC, src), execArg(DNNL_ARG_DST, dst)]
        var workspace: PoolingWorkspace?
        if training && g.algorithm == .max {
            let ws = PoolingWorkspace(prim.md(dnnl_query_workspace_md))
            args.append((DNNL_ARG_WORKSPACE, ws.desc, ws.storage.base))
            workspace = ws
        }
        KernelTrace.note(name + ".forward")
        prim.execute(args)
        return (dst, workspace)
    }

    /// `dL/dx` in layout `source` (the forward input's) from `dL/dy` (any layout).
    static func runPoolingBackward(_ g: PoolingGeometry, source: dnnl_memory_desc_t, outputGradient: Tensor,
                                   workspace: PoolingWorkspace?, name: String) -> Tensor {
        let prim = poolingBackward(g, source: source)
        let diffDst = reorder(outputGradient.detached(), to: prim.md(dnnl_query_diff_dst_md))
        let diffSrc = empty(g.sourceShape, source)
        var args = [execArg(DNNL_ARG_DIFF_DST, diffDst), execArg(DNNL_ARG_DIFF_SRC, diffSrc)]
        if let workspace { args.append((DNNL_ARG_WORKSPACE, workspace.desc, workspace.storage.base)) }
        KernelTrace.note(name + ".backward")
        prim.execute(args)
        return diffSrc
    }
}
