#!/usr/bin/env python3
"""Golden fixtures from Hugging Face transformers' BERT for the TextModels tests.

Writes into Tests/TextModelsTests/Fixtures/:

bert_goldens.json — all-MiniLM-L6-v2 (the real pretrained weights, from $LORAKIT_MINILM or
  data/models/all-MiniLM-L6-v2; run scripts/fetch_minilm first) on SENTENCES, tokenised with the
  model's own tokenizer and padded to one batch [8, T] with an attention mask:
    input_ids, attention_mask        [8][T] (ints)
    token_positions                  per sentence, the positions whose hidden states are stored:
                                     0, 1, the middle and last real token, and T - 1 (padding for
                                     all but the longest sentence)
    token_states                     per sentence, per stored position, last_hidden_state [384]
    token_checksums                  per sentence [Σ|h|, √Σh²] over all real tokens' hidden states
    mean_pooled                      [8][384] mean over the real tokens (sentence-transformers'
                                     pooling, before its normalisation)
    cosine                           [8][8] cosine similarities of mean_pooled
    torch_float32_error              max |float32 − float64| of transformers' own float32 run over
                                     the stored hidden states and the pooled vectors
  The reference runs in float64 from the float32 checkpoint, so the goldens carry no float32
  rounding of their own; values are printed with 9 significant digits.

bert_tiny/model.safetensors + bert_tiny/config.json — a BertForSequenceClassification with random
  weights (torch.manual_seed(0), initializer_range 0.2 so that attention is far from uniform):
  vocabulary 50, hidden 32, 2 layers, 4 heads, FFN 64, 16 positions, 3 labels, exact GELU.
  Keys are transformers' (`bert.embeddings.…`, `bert.encoder.layer.N.…`, `bert.pooler.dense.…`,
  `classifier.…`), float32.

bert_tiny_goldens.json — that model in evaluation mode (no dropout), float64, on TINY_IDS (three
  rows, padded with 0, one with token types 1 on its second segment), TINY_LABELS:
    input_ids, token_type_ids, attention_mask, labels
    logits                           [3][3] (pooler → classifier, as BertForSequenceClassification)
    loss                             mean cross-entropy of logits against labels
    grads                            {parameter key: flattened dL/dp} for TINY_GRADIENT_KEYS

    python3 scripts/make_bert_goldens.py          (needs torch, transformers, safetensors)
"""
import json
import math
import os

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "TextModelsTests", "Fixtures")
MINILM = os.environ.get("LORAKIT_MINILM", os.path.join(ROOT, "data", "models", "all-MiniLM-L6-v2"))

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "A monkey is playing drums.",
    "The new movie is awesome, and everyone in the theater laughed out loud at the ending!",
    "Cats sleep.",
    "Two men pushed carts through the woods; the weather was cold (about -3°C), but nobody "
    "complained about it at all.",
]

TINY_IDS = [
    [2, 11, 12, 13, 3, 21, 22, 3],
    [2, 31, 32, 33, 34, 3, 0, 0],
    [2, 45, 3, 0, 0, 0, 0, 0],
]
TINY_TYPES = [
    [0, 0, 0, 0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
]
TINY_LABELS = [0, 2, 1]
TINY_GRADIENT_KEYS = [
    "classifier.weight",
    "classifier.bias",
    "bert.pooler.dense.weight",
    "bert.encoder.layer.1.output.dense.weight",
    "bert.encoder.layer.1.intermediate.dense.bias",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.0.attention.self.value.bias",
    "bert.encoder.layer.0.attention.output.LayerNorm.weight",
    "bert.embeddings.LayerNorm.weight",
    "bert.embeddings.word_embeddings.weight",
    "bert.embeddings.position_embeddings.weight",
    "bert.embeddings.token_type_embeddings.weight",
]


def rounded(values):
    """Floats with 9 significant digits (float32 round-trips), nested lists kept."""
    if isinstance(values, list):
        return [rounded(v) for v in values]
    return float(f"{values:.9g}")


def minilm_goldens():
    tokenizer = AutoTokenizer.from_pretrained(MINILM)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    model32 = BertModel.from_pretrained(MINILM, add_pooling_layer=False, attn_implementation="eager").eval()
    model64 = BertModel.from_pretrained(MINILM, add_pooling_layer=False, attn_implementation="eager").double().eval()
    with torch.no_grad():
        h64 = model64(input_ids=ids, attention_mask=mask).last_hidden_state
        h32 = model32(input_ids=ids, attention_mask=mask).last_hidden_state.double()
    m = mask.unsqueeze(-1).double()

    def pooled(h):
        return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)

    p64, p32 = pooled(h64), pooled(h32)
    t = ids.shape[1]
    positions, states, checksums = [], [], []
    for i in range(len(SENTENCES)):
        real = int(mask[i].sum())
        chosen = sorted({0, 1, real // 2, real - 1, t - 1})
        positions.append(chosen)
        states.append([h64[i, j].tolist() for j in chosen])
        hr = h64[i, :real]
        checksums.append([float(hr.abs().sum()), float(hr.pow(2).sum().sqrt())])
    stored = torch.stack([h64[i, j] for i, p in enumerate(positions) for j in p])
    stored32 = torch.stack([h32[i, j] for i, p in enumerate(positions) for j in p])
    error = max(float((stored - stored32).abs().max()), float((p64 - p32).abs().max()))
    unit = p64 / p64.norm(dim=1, keepdim=True)
    return {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "sentences": SENTENCES,
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "hidden_size": h64.shape[-1],
        "token_positions": positions,
        "token_states": rounded(states),
        "token_checksums": rounded(checksums),
        "mean_pooled": rounded(p64.tolist()),
        "cosine": rounded((unit @ unit.T).tolist()),
        "torch_float32_error": error,
    }


def tiny_goldens():
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu",
                        initializer_range=0.2, num_labels=3, pad_token_id=0, layer_norm_eps=1e-12,
                        attn_implementation="eager")
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    # LayerNorms start at (1, 0): give them values so their gradients are exercised.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    os.makedirs(os.path.join(OUT, "bert_tiny"), exist_ok=True)
    save_file(state, os.path.join(OUT, "bert_tiny", "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(OUT, "bert_tiny", "config.json"), "w") as f:
        f.write(config.to_json_string())

    model = model.double()
    ids = torch.tensor(TINY_IDS)
    types = torch.tensor(TINY_TYPES)
    mask = (ids != 0).long()
    labels = torch.tensor(TINY_LABELS)
    logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    parameters = dict(model.named_parameters())
    return {
        "input_ids": TINY_IDS,
        "token_type_ids": TINY_TYPES,
        "attention_mask": mask.tolist(),
        "labels": TINY_LABELS,
        "logits": rounded(logits.tolist()),
        "loss": float(loss.detach()),
        "grads": {k: rounded(parameters[k].grad.flatten().tolist()) for k in TINY_GRADIENT_KEYS},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "bert_goldens.json"), "w") as f:
        json.dump(minilm_goldens(), f, separators=(",", ":"))
    with open(os.path.join(OUT, "bert_tiny_goldens.json"), "w") as f:
        json.dump(tiny_goldens(), f, separators=(",", ":"))
    for name in ["bert_goldens.json", "bert_tiny/model.safetensors", "bert_tiny/config.json", "bert_tiny_goldens.json"]:
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name)) / 1024:.1f} KB")


if __name__ == "__main__":
    main()
