#!/usr/bin/env python3
"""Golden fixtures from torchvision's ResNet for the ImageModels tests (Tests/ImageModelsTests/Fixtures/).

No weights are committed: every parameter and running statistic is set by a closed formula that
the Swift tests evaluate too (Sources/TestSupport/FormulaWeights.swift):

    phase(key) = (sum over j of (j + 1) * byte_j of the UTF-8 key, mod 1009) / 100
    wave(i, k) = sin(0.37 * i + k + 0.7 * (i * i mod 1009))     (integer i * i mod 1009, exact)
    s[i]       = wave(i, phase(key))                 i = row-major index within the tensor
    conv weight [O, C, kh, kw]   s * 2 / sqrt(C * kh * kw)     (variance 2 / fan_in, as He init)
    fc.weight [out, in]          s / sqrt(in)
    fc.bias                      0.1 * s
    bn weight / bias             1 + 0.2 * s  /  0.1 * s
    bn running_mean / var        0.1 * s  /  1 + 0.3 * s
    num_batches_tracked          0
each computed in float64 and rounded to float32. The quadratic term matters: without it every
weight matrix W[o, c] = sin(a·o + b·c + k) has rank 2 and the network is degenerate (batch norm then
divides by near-zero variances and the gradients explode). The input [2, 3, 64, 64] is wave(i, 0.3)
and the loss is sum(logits * c) with c[i] = cos(0.61 * i + 0.2) over the [2, 10] logits.

The models (10 classes) run in float64 from those float32 values, so the goldens carry no float32
rounding of their own. resnet_goldens.safetensors holds, for each model M in resnet18, resnet50 and
each mode in train (batch statistics) and eval (running statistics), under the prefix "M.mode.":
  logits                   [2, 10]
  input_grad.sample        dL/dx flattened, every stride-th element (stride = ceil(n / 512))
  input_grad.norms         [sum |g|, sqrt(sum g^2)] over all of dL/dx
  grad.<param>.sample / .norms   the same for a few parameter gradients (PARAMETER_GRADIENTS)
  running.<buffer>.sample  (train only) running statistics after the one training forward
  <item>.torch_float32_error   [1] max|Δ| / max|ref| of PyTorch's own float32 run against the float64
                           reference (full tensors), for logits and every item above
In train mode ResNet-50's float32 gradients are ill-posed on any input: of its ~1.6 M relu inputs a
few lie within float32 rounding of 0 and change sign between float32 and float64 (4 do in PyTorch),
which changes the gradient by ~1 %; the test then allows a few times PyTorch's own float32 error.
resnet_keys.json lists the state-dict keys and shapes (in PyTorch's order) of resnet18, resnet34,
resnet50, resnext50_32x4d and wide_resnet50_2 with 1000 classes, and parameter counts of all
presets.

The reference is torchvision's own models/resnet.py. When torchvision cannot be imported (its C
extension must match torch's build; PyPI's torchvision wheel does not load beside a +cpu torch), that
file is loaded alone with stubs for the weight-registry helpers it imports, which the model classes
never call. Keep such a torchvision out of site-packages (there it breaks `import transformers`):
  pip install --no-deps --target /tmp/torchvision-src torchvision
  PYTHONPATH=/tmp/torchvision-src python3 scripts/make_resnet_goldens.py
(needs torch and safetensors; the tests never need Python)
"""
import enum
import importlib.util
import json
import math
import os
import sys
import types

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ImageModelsTests", "Fixtures")
CLASSES = 10
INPUT_SHAPE = (2, 3, 64, 64)
SAMPLE_TARGET = 512
PARAMETER_GRADIENTS = {
    "resnet18": ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                 "layer4.1.bn2.bias", "fc.weight", "fc.bias"],
    "resnet50": ["conv1.weight", "bn1.bias", "layer1.0.conv2.weight", "layer3.0.downsample.1.weight",
                 "layer4.2.conv3.weight", "layer4.2.bn3.weight", "fc.weight", "fc.bias"],
}
RUNNING = {
    "resnet18": ["bn1.running_mean", "bn1.running_var", "layer4.1.bn2.running_var",
                 "layer2.0.downsample.1.running_mean"],
    "resnet50": ["bn1.running_mean", "layer3.5.bn2.running_var", "layer4.2.bn3.running_mean"],
}


