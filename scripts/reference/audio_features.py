#!/usr/bin/env python3
"""Feature extraction of an hour of 16 kHz audio: PyTorch (Whisper's log-mel recipe: torch.stft,
|X|², mel filters, log10) and torchaudio.compliance.kaldi (fbank with 80 bins, MFCC with its
defaults), against `lorakit bench audio-features`, each in a fresh process, alternated round by
round (this machine's speed drifts between minutes). Prints every round and the medians' ratios.

torchaudio's C++ extension does not load with this torch, so its kaldi.py is loaded from the wheel
as scripts/make_audio_goldens.py does (it needs only create_dct, supplied with torchaudio's formula).

Usage: scripts/reference/audio_features.py --wheel /tmp/ta/torchaudio-*.whl [--lorakit .build/release/lorakit]
       [--seconds 3600] [--rounds 3] [--threads 2]"""
import argparse, importlib.util, json, pathlib, statistics, subprocess, sys, time

root = pathlib.Path(__file__).resolve().parents[2]

def torch_child(args):
    import numpy as np, torch
    torch.set_num_threads(args.threads)
    spec = importlib.util.spec_from_file_location("g", root / "scripts/make_audio_goldens.py")
    goldens = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(goldens)
    kaldi = goldens.load_kaldi(args.wheel)
    n = int(args.seconds * 16000)
    t = np.arange(n) / 16000
    rng = np.random.default_rng(1)
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t) + (rng.random(n) - 0.5) * 0.1).astype(np.float32)
    scaled = torch.from_numpy(x * 32768).unsqueeze(0)
    out = {"implementation": "torch"}
    for name, body in [("whisper_s", lambda: goldens.whisper_log_mel(x)),
                       ("fbank_s", lambda: kaldi.fbank(scaled, num_mel_bins=80, dither=0.0)),
                       ("mfcc_s", lambda: kaldi.mfcc(scaled, dither=0.0))]:
        start = time.perf_counter()
        body()
        out[name] = time.perf_counter() - start
    print(json.dumps(out))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--wheel", required=True)
    p.add_argument("--lorakit", default=str(root / ".build/release/lorakit"))
    p.add_argument("--seconds", type=float, default=3600)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--child", action="store_true")
    args = p.parse_args()
    if args.child:
        return torch_child(args)
    rows = {"torch": [], "lorakit": []}
    for r in range(args.rounds):
        order = ["torch", "lorakit"] if r % 2 == 0 else ["lorakit", "torch"]
        for who in order:
            if who == "torch":
                cmd = [sys.executable, __file__, "--child", "--wheel", args.wheel, "--seconds", str(args.seconds), "--threads", str(args.threads)]
            else:
                cmd = [args.lorakit, "bench", "audio-features", "--json", "--rounds", "1", "--seconds", str(args.seconds), "--threads", str(args.threads)]
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            rows[who].append(result)
            print(f"round {r + 1} {who:8s} whisper {result['whisper_s']:.2f} s  fbank {result['fbank_s']:.2f} s  mfcc {result['mfcc_s']:.2f} s", flush=True)
    for key in ["whisper_s", "fbank_s", "mfcc_s"]:
        t, l = statistics.median(x[key] for x in rows["torch"]), statistics.median(x[key] for x in rows["lorakit"])
        print(f"{key[:-2]:8s} median torch {t:.2f} s, lorakit {l:.2f} s: lorakit takes {l / t:.2f}× torch's time")

if __name__ == "__main__":
    main()
