#!/usr/bin/env python3
"""transformers reference for `lorakit bench llama`: generation at batch 1 with the KV cache.

Loads the GGUF with transformers (every tensor dequantised to float32 by gguf-py, as transformers
does), torch.set_num_threads(THREADS), and runs `generate` greedily on a prompt of PROMPT_TOKENS ids
(`100 + (i·7919 + 13) mod (V − 100)`, the ids `lorakit bench llama` uses) for NEW_TOKENS tokens
(min_new_tokens = max_new_tokens, no end token), ROUNDS times in one process. A streamer records
when each token arrives: time to first token (from the call to the first generated token: the
prompt's forward and the first choice) and tokens per second after the first. Peak resident memory
is the process's VmHWM (the float32 weights, the GGUF's dequantisation on the way, torch itself).

    python3 scripts/reference/llama_generate.py --model data/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    python3 scripts/reference/llama_generate.py --model … --lorakit .build/release/lorakit --alternations 3

With --lorakit, runs `lorakit bench llama --json` and this script (each in a fresh process, so that
each peak memory is its own) alternately, --alternations times, and prints every round of both and
the ratios of the medians: the machine's speed changes between minutes, alternating keeps both
sides under the same conditions. --lorakit-precisions float32,bfloat16 adds lorakit's BF16 prompt
products as a third side.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# This directory holds kernels.py, which would shadow the `kernels` package transformers imports.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def prompt_ids(count, vocabulary):
    return [100 + (i * 7919 + 13) % (vocabulary - 100) for i in range(count)]


def run_transformers(args):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.generation.streamers import BaseStreamer

    torch.set_num_threads(args.threads)
    directory, name = os.path.split(os.path.abspath(args.model))
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32).eval()
    load_s = time.perf_counter() - start
    ids = torch.tensor([prompt_ids(args.prompt_tokens, model.config.vocab_size)])

    class Clock(BaseStreamer):
        def __init__(self):
            self.times = []

        def put(self, value):                 # the prompt first, then each generated token
            self.times.append(time.perf_counter())

        def end(self):
            pass

    rounds = []
    for _ in range(args.rounds):
        clock = Clock()
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new_tokens,
                                 min_new_tokens=args.new_tokens, do_sample=False, streamer=clock,
                                 pad_token_id=0, eos_token_id=None)
        end = time.perf_counter()
        assert out.shape[1] == ids.shape[1] + args.new_tokens
        tokens = clock.times[1:]
        rounds.append({"ttft_s": tokens[0] - start,
                       "decode_tokens_per_s": (len(tokens) - 1) / (tokens[-1] - tokens[0]),
                       "total_s": end - start})
    return {"implementation": "transformers", "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens,
            "threads": args.threads, "load_s": load_s, "rounds": rounds, "peak_rss_mib": peak_rss_mib(),
            "torch": torch.__version__}


def child(arguments):
    result = subprocess.run(arguments, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(arguments)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompt-tokens", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lorakit", help="the lorakit executable: alternate its bench with this script")
    parser.add_argument("--alternations", type=int, default=3)
    parser.add_argument("--lorakit-precisions", default="float32",
                        help="comma-separated --precision values of lorakit's runs (float32,bfloat16: both, alternated)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or not args.lorakit:
        print(json.dumps(run_transformers(args)))
        return
    common = ["--model", args.model, "--prompt-tokens", str(args.prompt_tokens), "--new-tokens", str(args.new_tokens),
              "--rounds", str(args.rounds), "--threads", str(args.threads)]
    precisions = args.lorakit_precisions.split(",")
    lorakit_sides = [f"lorakit-{p}" if len(precisions) > 1 else "lorakit" for p in precisions]
    sides = lorakit_sides + ["transformers"]
    results = {side: [] for side in sides}
    for a in range(args.alternations):
        # Each alternation starts with the next side: every side runs first, middle and last in turn.
        for side in sides[a % len(sides):] + sides[:a % len(sides)]:
            if side == "transformers":
                r = child([sys.executable, os.path.abspath(__file__), "--child"] + common)
            else:
                precision = precisions[lorakit_sides.index(side)]
                r = child([args.lorakit, "bench", "llama", "--json", "--precision", precision] + common)
            results[side].append(r)
            for i, round_ in enumerate(r["rounds"]):
                print(f"alternation {a + 1} {side:17s} round {i + 1}: time to first token {round_['ttft_s']:.3f} s, "
                      f"{round_['decode_tokens_per_s']:.1f} tokens/s (load {r['load_s']:.1f} s, peak RSS "
                      f"{r['peak_rss_mib']:.0f} MiB)", flush=True)

    def medians(side, key, skip_first):
        return statistics.median(round_[key] for r in results[side] for i, round_ in enumerate(r["rounds"])
                                 if not (skip_first and i == 0))
    print(f"\nmedians over alternations (warm rounds: every round but each process's first)")
    for side in lorakit_sides:
        for key, better in [("ttft_s", "lower"), ("decode_tokens_per_s", "higher")]:
            l, t = medians(side, key, True), medians("transformers", key, True)
            print(f"  {key:22s} {side} {l:8.3f}  transformers {t:8.3f}  ratio {l / t:5.2f} ({better} is better)")
        l = statistics.median(r["peak_rss_mib"] for r in results[side])
        t = statistics.median(r["peak_rss_mib"] for r in results["transformers"])
        print(f"  {'peak_rss_mib':22s} {side} {l:8.0f}  transformers {t:8.0f}  ratio {l / t:5.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
