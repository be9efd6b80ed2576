import Foundation
import ImageModels
import LoRA
import NN
import Tensor
import XCTest

/// Times one training step (forward, cross-entropy, backward) of ResNet-34 at 224×224, batch 8:
/// full fine-tuning, LoRA r = 16 on the 35 block convolutions with a new 5-class head, and a linear
/// probe; counts the oneDNN reorders of one step. Skipped unless `LORAKIT_RESNET_TIMING` is set;
/// meaningful only in a release build:
///
///     swift build -c release --build-tests -Xswiftc -enable-testing
///     LORAKIT_RESNET_TIMING=1 swift test -c release --skip-build -Xswiftc -enable-testing --filter ResNetTiming
///
/// `LORAKIT_RESNET_TIMING_STEPS` sets the number of timed steps (default 5, after 2 warm-ups).
final class ResNetTimingTests: XCTestCase {
    func testResNet34TrainingStepTiming() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["LORAKIT_RESNET_TIMING"] != nil else {
            throw XCTSkip("set LORAKIT_RESNET_TIMING=1 and use a release build to time ResNet-34 steps")
        }
        let steps = Int(environment["LORAKIT_RESNET_TIMING_STEPS"] ?? "") ?? 5
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.randn([8, 3, 224, 224], generator: &rng)
        let labels = Tensor(indices: (0..<8).map { $0 % 5 }, shape: [8])
        var lines: [String] = []

        func measure(_ name: String, _ model: ResNet) {
            print("== \(name)")   // a marker for DNNL_VERBOSE=1 logs
            fflush(stdout)
            model.train()
            let trainable = model.trainableParameters().map(\.slot)
            func step() {
                let loss = crossEntropy(logits: model(x), targets: labels)
                loss.backward()
                for slot in trainable { slot.tensor?.setGrad(nil) }
            }
            step()
            step()
            let trace = KernelTrace()
            KernelTrace.record(into: trace) { step() }
            var times: [Double] = []
            for _ in 0..<steps {
                let start = DispatchTime.now().uptimeNanoseconds
                step()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            times.sort()
            let kernels = Dictionary(grouping: trace.kernels, by: { $0 }).mapValues(\.count)
            let summary = kernels.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append(String(format: "%@: median %.3f s/step (min %.3f, max %.3f, %d steps); trainable %d",
                                name, times[times.count / 2], times.first!, times.last!, steps,
                                model.trainableParameterCount))
            lines.append("  kernels per step: \(summary)")
        }

        let full = ResNet.resnet34(classes: 5, generator: &rng)
        measure("full fine-tuning", full)

        let adapted = ResNet.resnet34(classes: 5, generator: &rng)
        let lora = LoRAModel(wrapping: adapted)
        try lora.addAdapter(config: LoRAConfig(rank: 16, alpha: 16, targetModules: ["layer*.*.conv*", "layer*.*.downsample.0"],
                                               modulesToSave: ["fc"]), generator: &rng)
        measure("LoRA r=16, 35 convs + head", adapted)

        let probe = ResNet.resnet34(classes: 5, generator: &rng)
        probe.freeze()
        probe.unfreeze(keys: ["fc."])
        measure("linear probe (fc only)", probe)
        print(lines.joined(separator: "\n"))
    }
}
