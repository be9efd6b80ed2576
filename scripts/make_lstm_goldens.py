#!/usr/bin/env python3
"""Golden fixtures from PyTorch for LoRAKit's LSTM (Tests/NNTests/Fixtures/lstm.safetensors).

Two cases, each under a prefix: the module's state dict (PyTorch's keys), the inputs and initial
states, the outputs, a grad_output, and the gradients of sum(output * grad_output) (plus the final
states' sums) with respect to the inputs, the initial states and every parameter. The reference
runs in float64 from float32 values, so the goldens carry no float32 rounding of their own.
  cell.   nn.LSTMCell(5, 4): x [3, 5], h0, c0 [3, 4]
  lstm.   nn.LSTM(5, 4, num_layers=2, batch_first=True): x [3, 6, 5], h0, c0 [2, 3, 4]
Run: python3 scripts/make_lstm_goldens.py   (needs torch and safetensors)"""
import os
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "NNTests", "Fixtures")
gen = torch.Generator().manual_seed(20261205)

def rand(*shape):
    return torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1

def main():
    torch.manual_seed(5)
    tensors = {}
    cell = torch.nn.LSTMCell(5, 4)
    x, h0, c0 = rand(3, 5), rand(3, 4), rand(3, 4)
    tensors.update({"cell." + k: v.detach().clone() for k, v in cell.state_dict().items()})
    model = cell.double()
    leaves = [t.double().requires_grad_(True) for t in (x, h0, c0)]
    h, c = model(leaves[0], (leaves[1], leaves[2]))
    gh, gc = rand(3, 4).double(), rand(3, 4).double()
    ((h * gh).sum() + (c * gc).sum()).backward()
    for name, t, leaf in zip(["x", "h0", "c0"], [x, h0, c0], leaves):
        tensors["cell." + name] = t
        tensors["cell.grad_" + name] = leaf.grad.float()
    for name, p in model.named_parameters():
        tensors["cell.grad." + name] = p.grad.float()
    tensors.update({"cell.h": h.detach().float(), "cell.c": c.detach().float(), "cell.grad_h": gh.float(), "cell.grad_c": gc.float()})

    lstm = torch.nn.LSTM(5, 4, num_layers=2, batch_first=True)
    x, h0, c0 = rand(3, 6, 5), rand(2, 3, 4), rand(2, 3, 4)
    tensors.update({"lstm." + k: v.detach().clone() for k, v in lstm.state_dict().items()})
    model = lstm.double()
    leaves = [t.double().requires_grad_(True) for t in (x, h0, c0)]
    out, (hn, cn) = model(leaves[0], (leaves[1], leaves[2]))
    gout, ghn, gcn = rand(3, 6, 4).double(), rand(2, 3, 4).double(), rand(2, 3, 4).double()
    ((out * gout).sum() + (hn * ghn).sum() + (cn * gcn).sum()).backward()
    for name, t, leaf in zip(["x", "h0", "c0"], [x, h0, c0], leaves):
        tensors["lstm." + name] = t
        tensors["lstm.grad_" + name] = leaf.grad.float()
    for name, p in model.named_parameters():
        tensors["lstm.grad." + name] = p.grad.float()
    tensors.update({"lstm.output": out.detach().float(), "lstm.hn": hn.detach().float(), "lstm.cn": cn.detach().float(),
                    "lstm.grad_output": gout.float(), "lstm.grad_hn": ghn.float(), "lstm.grad_cn": gcn.float()})
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "lstm.safetensors"),
              metadata={"source": "scripts/make_lstm_goldens.py", "torch": torch.__version__})

if __name__ == "__main__":
    main()
