#!/usr/bin/env python3
"""PyTorch + PEFT reference for `lorakit bench av`.

Times a training step (forward, loss, backward, AdamW step) of an audio-visual speech model
(AVSpeechModel below) over log-mel spectrograms and grey mouth frames, random weights
(torch.manual_seed(42)), batch 8 of 3 s clips (300 mel frames × 80 mels at 100 fps, 75 video frames
of 48 × 48 at 25 fps), width 128, 4 heads, FFN 512, 4 audio layers, 2 video layers, 2 fusion layers,
40 landmarks, 10 classes, torch.set_num_threads(2). The loss is mse_loss(landmarks, random target
[N, Tv, 40]) + cross_entropy(logits, random labels). The modes of `lorakit bench av`:

    lora-r8   PEFT LoRA r=8, alpha 16, dropout 0 on every q_proj, k_proj, v_proj, out_proj, fc1, fc2,
              proj, temporal and the conv1 / conv2 / conv3 of both encoders (landmark_head and
              classifier trained in full: modules_to_save), AdamW lr 1e-3
    full      every parameter trained, AdamW lr 1e-4

AVSpeechModel (LayerNorm eps 1e-5, exact (erf) GELU everywhere; positions are not parameters):
    audio   a [N, mels, Ta] -> gelu(conv1 (k3, p1)) -> gelu(conv2 (k3, s2, p1)) -> gelu(conv3 (k3, s2, p1))
            -> [N, Ta', d] (Ta' = ceil(ceil(Ta / 2) / 2), 25 Hz) + sinusoids -> audio_layers encoder layers
            -> layer_norm = A
    video   v [N, Tv, 1, S, S] -> per frame gelu(Conv2d 1->16, 16->32, 32->64, each k3 s2 p1) -> mean over
            space kept: flattened [64 x S/8 x S/8] -> proj (-> d) -> frame_norm (LayerNorm) -> gelu(temporal Conv1d(d, d, 3, p1) over time) + sinusoids
            -> video_layers encoder layers -> layer_norm = V
    fusion  F = A; per layer F += cross_attn(cross_attn_layer_norm(F), kv_layer_norm(V)) (audio queries,
            video keys and values, no mask); F += fc2(gelu(fc1(final_layer_norm(F)))); F = layer_norm(F)
    heads   landmarks = landmark_head(A) [N, Ta', 40] (from the audio alone: lips(a) computes just this);
            logits = classifier(F.mean(dim=1)) [N, classes]
The encoder layer is EncoderLayer of audio_peft.py (AudioTransformer's pre-norm layer, one definition:
k_proj without bias); the cross attention has the same four projections (SelfAttention's).

Each mode runs in a fresh subprocess, so its peak resident memory (VmHWM) is its own. Prints one JSON
array of {mode, step_ms (median), items_per_s, seconds_per_s (items × clip seconds), peak_rss_mib,
trainable_params, cpu_ms (median processor time of a step, all threads: the work, which other processes
inflate far less)}, one object per mode and round. With --lorakit, also runs `lorakit bench av --json`
in the same window, mode by mode alternating with PEFT (the side that goes first alternates round by
round, so that both sides of each ratio see the same machine load), --rounds times; prints every round
and the per-mode ratios of the medians (LoRAKit / PEFT step time and peak memory: < 1 means LoRAKit is
faster or smaller) to stderr, and {"rounds": [{"peft": [...], "lorakit": [...]}, ...]} to stdout:

    python3 scripts/reference/av_peft.py --rounds 1                      # PEFT only, JSON
    python3 scripts/reference/av_peft.py --lorakit .build/release/lorakit # side by side, 3 rounds

AVSpeechModel is also the model of scripts/make_av_goldens.py (one definition).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from audio_peft import EncoderLayer, SelfAttention, alternate, fmt, peak_rss_mib, sinusoids  # noqa: E402

# This directory holds kernels.py, which would shadow the `kernels` package that transformers (under
# peft) looks for: drop it from sys.path again, however this file was reached (audio_peft does so only
# on its first import).
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

MODES = ["lora-r8", "full"]
LANDMARKS = 40
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2", "conv1", "conv2", "conv3", "proj", "temporal"]
LORA_SAVED = ["landmark_head", "classifier"]


def positions(h):
    """sinusoids for h [N, T, d], float32 as Whisper computes them, then in h's dtype."""
    return sinusoids(h.shape[1], h.shape[2]).to(h.dtype)


