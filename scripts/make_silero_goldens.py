#!/usr/bin/env python3
"""Goldens for LoRAKit's Silero VAD: the speech probabilities that the silero-vad package (v6.2.3)
computes from its silero_vad_16k.safetensors with its own model for that file
(silero_vad/tinygrad_model.py, run as its docstring shows: 512-sample chunks at 16 kHz, each with
the 64 samples before it, the LSTM state carried over), on real recordings of Debian's
pocketsphinx-testdata and on a synthetic signal (seeded noise, then a tone).

Cross-checks, printed: a plain PyTorch version of the same architecture (the one LoRAKit
implements) against tinygrad, and the package's TorchScript model (silero_vad.jit) against both.
The JIT model holds other weights than the safetensors file (conv1's differ by up to 4.0), so its
probabilities differ by up to ~0.7: it cannot be this file's reference.

Usage: pip download --no-deps silero-vad==6.2.3 -d /tmp/sv && pip install tinygrad &&
       scripts/make_silero_goldens.py /tmp/sv/silero_vad-6.2.3-py3-none-any.whl
Writes Tests/AudioModelsTests/Fixtures/silero_goldens.json."""
import io, json, pathlib, sys, wave, zipfile
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load

root = pathlib.Path(__file__).resolve().parent.parent
DATA = "/usr/share/pocketsphinx/test/data"
FILES = [f"{DATA}/librivox/sense_and_sensibility_01_austen_64kb-0870.wav", f"{DATA}/cards/001.wav"]

def read_wav(path):
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768

def reimplementation(weights):
    def step(chunk, context, state):
        x = torch.cat([context, chunk], dim=1)                       # [1, 576]
        x = F.pad(x.unsqueeze(1), (0, 64), mode="reflect")           # [1, 1, 640]
        x = F.conv1d(x, weights["stft_conv.weight"], stride=128)
        x = (x[:, :129] ** 2 + x[:, 129:] ** 2).sqrt()
        x = F.relu(F.conv1d(x, weights["conv1.weight"], weights["conv1.bias"], padding=1))
        x = F.relu(F.conv1d(x, weights["conv2.weight"], weights["conv2.bias"], stride=2, padding=1))
        x = F.relu(F.conv1d(x, weights["conv3.weight"], weights["conv3.bias"], stride=2, padding=1))
        x = F.relu(F.conv1d(x, weights["conv4.weight"], weights["conv4.bias"], padding=1)).squeeze(-1)
        h, c = state
        gates = x @ weights["lstm_cell.weight_ih"].T + weights["lstm_cell.bias_ih"] + h @ weights["lstm_cell.weight_hh"].T + weights["lstm_cell.bias_hh"]
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        y = torch.sigmoid(F.conv1d(F.relu(h).unsqueeze(-1), weights["final_conv.weight"], weights["final_conv.bias"]))
        return y.mean(dim=2), (h, c)
    return step

def main(wheel):
    import tempfile
    from tinygrad import Tensor as TinyTensor
    from tinygrad.nn.state import safe_load, load_state_dict
    unpacked = tempfile.mkdtemp()
    with zipfile.ZipFile(wheel) as z:
        z.extractall(unpacked)
        jit = torch.jit.load(io.BytesIO(z.read("silero_vad/data/silero_vad.jit")))
        weights = load(z.read("silero_vad/data/silero_vad_16k.safetensors"))
    sys.path.insert(0, unpacked)
    from silero_vad.tinygrad_model import TinySileroVAD
    tiny = TinySileroVAD()
    load_state_dict(tiny, safe_load(f"{unpacked}/silero_vad/data/silero_vad_16k.safetensors"))
    jit.eval()
    step = reimplementation(weights)
    rng = np.random.default_rng(3)
    t = np.arange(16000) / 16000
    synthetic = np.concatenate([rng.standard_normal(16000) * 0.05, 0.4 * np.sin(2 * np.pi * 300 * t)]).astype(np.float32)
    signals = {path: read_wav(path) for path in FILES}
    signals["synthetic"] = synthetic
    out = {"version": "6.2.3", "signals": []}
    with torch.no_grad():
        for name, x in signals.items():
            padded = np.pad(x, (0, (512 - x.size % 512) % 512))
            windows = np.pad(padded, (64, 0))
            state, probs = None, []
            for i in range(64, windows.size, 512):
                p, state = tiny(TinyTensor(windows[None, i - 64:i + 512].astype(np.float32)), state)
                state = state.realize()          # else tinygrad's lazy graph grows with every chunk
                probs.append(float(p.numpy().item()))
            audio = torch.from_numpy(padded)
            jit.reset_states()
            scripted = [jit(audio[i:i + 512].unsqueeze(0), 16000).item() for i in range(0, audio.numel(), 512)]
            context, s, mine = torch.zeros(1, 64), (torch.zeros(1, 128), torch.zeros(1, 128)), []
            for i in range(0, audio.numel(), 512):
                chunk = audio[i:i + 512].unsqueeze(0)
                p, s = step(chunk, context, s)
                context = chunk[:, -64:]
                mine.append(p.item())
            print(f"{name}: {len(probs)} chunks; PyTorch version vs tinygrad max |diff| {np.abs(np.array(mine) - probs).max():.1e}; "
                  f"JIT (other weights) vs tinygrad {np.abs(np.array(scripted) - probs).max():.2f}")
            entry = {"name": name, "probabilities": probs}
            if name == "synthetic":
                entry["samples"] = [float(v) for v in x]
            out["signals"].append(entry)
    path = root / "Tests/AudioModelsTests/Fixtures/silero_goldens.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1])
