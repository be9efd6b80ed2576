#!/usr/bin/env python3
"""Golden fixtures from PyTorch and Hugging Face for the optimizer and schedule tests
(Tests/TrainingTests/Fixtures/).

optim_goldens.safetensors — torch.optim.SGD and torch.optim.AdamW (single-tensor CPU path,
foreach=False) on three float32 parameters in two groups:
  group "adapters": a [3, 4], b [5]      group "head": w [2, 3]
Six steps with fixed random gradients; `b` has no gradient at step 2 and `w` none at step 0 (the
optimizer skips it and its state starts later, as PyTorch's does). Before step s every group's lr is
its base lr times MULTIPLIERS[s] (what a scheduler does). Keys, per case prefix `<case>.`:
  init.<p>          the parameter before any step
  grad.<s>.<p>      the gradient given at step s (absent: no gradient)
  param.<s>.<p>     the parameter after step s
The cases and their settings are in CASES below; OptimizerTests.swift repeats them.

optim_schedules.json — the multiplier that Hugging Face's LambdaLR schedules (and torch's StepLR)
give before each optimizer step 0 ... n-1, read from `get_last_lr()` with base lr 1.

Run: python3 scripts/make_optimizer_goldens.py   (needs torch, transformers and safetensors; tests
never need Python)
"""
import json
import os

import torch
from safetensors.torch import save_file
from transformers import optimization as hf

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TrainingTests", "Fixtures")
SHAPES = {"a": (3, 4), "b": (5,), "w": (2, 3)}
STEPS = 6
MULTIPLIERS = [1.0, 0.5, 1.0, 0.25, 0.75, 1.0]
MISSING = {(2, "b"), (0, "w")}

# name: (optimizer class, keyword arguments, (adapters lr, wd), (head lr, wd))
CASES = {
    "sgd": (torch.optim.SGD, {}, (0.1, 0.01), (0.05, 0.0)),
    "sgd_momentum": (torch.optim.SGD, {"momentum": 0.9, "dampening": 0.1}, (0.1, 0.01), (0.05, 0.0)),
    "sgd_nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, (0.1, 0.01), (0.3, 0.02)),
    "adamw": (torch.optim.AdamW, {}, (1e-2, 0.01), (1e-1, 0.1)),
    "adamw_custom": (torch.optim.AdamW, {"betas": (0.8, 0.99), "eps": 1e-6}, (3e-3, 0.0), (2e-2, 0.05)),
}


def optimizer_case(name, cls, kwargs, adapters, head, gen):
    init = {k: torch.rand(*s, generator=gen) * 2 - 1 for k, s in SHAPES.items()}
    # Gradients of mixed magnitudes, some tiny, so that eps and the bias corrections matter.
    grads = {}
    for s in range(STEPS):
        for k, shape in SHAPES.items():
            if (s, k) in MISSING:
                continue
            g = torch.randn(*shape, generator=gen)
            scale = torch.pow(10.0, torch.randint(-4, 1, shape, generator=gen).float())
            grads[(s, k)] = g * scale
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = cls([
        {"params": [params["a"], params["b"]], "lr": adapters[0], "weight_decay": adapters[1]},
        {"params": [params["w"]], "lr": head[0], "weight_decay": head[1]},
    ], foreach=False, **kwargs)
    bases = [group["lr"] for group in opt.param_groups]
    out = {f"{name}.init.{k}": v for k, v in init.items()}
    for s in range(STEPS):
        for group, base in zip(opt.param_groups, bases):
            group["lr"] = base * MULTIPLIERS[s]
        for k, p in params.items():
            p.grad = grads.get((s, k))
            if p.grad is not None:
                out[f"{name}.grad.{s}.{k}"] = p.grad.clone()
        opt.step()
        for k, p in params.items():
            out[f"{name}.param.{s}.{k}"] = p.detach().clone()
    return out


def schedule_values(make, n):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = make(opt)
    values = []
    for _ in range(n):
        values.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return values


def schedules():
    n = 14
    return [
        {"kind": "constant", "warmupSteps": 0, "values": schedule_values(hf.get_constant_schedule, n)},
        {"kind": "constant", "warmupSteps": 4,
         "values": schedule_values(lambda o: hf.get_constant_schedule_with_warmup(o, 4), n)},
        {"kind": "step", "stepSize": 3, "gamma": 0.5,
         "values": schedule_values(lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5), n)},
        {"kind": "linear", "warmupSteps": 3, "totalSteps": 10,
         "values": schedule_values(lambda o: hf.get_linear_schedule_with_warmup(o, 3, 10), n)},
        {"kind": "linear", "warmupSteps": 0, "totalSteps": 7,
         "values": schedule_values(lambda o: hf.get_linear_schedule_with_warmup(o, 0, 7), n)},
        # Cosine only up to totalSteps: past it HF's half cosine rises again, which LoRAKit does not
        # copy (it holds the minimum); the tests check that part by hand.
        {"kind": "cosine", "warmupSteps": 2, "totalSteps": 12, "minMultiplier": 0.0,
         "values": schedule_values(lambda o: hf.get_cosine_schedule_with_warmup(o, 2, 12), 13)},
        {"kind": "cosine", "warmupSteps": 0, "totalSteps": 9, "minMultiplier": 0.1,
         "values": schedule_values(
             lambda o: hf.get_cosine_with_min_lr_schedule_with_warmup(o, 0, 9, min_lr_rate=0.1), 10)},
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20261201)
    tensors = {}
    for name, (cls, kwargs, adapters, head) in CASES.items():
        tensors.update(optimizer_case(name, cls, kwargs, adapters, head, gen))
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, "optim_goldens.safetensors"))
    with open(os.path.join(OUT, "optim_schedules.json"), "w") as f:
        json.dump(schedules(), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
