#!/usr/bin/env python3
"""PyTorch reference for `lorakit bench kernels`.

Times, in PyTorch on the CPU, the kernels that `lorakit bench kernels` times: sgemm (M = N = K =
1024, 2048) and ResNet-34's convolutions at batch 8 (forward, backward-data, backward-weights),
with warm-up and the median of several runs, at a fixed thread count.

    python3 scripts/reference/kernels.py                              # PyTorch only
    python3 scripts/reference/kernels.py .build/release/lorakit       # runs lorakit too, side by side
    python3 scripts/reference/kernels.py lorakit-kernels.json         # compares with saved --json output

PyTorch runs its convolutions in NCHW (its own reorders into oneDNN's layouts included, as a
PyTorch model pays them); lorakit's timings exclude reorders (activations stay blocked between
layers). The ratio column is lorakit GFLOP/s divided by PyTorch GFLOP/s (> 1: lorakit faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

SHAPES = [  # name, in, out, size, kernel, stride, padding
    ("conv-a", 64, 64, 56, 3, 1, 1),
    ("conv-b", 128, 128, 28, 3, 1, 1),
    ("conv-c", 256, 256, 14, 3, 1, 1),
    ("conv-d", 512, 512, 7, 3, 1, 1),
    ("conv-e", 3, 64, 224, 7, 2, 3),
]


def median_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def conv_flops(batch, cin, cout, size, kernel, stride, padding):
    out = (size + 2 * padding - kernel) // stride + 1
    return 2.0 * batch * cout * out * out * cin * kernel * kernel


def torch_results(batch, warmup, repeats):
    results = []
    torch.manual_seed(0)
    with torch.no_grad():
        for n in (1024, 2048):
            a, b = torch.randn(n, n), torch.randn(n, n)
            ms = median_ms(lambda: torch.mm(a, b), warmup, repeats)
            results.append(dict(name=f"sgemm-{n}", op="gemm", ms=ms, gflops=2.0 * n**3 / (ms * 1e6)))
        for name, cin, cout, size, k, s, p in SHAPES:
            x = torch.randn(batch, cin, size, size)
            w = torch.randn(cout, cin, k, k) * 0.1
            y = torch.nn.functional.conv2d(x, w, None, s, p)
            gy = torch.randn_like(y)
            flops = conv_flops(batch, cin, cout, size, k, s, p)

            def backward(mask):
                return torch.ops.aten.convolution_backward(
                    gy, x, w, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)

            kernels = [
                ("forward", lambda: torch.nn.functional.conv2d(x, w, None, s, p)),
                ("backward-data", lambda: backward([True, False, False])),
                ("backward-weights", lambda: backward([False, True, False])),
            ]
            for op, fn in kernels:
                ms = median_ms(fn, warmup, repeats)
                results.append(dict(name=name, op=op, ms=ms, gflops=flops / (ms * 1e6)))
    return results


def lorakit_results(source, threads, repeats, warmup, batch):
    if source.endswith(".json"):
        with open(source) as f:
            return json.load(f)
    cmd = [source, "bench", "kernels", "--json", "--threads", str(threads), "--batch", str(batch),
           "--repeats", str(repeats), "--warmup", str(warmup)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def best(previous, current):
    """Per kernel, the faster of two result lists (None: no previous)."""
    if previous is None:
        return current
    faster = {(r["name"], r["op"]): r for r in previous}
    for r in current:
        key = (r["name"], r["op"])
        if key not in faster or r["ms"] < faster[key]["ms"]:
            faster[key] = r
    return [faster[(r["name"], r["op"])] for r in current]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lorakit", nargs="?", help="path of the lorakit binary, or a JSON file of its output")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate lorakit and PyTorch this many times and keep each kernel's best median "
                             "(on a shared, noisy machine)")
    parser.add_argument("--json", action="store_true", help="print PyTorch's timings as JSON")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    ours, ref = None, None
    for _ in range(max(1, args.rounds)):
        if args.lorakit:
            ours = best(ours, lorakit_results(args.lorakit, args.threads, args.repeats, args.warmup, args.batch))
        ref = best(ref, torch_results(args.batch, args.warmup, args.repeats))
    if args.json:
        print(json.dumps(ref))
        return

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"median of {args.repeats} after {args.warmup} warm-up runs, best of {max(1, args.rounds)} round(s)")
    if ours is None:
        print(f"{'name':<12}{'op':<18}{'ms':>10}{'GFLOP/s':>10}")
        for r in ref:
            print(f"{r['name']:<12}{r['op']:<18}{r['ms']:>10.2f}{r['gflops']:>10.1f}")
        return
    mine = {(r["name"], r["op"]): r for r in ours}
    print(f"{'name':<12}{'op':<18}{'lorakit ms':>11}{'GFLOP/s':>9}{'torch ms':>10}{'GFLOP/s':>9}{'ratio':>7}")
    for r in ref:
        m = mine.get((r["name"], r["op"]))
        if m is None:
            continue
        ratio = m["gflops"] / r["gflops"]
        print(f"{r['name']:<12}{r['op']:<18}{m['ms']:>11.2f}{m['gflops']:>9.1f}"
              f"{r['ms']:>10.2f}{r['gflops']:>9.1f}{ratio:>7.2f}")


if __name__ == "__main__":
    sys.exit(main())
