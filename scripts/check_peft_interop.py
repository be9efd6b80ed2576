#!/usr/bin/env python3
"""PEFT reads the adapters LoRAKit writes, whatever target patterns the recipe used.

    python3 scripts/check_peft_interop.py resnet34 --lorakit .build/release/lorakit
        # end to end: torchvision's ResNet-34 weights (random init, saved as safetensors), a LoRA
        # adapter trained by `lorakit train` from a copy of recipes/retina/resnet34_lora.yaml (glob
        # targets layer*.*.conv*, layer*.*.downsample.0; 2 steps on 40 synthetic 64x64 photographs),
        # loaded by PEFT's PeftModel.from_pretrained into torchvision's ResNet-34; its logits on four
        # images are compared with `lorakit predict --json`.
    python3 scripts/check_peft_interop.py fixtures
        # writes Tests/LoRATests/Fixtures/peft/targets: a small torchvision-style ResNet (mirrored by
        # MiniResNet in Tests/LoRATests/PEFTTargetModulesTests.swift), its weights, inputs and
        # outputs, and a PEFT-saved adapter whose target_modules is a regex string, with
        # exclude_modules, rank_pattern, alpha_pattern and modules_to_save.
    python3 scripts/check_peft_interop.py targets DIR
        # loads into PEFT the adapters PEFTTargetModulesTests saved with every target form (run the
        # tests with LORAKIT_TARGETS_OUT=DIR) and compares PEFT's outputs with LoRAKit's.

Needs torch (the CPU wheel), peft, safetensors, numpy. torchvision's own resnet.py is used for
ResNet-34, loaded alone as scripts/make_resnet_goldens.py does (its wheel may not match torch).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
FIXTURES = os.path.join(ROOT, "Tests", "LoRATests", "Fixtures", "peft", "targets")


# MARK: - A small torchvision-style ResNet

class Block(nn.Module):
    """torchvision's BasicBlock, key for key (MiniBlock in the Swift test)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class MiniResNet(nn.Module):
    """conv1, bn1, layer1 (4 -> 4), layer2 (4 -> 8, stride 2, downsample), fc (MiniResNet in Swift)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(Block(4, 4, 1))
        self.layer2 = nn.Sequential(Block(4, 8, 2))
        self.fc = nn.Linear(8, 3)

    def forward(self, x):                                   # [N, 3, H, W]
        h = self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x)))))
        return self.fc(h.mean(dim=(2, 3)))                  # [N, 3]


def make_fixtures():
    torch.manual_seed(0)
    base = MiniResNet()
    with torch.no_grad():   # batch norms that do something in eval mode
        for m in base.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features) + 0.5)
                m.weight.copy_(torch.rand(m.num_features) + 0.5)
                m.bias.copy_(torch.randn(m.num_features) * 0.1)
    base.eval()
    shutil.rmtree(FIXTURES, ignore_errors=True)
    os.makedirs(FIXTURES)
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, os.path.join(FIXTURES, "base.safetensors"))
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    tensors = {"input": x, "base_output": base(x).detach()}

    config = LoraConfig(r=2, lora_alpha=4, target_modules=r"layer\d\.\d+\.(conv\d|downsample\.0)",
                        exclude_modules=["layer2.0.conv1"], rank_pattern={"conv2": 3},
                        alpha_pattern={"downsample.0": 6}, modules_to_save=["fc"])
    net = MiniResNet()
    net.load_state_dict(base.state_dict())
    model = get_peft_model(net, config)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.3)
    model.eval()
    tensors["regex_output"] = model(x).detach()
    adapter = os.path.join(FIXTURES, "regex")
    model.save_pretrained(adapter)
    with open(os.path.join(adapter, "README.md"), "w") as f:
        f.write("PEFT adapter fixture made by scripts/check_peft_interop.py fixtures\n")
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(FIXTURES, "io.safetensors"))
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(FIXTURES) for f in fs)
    print(f"wrote {os.path.relpath(FIXTURES, ROOT)}: {total / 1024:.1f} KB; "
          f"adapted: {sorted(k for k, m in model.named_modules() if hasattr(m, 'lora_A'))}")


def check_targets(directory):
    """PEFT loads each adapter PEFTTargetModulesTests saved: one directory per target form, each with
    LoRAKit's input and output beside the adapter (expected.safetensors)."""
    base_state = load_file(os.path.join(FIXTURES, "base.safetensors"))
    worst = 0.0
    names = sorted(n for n in os.listdir(directory) if os.path.isdir(os.path.join(directory, n)))
    if not names:
        sys.exit(f"no adapters in {directory}: run the Swift tests with LORAKIT_TARGETS_OUT={directory}")
    for name in names:
        path = os.path.join(directory, name)
        with open(os.path.join(path, "adapter_config.json")) as f:
            targets = json.load(f)["target_modules"]
        expected = load_file(os.path.join(path, "expected.safetensors"))
        net = MiniResNet()
        net.load_state_dict(base_state)
        model = PeftModel.from_pretrained(net, path)
        model.eval()
        adapted = [k.removeprefix("base_model.model.") for k, m in model.named_modules() if hasattr(m, "lora_A")]
        diff = (model(expected["input"]).detach() - expected["output"]).abs().max().item()
        worst = max(worst, diff)
        print(f"{name}: target_modules {json.dumps(targets)} -> PEFT adapts {adapted}; max |PEFT - LoRAKit| = {diff:.2e}")
    print(f"max |diff| over {len(names)} target forms: {worst:.2e}")
    raise SystemExit(0 if worst < 1e-5 else 1)


# MARK: - ResNet-34 end to end

