#!/usr/bin/env python3
"""PyTorch + PEFT reference for `lorakit bench resnet34`.

Times one training step (forward, cross-entropy, backward, AdamW update) of torchvision's ResNet-34
at 224x224, batch 8, 2 threads, in the modes of `lorakit bench resnet34`, each in a fresh process so
that its peak resident memory (ru_maxrss) is its own:
  lora   PEFT LoRA r=16 (alpha 16) on the 35 convolutions of layer1-layer4 (block convs and
         downsample convs), the new 5-class head trained in full (modules_to_save=["fc"])
  full   every parameter trained
  probe  only fc trained

    python3 scripts/reference/resnet34_peft.py                          # PyTorch + PEFT only
    python3 scripts/reference/resnet34_peft.py --json                   # same JSON schema as lorakit's
    python3 scripts/reference/resnet34_peft.py --lorakit .build/release/lorakit
        # runs `lorakit bench resnet34 --json` right after, in the same session, and prints ratios

torchvision's own model file is used, loaded alone (see torchvision_source and scripts/make_resnet_goldens.py);
needs torch and peft.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

# This script's folder holds kernels.py (`lorakit bench kernels`' reference), which would shadow the
# `kernels` package that transformers imports: it is not a module search path of this script.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

MODES = ["lora", "full", "probe"]


def torchvision_source():
    """A directory with torchvision's files, not on sys.path (there it breaks peft's transformers
    imports when the wheel does not match torch): $TORCHVISION_SRC, else a cache filled once with
    `pip install --no-deps --target`. Only models/resnet.py is read from it."""
    source = os.environ.get("TORCHVISION_SRC") or os.path.expanduser("~/.cache/lorakit/torchvision-src")
    if not os.path.exists(os.path.join(source, "torchvision", "models", "resnet.py")):
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", source,
                        "torchvision"], check=True)
    return source


def measure(mode, args):
    import torch
    import peft  # noqa: F401 - before the torchvision stubs, whose missing __spec__ peft's import checks trip on
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from make_resnet_goldens import load_resnet_module

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    resnet, _ = load_resnet_module(torchvision_source())
    model = resnet.ResNet(resnet.BasicBlock, [3, 4, 6, 3], num_classes=5)  # = resnet34(weights=None)
    if mode == "lora":
        from peft import LoraConfig, get_peft_model
        config = LoraConfig(r=args.rank, lora_alpha=args.rank,
                            target_modules=r".*layer\d\.\d+\.(conv\d|downsample\.0)", modules_to_save=["fc"])
        model = get_peft_model(model, config)
    elif mode == "probe":
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("fc."))
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    x = torch.randn(args.batch, 3, args.size, args.size)
    labels = torch.arange(args.batch) % 5

    def step():
        # --precision bf16: torch.autocast on the CPU (bf16 convolutions and matmuls, f32 elsewhere).
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    return {"mode": mode, "step_ms": seconds * 1000, "items_per_s": args.batch / seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "trainable_params": sum(p.numel() for p in trainable)}


def run_children(args):
    results = []
    for mode in args.modes.split(","):
        command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--size", str(args.size),
                   "--batch", str(args.batch), "--threads", str(args.threads), "--rank", str(args.rank),
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--precision", args.precision]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                        help="bf16: torch.autocast('cpu', dtype=torch.bfloat16) around the forward pass")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--lorakit", help="path of the lorakit binary to run in the same session")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    ours = None
    torch_results = run_children(args)
    if args.lorakit:
        command = [args.lorakit, "bench", "resnet34", "--json", "--size", str(args.size), "--batch", str(args.batch),
                   "--threads", str(args.threads), "--rank", str(args.rank), "--repeats", str(args.repeats),
                   "--warmup", str(args.warmup), "--modes", args.modes, "--precision", args.precision]
        ours = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps({"pytorch_peft": torch_results, "lorakit": ours} if ours else torch_results))
        return
    print(f"ResNet-34 {args.size}x{args.size}, batch {args.batch}, {args.threads} threads, median of {args.repeats}")
    print(f"{'mode':<6} {'PEFT ms':>9} {'PEFT MiB':>9}" + (f" {'ours ms':>9} {'ours MiB':>9} {'time ratio':>10} {'mem ratio':>9}" if ours else ""))
    for t in torch_results:
        line = f"{t['mode']:<6} {t['step_ms']:9.1f} {t['peak_rss_mib']:9.0f}"
        o = next((r for r in ours or [] if r["mode"] == t["mode"]), None)
        if o:
            line += (f" {o['step_ms']:9.1f} {o['peak_rss_mib']:9.0f} {o['step_ms'] / t['step_ms']:10.2f}"
                     f" {o['peak_rss_mib'] / t['peak_rss_mib']:9.2f}")
        print(line)
    if ours:
        lora = next((r for r in ours if r["mode"] == "lora"), None)
        full = next((r for r in ours if r["mode"] == "full"), None)
        if lora and full:
            print(f"ours: LoRA step / full step = {lora['step_ms'] / full['step_ms']:.2f}")


if __name__ == "__main__":
    main()
