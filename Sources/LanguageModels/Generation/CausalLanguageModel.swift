import Tensor

/// A decoder that continues token sequences with a key/value cache: what `TokenGenerator` needs.
/// `LlamaForCausalLM` conforms.
public protocol CausalLanguageModel: AnyObject {
    /// The cache of earlier tokens' keys and values.
    associatedtype Cache
    /// Rows of the logits.
    var vocabularySize: Int { get }
    /// The longest sequence (prompt and continuation) the model takes.
    var contextLength: Int { get }
    /// Ids that end a turn (the end-of-sequence ids of the configuration).
    var endTokenIds: [Int] { get }
    /// An empty cache with room for `capacity` tokens.
    func makeCache(capacity: Int) -> Cache
    /// Reads `ids` after the tokens in `cache` (appending theirs) and returns the logits [V] that
    /// follow the last of them.
    func nextTokenLogits(_ ids: [Int], cache: Cache) throws -> [Float]
}
