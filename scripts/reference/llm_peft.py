#!/usr/bin/env python3
"""transformers + PEFT reference for `lorakit bench llm`: a LoRA training step of a decoder from GGUF.

Loads the GGUF with transformers (every tensor dequantised to float32 by gguf-py, as transformers
does; the base is then frozen float32, where LoRAKit keeps it quantised), adds PEFT LoRA in the modes of
`lorakit bench llm`, and times forward, the causal-LM loss on every position (labels = the ids,
shifted inside transformers), backward and an AdamW step on a batch of random token sequences,
torch.set_num_threads(THREADS), training mode:

    lora-qv-r8     r = 8, alpha 16, dropout 0.05 on q_proj, v_proj
    lora-all-r16   r = 16, alpha 32, dropout 0.05 on q, k, v, o, gate, up, down projections

Each mode runs in a fresh subprocess, so that its peak resident memory (VmHWM) is its own. With
--lorakit, runs `lorakit bench llm --json` mode by mode alternating with this script, --rounds times
(the side that goes first alternates too), prints every round and the ratios of the medians.
--gradient-checkpointing makes both sides recompute each decoder block in backward:

    python3 scripts/reference/llm_peft.py --model data/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --lorakit .build/release/lorakit --rounds 3
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
MODES = ["lora-qv-r8", "lora-all-r16"]
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_mode(mode, args):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    directory, name = os.path.split(os.path.abspath(args.model))
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, torch_dtype=torch.float32)
    if mode == "lora-qv-r8":
        config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    else:
        config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=ALL_LINEAR, task_type="CAUSAL_LM")
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, config)
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (args.batch, args.sequence))
    times, cpu_times = [], []
    for step in range(args.warmup + args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, labels=ids).loss
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
            "trainable_params": sum(p.numel() for p in parameters), "cpu_ms": round(statistics.median(cpu_times), 1),
            "torch": torch.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--sequence", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gradient-checkpointing", action="store_true",
                        help="both sides recompute each decoder block in backward (transformers' gradient_checkpointing_enable)")
    parser.add_argument("--lorakit", help="path of a release-built lorakit to alternate with")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, args)))
        return
    common = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads),
              "--batch", str(args.batch), "--sequence", str(args.sequence)]
    if args.gradient_checkpointing:
        common.append("--gradient-checkpointing")
    modes = [m.strip() for m in args.modes.split(",")]
    results = {m: {"peft": [], "lorakit": []} for m in modes}
    for r in range(args.rounds if args.lorakit else 1):
        for mode in modes:
            sides = ["peft", "lorakit"] if args.lorakit else ["peft"]
            for side in sides if r % 2 == 0 else list(reversed(sides)):
                if side == "peft":
                    command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--model", args.model] + common
                    out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
                else:
                    command = [args.lorakit, "bench", "llm", "--json", "--modes", mode, "--model", args.model] + common
                    out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)[0]
                results[mode][side].append(out)
                print(f"round {r + 1} {mode:<13} {side:<8} step {out['step_ms']:8.0f} ms, cpu {out['cpu_ms']:8.0f} ms, "
                      f"{out['tokens_per_s']:7.1f} tokens/s, peak RSS {out['peak_rss_mib']:6.0f} MiB, "
                      f"trainable {out['trainable_params']}", flush=True)
    if not args.lorakit:
        print(json.dumps(results))
        return
    print("\nmedians over rounds (PEFT / LoRAKit time: > 1 means LoRAKit is faster; memory: LoRAKit / PEFT)")
    for mode in modes:
        def med(side, key):
            return statistics.median(x[key] for x in results[mode][side])
        print(f"  {mode:<13} step {med('peft', 'step_ms'):7.0f} / {med('lorakit', 'step_ms'):7.0f} ms = "
              f"{med('peft', 'step_ms') / med('lorakit', 'step_ms'):4.2f}×, tokens/s {med('peft', 'tokens_per_s'):6.1f} vs "
              f"{med('lorakit', 'tokens_per_s'):6.1f}, peak RSS {med('lorakit', 'peak_rss_mib'):6.0f} / "
              f"{med('peft', 'peak_rss_mib'):6.0f} MiB = {med('lorakit', 'peak_rss_mib') / med('peft', 'peak_rss_mib'):4.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
