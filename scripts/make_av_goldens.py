#!/usr/bin/env python3
"""Golden fixtures from PyTorch for LoRAKit's audio-visual speech model
(Tests/AudioVisualModelsTests/Fixtures/av_model.safetensors).

The model is AVSpeechModel of scripts/reference/av_peft.py (one definition), tiny: mels 6, width 8,
2 heads, FFN 16, 1 audio layer, 1 video layer, 1 fusion layer, 40 landmarks, 3 classes, default
initialisation under torch.manual_seed(11) except that every LayerNorm's weight and bias are random
(rand * 0.5 + 0.75, rand * 0.2 - 0.1) so that they are tested. The reference runs in float64 from
float32 values, so the goldens carry no float32 rounding of their own (the sinusoidal positions are
computed in float32, as Whisper does, then widened). The video convolutions are 1 -> 16 -> 32 -> 64
channels whatever the width, so video.conv3 (18 496 parameters) and its gradient are most of the file.
  model.<key>          the state dict (PyTorch's keys: audio.conv1.weight, audio.layers.0.self_attn.q_proj.
                       weight, video.conv1.weight, fusion.layers.0.cross_attn.k_proj.weight, ...)
  audio                [2, 6, 15] in [-1, 1) (odd Ta on purpose: 8 then 4 positions after the strides)
  video                [2, 4, 1, 16, 16] in [0, 1) (16 -> 8 -> 4 -> 2 after the three stride-2 convs)
  landmark_target      [2, 4, 40] in [-1, 1)
  targets              [2] int64 = [1, 2]
  landmarks            [2, 4, 40] = landmark_head(audio encoder), from the audio alone
  lips                 [2, 4, 40] model.lips(audio), the same values (asserted)
  logits               [2, 3]
  loss                 [1] mse_loss(landmarks, landmark_target) + cross_entropy(logits, targets) (means)
  grad_audio, grad_video, grad.<name>
                       gradients of that loss w.r.t. audio, video and every parameter

It also writes Fixtures/sync_model.safetensors for the sync model (task av_sync): SyncNet of av_peft.py
with mels 6, width 8, embedding 5, frame size 16 (torch.manual_seed(12)), run in float64:
  model.<key>          the state dict (audio.conv1.weight, ..., video.temporal.weight, video.out.bias)
  audio [2, 6, 30], video [2, 7, 1, 16, 16]    (7 frames: 30 // 4 = 7 audio steps, 3 windows)
  emb_audio, emb_video [2, 3, 5]                the window embeddings
  loss [1]                                      matching_loss(emb_video, emb_audio, shifts=1)
  grad_audio, grad_video, grad.<name>           its gradients
and SyncNet's clip score with syncnet_python's own code (calc_pdist, then SyncNetInstance.evaluate's
mean / min / median) on window features where the audio is the video moved by two windows plus noise:
  score_video, score_audio [12, 5]; score_v4 and score_v15 [3] = (LSE-D minval, LSE-C conf, offset)
  for vshift 4 and 15.
Run: python3 scripts/make_av_goldens.py   (needs torch, peft and safetensors)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from av_peft import AVSpeechModel, SyncNet, matching_loss  # noqa: E402  (av_peft drops scripts/reference from sys.path again)

import peft  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "AudioVisualModelsTests", "Fixtures")
gen = torch.Generator().manual_seed(20261205)

def rand(*shape):
    return torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1

def main():
    torch.set_num_threads(1)
    torch.manual_seed(11)
    model = AVSpeechModel(mels=6, width=8, heads=2, ffn=16, audio_layers=1, video_layers=1, fusion_layers=1,
                          landmarks=40, classes=3, size=16)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(torch.rand(module.weight.shape) * 0.5 + 0.75)
                module.bias.copy_(torch.rand(module.bias.shape) * 0.2 - 0.1)
    audio = rand(2, 6, 15)
    video = torch.rand(2, 4, 1, 16, 16, generator=gen, dtype=torch.float32)
    landmark_target = rand(2, 4, 40)
    targets = torch.tensor([1, 2], dtype=torch.int64)
    tensors = {"model." + k: v.detach().clone() for k, v in model.state_dict().items()}
    tensors.update({"audio": audio, "video": video, "landmark_target": landmark_target, "targets": targets})

    model = model.double()
    audio_leaf = audio.double().requires_grad_(True)
    video_leaf = video.double().requires_grad_(True)
    landmarks, logits = model(audio_leaf, video_leaf)
    assert landmarks.shape == (2, 4, 40) and logits.shape == (2, 3), (landmarks.shape, logits.shape)
    loss = F.mse_loss(landmarks, landmark_target.double()) + F.cross_entropy(logits, targets)
    loss.backward()
    with torch.no_grad():
        lips = model.lips(audio.double())
    assert torch.equal(lips, landmarks.detach()), (lips - landmarks).abs().max()
    tensors["landmarks"] = landmarks.detach().float()
    tensors["lips"] = lips.float()
    tensors["logits"] = logits.detach().float()
    tensors["loss"] = loss.detach().float().reshape(1)
    tensors["grad_audio"] = audio_leaf.grad.float()
    tensors["grad_video"] = video_leaf.grad.float()
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.float()

    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "av_model.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path,
              metadata={"source": "scripts/make_av_goldens.py", "torch": torch.__version__,
                        "peft": peft.__version__})
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors); "
          f"loss {loss.item():.6f}, max |landmarks| {tensors['landmarks'].abs().max():.4f}, "
          f"max |logits| {tensors['logits'].abs().max():.4f}")

def calc_pdist(feat1, feat2, vshift=10):
    """syncnet_python's calc_pdist (SyncNetInstance.py), verbatim."""
    win_size = vshift * 2 + 1
    feat2p = torch.nn.functional.pad(feat2, (0, 0, vshift, vshift))
    dists = []
    for i in range(0, len(feat1)):
        dists.append(torch.nn.functional.pairwise_distance(feat1[[i], :].repeat(win_size, 1), feat2p[i:i + win_size, :]))
    return dists


