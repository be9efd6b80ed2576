// A training run that can be killed and resumed, used by the resume tests and as an example of
// checkpointing with the Training API.
//
//   resume-probe --out DIR --steps N --every K [--resume] [--slow-save-ms MS] [--step-ms MS]
//
// Trains TinyConvNet with LoRA (adapter dropout on, so RNG state matters) on SyntheticPatterns,
// checkpointing every K steps into DIR/checkpoints; at the end writes DIR/final.safetensors with
// every trainable parameter and DIR/losses.json with the loss curve.
import Foundation
import LoRA
import NN
import SafeTensors
import Tensor
import Training
import Demos

var args = CommandLine.arguments.dropFirst()
func value(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), args.index(after: i) < args.endIndex else { return nil }
    return args[args.index(after: i)]
}
guard let out = value("--out"), let steps = value("--steps").flatMap(Int.init), let every = value("--every").flatMap(Int.init) else {
    FileHandle.standardError.write(Data("usage: resume-probe --out DIR --steps N --every K [--resume] [--slow-save-ms MS] [--step-ms MS]\n".utf8))
    exit(2)
}
let slowSave = value("--slow-save-ms").flatMap(Int.init) ?? 0
let stepDelay = value("--step-ms").flatMap(Int.init) ?? 0
let outURL = URL(fileURLWithPath: out)

/// Slows each step so that a test can kill the process at a chosen moment.
final class Pace: TrainerHook {
    let ms: Int
    init(ms: Int) { self.ms = ms }
    func stepEnded(_ context: TrainerContext, _ info: StepInfo) { if ms > 0 { usleep(useconds_t(ms * 1000)) } }
}

do {
    let model = TinyConvNet(seed: 3)
    let lora = LoRAModel(wrapping: model)
    var rng = RandomGenerator(seed: 4)
    try lora.addAdapter(config: LoRAConfig(rank: 2, alpha: 4, dropout: 0.2, targetModules: ["conv1", "conv2"],
                                           modulesToSave: ["head"]), generator: &rng)
    // 10 batches per epoch, so checkpoints fall in the middle of epochs.
    let train = DataLoader(dataset: SyntheticPatterns(count: 150, seed: 1), batchSize: 15, seed: 7,
                           collate: ClassificationBatch.collate)
    let optimizer = try AdamW(parameters: model.trainableParameters(), learningRate: 5e-3)
    let trainer = try Trainer(model: model, task: ClassificationTask(classCount: 4), optimizer: optimizer,
                              schedule: try LinearSchedule(warmupSteps: 3, totalSteps: steps), trainData: train,
                              hooks: [Checkpointing(everySteps: every, eachEpoch: false, keepBest: 0), Pace(ms: stepDelay)],
                              configuration: TrainerConfiguration(epochs: nil, maxSteps: steps, seed: 7,
                                                                  runIdentity: ["probe": "1", "steps": "\(steps)"],
                                                                  outputDirectory: outURL))
    trainer.exportIntoCheckpoint = { dir in
        try PEFTAdapterFile.save(lora, adapter: "default", to: dir.path)
        if slowSave > 0 { usleep(useconds_t(slowSave * 1000)) }      // widen the window for a kill mid-save
    }
    let resumeFrom = args.contains("--resume") ? trainer.checkpoints?.latest() : nil
    let summary = try trainer.fit(resumingFrom: resumeFrom)
    var final: [String: Tensor] = [:]
    for (k, slot) in model.trainableParameters() { final[k] = slot.tensor }
    try SafeTensors.write(final, to: outURL.appendingPathComponent("final.safetensors").path)
    try JSONSerialization.data(withJSONObject: summary.lossHistory).write(to: outURL.appendingPathComponent("losses.json"))
    print("trained \(summary.steps) steps\(resumeFrom.map { " (resumed from \($0.lastPathComponent))" } ?? "")")
} catch {
    FileHandle.standardError.write(Data("resume-probe: \(error)\n".utf8))
    exit(1)
}
