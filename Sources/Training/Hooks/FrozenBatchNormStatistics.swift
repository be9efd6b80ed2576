import NN

/// Keeps batch-norm layers whose parameters are all frozen in evaluation mode during training, so
/// their running statistics stay those of the pretrained model. With LoRA this makes the adapter
/// file self-sufficient: the statistics are not in it, so they must not drift while training.
public final class FrozenBatchNormStatistics: TrainerHook {
    public init() {}

    public func stepStarted(_ context: TrainerContext) {
        for (_, module) in context.model.namedModules() {
            guard let bn = module as? BatchNorm else { continue }
            let slots = bn.namedParameterSlots()
            if slots.allSatisfy({ !$0.slot.isTrainable }) { bn.eval() }
        }
    }
}
