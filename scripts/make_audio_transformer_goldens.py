#!/usr/bin/env python3
"""Golden fixtures from PyTorch + PEFT for LoRAKit's audio transformer
(Tests/AudioModelsTests/Fixtures/audio_transformer.safetensors).

The model is AudioTransformer of scripts/reference/audio_peft.py (one definition), tiny: mels 6,
width 8, 2 layers, 2 heads, FFN 16, 3 classes, default initialisation under torch.manual_seed(7) except
that every LayerNorm's weight and bias are random (rand * 0.5 + 0.75, rand * 0.2 - 0.1) so that they are
tested. The reference runs in float64 from float32 values, so the goldens carry no float32 rounding of
their own (the sinusoidal positions are computed in float32, as Whisper does, then widened).
  model.<key>          the state dict (PyTorch's keys: conv1.weight, layers.0.self_attn.q_proj.weight, ...)
  x                    [2, 6, 9] in [-1, 1) (odd T on purpose: 5 positions after the stride-2 conv)
  targets              [2] int64 = [2, 0]
  logits               [2, 3]
  grad_x, grad.<name>  gradients of cross_entropy(logits, targets) (mean) w.r.t. x and every parameter
  lora.<key>           PEFT LoRA r=2, alpha 4 (scaling 2), dropout 0, init_lora_weights=False (A and B
                       random) on q_proj, v_proj, fc1, conv1 of a copy of the model, under the keys of
                       PEFT's adapter file (get_peft_model_state_dict: base_model.model.layers.0.self_attn.
                       q_proj.lora_A.weight, ...); conv1's lora_A is a Conv1d(6, 2, 3, padding 1), its
                       lora_B a Conv1d(2, 8, 1)
  lora_logits          [2, 3] the LoRA model's logits on x
  lora_grad.<key>      gradients of the same loss w.r.t. each lora_A / lora_B
Run: python3 scripts/make_audio_transformer_goldens.py   (needs torch, peft and safetensors)"""
import copy
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from audio_peft import AudioTransformer  # noqa: E402  (audio_peft drops scripts/reference from sys.path again)

import peft  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "AudioModelsTests", "Fixtures")
gen = torch.Generator().manual_seed(20261205)

def rand(*shape):
    return torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1

def main():
    torch.set_num_threads(1)
    torch.manual_seed(7)
    model = AudioTransformer(mels=6, width=8, layers=2, heads=2, ffn=16, classes=3)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(torch.rand(module.weight.shape) * 0.5 + 0.75)
                module.bias.copy_(torch.rand(module.bias.shape) * 0.2 - 0.1)
    x = rand(2, 6, 9)
    targets = torch.tensor([2, 0], dtype=torch.int64)
    tensors = {"model." + k: v.detach().clone() for k, v in model.state_dict().items()}
    tensors.update({"x": x, "targets": targets})

    model = model.double()
    leaf = x.double().requires_grad_(True)
    logits = model(leaf)
    F.cross_entropy(logits, targets).backward()
    tensors["logits"] = logits.detach().float()
    tensors["grad_x"] = leaf.grad.float()
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.float()

    base = copy.deepcopy(model)
    base.zero_grad(set_to_none=True)
    config = LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=["q_proj", "v_proj", "fc1", "conv1"],
                        init_lora_weights=False)
    lora_model = get_peft_model(base, config)
    lora_params = {n.replace(".default.", "."): p for n, p in lora_model.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for p in lora_params.values():
            p.copy_(p.float().double())  # float32 values, so the stored weights are the reference's exactly
    keys = list(get_peft_model_state_dict(lora_model).keys())
    assert sorted(keys) == sorted(lora_params), (keys, list(lora_params))
    logits = lora_model(x.double())
    F.cross_entropy(logits, targets).backward()
    tensors["lora_logits"] = logits.detach().float()
    for key in keys:
        tensors["lora." + key] = lora_params[key].detach().float()
        tensors["lora_grad." + key] = lora_params[key].grad.float()
        print(f"{key}: {tuple(lora_params[key].shape)}")

    path = os.path.join(OUT, "audio_transformer.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path,
              metadata={"source": "scripts/make_audio_transformer_goldens.py", "torch": torch.__version__,
                        "peft": peft.__version__})
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors); "
          f"max |logits| {tensors['logits'].abs().max():.4f}, max |lora_logits| {tensors['lora_logits'].abs().max():.4f}")

if __name__ == "__main__":
    main()
