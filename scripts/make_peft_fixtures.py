#!/usr/bin/env python3
"""PEFT interoperability fixtures for LoRAKit's LoRA tests, and the reverse check.

    python3 scripts/make_peft_fixtures.py                 # writes Tests/LoRATests/Fixtures/peft/…
    python3 scripts/make_peft_fixtures.py --check DIR     # loads a LoRAKit-saved adapter into PEFT

The model has every layer kind LoRAKit adapts: an embedding, attention built from q/k/v/o Linear
projections, a grouped conv and a linear head. A PEFT adapter with non-zero A and B (and a second
one with DoRA and rsLoRA and rank/alpha patterns) is saved with PEFT's own `save_pretrained`;
inputs and PEFT's outputs are saved next to it. Needs torch, peft, safetensors.

PEFT 0.21 builds a conv adapter's A without the base layer's dilation, so it cannot run LoRA on a
dilated conv (shape mismatch); the dilated conv here is part of the base and not targeted.
"""
import argparse
import json
import os
import shutil

import torch
import torch.nn as nn
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "LoRATests", "Fixtures", "peft")


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.output = nn.Linear(dim, dim)

    def forward(self, x):                        # [B, T, E]
        b, t, e = x.shape
        def split(h):
            return h.view(b, t, self.heads, e // self.heads).transpose(1, 2)
        a = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)))
        return self.output(a.transpose(1, 2).reshape(b, t, e))


class Net(nn.Module):
    """Mirrored by `InteropNet` in Tests/LoRATests/PEFTInteropTests.swift."""
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.attention = Attention(8, 2)
        self.conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.dilated = nn.Conv2d(6, 6, 3, padding=2, dilation=2)
        self.head = nn.Linear(8 + 6, 3)

    def forward(self, ids, image):
        text = self.attention(self.embed(ids)).mean(dim=1)                   # [B, 8]
        pic = self.dilated(torch.tanh(self.conv(image))).mean(dim=(2, 3))    # [B, 6]
        return self.head(torch.cat([text, pic], dim=1))                      # [B, 3]


def make_inputs():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 20, (2, 5), generator=g)
    image = torch.randn(2, 4, 6, 6, generator=g)
    return ids, image


def randomise_adapters(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name and "magnitude" not in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def make():
    torch.manual_seed(0)
    base = Net()
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, os.path.join(OUT, "base.safetensors"))
    ids, image = make_inputs()
    tensors = {"ids": ids, "image": image, "base_output": base(ids, image).detach()}

    configs = {
        "plain": LoraConfig(r=4, lora_alpha=8, target_modules=["embed", "query", "value", "output", "conv"],
                            modules_to_save=["head"]),
        "dora": LoraConfig(r=2, lora_alpha=4, use_rslora=True, use_dora=True, target_modules=["query", "key"],
                           rank_pattern={"key": 3}, alpha_pattern={"query": 6}),
    }
    for i, (name, cfg) in enumerate(configs.items()):
        net = Net()
        net.load_state_dict(base.state_dict())
        model = get_peft_model(net, cfg)
        randomise_adapters(model, seed=10 + i)
        if name == "plain":
            with torch.no_grad():
                model.base_model.model.head.modules_to_save["default"].weight.mul_(-1.5)
        model.eval()
        tensors[f"{name}_output"] = model(ids, image).detach()
        path = os.path.join(OUT, name)
        shutil.rmtree(path, ignore_errors=True)
        model.save_pretrained(path)
        with open(os.path.join(path, "README.md"), "w") as f:
            f.write("PEFT adapter fixture made by scripts/make_peft_fixtures.py\n")
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "io.safetensors"))
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote PEFT fixtures to {os.path.normpath(OUT)}: {total / 1024:.1f} KB")


def check(directory):
    """Loads an adapter saved by LoRAKit (`directory` holds adapter dirs and outputs.safetensors)."""
    torch.manual_seed(0)
    base_state = load_file(os.path.join(OUT, "base.safetensors"))
    io = load_file(os.path.join(OUT, "io.safetensors"))
    expected = load_file(os.path.join(directory, "outputs.safetensors"))
    ok = True
    for name in sorted(os.listdir(directory)):
        adapter = os.path.join(directory, name)
        if not os.path.isdir(adapter):
            continue
        net = Net()
        net.load_state_dict(base_state)
        model = PeftModel.from_pretrained(net, adapter)
        model.eval()
        out = model(io["ids"], io["image"]).detach()
        diff = (out - expected[name]).abs().max().item()
        print(f"{name}: PEFT output vs LoRAKit output, max |diff| = {diff:.2e}")
        ok = ok and diff < 1e-4
    print("OK" if ok else "MISMATCH")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--check", metavar="DIR")
    a = p.parse_args()
    check(a.check) if a.check else make()
