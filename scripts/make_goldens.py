#!/usr/bin/env python3
"""Golden fixtures from the reference implementation (PyTorch) for LoRAKit's tensor-engine tests.

Each case writes one small safetensors file under Tests/TensorTests/Fixtures/: the inputs, the
output and the gradients of `sum(output * grad_output)` with respect to every input. The reference
runs in float64 from float32 inputs, so the goldens carry no float32 rounding of their own.
Run: python3 scripts/make_goldens.py   (needs torch; tests never need Python)
"""
import json
import os
import struct

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TensorTests", "Fixtures")
gen = torch.Generator().manual_seed(20261129)


def rand(*shape, low=-1.0, high=1.0):
    return (torch.rand(*shape, generator=gen, dtype=torch.float32) * (high - low) + low)


def write_safetensors(path, tensors, metadata=None):
    """A minimal writer, so the script needs only torch."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.float64:
            t = t.float()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def golden(name, fn, inputs, metadata=None, extra=None):
    """Runs fn on float64 copies of inputs (dict name -> tensor or (tensor, requires_grad))."""
    leaves = {}
    for k, v in inputs.items():
        if v.dtype.is_floating_point:
            leaves[k] = v.double().requires_grad_(True)
        else:
            leaves[k] = v
    out = fn(**leaves)
    gout = rand(*out.shape).double()
    (out * gout).sum().backward()
    tensors = {k: v for k, v in inputs.items()}
    tensors["output"] = out.detach()
    tensors["grad_output"] = gout
    for k, v in leaves.items():
        if v.dtype.is_floating_point and v.grad is not None:
            tensors["grad_" + k] = v.grad
    if extra:
        tensors.update(extra(leaves))
    write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors, metadata)


def main():
    os.makedirs(OUT, exist_ok=True)

    # Convolutions: stride, padding, dilation and groups (PyTorch's dilation; oneDNN's is one less).
    convs = [
        dict(name="conv2d_stride2", n=2, c=4, h=7, w=6, o=6, k=3, stride=2, padding=1, dilation=1, groups=1, bias=True),
        dict(name="conv2d_dilated_grouped", n=2, c=4, h=8, w=7, o=6, k=3, stride=1, padding=2, dilation=2, groups=2, bias=True),
        dict(name="conv2d_depthwise", n=1, c=4, h=6, w=6, o=4, k=3, stride=1, padding=1, dilation=1, groups=4, bias=False),
        dict(name="conv2d_stem", n=1, c=3, h=12, w=12, o=5, k=7, stride=2, padding=3, dilation=1, groups=1, bias=False),
    ]
    for cfg in convs:
        ins = {"input": rand(cfg["n"], cfg["c"], cfg["h"], cfg["w"]),
               "weight": rand(cfg["o"], cfg["c"] // cfg["groups"], cfg["k"], cfg["k"], low=-0.5, high=0.5)}
        if cfg["bias"]:
            ins["bias"] = rand(cfg["o"])
        meta = {k: cfg[k] for k in ("stride", "padding", "dilation", "groups")}
        golden(cfg["name"], lambda input, weight, bias=None: F.conv2d(
            input, weight, bias, stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
            groups=cfg["groups"]), ins, meta)

    golden("conv1d", lambda input, weight, bias: F.conv1d(input, weight, bias, stride=2, padding=1, dilation=2),
           {"input": rand(2, 3, 11), "weight": rand(4, 3, 3, low=-0.5, high=0.5), "bias": rand(4)},
           {"stride": 2, "padding": 1, "dilation": 2, "groups": 1})

    # Batch norm, training (batch statistics, running-stat update) and eval (running statistics).
    x = rand(3, 4, 5, 5, low=-2, high=3)
    rm, rv = rand(4, low=-0.5, high=0.5), rand(4, low=0.5, high=1.5)
    for training in (True, False):
        state = {}

        def bn(input, weight, bias):
            m, v = rm.double().clone(), rv.double().clone()
            y = F.batch_norm(input, m, v, weight, bias, training=training, momentum=0.1, eps=1e-5)
            state["running_mean_after"], state["running_var_after"] = m, v
            return y
        golden("batchnorm2d_" + ("train" if training else "eval"), bn,
               {"input": x, "weight": rand(4, low=0.5, high=1.5), "bias": rand(4)},
               {"momentum": 0.1, "eps": 1e-5},
               extra=lambda leaves: {"running_mean": rm, "running_var": rv, **state})

    # Layer norm over the last dimension, affine.
    golden("layernorm", lambda input, weight, bias: F.layer_norm(input, (8,), weight, bias, eps=1e-5),
           {"input": rand(2, 3, 8, low=-2, high=2), "weight": rand(8, low=0.5, high=1.5), "bias": rand(8)},
           {"eps": 1e-5})

    # Attention with a key-padding mask (True = attend) and with a causal mask.
    q, k, v = rand(2, 2, 5, 4), rand(2, 2, 6, 4), rand(2, 2, 6, 3)
    keep = torch.ones(2, 6, dtype=torch.bool)
    keep[1, 4:] = False
    golden("attention_padding", lambda query, key, value: F.scaled_dot_product_attention(
        query, key, value, attn_mask=keep[:, None, None, :]), {"query": q, "key": k, "value": v},
        extra=lambda leaves: {"mask": keep.float()})
    q2, k2, v2 = rand(1, 2, 5, 4), rand(1, 2, 5, 4), rand(1, 2, 5, 4)
    golden("attention_causal", lambda query, key, value: F.scaled_dot_product_attention(
        query, key, value, is_causal=True), {"query": q2, "key": k2, "value": v2})

    # Cross-entropy: label smoothing, ignore index, class weights.
    logits = rand(6, 5, low=-3, high=3)
    target = torch.tensor([0, 4, 2, -100, 1, 2])
    weights = rand(5, low=0.5, high=2)
    golden("cross_entropy", lambda logits: F.cross_entropy(
        logits, target, weight=weights.double(), ignore_index=-100, label_smoothing=0.1).reshape(1),
        {"logits": logits}, {"ignore_index": -100, "label_smoothing": 0.1},
        extra=lambda leaves: {"target": target, "class_weights": weights})
    golden("cross_entropy_plain", lambda logits: F.cross_entropy(logits, target.clamp(min=0)).reshape(1),
           {"logits": logits}, extra=lambda leaves: {"target": target.clamp(min=0)})

    # Pooling.
    golden("maxpool2d", lambda input: F.max_pool2d(input, 3, stride=2, padding=1), {"input": rand(2, 3, 7, 7)},
           {"kernel": 3, "stride": 2, "padding": 1})
    golden("avgpool2d", lambda input: F.avg_pool2d(input, 3, stride=2, padding=1), {"input": rand(2, 3, 7, 7)},
           {"kernel": 3, "stride": 2, "padding": 1})

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT) if f.endswith(".safetensors"))
    print(f"wrote fixtures to {os.path.normpath(OUT)}: {total / 1024:.1f} KB")


if __name__ == "__main__":
    main()
