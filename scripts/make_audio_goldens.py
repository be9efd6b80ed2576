#!/usr/bin/env python3
"""Goldens for LoRAKit's audio features, from the reference implementations:

- Whisper's log-mel spectrogram, computed as `whisper.audio.log_mel_spectrogram` does (torch.stft,
  periodic Hann, |X|² without the last frame, librosa's Slaney mel filters, log10, max − 8,
  (x + 4) / 4); cross-checked against transformers' WhisperFeatureExtractor (NumPy, float64).
- Kaldi filterbanks and MFCCs from `torchaudio.compliance.kaldi`, run in float64 — the input and
  torch's default dtype, so its mel banks too (torchaudio's own kaldi.py, loaded
  from the torchaudio wheel: its C++ extension does not load with this torch, and kaldi.py needs
  only `torchaudio.functional.create_dct`, supplied here with torchaudio's formula).

Signals: a synthetic one (a chirp, two tones and seeded noise; written as Fixtures/synthetic.wav,
16-bit) and the first 1.5 s of a real recording shipped by Debian's pocketsphinx-testdata
(LibriVox, 16 kHz), read by the tests from /usr/share/pocketsphinx.

Usage: pip download --no-deps torchaudio -d /tmp/ta && scripts/make_audio_goldens.py /tmp/ta/torchaudio-*.whl
Writes Tests/AudioTests/Fixtures/features.json and synthetic.wav."""
import importlib.util, json, math, pathlib, sys, tempfile, types, wave, zipfile
import numpy as np
import torch
from transformers import WhisperFeatureExtractor
from transformers.audio_utils import mel_filter_bank

root = pathlib.Path(__file__).resolve().parent.parent
fixtures = root / "Tests/AudioTests/Fixtures"
REAL = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"

def load_kaldi(wheel):
    tmp = pathlib.Path(tempfile.mkdtemp())
    with zipfile.ZipFile(wheel) as z:
        z.extract("torchaudio/compliance/kaldi.py", tmp)
    def create_dct(n_mfcc, n_mels, norm):          # torchaudio.functional.create_dct
        n = torch.arange(float(n_mels))
        k = torch.arange(float(n_mfcc)).unsqueeze(1)
        dct = torch.cos(math.pi / float(n_mels) * (n + 0.5) * k)
        if norm is None:
            dct *= 2.0
        else:
            dct[0] *= 1.0 / math.sqrt(2.0)
            dct *= math.sqrt(2.0 / float(n_mels))
        return dct.t()
    sys.modules["torchaudio"] = types.SimpleNamespace(functional=types.SimpleNamespace(create_dct=create_dct))
    spec = importlib.util.spec_from_file_location("kaldi", tmp / "torchaudio/compliance/kaldi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    del sys.modules["torchaudio"]            # kaldi.py keeps its own reference
    return module

def read_wav(path, frames=None):
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        data = np.frombuffer(w.readframes(frames or w.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768

def whisper_log_mel(audio, n_mels=80):
    filters = torch.from_numpy(mel_filter_bank(num_frequency_bins=201, num_mel_filters=n_mels, min_frequency=0.0,
                                               max_frequency=8000.0, sampling_rate=16000, norm="slaney",
                                               mel_scale="slaney").T.astype(np.float32))
    audio = torch.from_numpy(audio)
    window = torch.hann_window(400)
    stft = torch.stft(audio, 400, 160, window=window, return_complex=True)
    magnitudes = stft[..., :-1].abs() ** 2
    mel_spec = filters @ magnitudes
    log_spec = torch.clamp(mel_spec, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).numpy()

def main(wheel):
    kaldi = load_kaldi(wheel)
    rng = np.random.default_rng(0)
    t = np.arange(20000) / 16000
    synthetic = (0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.2 * np.sin(2 * np.pi * 440 * t)
                 + 0.1 * np.sin(2 * np.pi * 3000 * t) + 0.05 * rng.standard_normal(t.size))
    pcm = np.clip(np.round(synthetic * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(fixtures / "synthetic.wav"), "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(pcm.tobytes())
    signals = {"synthetic": read_wav(fixtures / "synthetic.wav"), "speech": read_wav(REAL, 24000)}
    out = {"speech_file": REAL, "speech_frames": 24000}
    extractor = WhisperFeatureExtractor()
    for name, x in signals.items():
        w = whisper_log_mel(x)
        # Cross-check with transformers (float64 NumPy, 30-second padding): same on the 30-s input.
        padded = np.pad(x, (0, 480000 - x.size))
        ref = extractor(padded, sampling_rate=16000, return_tensors="np", padding=False).input_features[0]
        ours = whisper_log_mel(padded)
        print(f"{name}: whisper torch vs transformers (30 s): max |diff| {np.abs(ref - ours).max():.2e}")
        # Float64 throughout (input and torch's default dtype, which kaldi.py's mel banks use): in
        # float32 the reference's own rounding moves MFCCs by ~1e-4 (lifter × DCT of rounded banks).
        wave_t = torch.from_numpy(x * 32768).unsqueeze(0).double()
        torch.set_default_dtype(torch.float64)
        fb = kaldi.fbank(wave_t, num_mel_bins=80, dither=0.0).numpy()
        mf = kaldi.mfcc(wave_t, dither=0.0).numpy()
        fb_variant = kaldi.fbank(wave_t, num_mel_bins=40, dither=0.0, snip_edges=False, use_energy=True, window_type="hamming",
                                 raw_energy=False, low_freq=60, high_freq=-400).numpy()
        mf_variant = kaldi.mfcc(wave_t, dither=0.0, num_ceps=20, num_mel_bins=40, use_energy=True, cepstral_lifter=0.0).numpy()
        torch.set_default_dtype(torch.float32)
        out[name] = {
            "whisper": {"shape": list(w.shape), "values": [float(f"{v:.6g}") for v in w.reshape(-1)]},
            "whisper_padded_head": {"shape": [80, 20], "values": [float(f"{v:.6g}") for v in ours[:, :20].reshape(-1)]},
            "fbank80": {"shape": list(fb.shape), "values": [float(f"{v:.6g}") for v in fb.reshape(-1)]},
            "mfcc": {"shape": list(mf.shape), "values": [float(f"{v:.6g}") for v in mf.reshape(-1)]},
            "fbank_variant": {"shape": list(fb_variant.shape), "values": [float(f"{v:.6g}") for v in fb_variant.reshape(-1)]},
            "mfcc_variant": {"shape": list(mf_variant.shape), "values": [float(f"{v:.6g}") for v in mf_variant.reshape(-1)]},
        }
    (fixtures / "features.json").write_text(json.dumps(out) + "\n")
    print("wrote", fixtures / "features.json")

if __name__ == "__main__":
    main(sys.argv[1])
