#!/usr/bin/env python3
"""Goldens for GGUFQuantizer: Float32 rows and the bytes gguf-py's quantisers (the numpy ports of
ggml's reference quantize_row_*_ref) write for them in F16, BF16, Q8_0, Q4_0 and Q4_1.

Rows: normal values, an all-zero block, a constant block, values at rounding ties, a block whose
largest magnitude is negative (Q4_0's signed scale), and large and tiny magnitudes.
Writes Tests/GGUFTests/Fixtures/quantize.json (needs `pip install gguf numpy`)."""
import json, pathlib
import numpy as np
import gguf
from gguf import quants

rng = np.random.default_rng(7)
rows = [
    rng.standard_normal(64),
    np.concatenate([np.zeros(32), np.full(32, 0.25)]),
    np.concatenate([np.arange(32) * 0.5 - 8, -np.linspace(0, 3, 32)]),          # ties of x·127/amax, negative max
    np.concatenate([rng.standard_normal(32) * 1e4, rng.standard_normal(32) * 1e-6]),
    rng.uniform(-1, 1, 64),
]
x = np.stack(rows).astype(np.float32)
types = {"F16": gguf.GGMLQuantizationType.F16, "BF16": gguf.GGMLQuantizationType.BF16,
         "Q8_0": gguf.GGMLQuantizationType.Q8_0, "Q4_0": gguf.GGMLQuantizationType.Q4_0,
         "Q4_1": gguf.GGMLQuantizationType.Q4_1}
out = {"columns": 64, "values": [float(v) for v in x.reshape(-1)], "bytes": {}}
for name, t in types.items():
    q = quants.quantize(x, t)
    out["bytes"][name] = np.ascontiguousarray(q).view(np.uint8).reshape(-1).tobytes().hex()
path = pathlib.Path(__file__).resolve().parent.parent / "Tests/GGUFTests/Fixtures/quantize.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}")