class CrossAttention(SelfAttention):
    """SelfAttention's projections (q, v, out with bias, k without), queries from one sequence and keys
    and values from another: q_in [N, Tq, d], kv_in [N, Tk, d] -> [N, Tq, d]."""

    def forward(self, q_in, kv_in):
        n, tq, d = q_in.shape
        tk = kv_in.shape[1]

        def split(x, t):
            return x.view(n, t, self.heads, d // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(q_in), tq), split(self.k_proj(kv_in), tk),
                                             split(self.v_proj(kv_in), tk))
        return self.out_proj(out.transpose(1, 2).reshape(n, tq, d))


class FusionLayer(nn.Module):
    def __init__(self, width, heads, ffn):
        super().__init__()
        self.cross_attn = CrossAttention(width, heads)
        self.cross_attn_layer_norm = nn.LayerNorm(width)
        self.kv_layer_norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, ffn)
        self.fc2 = nn.Linear(ffn, width)
        self.final_layer_norm = nn.LayerNorm(width)

    def forward(self, f, v):
        f = f + self.cross_attn(self.cross_attn_layer_norm(f), self.kv_layer_norm(v))
        return f + self.fc2(F.gelu(self.fc1(self.final_layer_norm(f))))


class AudioEncoder(nn.Module):
    def __init__(self, mels, width, heads, ffn, layers):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(width, width, kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList([EncoderLayer(width, heads, ffn) for _ in range(layers)])
        self.layer_norm = nn.LayerNorm(width)

    def forward(self, a):
        h = F.gelu(self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(a))))))  # [N, d, ceil(ceil(Ta / 2) / 2)]
        h = h.permute(0, 2, 1)
        h = h + positions(h)
        for layer in self.layers:
            h = layer(h)
        return self.layer_norm(h)


class VideoEncoder(nn.Module):
    def __init__(self, width, heads, ffn, layers, size=48):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1)
        cells = ((((size + 1) // 2 + 1) // 2 + 1) // 2) ** 2       # the feature map after three stride-2 convs
        self.proj = nn.Linear(64 * cells, width)
        self.frame_norm = nn.LayerNorm(width)
        self.temporal = nn.Conv1d(width, width, kernel_size=3, padding=1)
        self.layers = nn.ModuleList([EncoderLayer(width, heads, ffn) for _ in range(layers)])
        self.layer_norm = nn.LayerNorm(width)

    def forward(self, v):
        n, t, c, s, s2 = v.shape
        x = v.reshape(n * t, c, s, s2)
        x = F.gelu(self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(x))))))
        x = self.frame_norm(self.proj(x.flatten(1))).reshape(n, t, -1)  # [N, Tv, d]
        x = F.gelu(self.temporal(x.permute(0, 2, 1))).permute(0, 2, 1)
        x = x + positions(x)
        for layer in self.layers:
            x = layer(x)
        return self.layer_norm(x)


class Fusion(nn.Module):
    def __init__(self, width, heads, ffn, layers):
        super().__init__()
        self.layers = nn.ModuleList([FusionLayer(width, heads, ffn) for _ in range(layers)])
        self.layer_norm = nn.LayerNorm(width)

    def forward(self, a, v):
        f = a
        for layer in self.layers:
            f = layer(f, v)
        return self.layer_norm(f)


