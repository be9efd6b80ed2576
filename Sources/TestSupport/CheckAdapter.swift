import Foundation
import LoRA
import NN
import XCTest

/// Checks the contract every LoRA host must keep, for built-in layers and plugins alike:
///
/// 1. a fresh adapter leaves the output unchanged;
/// 2. with non-zero factors, the merged output equals the unmerged one (within `tolerance`), and
///    unmerging restores the base weight;
/// 3. only adapter parameters (and saved modules) are trainable, and only they receive gradients;
/// 4. saving the adapter in PEFT's format and loading it into a fresh model reproduces outputs;
/// 5. the adapter factors pass a finite-difference gradient check (not for DoRA, whose backward
///    treats the weight norm as a constant by design — the paper's §4.3 and PEFT — so its gradient
///    is deliberately not the finite-difference one);
/// 6. planning an adapter changes nothing (`makeFactors` must not touch the layer, which is what
///    makes injection all or nothing), before the layers take their LoRA form and after.
///
/// - Parameters:
///   - makeModel: builds the model, identically each call (same seed).
///   - config: the LoRA configuration to inject.
///   - input: an input for `forward`.
///   - gradientEpsilon: the finite-difference step; use a smaller one for models with ReLU
///     kinks near the perturbed activations.
///   - forward: runs the model.
public func checkAdapter(makeModel: () -> Module, config: LoRAConfig, input: Tensor,
                         tolerance: Float = 1e-5, gradientCheck: Bool = true, gradientEpsilon: Double = 1e-2,
                         forward: @escaping (Module, Tensor) -> Tensor,
                         file: StaticString = #filePath, line: UInt = #line) throws {
    let model = makeModel()
    model.eval()
    let baseline = withNoGrad { forward(model, input) }
    let lora = LoRAModel(wrapping: model)
    // 6. Planning (a dry run prepares an adapter on every layer) changes nothing.
    var snapshot = ModelSnapshot(model)
    _ = try lora.dryRun(config)
    assertUnchanged(model, since: snapshot, "dry run on the base layers:", file: file, line: line)
    var rng = RandomGenerator(seed: 99)
    try lora.addAdapter("default", config: config, generator: &rng)
    model.eval()
    XCTAssertFalse(lora.hosts.isEmpty, "no layer was adapted", file: file, line: line)
    snapshot = ModelSnapshot(model)
    _ = try lora.dryRun(config, adapterName: "probe")
    assertUnchanged(model, since: snapshot, "dry run on the LoRA hosts:", file: file, line: line)

    // 1. A fresh adapter is a no-op (B = 0; PiSSA keeps W − sBA + sBA).
    assertClose(withNoGrad { forward(model, input) }, baseline, atol: tolerance, rtol: 1e-4,
                "fresh adapter changed the output", file: file, line: line)

    // Give every factor non-zero values so the adapter does something.
    var noise = RandomGenerator(seed: 5)
    for (_, host) in lora.hosts {
        guard let adapter = host.adapters["default"] else { continue }
        adapter.b = Tensor.randn(adapter.b.shape, std: 0.2, generator: &noise)
        adapter.a = Tensor.randn(adapter.a.shape, std: 0.2, generator: &noise)
    }
    let adapted = withNoGrad { forward(model, input) }
    XCTAssertGreaterThan(maxAbsDifference(adapted, baseline), 1e-4, "non-zero factors did not change the output",
                         file: file, line: line)

    // 2. Merge equals unmerged; unmerge restores the base weights (where the layers can merge).
    if lora.hosts.allSatisfy({ $0.host.supportsMerge }) {
    let weightsBefore = lora.hosts.map { $0.host.baseWeight.tensor!.scalars }
    try lora.merge()
    assertClose(withNoGrad { forward(model, input) }, adapted, atol: tolerance, rtol: 1e-4,
                "merged output differs from unmerged", file: file, line: line)
    try lora.unmerge()
    for (i, (key, host)) in lora.hosts.enumerated() {
        assertClose(host.baseWeight.tensor!, Tensor(weightsBefore[i], shape: host.baseWeight.tensor!.shape),
                    atol: tolerance, rtol: 1e-4, "unmerge did not restore \(key)", file: file, line: line)
    }
    assertClose(withNoGrad { forward(model, input) }, adapted, atol: tolerance, rtol: 1e-4,
                "output after unmerge differs", file: file, line: line)
    } else {
        XCTAssertThrowsError(try lora.merge(), "a layer that cannot merge must refuse", file: file, line: line)
    }

    // 3. Only adapter parameters (and saved modules) train and get gradients.
    model.train()
    forward(model, input).sum().backward()
    model.eval()
    let savedPatterns = config.modulesToSave
    for (key, slot) in model.namedParameterSlots() {
        let isAdapter = key.contains(".adapters.")
        let isSaved = savedPatterns.contains { p in key.hasPrefix(p + ".") || key.contains("." + p + ".") }
        let isBias = key.hasSuffix(".bias") && config.bias != .none
        if isAdapter || isSaved || isBias {
            if isAdapter { XCTAssertNotNil(slot.tensor?.grad, "\(key) got no gradient", file: file, line: line) }
        } else {
            XCTAssertFalse(slot.isTrainable, "\(key) of the base is trainable", file: file, line: line)
            XCTAssertNil(slot.tensor?.grad, "\(key) of the base got a gradient", file: file, line: line)
        }
    }

    // 4. Save in PEFT's format and load into a fresh model.
    let dir = NSTemporaryDirectory() + "lorakit-check-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try PEFTAdapterFile.save(lora, adapter: "default", to: dir)
    let fresh = makeModel()
    fresh.eval()
    let freshLoRA = LoRAModel(wrapping: fresh)
    try PEFTAdapterFile.load(into: freshLoRA, from: dir)
    fresh.eval()
    if config.initialization == .pissa {
        // PiSSA changed the base weights; a user saves those with the adapter's merged export.
    } else {
        assertClose(withNoGrad { forward(fresh, input) }, adapted, atol: tolerance, rtol: 1e-4,
                    "adapter loaded from PEFT files gives other outputs", file: file, line: line)
    }

    // 5. Finite differences on the first host's factors.
    guard gradientCheck, !config.useDoRA, let (_, host) = lora.hosts.first, let adapter = host.adapters["default"] else { return }
    model.eval()
    checkGradients([adapter.a.detached(), adapter.b.detached()], epsilon: gradientEpsilon, file: file, line: line) { xs in
        adapter.a = xs[0]
        adapter.b = xs[1]
        return forward(model, input)
    }
}

private func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
}