def load_resnet_module(source=None):
    """torchvision.models.resnet, imported normally or, failing that, from its file alone.

    `source`: a directory holding an unpacked torchvision (pip install --no-deps --target DIR
    torchvision); its models/resnet.py is loaded alone, without putting torchvision on sys.path."""
    reason = "torchvision source given"
    if source is None:
        try:
            from torchvision.models import resnet
            return resnet, "torchvision.models.resnet"
        except Exception as error:  # noqa: BLE001 - any import failure falls back to the file
            reason = str(error).splitlines()[0]
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]
    if source is not None:
        path = os.path.join(source, "torchvision", "models", "resnet.py")
    else:
        spec = importlib.util.find_spec("torchvision")
        if spec is None or not spec.submodule_search_locations:
            sys.exit("torchvision's source is needed: pip install --no-deps --target DIR torchvision, "
                     "then run with PYTHONPATH=DIR")
        path = os.path.join(spec.submodule_search_locations[0], "models", "resnet.py")

    def stub(name, **attributes):
        module = types.ModuleType(name)
        module.__path__ = []
        module.__dict__.update(attributes)
        sys.modules[name] = module

    identity_decorator = lambda *args, **kwargs: (lambda f: f)  # noqa: E731
    stub("torchvision")
    stub("torchvision.models")
    stub("torchvision.transforms")
    stub("torchvision.transforms._presets", ImageClassification=object)
    stub("torchvision.utils", _log_api_usage_once=lambda obj: None)
    stub("torchvision.models._api", register_model=identity_decorator, Weights=lambda **kw: tuple(sorted(kw)),
         WeightsEnum=enum.Enum)
    stub("torchvision.models._meta", _IMAGENET_CATEGORIES=[])
    stub("torchvision.models._utils", _ovewrite_named_param=lambda *a: None,
         handle_legacy_interface=identity_decorator)
    module_spec = importlib.util.spec_from_file_location("torchvision.models.resnet", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module, f"{path} loaded alone ({reason})"


def build(resnet, name, classes=1000):
    m = resnet
    table = {
        "resnet18": lambda: m.ResNet(m.BasicBlock, [2, 2, 2, 2], num_classes=classes),
        "resnet34": lambda: m.ResNet(m.BasicBlock, [3, 4, 6, 3], num_classes=classes),
        "resnet50": lambda: m.ResNet(m.Bottleneck, [3, 4, 6, 3], num_classes=classes),
        "resnet101": lambda: m.ResNet(m.Bottleneck, [3, 4, 23, 3], num_classes=classes),
        "resnet152": lambda: m.ResNet(m.Bottleneck, [3, 8, 36, 3], num_classes=classes),
        "resnext50_32x4d": lambda: m.ResNet(m.Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4,
                                            num_classes=classes),
        "wide_resnet50_2": lambda: m.ResNet(m.Bottleneck, [3, 4, 6, 3], width_per_group=128, num_classes=classes),
    }
    return table[name]()


def phase(key):
    return (sum((j + 1) * b for j, b in enumerate(key.encode("utf-8"))) % 1009) / 100.0


def wave(n, k):
    """wave(i, k) for i in 0..<n, float64."""
    i = torch.arange(n, dtype=torch.int64)
    return torch.sin(i.double() * 0.37 + k + 0.7 * ((i * i) % 1009).double())


def formula(key, shape):
    """The closed-form value of a state-dict entry (see the module docstring), float32."""
    s = wave(math.prod(shape), phase(key))
    leaf = key.rsplit(".", 1)[-1]
    if key.startswith("fc."):
        values = s / math.sqrt(shape[1]) if leaf == "weight" else 0.1 * s
    elif len(shape) == 4:
        values = s * 2 / math.sqrt(math.prod(shape[1:]))
    elif leaf == "weight":
        values = 1 + 0.2 * s
    elif leaf == "bias":
        values = 0.1 * s
    elif leaf == "running_mean":
        values = 0.1 * s
    elif leaf == "running_var":
        values = 1 + 0.3 * s
    else:
        raise ValueError(f"no formula for {key}")
    return values.to(torch.float32).reshape(shape)


def set_formula_weights(model):
    state = {}
    for key, value in model.state_dict().items():
        state[key] = value if key.endswith("num_batches_tracked") else formula(key, tuple(value.shape))
    model.load_state_dict(state)


def summary(prefix, tensor, out, float32_tensor):
    flat = tensor.detach().reshape(-1).double()
    out[prefix + ".torch_float32_error"] = torch.tensor([relative_error(float32_tensor, tensor)], dtype=torch.float32)
    stride = -(-flat.numel() // SAMPLE_TARGET)
    out[prefix + ".sample"] = flat[::stride].float().contiguous()
    out[prefix + ".norms"] = torch.tensor([flat.abs().sum().item(), flat.pow(2).sum().sqrt().item()],
                                          dtype=torch.float32)


def forward_backward(resnet, name, mode, dtype):
    """Logits, dL/dx, the listed parameter gradients and running statistics, computed in dtype."""
    model = build(resnet, name, CLASSES)
    set_formula_weights(model)
    model = model.to(dtype)
    model.train(mode == "train")
    x = wave(math.prod(INPUT_SHAPE), 0.3).float().reshape(INPUT_SHAPE).to(dtype).requires_grad_(True)
    logits = model(x)
    c = torch.cos(torch.arange(logits.numel(), dtype=torch.float64) * 0.61 + 0.2).float().to(dtype)
    (logits.reshape(-1) * c).sum().backward()
    parameters = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    return {
        "logits": logits.detach(),
        "input_grad": x.grad,
        "grad": {key: parameters[key].grad for key in PARAMETER_GRADIENTS[name]},
        "running": {key: buffers[key] for key in RUNNING[name]} if mode == "train" else {},
        "num_batches_tracked": buffers["bn1.num_batches_tracked"],
    }


def relative_error(actual, expected):
    return ((actual.double() - expected.double()).abs().max() / expected.double().abs().max()).item()


def run_case(resnet, name, mode, out):
    """Records the float64 reference and how far PyTorch's own float32 run lies from it."""
    ref = forward_backward(resnet, name, mode, torch.float64)
    f32 = forward_backward(resnet, name, mode, torch.float32)
    prefix = f"{name}.{mode}."
    out[prefix + "logits"] = ref["logits"].float()
    out[prefix + "logits.torch_float32_error"] = torch.tensor([relative_error(f32["logits"], ref["logits"])],
                                                             dtype=torch.float32)
    summary(prefix + "input_grad", ref["input_grad"], out, f32["input_grad"])
    for key, grad in ref["grad"].items():
        summary(prefix + "grad." + key, grad, out, f32["grad"][key])
    for key, value in ref["running"].items():
        summary(prefix + "running." + key, value, out, f32["running"][key])
    if mode == "train":
        out[prefix + "num_batches_tracked"] = ref["num_batches_tracked"].float().reshape(1)
    gradient_error = max([relative_error(f32["input_grad"], ref["input_grad"])]
                         + [relative_error(f32["grad"][k], g) for k, g in ref["grad"].items()])
    running_error = max([relative_error(f32["running"][k], v) for k, v in ref["running"].items()], default=0)
    errors = [relative_error(f32["logits"], ref["logits"]), gradient_error, running_error]
    print(f"{prefix}: |logits| max {ref['logits'].abs().max().item():.4g}, "
          f"|dL/dx| max {ref['input_grad'].abs().max().item():.4g}; PyTorch float32 relative error: "
          f"logits {errors[0]:.2g}, gradients {errors[1]:.2g}, running statistics {errors[2]:.2g}")


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    resnet, source = load_resnet_module()
    print("reference:", source)
    os.makedirs(OUT, exist_ok=True)

    tensors = {}
    for name in ["resnet18", "resnet50"]:
        for mode in ["train", "eval"]:
            run_case(resnet, name, mode, tensors)
    save_file(tensors, os.path.join(OUT, "resnet_goldens.safetensors"),
              metadata={"reference": "torchvision models/resnet.py", "classes": str(CLASSES),
                        "input_shape": "x".join(map(str, INPUT_SHAPE)), "sample_target": str(SAMPLE_TARGET)})

    keys = {}
    counts = {}
    for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
                 "wide_resnet50_2"]:
        model = build(resnet, name)
        counts[name] = sum(p.numel() for p in model.parameters())
        if name not in ("resnet101", "resnet152"):
            keys[name] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    with open(os.path.join(OUT, "resnet_keys.json"), "w") as f:
        f.write("{\n")
        f.write(f'"parameter_counts": {json.dumps(counts)},\n')
        for i, (name, entries) in enumerate(keys.items()):
            f.write(f'"{name}": [\n')
            f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in entries))
            f.write("\n]" + ("," if i < len(keys) - 1 else "") + "\n")
        f.write("}\n")
    print("parameter counts:", counts)


if __name__ == "__main__":
    main()
