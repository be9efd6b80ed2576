#!/usr/bin/env python3
"""Fixtures for the Llama decoder tests (Tests/LanguageModelsTests/Fixtures/), from transformers.

    python3 scripts/make_llama_fixtures.py [--smollm2-only]   (needs torch, transformers, gguf, safetensors, numpy)

llama_tiny/config.json + llama_tiny/model.safetensors — a random LlamaForCausalLM as transformers
  saves it (keys `model.embed_tokens.weight`, `model.layers.N.self_attn.q_proj.weight`, …,
  `lm_head.weight`), float32: vocabulary 96, hidden 64, 2 layers, 4 heads of 16, 2 key/value heads
  (grouped-query), SwiGLU 96, RoPE base 10000, RMS eps 1e-6, untied head. Weights ~ N(0, 0.25)
  (transformers' 0.02 makes attention nearly uniform and would test little), norm weights 1 + N(0, 0.1).

llama_tiny_tied/ — the same architecture with 1 layer and a tied head (no `lm_head.weight`).

llama_tiny.gguf — llama_tiny written with the gguf package's writer as llama.cpp's converter writes
  a Llama: tensor names `token_embd`, `blk.N.attn_q/k/v/output`, `ffn_gate/up/down`, `attn_norm`,
  `ffn_norm`, `output_norm`, `output`; Q and K rows PERMUTED for interleaved-pairs RoPE
  (convert_hf_to_gguf.py's `LlamaModel.permute`); types mixed to cover every block format the
  loader reads: layer 0 Q4_1 / Q4_0 / Q8_0 / F16, layer 1 F32 / F16 / BF16, token_embd Q8_0,
  output Q8_0, norms F32. The ggml quantisers of gguf-py make the blocks.

llama_tiny_q5.gguf — a 1-layer tied model whose blk.0.ffn_up is Q5_0 (a type the loader refuses).

smollm2_goldens.json — the real SmolLM2-135M-Instruct (Q4_1 GGUF; run scripts/fetch_smollm2 first, or
  set LORAKIT_SMOLLM2 to its directory; skipped when absent) as transformers loads it from the GGUF
  (dequantised by gguf-py, Q/K un-permuted), run in float64, on PROMPTS rendered with the model's
  chat template and tokenised by transformers' tokenizer from the same GGUF:
    columns                        32 fixed vocabulary ids (seeded) whose logits are stored everywhere
    prompts[i].ids                 the prompt's ids [T]
    prompts[i].logits              per position [T][32]: the logits at `columns`
    prompts[i].top_ids/top_values  per position, the 5 largest logits and their ids
    prompts[i].checksums           per position [Σ logits, Σ logits²] over the whole vocabulary
    prompts[i].last_top_ids/values the 20 largest logits of the last position
    prompts[i].greedy              32 greedy tokens (float64, KV cache) — equal to transformers'
                                   float32 generate(), asserted — and each step's top-1/top-2 margin
    float32_error                  max |float32 − float64| of transformers' own float32 run over the
                                   stored logits (how far the reference itself moves in float32)

llama_tiny_goldens.json — float64 references (the float32 weights run in float64, eager attention,
  so the goldens carry no float32 rounding of their own):
    safetensors.sequences          ids [T] and logits [T][V] of llama_tiny for 3 unpadded rows
    safetensors.padded             a right-padded and a left-padded batch: ids, attention_mask,
                                   position_ids (cumsum of the mask − 1, as generate() makes them
                                   for left padding), logits at the real positions (padding rows 0;
                                   left padding: each row's sequence run alone, see padded_goldens)
    safetensors.cache_steps        a 5-token prefix then 6 single-token steps through transformers'
                                   DynamicCache: logits of each step [V]
    safetensors.greedy             prompt ids, 12 greedy tokens from generate() (float32, as users
                                   run it) and the float64 top-1/top-2 margin of every step
    tied.sequences                 llama_tiny_tied on 2 rows
    gguf.sequences                 llama_tiny.gguf loaded by transformers (dequantised by gguf-py,
                                   Q/K un-permuted by transformers), the same 3 rows
    gguf.cache_steps, gguf.greedy  as above for the GGUF model
    gguf.dequantized               per GGUF tensor: shape (PyTorch order, HF row order for Q/K
                                   un-permuted) and Σw, Σw², w[0..7] of gguf-py's dequantisation
"""
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file

import gguf
from gguf.quants import quantize
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "LanguageModelsTests", "Fixtures")

SEQUENCES = [
    [1, 17, 42, 5, 88, 23, 61],
    [7, 3, 95, 12, 12, 40, 71, 8, 33, 54, 2, 90],
    [60, 59, 58, 1, 0, 44, 19, 27, 81, 36, 36, 36, 5, 77, 14, 50],
]
PROMPT = [1, 30, 22, 75, 9]


