/// TextModels: text Transformers for LoRAKit.
///
/// - A WordPiece tokenizer matching Hugging Face's BERT tokenizer (`vocab.txt` / `tokenizer.json`).
/// - A BERT-style encoder with Hugging Face's module keys (`embeddings.word_embeddings.weight`,
///   `encoder.layer.N.attention.self.query.weight`, …), pooling, and a sequence-classification head.
/// - Text-classification datasets from CSV or JSONL.
public enum TextModels {}
