#!/usr/bin/env python3
"""PyTorch + PEFT reference for `lorakit bench bert`.

Times a training step (forward, cross-entropy, backward, AdamW step) of transformers'
BertForSequenceClassification with BERT-base's shape (hidden 768, 12 layers, 12 heads, FFN 3072,
vocabulary 30522, random weights, 2 labels, training mode with its dropout), batch 8 × 128 tokens,
torch.set_num_threads(2), in the modes of `lorakit bench bert`:

    lora-qv-r8     PEFT LoRA r=8, alpha 16, dropout 0.1 on query, value (task SEQ_CLS: classifier trained)
    lora-all-r16   PEFT LoRA r=16, alpha 32, dropout 0.1 on query, key, value, dense (pooler excluded)
    full           every parameter trained

Each mode runs in a fresh subprocess, so its peak resident memory (VmHWM) is its own. Prints one JSON
array of {mode, step_ms (median), items_per_s, tokens_per_s, peak_rss_mib, trainable_params, cpu_ms (median
processor time of a step, all threads: the work, which other processes inflate far less)}, or, with
--lorakit, also runs `lorakit bench bert --json` in the same window (mode by mode, alternating with
PEFT so that both sides of each ratio see the same machine load) and prints both with ratios:

    python3 scripts/reference/bert_peft.py                                  # PEFT only, JSON
    python3 scripts/reference/bert_peft.py --lorakit .build/release/lorakit # side by side

Attention is transformers' default implementation (sdpa), as a user gets it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# This script's folder holds kernels.py (`lorakit bench kernels`' reference), which would shadow the
# `kernels` package that transformers imports: it is not a module search path of this script.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

MODES = ["lora-qv-r8", "lora-all-r16", "full"]


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_mode(mode, args):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    config = BertConfig(num_hidden_layers=args.layers, num_labels=2)
    model = BertForSequenceClassification(config)
    if mode.startswith("lora"):
        from peft import LoraConfig, TaskType, get_peft_model
        if mode == "lora-qv-r8":
            lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1,
                              target_modules=["query", "value"])
        else:
            lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=16, lora_alpha=32, lora_dropout=0.1,
                              target_modules=["query", "key", "value", "dense"], exclude_modules=["pooler.dense"])
        model = get_peft_model(model, lora)
        lr = 1e-4
    else:
        lr = 2e-5
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=lr)
    ids = torch.randint(1, config.vocab_size, (args.batch, args.sequence))
    labels = torch.randint(0, 2, (args.batch,))
    times, cpu_times = [], []
    for step in range(args.warmup + args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        # --precision bf16: torch.autocast on the CPU (bf16 matmuls, f32 softmax and norms).
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        ms = (time.perf_counter() - start) * 1e3
        if step >= args.warmup:
            times.append(ms)
            cpu_times.append((time.process_time() - cpu_start) * 1e3)
    median = statistics.median(times)
    items = args.batch / (median / 1000)
    return {"mode": mode, "step_ms": round(median, 1), "items_per_s": round(items, 2),
            "tokens_per_s": round(items * args.sequence, 1), "peak_rss_mib": round(peak_rss_mib(), 1),
            "trainable_params": sum(p.numel() for p in parameters),
            "cpu_ms": round(statistics.median(cpu_times), 1)}


def child_command(mode, args):
    return [sys.executable, os.path.abspath(__file__), "--child", mode, "--steps", str(args.steps),
            "--warmup", str(args.warmup), "--threads", str(args.threads), "--batch", str(args.batch),
            "--sequence", str(args.sequence), "--layers", str(args.layers), "--precision", args.precision]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sequence", type=int, default=128)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                        help="bf16: torch.autocast('cpu', dtype=torch.bfloat16) around the forward pass")
    parser.add_argument("--lorakit", help="path of a release-built lorakit to run in the same window")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, args)))
        return
    modes = [m.strip() for m in args.modes.split(",")]
    load_before = os.getloadavg()
    peft, ours = [], []
    for mode in modes:
        # Interleaved per mode, so that both sides of a ratio see the same machine load.
        out = subprocess.run(child_command(mode, args), check=True, capture_output=True, text=True).stdout
        peft.append(json.loads(out.strip().splitlines()[-1]))
        if args.lorakit:
            command = [args.lorakit, "bench", "bert", "--json", "--modes", mode, "--steps", str(args.steps),
                       "--warmup", str(args.warmup), "--threads", str(args.threads), "--batch", str(args.batch),
                       "--sequence", str(args.sequence), "--layers", str(args.layers), "--precision", args.precision]
            ours += json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    if not args.lorakit:
        print(json.dumps(peft))
        return
    print(json.dumps({"peft": peft, "lorakit": ours}))
    print(f"{'mode':<14}{'PEFT ms':>10}{'ours ms':>10}{'speed ×':>9}{'PEFT cpu':>10}{'ours cpu':>10}{'cpu ×':>7}"
          f"{'PEFT MiB':>10}{'ours MiB':>10}{'mem ratio':>10}{'PEFT params':>13}{'ours params':>13}", file=sys.stderr)
    for p, o in zip(peft, ours):
        print(f"{p['mode']:<14}{p['step_ms']:>10.0f}{o['step_ms']:>10.0f}{p['step_ms'] / o['step_ms']:>9.2f}"
              f"{p['cpu_ms']:>10.0f}{o['cpu_ms']:>10.0f}{p['cpu_ms'] / o['cpu_ms']:>7.2f}"
              f"{p['peak_rss_mib']:>10.0f}{o['peak_rss_mib']:>10.0f}{o['peak_rss_mib'] / p['peak_rss_mib']:>10.2f}"
              f"{p['trainable_params']:>13}{o['trainable_params']:>13}", file=sys.stderr)
    print(f"load average before and after: {load_before} / {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