def write_png(path, pixels):
    """An 8-bit RGB PNG of `pixels` [H, W, 3] uint8 (filter 0 rows, zlib), lossless by design."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[i].tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def normalized(pixels):
    """LoRAKit's decode (v / 255) and Normalize ((x - mean) * (1 / std)), in float32 as it computes them."""
    x = pixels.astype(np.float32) / np.float32(255)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    inverse = np.float32(1) / np.array([0.229, 0.224, 0.225], dtype=np.float32)
    x = (x - mean) * inverse                                # [H, W, 3]
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def run(command):
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def check_resnet34(args):
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "reference"))
    from make_resnet_goldens import load_resnet_module
    from resnet34_peft import torchvision_source

    torch.manual_seed(0)
    resnet, where = load_resnet_module(torchvision_source())
    print(f"torchvision ResNet from {where}")
    work = args.work or tempfile.mkdtemp(prefix="lorakit-peft-")
    os.makedirs(work, exist_ok=True)
    base = resnet.ResNet(resnet.BasicBlock, [3, 4, 6, 3], num_classes=5)
    weights = os.path.join(work, "resnet34.safetensors")
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, weights)

    lorakit = os.path.abspath(args.lorakit)
    data = os.path.join(work, "data")
    if not os.path.exists(os.path.join(data, "labels.csv")):
        run([lorakit, "data", "retina", "--site", "target", "--count", "40", "--size", str(args.size), "--out", data])
    recipe = os.path.join(ROOT, "recipes", "retina", "resnet34_lora.yaml")
    overrides = [f"model.weights={weights}", f"model.input_size={args.size}", f"data.train={data}/labels.csv",
                 f"data.transforms[0].size={args.size}", f"train.max_steps={args.steps}", "train.epochs=1",
                 "train.scheduler.warmup_steps=1",
                 f"output_dir={work}/run"]
    run([lorakit, "train", recipe] + overrides)
    adapter = os.path.join(work, "run", "adapter")
    with open(os.path.join(adapter, "adapter_config.json")) as f:
        written = json.load(f)
    print(f"adapter_config.json target_modules: {json.dumps(written['target_modules'])}")
    print(f"adapter_config.json modules_to_save: {json.dumps(written['modules_to_save'])}")

    # Inputs both sides read bit for bit: PNGs at the model's size, so predict only normalises.
    g = np.random.default_rng(3)
    paths, images = [], []
    for i in range(4):
        yy, xx = np.mgrid[0:args.size, 0:args.size]
        pattern = np.stack([np.sin(xx * (0.1 + 0.05 * i)), np.cos(yy * 0.13), np.sin((xx + yy) * 0.07)], axis=-1)
        pixels = np.clip((pattern * 0.4 + 0.5) * 255 + g.normal(0, 12, pattern.shape), 0, 255).astype(np.uint8)
        path = os.path.join(work, f"probe{i}.png")
        write_png(path, pixels)
        paths.append(path)
        images.append(normalized(pixels))
    def predict(extra):
        out = run([lorakit, "predict", recipe] + overrides + ["data.transforms=[{name: normalize}]"] + extra
                  + ["--json", "--input"] + paths)
        return torch.tensor([json.loads(line)["logits"] for line in out.splitlines() if line.startswith("{")])

    lorakit_logits = predict(["--adapter", adapter])
    lorakit_base = predict(["lora=null", "train.mode=full", "--weights", weights])

    net = resnet.ResNet(resnet.BasicBlock, [3, 4, 6, 3], num_classes=5)
    net.load_state_dict(load_file(weights))
    model = PeftModel.from_pretrained(net, adapter)
    model.eval()
    adapted = [k for k, m in model.named_modules() if hasattr(m, "lora_A")]
    print(f"PEFT adapted {len(adapted)} layers, e.g. {adapted[0].removeprefix('base_model.model.')}")
    with torch.no_grad():
        peft_logits = model(torch.stack(images))
        base.eval()
        base_logits = base(torch.stack(images))
        for m in model.modules():   # the same model without the LoRA updates (saved modules kept)
            if hasattr(m, "lora_A"):
                m.scaling["default"] = 0.0
        without_lora = model(torch.stack(images))
    diff = (peft_logits - lorakit_logits).abs().max().item()
    print(f"base model, torchvision vs lorakit predict: max |diff| = {(base_logits - lorakit_base).abs().max().item():.2e} "
          f"(max |logit| {base_logits.abs().max().item():.3f})")
    print(f"the LoRA updates move the logits by up to {(peft_logits - without_lora).abs().max().item():.2e}, "
          f"the whole adapter (with the saved head and batch norms) by {(peft_logits - base_logits).abs().max().item():.3f}")
    print(f"adapted model, PEFT vs lorakit predict: max |diff| = {diff:.2e} "
          f"(max |logit| {peft_logits.abs().max().item():.3f}) on {len(paths)} images")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    raise SystemExit(0 if diff < args.tolerance else 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("resnet34", help="lorakit train + predict vs PEFT on torchvision's ResNet-34")
    r.add_argument("--lorakit", default=os.path.join(ROOT, ".build", "release", "lorakit"))
    r.add_argument("--work", help="keep the run here (default: a temporary directory, removed)")
    r.add_argument("--size", type=int, default=64)
    r.add_argument("--steps", type=int, default=2)
    r.add_argument("--tolerance", type=float, default=1e-5)
    commands.add_parser("fixtures", help="write Tests/LoRATests/Fixtures/peft/targets")
    t = commands.add_parser("targets", help="load the adapters PEFTTargetModulesTests saved into PEFT")
    t.add_argument("directory")
    a = parser.parse_args()
    if a.command == "resnet34":
        check_resnet34(a)
    elif a.command == "fixtures":
        make_fixtures()
    else:
        check_targets(a.directory)
