#!/usr/bin/env python3
"""PyTorch + PEFT reference for `lorakit bench audio`.

Times a training step (forward, cross-entropy, backward, AdamW step) of a Whisper-encoder-style
classifier over log-mel spectrograms (AudioTransformer below: two GELU convolutions, the second with
stride 2, sinusoidal positions, pre-norm transformer layers with sdpa attention and a GELU FFN, a final
LayerNorm, mean pooling over time, a linear classifier), random weights (torch.manual_seed(42)), batch
8 of 10 s clips (1000 mel frames × 80 mels, 500 positions after the stride), width 256, 6 layers,
4 heads, FFN 1024, 12 classes, torch.set_num_threads(2), in the modes of `lorakit bench audio`:

    lora-r8   PEFT LoRA r=8, alpha 16, dropout 0 on q_proj, k_proj, v_proj, out_proj, fc1, fc2
              (classifier trained in full: modules_to_save=["classifier"]), AdamW lr 1e-3
    full      every parameter trained, AdamW lr 1e-4

Each mode runs in a fresh subprocess, so its peak resident memory (VmHWM) is its own. Prints one JSON
array of {mode, step_ms (median), items_per_s, frames_per_s (items × mel frames), peak_rss_mib,
trainable_params, cpu_ms (median processor time of a step, all threads: the work, which other processes
inflate far less)}, one object per mode and round. With --lorakit, also runs `lorakit bench audio
--json` in the same window, mode by mode alternating with PEFT (the side that goes first alternates
round by round, so that both sides of each ratio see the same machine load), --rounds times; prints
every round and the per-mode ratios of the medians (LoRAKit / PEFT step time and peak memory: < 1
means LoRAKit is faster or smaller) to stderr, and {"rounds": [{"peft": [...], "lorakit": [...]}, ...]}
to stdout:

    python3 scripts/reference/audio_peft.py --rounds 1                      # PEFT only, JSON
    python3 scripts/reference/audio_peft.py --lorakit .build/release/lorakit # side by side, 3 rounds

AudioTransformer is also the model of scripts/make_audio_transformer_goldens.py (one definition).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

# This directory holds kernels.py, which would shadow the `kernels` package that transformers (under
# peft) looks for; importing this file from elsewhere drops the directory from sys.path too.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

MODES = ["lora-r8", "full"]
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]


def sinusoids(length, channels, max_timescale=10000):
    """Whisper's sinusoidal positions, [length, channels], float32 (sin in the first half, cos in the second)."""
    inc = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-inc * torch.arange(channels // 2))
    t = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


class SelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width, bias=False)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, h):
        n, t, d = h.shape

        def split(x):
            return x.view(n, t, self.heads, d // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h)))
        return self.out_proj(out.transpose(1, 2).reshape(n, t, d))


class EncoderLayer(nn.Module):
    def __init__(self, width, heads, ffn):
        super().__init__()
        self.self_attn = SelfAttention(width, heads)
        self.self_attn_layer_norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, ffn)
        self.fc2 = nn.Linear(ffn, width)
        self.final_layer_norm = nn.LayerNorm(width)

    def forward(self, h):
        h = h + self.self_attn(self.self_attn_layer_norm(h))
        return h + self.fc2(F.gelu(self.fc1(self.final_layer_norm(h))))


