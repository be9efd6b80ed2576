import LoRA
import NN
import TestSupport
import XCTest

/// `checkAdapter` on every built-in layer kind, in small models.
final class LoRALayerKindsTests: XCTestCase {
    final class ConvNet: Module {
        @Child var conv: Conv2d
        @Child var grouped: Conv2d
        @Child var line: Conv1d

        init(groups: Int, dilation: Int) {
            var rng = RandomGenerator(seed: 11)
            conv = Conv2d(3, 4, kernelSize: 3, stride: 2, padding: IntPair(integerLiteral: dilation), dilation: IntPair(integerLiteral: dilation), generator: &rng)
            grouped = Conv2d(4, 4, kernelSize: 3, padding: 1, groups: groups, generator: &rng)
            line = Conv1d(4, 2, kernelSize: 3, padding: 1, generator: &rng)
            super.init()
        }

        func callAsFunction(_ x: Tensor) -> Tensor {                          // [N, 3, H, W]
            let h = grouped(conv(x).tanh())                                    // [N, 4, H', W']
            return line(h.mean(axis: 3))                                       // [N, 2, H']
        }
    }

    func testConv2dAndConv1d() throws {
        let x = randomTensor([2, 3, 6, 6], seed: 1)
        try checkAdapter(makeModel: { ConvNet(groups: 1, dilation: 1) },
                         config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["conv", "grouped", "line"]),
                         input: x) { m, x in (m as! ConvNet)(x) }
    }

    func testDilatedConvKeepsDilationInA() throws {
        let x = randomTensor([1, 3, 7, 7], seed: 2)
        try checkAdapter(makeModel: { ConvNet(groups: 1, dilation: 2) },
                         config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["conv"]),
                         input: x) { m, x in (m as! ConvNet)(x) }
    }

    func testGroupedConvTrainsButRefusesToMerge() throws {
        let x = randomTensor([1, 3, 6, 6], seed: 3)
        try checkAdapter(makeModel: { ConvNet(groups: 2, dilation: 1) },
                         config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["grouped"]),
                         input: x) { m, x in (m as! ConvNet)(x) }
        let lora = LoRAModel(wrapping: ConvNet(groups: 2, dilation: 1))
        var rng = RandomGenerator(seed: 1)
        XCTAssertThrowsError(try lora.addAdapter(config: LoRAConfig(rank: 3, targetModules: ["grouped"]), generator: &rng),
                             "rank 3 is not divisible by groups 2")
    }

    func testConvDoRAAndPiSSA() throws {
        let x = randomTensor([1, 3, 6, 6], seed: 4)
        try checkAdapter(makeModel: { ConvNet(groups: 1, dilation: 1) },
                         config: LoRAConfig(rank: 2, alpha: 2, useDoRA: true, targetModules: ["conv"]),
                         input: x) { m, x in (m as! ConvNet)(x) }
        try checkAdapter(makeModel: { ConvNet(groups: 1, dilation: 1) },
                         config: LoRAConfig(rank: 2, alpha: 2, initialization: .pissa, targetModules: ["conv"]),
                         input: x) { m, x in (m as! ConvNet)(x) }
    }

    func testConvAdapterFactorShapesArePEFTs() throws {
        let model = ConvNet(groups: 2, dilation: 1)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter(config: LoRAConfig(rank: 4, targetModules: ["conv", "grouped"]), generator: &rng)
        let conv = (model.conv as! LoRAConv2d).adapters["default"]!
        XCTAssertEqual(conv.a.shape, [4, 3, 3, 3])
        XCTAssertEqual(conv.b.shape, [4, 4, 1, 1])
        XCTAssertEqual((model.grouped as! LoRAConv2d).adapters["default"]!.b.shape, [4, 2, 1, 1])
    }

    final class TextNet: Module {
        @Child var embed: Embedding
        @Child var attention: MultiHeadAttention
        @Child var separate: MultiHeadAttention

        init(paddingIndex: Int? = nil) {
            var rng = RandomGenerator(seed: 12)
            embed = Embedding(10, 8, paddingIndex: paddingIndex, generator: &rng)
            attention = MultiHeadAttention(8, heads: 2, fused: true, generator: &rng)
            separate = MultiHeadAttention(8, heads: 2, generator: &rng)
            super.init()
        }

        func callAsFunction(_ ids: Tensor) -> Tensor {
            let x = try! embed(ids)  // test ids are in range
            let keep = Tensor([1, 1, 1, 0, 1, 1, 1, 1], shape: [2, 4])
            let h = attention(x, mask: .keyPadding(keep))
            return separate(query: h, key: x, value: x)
        }
    }

    let ids = Tensor(indices: [1, 4, 2, 0, 9, 3, 3, 7], shape: [2, 4])

    func testEmbedding() throws {
        try checkAdapter(makeModel: { TextNet() }, config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["embed"]),
                         input: ids) { m, x in (m as! TextNet)(x) }
    }

    /// As PyTorch's `padding_idx` (and PEFT, which passes it on to the adapter's lookup), the
    /// padding id's column of A receives no gradient.
    func testEmbeddingPaddingColumnOfAGetsNoGradient() throws {
        let model = TextNet(paddingIndex: 0)
        let lora = LoRAModel(wrapping: model)
        var rng = RandomGenerator(seed: 1)
        try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 2, targetModules: ["embed"]), generator: &rng)
        let adapter = (model.embed as! LoRAEmbedding).adapters["default"]!
        model(ids).sum().backward()
        let g = try XCTUnwrap(adapter.a.grad).scalars                 // [2, 10]
        XCTAssertEqual([g[0], g[10]], [0, 0])
        XCTAssertNotEqual(g[1], 0)
    }

    func testFusedAttentionAndItsOutputProjection() throws {
        try checkAdapter(makeModel: { TextNet() },
                         config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["attention", "attention.out_proj"]),
                         input: ids) { m, x in (m as! TextNet)(x) }
    }

    func testSeparateAttentionProjections() throws {
        try checkAdapter(makeModel: { TextNet() },
                         config: LoRAConfig(rank: 2, alpha: 4, targetModules: ["separate.q_proj", "separate.k_proj",
                                                                               "separate.v_proj", "separate.out_proj"]),
                         input: ids) { m, x in (m as! TextNet)(x) }
    }

    func testAttentionWithSeparateProjectionsIsNotAdaptedWhole() {
        let lora = LoRAModel(wrapping: TextNet())
        var rng = RandomGenerator(seed: 1)
        XCTAssertThrowsError(try lora.addAdapter(config: LoRAConfig(targetModules: ["separate"]), generator: &rng)) { e in
            XCTAssertTrue("\(e)".contains("separate projections"), "\(e)")
        }
    }
}