def tiny_config(layers, tied):
    return LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=layers,
                       num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                       rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=tied,
                       attention_bias=False, mlp_bias=False, hidden_act="silu",
                       bos_token_id=1, eos_token_id=2, pad_token_id=0)


def random_model(layers, tied, seed):
    torch.manual_seed(seed)
    config = tiny_config(layers, tied)
    config._attn_implementation = "eager"
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.25 * torch.randn_like(p))
    return model


def save_hf(model, directory):
    os.makedirs(directory, exist_ok=True)
    model.config.save_pretrained(directory)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    save_file(state, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})


def rows(t):
    return [[float(f"{v:.9g}") for v in r] for r in t.tolist()]


@torch.no_grad()
def logits64(model, ids, mask=None, positions=None):
    m = model.double()
    out = m(input_ids=torch.tensor(ids), attention_mask=None if mask is None else torch.tensor(mask),
            position_ids=None if positions is None else torch.tensor(positions)).logits
    model.float()
    return out


@torch.no_grad()
def sequence_goldens(model, sequences):
    return [{"ids": s, "logits": rows(logits64(model, [s])[0])} for s in sequences]


@torch.no_grad()
def padded_goldens(model):
    """Right padding: transformers' logits of the padded batch. Left padding: transformers (5.25,
    eager attention) gives NaN for fully masked padding queries, which then reach the real
    tokens through masked keys (0 · NaN), so the golden of a left-padded row is the logits of its
    sequence run alone — what a correct mask and positions must give at its real tokens."""
    out = []
    a, b = SEQUENCES[0], SEQUENCES[1]
    t = len(b)
    for side in ["right", "left"]:
        pad = [0] * (t - len(a))
        ids = [a + pad if side == "right" else pad + a, b]
        mask = [[1] * len(a) + [0] * len(pad) if side == "right" else [0] * len(pad) + [1] * len(a), [1] * t]
        positions = [[max(int(c) - 1, 0) for c in np.cumsum(m)] for m in mask]
        if side == "right":
            logits = logits64(model, ids, mask, positions)
        else:
            alone = logits64(model, [a])[0]
            logits = torch.cat([torch.zeros(1, len(pad), alone.shape[-1], dtype=torch.float64), alone.unsqueeze(0)], 1)
            logits = torch.cat([logits, logits64(model, [b])], 0)
        keep = torch.tensor(mask, dtype=torch.bool).unsqueeze(-1)
        logits = torch.where(keep, logits, torch.zeros_like(logits))                # padding rows → 0
        assert torch.isfinite(logits).all()
        out.append({"side": side, "ids": ids, "attention_mask": mask, "position_ids": positions,
                    "logits": [rows(l) for l in logits]})
    return out


@torch.no_grad()
def cache_goldens(model, ids, prefix=5):
    from transformers import DynamicCache
    m = model.double()
    cache = DynamicCache(config=m.config)
    out = m(input_ids=torch.tensor([ids[:prefix]]), past_key_values=cache, use_cache=True)
    steps = [{"position": prefix - 1, "logits": rows(out.logits[0, -1:])[0]}]
    for i in range(prefix, len(ids)):
        out = m(input_ids=torch.tensor([[ids[i]]]), past_key_values=out.past_key_values, use_cache=True)
        steps.append({"position": i, "logits": rows(out.logits[0])[0]})
    model.float()
    return {"ids": ids, "prefix": prefix, "steps": steps}


@torch.no_grad()
def greedy_goldens(model, prompt, new_tokens=12):
    generated = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                               max_new_tokens=new_tokens, do_sample=False, pad_token_id=0, eos_token_id=None)
    tokens = generated[0, len(prompt):].tolist()
    margins = []
    ids = list(prompt)
    for tok in tokens:
        row = logits64(model, [ids])[0, -1]
        top = torch.topk(row, 2)
        assert int(top.indices[0]) == tok, "float64 greedy differs from transformers' float32 generate"
        margins.append(float(top.values[0] - top.values[1]))
        ids.append(tok)
    return {"prompt": prompt, "tokens": tokens, "margins": margins}


# MARK: - GGUF