class AudioTransformer(nn.Module):
    """Whisper-encoder-style classifier: x [N, mels, T] -> logits [N, classes]. LayerNorm eps 1e-5,
    exact (erf) GELU; the positions are not a parameter and not in the state dict."""

    def __init__(self, mels, width, layers, heads, ffn, classes):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList([EncoderLayer(width, heads, ffn) for _ in range(layers)])
        self.layer_norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, classes)

    def forward(self, x):
        h = F.gelu(self.conv2(F.gelu(self.conv1(x))))  # [N, width, (T - 1) // 2 + 1]
        h = h.permute(0, 2, 1)
        h = h + sinusoids(h.shape[1], h.shape[2]).to(h.dtype)
        for layer in self.layers:
            h = layer(h)
        return self.classifier(self.layer_norm(h).mean(dim=1))


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_mode(mode, args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    model = AudioTransformer(args.mels, args.width, args.layers, args.heads, args.ffn, args.classes)
    if mode == "lora-r8":
        from peft import LoraConfig, get_peft_model
        lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=LORA_TARGETS,
                          modules_to_save=["classifier"])
        model = get_peft_model(model, lora)
        lr = 1e-3
    elif mode == "full":
        lr = 1e-4
    else:
        raise SystemExit(f"unknown mode {mode!r} (modes: {', '.join(MODES)})")
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=lr)
    x = torch.randn(args.batch, args.mels, args.frames)
    labels = torch.randint(0, args.classes, (args.batch,))
    times, cpu_times = [], []
    for step in range(args.warmup + args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        ms = (time.perf_counter() - start) * 1e3
        if step >= args.warmup:
            times.append(ms)
            cpu_times.append((time.process_time() - cpu_start) * 1e3)
    median = statistics.median(times)
    items = args.batch / (median / 1000)
    return {"mode": mode, "step_ms": round(median, 1), "items_per_s": round(items, 2),
            "frames_per_s": round(items * args.frames, 1), "peak_rss_mib": round(peak_rss_mib(), 1),
            "trainable_params": sum(p.numel() for p in parameters),
            "cpu_ms": round(statistics.median(cpu_times), 1)}


def shape_flags(args):
    return ["--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads),
            "--batch", str(args.batch), "--frames", str(args.frames), "--mels", str(args.mels),
            "--width", str(args.width), "--layers", str(args.layers), "--heads", str(args.heads),
            "--ffn", str(args.ffn), "--classes", str(args.classes)]


def child_command(mode, args):
    return [sys.executable, os.path.abspath(__file__), "--child", mode] + shape_flags(args)


def lorakit_command(mode, args):
    return [args.lorakit, "bench", "audio", "--json", "--modes", mode] + shape_flags(args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=1000, help="mel frames per clip (1000 = 10 s at a 10 ms hop)")
    parser.add_argument("--mels", type=int, default=80)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ffn", type=int, default=1024)
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lorakit", help="path of a release-built lorakit to run in the same window")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, args)))
        return
    def complete(result, args):
        result.setdefault("frames_per_s", round(result["items_per_s"] * args.frames, 1))
        return result

    alternate(args, child_command, lorakit_command, complete, lambda r: f"{fmt(r['frames_per_s'], '.1f', 9)} frames/s")


def fmt(value, spec, width):
    return f"{value:>{width}{spec}}" if value is not None else f"{'-':>{width}}"


def ratio(ours, theirs, width):
    return f"{ours / theirs:>{width}.2f}" if ours is not None and theirs else f"{'-':>{width}}"


def alternate(args, child_command, lorakit_command, complete, throughput):
    """Runs every mode of args.modes in a fresh PEFT child process and, with args.lorakit, in
    LoRAKit, args.rounds times: interleaved per mode, so that both sides of a ratio see the same
    machine load, the side that goes first alternating round by round. Prints each result and the
    per-mode medians and ratios (LoRAKit / PEFT) to stderr, and the results as JSON to stdout.
    `complete(result, args)` fills keys a side leaves out; `throughput(result)` is a column of text.
    Shared by audio_peft.py and av_peft.py."""
    modes = [m.strip() for m in args.modes.split(",")]
    load_before = os.getloadavg()
    rounds = []
    for r in range(args.rounds):
        peft, ours = [], []
        for mode in modes:
            sides = ["peft", "lorakit"] if args.lorakit else ["peft"]
            for side in sides if r % 2 == 0 else list(reversed(sides)):
                if side == "peft":
                    out = subprocess.run(child_command(mode, args), check=True, capture_output=True, text=True).stdout
                    result = complete(json.loads(out.strip().splitlines()[-1]), args)
                    peft.append(result)
                else:
                    out = subprocess.run(lorakit_command(mode, args), check=True, capture_output=True, text=True).stdout
                    result = complete(json.loads(out)[0], args)
                    ours.append(result)
                print(f"round {r + 1} {mode:<8} {side:<8} step {fmt(result.get('step_ms'), '.0f', 8)} ms, "
                      f"cpu {fmt(result.get('cpu_ms'), '.0f', 8)} ms, {throughput(result)}, "
                      f"peak RSS {fmt(result.get('peak_rss_mib'), '.0f', 6)} MiB, trainable {result.get('trainable_params')}",
                      file=sys.stderr, flush=True)
        rounds.append({"peft": peft, "lorakit": ours} if args.lorakit else peft)
    load_after = os.getloadavg()
    if not args.lorakit:
        print(json.dumps([p for peft in rounds for p in peft]))
        print(f"load average before and after: {load_before} / {load_after}", file=sys.stderr)
        return
    print("\nmedians over rounds (LoRAKit / PEFT: < 1 means LoRAKit is faster or smaller)", file=sys.stderr)
    print(f"{'mode':<10}{'PEFT ms':>10}{'ours ms':>10}{'time ×':>8}{'PEFT cpu':>10}{'ours cpu':>10}{'cpu ×':>7}"
          f"{'PEFT MiB':>10}{'ours MiB':>10}{'mem ×':>7}{'PEFT params':>13}{'ours params':>13}", file=sys.stderr)
    for i, mode in enumerate(modes):
        def med(side, key):
            values = [x for x in (rnd[side][i].get(key) for rnd in rounds) if x is not None]
            return statistics.median(values) if values else None
        print(f"{mode:<10}{fmt(med('peft', 'step_ms'), '.0f', 10)}{fmt(med('lorakit', 'step_ms'), '.0f', 10)}"
              f"{ratio(med('lorakit', 'step_ms'), med('peft', 'step_ms'), 8)}"
              f"{fmt(med('peft', 'cpu_ms'), '.0f', 10)}{fmt(med('lorakit', 'cpu_ms'), '.0f', 10)}"
              f"{ratio(med('lorakit', 'cpu_ms'), med('peft', 'cpu_ms'), 7)}"
              f"{fmt(med('peft', 'peak_rss_mib'), '.0f', 10)}{fmt(med('lorakit', 'peak_rss_mib'), '.0f', 10)}"
              f"{ratio(med('lorakit', 'peak_rss_mib'), med('peft', 'peak_rss_mib'), 7)}"
              f"{fmt(rounds[0]['peft'][i].get('trainable_params'), '', 13)}"
              f"{fmt(rounds[0]['lorakit'][i].get('trainable_params'), '', 13)}", file=sys.stderr)
    print(f"load average before and after: {load_before} / {load_after}", file=sys.stderr)
    print(json.dumps({"rounds": rounds}))

if __name__ == "__main__":
    main()