def sync_score(im_feat, cc_feat, vshift):
    """SyncNetInstance.evaluate's scoring of a clip: (minval = LSE-D, conf = LSE-C, offset)."""
    dists = calc_pdist(im_feat, cc_feat, vshift=vshift)
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    offset = vshift - minidx
    conf = torch.median(mdist) - minval
    return torch.tensor([minval.item(), conf.item(), float(offset.item())], dtype=torch.float32)


def sync_main():
    torch.manual_seed(12)
    model = SyncNet(mels=6, width=8, embedding=5, size=16)
    audio = rand(2, 6, 30)
    video = torch.rand(2, 7, 1, 16, 16, generator=gen, dtype=torch.float32)
    tensors = {"model." + k: v.detach().clone() for k, v in model.state_dict().items()}
    tensors.update({"audio": audio, "video": video})
    model = model.double()
    audio_leaf = audio.double().requires_grad_(True)
    video_leaf = video.double().requires_grad_(True)
    emb_audio, emb_video = model(audio_leaf, video_leaf)
    assert emb_audio.shape == (2, 3, 5) and emb_video.shape == (2, 3, 5)
    loss = matching_loss(emb_video, emb_audio, shifts=1)
    loss.backward()
    tensors["emb_audio"] = emb_audio.detach().float()
    tensors["emb_video"] = emb_video.detach().float()
    tensors["loss"] = loss.detach().float().reshape(1)
    tensors["grad_audio"] = audio_leaf.grad.float()
    tensors["grad_video"] = video_leaf.grad.float()
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.float()
    # Window features: the audio is the video two windows later, plus noise.
    feat_video = torch.rand(14, 5, generator=gen, dtype=torch.float32)
    feat_audio = feat_video[2:] + 0.1 * rand(12, 5)
    feat_video = feat_video[:12].contiguous()
    tensors["score_video"] = feat_video
    tensors["score_audio"] = feat_audio
    tensors["score_v4"] = sync_score(feat_video.double(), feat_audio.double(), 4)
    tensors["score_v15"] = sync_score(feat_video.double(), feat_audio.double(), 15)
    path = os.path.join(OUT, "sync_model.safetensors")
    save_file({k: v.contiguous() for k, v in tensors.items()}, path,
              metadata={"source": "scripts/make_av_goldens.py", "torch": torch.__version__})
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors); loss {loss.item():.6f}, "
          f"scores {tensors['score_v4'].tolist()} {tensors['score_v15'].tolist()}")


if __name__ == "__main__":
    main()
    sync_main()