GGUF_TYPES = {  # HF key suffix → type per layer
    0: {"self_attn.q_proj": "Q4_1", "self_attn.k_proj": "Q4_0", "self_attn.v_proj": "Q8_0",
        "self_attn.o_proj": "F16", "mlp.gate_proj": "Q4_1", "mlp.up_proj": "Q4_0", "mlp.down_proj": "Q8_0"},
    1: {"self_attn.q_proj": "F32", "self_attn.k_proj": "F16", "self_attn.v_proj": "BF16",
        "self_attn.o_proj": "F32", "mlp.gate_proj": "F16", "mlp.up_proj": "BF16", "mlp.down_proj": "F32"},
}
GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
              "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
              "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def permute(w, n_head, n_head_kv):
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute (rows reordered for interleaved RoPE)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(model, path, types=None):
    c = model.config
    types = types or GGUF_TYPES
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("llama tiny (LoRAKit test fixture)")
    writer.add_block_count(c.num_hidden_layers)
    writer.add_context_length(c.max_position_embeddings)
    writer.add_embedding_length(c.hidden_size)
    writer.add_feed_forward_length(c.intermediate_size)
    writer.add_head_count(c.num_attention_heads)
    writer.add_head_count_kv(c.num_key_value_heads)
    writer.add_rope_freq_base(c.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(c.rms_norm_eps)
    writer.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    writer.add_vocab_size(c.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    state = model.state_dict()

    def add(name, w, kind):
        w = w.detach().float().numpy()
        qtype = gguf.GGMLQuantizationType[kind]
        if kind == "F32":
            writer.add_tensor(name, w.astype(np.float32))
        elif kind == "F16":
            writer.add_tensor(name, w.astype(np.float16))
        else:
            writer.add_tensor(name, quantize(w, qtype), raw_dtype=qtype)

    add("token_embd.weight", state["model.embed_tokens.weight"], "Q8_0")
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        for key, kind in types[i].items():
            w = state[p + key + ".weight"]
            if key == "self_attn.q_proj":
                w = permute(w, c.num_attention_heads, c.num_attention_heads)
            if key == "self_attn.k_proj":
                w = permute(w, c.num_attention_heads, c.num_key_value_heads)
            add(f"blk.{i}.{GGUF_NAMES[key]}.weight", w, kind)
        for key in ["input_layernorm", "post_attention_layernorm"]:
            add(f"blk.{i}.{GGUF_NAMES[key]}.weight", state[p + key + ".weight"], "F32")
    add("output_norm.weight", state["model.norm.weight"], "F32")
    if not c.tie_word_embeddings:
        add("output.weight", state["lm_head.weight"], "Q8_0")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def dequantized_summary(path, config):
    reader = gguf.GGUFReader(path)
    out = {}
    for t in reader.tensors:
        w = gguf.dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape)])     # PyTorch order [out, in]
        if ".attn_q." in t.name or ".attn_k." in t.name:      # transformers' reverse permutation
            heads = config.num_attention_heads if ".attn_q." in t.name else config.num_key_value_heads
            d = w.shape[0] // heads // 2
            w = w.reshape(heads, d, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)
        w64 = w.astype(np.float64).reshape(-1)
        out[t.name] = {"type": t.tensor_type.name, "shape": list(w.shape), "sum": float(w64.sum()),
                       "sum_squares": float((w64 * w64).sum()), "first": [float(v) for v in w64[:8]]}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    model = random_model(layers=2, tied=False, seed=0)
    save_hf(model, os.path.join(OUT, "llama_tiny"))
    tied = random_model(layers=1, tied=True, seed=1)
    save_hf(tied, os.path.join(OUT, "llama_tiny_tied"))
    gguf_path = os.path.join(OUT, "llama_tiny.gguf")
    write_gguf(model, gguf_path)

    # One layer with a type the loader refuses (Q5_0), for the error test.
    one = random_model(layers=1, tied=True, seed=2)
    write_gguf(one, os.path.join(OUT, "llama_tiny_q5.gguf"), types={0: dict(GGUF_TYPES[0], **{"mlp.up_proj": "Q5_0"})})

    from transformers import AutoModelForCausalLM
    from_gguf = AutoModelForCausalLM.from_pretrained(OUT, gguf_file="llama_tiny.gguf", dtype=torch.float32,
                                                     attn_implementation="eager").eval()
    # transformers marks a GGUF-loaded model as quantised and refuses dtype casts: copy its
    # (dequantised, un-permuted) weights into a plain model of the same configuration.
    plain = LlamaForCausalLM(from_gguf.config).eval()
    plain.load_state_dict(from_gguf.state_dict())
    from_gguf = plain
    cache_ids = SEQUENCES[2][:11]
    goldens = {
        "safetensors": {
            "sequences": sequence_goldens(model, SEQUENCES),
            "padded": padded_goldens(model),
            "cache_steps": cache_goldens(model, cache_ids),
            "greedy": greedy_goldens(model, PROMPT),
        },
        "tied": {"sequences": sequence_goldens(tied, SEQUENCES[:2])},
        "gguf": {
            "sequences": sequence_goldens(from_gguf, SEQUENCES),
            "cache_steps": cache_goldens(from_gguf, cache_ids),
            "greedy": greedy_goldens(from_gguf, PROMPT),
            "dequantized": dequantized_summary(gguf_path, model.config),
        },
    }
    with open(os.path.join(OUT, "llama_tiny_goldens.json"), "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
    for name in ["llama_tiny/model.safetensors", "llama_tiny_tied/model.safetensors", "llama_tiny.gguf",
                 "llama_tiny_q5.gguf", "llama_tiny_goldens.json"]:
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")
    print("greedy margins (safetensors):", min(goldens["safetensors"]["greedy"]["margins"]))
    print("greedy margins (gguf):", min(goldens["gguf"]["greedy"]["margins"]))


# MARK: - SmolLM2 (the real model)

PROMPTS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "Write a haiku about the sea."}],
    [{"role": "system", "content": "You are a terse assistant. Answer in one sentence."},
     {"role": "user", "content": "Why is the sky blue?"}],
    [{"role": "user", "content": "List three prime numbers greater than 100."}],
    [{"role": "user", "content": "Translate to German: The cat sleeps on the warm windowsill."}],
    [{"role": "user", "content": "def fibonacci(n):\n    # complete this Python function\n"}],
    [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello! How can I help you today?"},
     {"role": "user", "content": "Tell me a fun fact about octopuses."}],
    [{"role": "user", "content": "Résumé the plot of Hamlet in two lines — with émotion, s'il vous plaît."}],
    [{"role": "user", "content": "Compute 17 * 23 and explain the steps."}],
    [{"role": "user", "content": "Give me a JSON object with keys \"name\" and \"age\" for a fictional person."}],
]