class AVSpeechModel(nn.Module):
    """Audio-visual speech model: (a [N, mels, Ta], v [N, Tv, 1, S, S]) -> (landmarks [N, Ta', landmarks],
    logits [N, classes]); Ta' = ceil(ceil(Ta / 2) / 2), = Tv when Ta = 4 Tv. LayerNorm eps 1e-5, exact
    (erf) GELU; the positions are not a parameter and not in the state dict."""

    def __init__(self, mels, width, heads, ffn, audio_layers, video_layers, fusion_layers, landmarks=LANDMARKS,
                 classes=10, size=48):
        super().__init__()
        self.audio = AudioEncoder(mels, width, heads, ffn, audio_layers)
        self.video = VideoEncoder(width, heads, ffn, video_layers, size)
        self.fusion = Fusion(width, heads, ffn, fusion_layers)
        self.landmark_head = nn.Linear(width, landmarks)
        self.classifier = nn.Linear(width, classes)

    def lips(self, a):
        """The landmarks from the audio alone (no video): landmark_head(audio(a)), [N, Ta', landmarks]."""
        return self.landmark_head(self.audio(a))

    def forward(self, a, v):
        audio = self.audio(a)
        fused = self.fusion(audio, self.video(v))
        return self.landmark_head(audio), self.classifier(fused.mean(dim=1))


class SyncAudio(nn.Module):
    """log-mel [N, mels, 4T] -> gelu(conv1 (k4, s4)) -> gelu(conv2 (k5)) -> out (k1) -> [N, T - 4, embedding]."""

    def __init__(self, mels, width, embedding):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, width, kernel_size=4, stride=4)
        self.conv2 = nn.Conv1d(width, width, kernel_size=5)
        self.out = nn.Conv1d(width, embedding, kernel_size=1)

    def forward(self, a):
        return self.out(F.gelu(self.conv2(F.gelu(self.conv1(a))))).permute(0, 2, 1)


