import Tensor

extension LlamaForCausalLM: CausalLanguageModel {
    public typealias Cache = LlamaKVCache

    public var vocabularySize: Int { config.vocabularySize }
    public var contextLength: Int { config.maxPositionEmbeddings }
    public var endTokenIds: [Int] { config.eosTokenIds }

    public func makeCache(capacity: Int) -> LlamaKVCache { LlamaKVCache(config: config, capacity: capacity) }

    public func nextTokenLogits(_ ids: [Int], cache: LlamaKVCache) throws -> [Float] {
        try logits(Tensor(indices: ids, shape: [1, ids.count]), cache: cache, lastPositionOnly: true).scalars
    }
}
