#!/usr/bin/env python3
"""Goldens for the causal-LM loss (Tests/LanguageModelsTests/Fixtures/causal_lm/), from transformers + PEFT.

    python3 scripts/make_causal_lm_fixtures.py   (needs torch, transformers, peft, safetensors)

Loads the tiny random Llama of scripts/make_llama_fixtures.py (Fixtures/llama_tiny) in float64, adds a
PEFT LoRA adapter (r = 4, alpha = 8, every linear projection: q, k, v, o, gate, up, down) whose A and B
are both random (init_lora_weights=False, seeded), and computes transformers' causal-LM loss for a
batch of two right-padded sequences whose labels are -100 on prompt tokens and padding (the
attention mask zero on padding), then backward:

  adapter/                      the adapter as PEFT saves it (adapter_config.json, adapter_model.safetensors)
  goldens.json
    ids      [2][T]             token ids (padding 0)
    labels   [2][T]             transformers' labels (-100: not learned)
    loss                        the mean over learned tokens of the shifted cross-entropy
    grads    {peft key: [...]}  every lora_A / lora_B gradient, flattened row-major
"""
import json
import os

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LanguageModelsTests", "Fixtures")
OUT = os.path.join(ROOT, "causal_lm")


def main():
    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(os.path.join(ROOT, "llama_tiny"), torch_dtype=torch.float64)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False,
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    peft_model = get_peft_model(model, config)
    # PEFT's random B (init_lora_weights=False) is small; scale A and B so the adapter matters.
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.mul_(3.0)
    ids = [[5, 17, 33, 8, 41, 62, 7, 19, 88, 3],
           [9, 24, 71, 2, 55, 13, 0, 0, 0, 0]]
    labels = [[-100, -100, -100, -100, 41, 62, 7, 19, 88, 3],      # a prompt of 4 tokens, then the completion
              [-100, 24, 71, -100, 55, 13, -100, -100, -100, -100]]  # a gap (a masked turn), then padding
    mask = [[1] * 10, [1] * 6 + [0] * 4]
    out = peft_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), labels=torch.tensor(labels))
    out.loss.backward()
    grads = {}
    for name, p in peft_model.named_parameters():
        if "lora_" in name:
            key = name.replace(".default", "")
            grads[key] = p.grad.detach().reshape(-1).tolist()
    os.makedirs(OUT, exist_ok=True)
    # Save float32, as adapters are; the gradients above are of those very values only up to float
    # rounding, which the tests' 1e-4 relative tolerance covers.
    peft_model.to(torch.float32).save_pretrained(os.path.join(OUT, "adapter"))
    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump({"ids": ids, "labels": labels, "loss": out.loss.item(), "grads": grads}, f)
    print(f"loss {out.loss.item():.6f}, {len(grads)} gradients")


if __name__ == "__main__":
    main()