class SyncVideo(nn.Module):
    """frames [N, T, 1, S, S] -> per frame gelu(Conv2d 1->16, 16->32, 32->64, each k3 s2 p1), flattened ->
    gelu(proj) -> gelu(temporal Conv1d (k5) over frames) -> out (k1) -> [N, T - 4, embedding]."""

    def __init__(self, width, embedding, size=48):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1)
        cells = ((((size + 1) // 2 + 1) // 2 + 1) // 2) ** 2
        self.proj = nn.Linear(64 * cells, width)
        self.temporal = nn.Conv1d(width, width, kernel_size=5)
        self.out = nn.Conv1d(width, embedding, kernel_size=1)

    def forward(self, v):
        n, t, c, s, s2 = v.shape
        x = v.reshape(n * t, c, s, s2)
        x = F.gelu(self.conv3(F.gelu(self.conv2(F.gelu(self.conv1(x))))))
        x = F.gelu(self.proj(x.flatten(1))).reshape(n, t, -1).permute(0, 2, 1)
        return self.out(F.gelu(self.temporal(x))).permute(0, 2, 1)


class SyncNet(nn.Module):
    """LoRAKit's sync model (task av_sync): (audio [N, mels, 4T], video [N, T, 1, S, S]) -> window
    embeddings (audio, video), each [N, T - 4, embedding]."""

    def __init__(self, mels, width, embedding, size=48):
        super().__init__()
        self.audio = SyncAudio(mels, width, embedding)
        self.video = SyncVideo(width, embedding, size)

    def forward(self, a, v):
        return self.audio(a), self.video(v)


def matching_loss(v, a, shifts):
    """Multi-way matching: video windows t in [shifts, W - shifts) against audio windows t + k, k in
    -shifts..shifts; logits -sqrt(||v - a||^2 + 1e-6); cross-entropy towards k = 0 (mean)."""
    n, w, _ = v.shape
    m = w - 2 * shifts
    anchors = v[:, shifts:shifts + m]
    d = [((anchors - a[:, shifts + k:shifts + k + m]) ** 2).sum(-1).add(1e-6).sqrt() for k in range(-shifts, shifts + 1)]
    logits = -torch.stack(d, dim=2).reshape(n * m, 2 * shifts + 1)
    return F.cross_entropy(logits, torch.full((n * m,), shifts, dtype=torch.int64))


def frames(args):
    """(Ta, Tv): round(seconds × 100) mel frames and round(seconds × 25) video frames, halves away from
    zero (as Swift's rounded()), checked to agree after the two stride-2 convolutions."""
    ta, tv = math.floor(args.seconds * 100 + 0.5), math.floor(args.seconds * 25 + 0.5)
    if tv < 1 or (ta + 3) // 4 != tv:
        raise SystemExit(f"--seconds {args.seconds}: {ta} mel frames give {(ta + 3) // 4} audio positions, "
                         f"not the {tv} video frames (use a multiple of 0.04 s)")
    return ta, tv


def run_mode(mode, args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    model = AVSpeechModel(args.mels, args.width, args.heads, args.ffn, args.audio_layers, args.video_layers,
                          args.fusion_layers, LANDMARKS, args.classes, args.size)
    if mode == "lora-r8":
        from peft import LoraConfig, get_peft_model
        lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=LORA_TARGETS,
                          modules_to_save=LORA_SAVED)
        model = get_peft_model(model, lora)
        lr = 1e-3
    elif mode == "full":
        lr = 1e-4
    else:
        raise SystemExit(f"unknown mode {mode!r} (modes: {', '.join(MODES)})")
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=lr)
    ta, tv = frames(args)
    a = torch.randn(args.batch, args.mels, ta)
    v = torch.rand(args.batch, tv, 1, args.size, args.size)
    target = torch.randn(args.batch, tv, LANDMARKS)
    labels = torch.randint(0, args.classes, (args.batch,))
    times, cpu_times = [], []
    for step in range(args.warmup + args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        landmarks, logits = model(a, v)
        loss = F.mse_loss(landmarks, target) + F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        ms = (time.perf_counter() - start) * 1e3
        if step >= args.warmup:
            times.append(ms)
            cpu_times.append((time.process_time() - cpu_start) * 1e3)
    median = statistics.median(times)
    items = args.batch / (median / 1000)
    return {"mode": mode, "step_ms": round(median, 1), "items_per_s": round(items, 2),
            "seconds_per_s": round(items * args.seconds, 2), "peak_rss_mib": round(peak_rss_mib(), 1),
            "trainable_params": sum(p.numel() for p in parameters),
            "cpu_ms": round(statistics.median(cpu_times), 1)}


def complete(result, args):
    """Fills the keys a side may leave out from those it gave (step_ms <-> items_per_s, seconds_per_s);
    what cannot be computed stays None."""
    step, items = result.get("step_ms"), result.get("items_per_s")
    if items is None and step:
        result["items_per_s"] = items = round(args.batch / (step / 1000), 2)
    if step is None and items:
        result["step_ms"] = round(args.batch / items * 1000, 1)
    if result.get("seconds_per_s") is None and items is not None:
        result["seconds_per_s"] = round(items * args.seconds, 2)
    for key in ("step_ms", "items_per_s", "seconds_per_s", "peak_rss_mib", "trainable_params", "cpu_ms"):
        result.setdefault(key, None)
    return result


def shape_flags(args):
    return ["--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads),
            "--batch", str(args.batch), "--seconds", str(args.seconds), "--size", str(args.size),
            "--mels", str(args.mels), "--width", str(args.width), "--heads", str(args.heads),
            "--ffn", str(args.ffn), "--audio-layers", str(args.audio_layers),
            "--video-layers", str(args.video_layers), "--fusion-layers", str(args.fusion_layers),
            "--classes", str(args.classes)]


def child_command(mode, args):
    return [sys.executable, os.path.abspath(__file__), "--child", mode] + shape_flags(args)


def lorakit_command(mode, args):
    return [args.lorakit, "bench", "av", "--json", "--modes", mode] + shape_flags(args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="clip length: round(seconds × 100) mel frames, round(seconds × 25) video frames")
    parser.add_argument("--size", type=int, default=48, help="side of the square grey mouth frames")
    parser.add_argument("--mels", type=int, default=80)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ffn", type=int, default=512)
    parser.add_argument("--audio-layers", type=int, default=4)
    parser.add_argument("--video-layers", type=int, default=2)
    parser.add_argument("--fusion-layers", type=int, default=2)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lorakit", help="path of a release-built lorakit to run in the same window")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    frames(args)  # fail early on a clip length whose audio and video frames disagree
    if args.child:
        print(json.dumps(run_mode(args.child, args)))
        return
    alternate(args, child_command, lorakit_command, complete,
              lambda r: f"{fmt(r['items_per_s'], '.2f', 7)} clips/s, {fmt(r['seconds_per_s'], '.1f', 7)} s/s")

if __name__ == "__main__":
    main()