def smollm2_goldens():
    directory = os.environ.get("LORAKIT_SMOLLM2", os.path.join(ROOT, "data", "models", "smollm2"))
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not os.path.exists(os.path.join(directory, name)):
        print("smollm2: not found in", directory, "(run scripts/fetch_smollm2); skipped")
        return
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32).eval()
    model = LlamaForCausalLM(loaded.config).eval()        # a plain copy (see main)
    model.load_state_dict(loaded.state_dict())
    del loaded
    generator = torch.Generator().manual_seed(0)
    columns = sorted(torch.randperm(model.config.vocab_size, generator=generator)[:32].tolist())
    out = {"columns": columns, "prompts": []}
    float32_error = 0.0
    for messages in PROMPTS:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, return_tensors="pt").input_ids
        with torch.no_grad():
            logits32 = model(ids).logits[0]
            generated32 = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=32, do_sample=False,
                                         pad_token_id=2, eos_token_id=None)[0, ids.shape[1]:].tolist()
            model.double()
            logits = model(ids).logits[0]
            # Greedy in float64 with the cache, recording each step's margin.
            tokens, margins = [], []
            step = model(ids, use_cache=True)
            for _ in range(32):
                top = torch.topk(step.logits[0, -1], 2)
                tokens.append(int(top.indices[0]))
                margins.append(float(top.values[0] - top.values[1]))
                step = model(torch.tensor([[tokens[-1]]]), past_key_values=step.past_key_values, use_cache=True)
            model.float()
        assert tokens == generated32, f"float64 greedy {tokens} differs from float32 generate {generated32}"
        top = torch.topk(logits, 5, dim=-1)
        last = torch.topk(logits[-1], 20)
        float32_error = max(float32_error, float((logits32.double() - logits)[:, columns].abs().max()),
                            float((logits32.double() - logits).gather(1, top.indices).abs().max()))
        out["prompts"].append({
            "messages": messages, "ids": ids[0].tolist(),
            "logits": rows(logits[:, columns]),
            "top_ids": top.indices.tolist(), "top_values": rows(top.values),
            "checksums": [[float(f"{r.sum():.12g}"), float(f"{(r * r).sum():.12g}")] for r in logits],
            "last_top_ids": last.indices.tolist(), "last_top_values": [float(f"{v:.9g}") for v in last.values.tolist()],
            "greedy": {"tokens": tokens, "margins": margins, "text": tokenizer.decode(tokens)},
        })
        print(f"smollm2: {len(out['prompts'])}: {ids.shape[1]} tokens, min margin {min(margins):.4f}: "
              f"{tokenizer.decode(tokens)!r}")
    out["float32_error"] = float32_error
    path = os.path.join(OUT, "smollm2_goldens.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("smollm2_goldens.json", os.path.getsize(path), "bytes; float32 error of the reference", float32_error)


if __name__ == "__main__":
    import sys
    if "--smollm2-only" not in sys.argv:
        main()
    smollm2_goldens()
