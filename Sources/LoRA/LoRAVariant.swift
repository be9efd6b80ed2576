import NN
import Tensor

/// How an adapter departs from plain LoRA, as a strategy object (PEFT's `tuners/lora/variants.py`):
/// the state it adds when created, how it merges into the base weight and back, and its forward.
/// Plain LoRA has no variant; hosts never branch on one: `LoRAHost.prepareAdapter`, `merge`,
/// `unmerge` and `applyAdapters` call these hooks when an adapter has a variant.
///
/// One instance belongs to one adapter, so a variant may keep per-adapter state (DoRA keeps the
/// row norms of the merged weight to undo the merge exactly).
public protocol LoRAVariant: AnyObject {
    /// Adds the variant's state to a freshly prepared `adapter` of `host`, whose base weight will
    /// be `baseWeight` (PiSSA's residual when that initialisation is used).
    /// - Throws: `LoRAError.unsupported` when `host` cannot carry the variant.
    func initialize(_ adapter: LoRAAdapter, baseWeight: Tensor, host: LoRAHost) throws
    /// The base weight `w` with `adapter` merged in.
    func merged(_ w: Tensor, adapter: LoRAAdapter, host: LoRAHost) -> Tensor
    /// Undoes `merged`: the weight before the merge, from the merged weight `w`.
    func unmerged(_ w: Tensor, adapter: LoRAAdapter, host: LoRAHost) -> Tensor
    /// The layer's output `y` so far with `adapter`'s contribution for the adapter input `h`
    /// (after dropout) added.
    func forward(_ y: Tensor, input h: Tensor, adapter: LoRAAdapter, host: LoRAHost) -> Tensor
}

extension AdapterSettings {
    /// A new variant object for these settings, or nil for plain LoRA.
    func makeVariant() -> LoRAVariant? { useDoRA ? DoRA() : nil }
}
