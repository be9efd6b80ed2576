#!/usr/bin/env python3
"""Golden fixtures from PyTorch for the NN layers' tests (Tests/NNTests/Fixtures/).

multihead_attention.safetensors holds three cases of nn.MultiheadAttention(batch_first=True), each
under a prefix: its state dict (PyTorch's keys), inputs, a key-padding mask, the output, a
grad_output and the gradients of sum(output * grad_output) with respect to the inputs and the
parameters. The reference runs in float64 from float32 values, so the goldens carry no float32
rounding of their own.
  self.   self-attention, E=8, H=2, x [2, 4, 8], the second sequence padded after 2 tokens
  cross.  cross-attention, query [2, 3, 8], key/value [2, 5, 8], padding in the first sequence
  kdim.   kdim = vdim = 6 (separate q/k/v_proj_weight parameters), E=8, H=4, no bias
Run: python3 scripts/make_nn_goldens.py   (needs torch and safetensors; tests never need Python)
"""
import os

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "NNTests", "Fixtures")
gen = torch.Generator().manual_seed(20261130)


def rand(*shape):
    return torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1


def case(prefix, mha, query, key, value, padding, self_attention):
    """padding: bool [B, Tk], True where a key is padding (PyTorch's key_padding_mask)."""
    tensors = {prefix + k: v.detach().clone().contiguous() for k, v in mha.state_dict().items()}
    model = mha.double()
    leaves = [t.double().requires_grad_(True) for t in (query, key, value)]
    if self_attention:
        leaves = leaves[:1]
        q = k = v = leaves[0]
    else:
        q, k, v = leaves
    out, _ = model(q, k, v, key_padding_mask=padding, need_weights=False)
    gout = rand(*out.shape).double()
    (out * gout).sum().backward()
    names = ["x"] if self_attention else ["query", "key", "value"]
    inputs = [query] if self_attention else [query, key, value]
    for name, t, leaf in zip(names, inputs, leaves):
        tensors[prefix + name] = t
        tensors[prefix + "grad_" + name] = leaf.grad.float()
    for name, p in model.named_parameters():
        tensors[prefix + "grad." + name] = p.grad.float()
    tensors[prefix + "keep"] = (~padding).float()
    tensors[prefix + "output"] = out.detach().float()
    tensors[prefix + "grad_output"] = gout.float()
    return tensors


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(7)
    tensors = {}

    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():   # nonzero biases, so that the test sees where they go
        mha.in_proj_bias.copy_(rand(24) * 0.5)
        mha.out_proj.bias.copy_(rand(8) * 0.5)
    x = rand(2, 4, 8)
    padding = torch.tensor([[False] * 4, [False, False, True, True]])
    tensors.update(case("self.", mha, x, x, x, padding, True))

    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.copy_(rand(24) * 0.5)
    padding = torch.tensor([[False, False, False, True, True], [False] * 5])
    tensors.update(case("cross.", mha, rand(2, 3, 8), rand(2, 5, 8), rand(2, 5, 8), padding, False))

    mha = torch.nn.MultiheadAttention(8, 4, bias=False, kdim=6, vdim=6, batch_first=True)
    padding = torch.tensor([[False, False, False, False, True], [False, True, True, True, True]])
    tensors.update(case("kdim.", mha, rand(2, 3, 8), rand(2, 5, 6), rand(2, 5, 6), padding, False))

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, "multihead_attention.safetensors"),
              metadata={"source": "scripts/make_nn_goldens.py", "torch": torch.__version__})


if __name__ == "__main__":
    main()
