#!/usr/bin/env python3
"""The golden of recipes/vision/resnet34_lora.yaml: torchvision's ResNet-34 logits for one image.

Writes Tests/LoRAKitCLITests/Fixtures/vision_resnet34_golden.json, which VisionRecipeTests checks
`lorakit predict recipes/vision/resnet34_lora.yaml model.classes=1000 --weights W --input img.png`
against. No weights are committed: the model is torchvision's ResNet-34 with 1000 classes and the
closed-formula weights of scripts/make_resnet_goldens.py (`formula`, `set_formula_weights`; the
Swift side is Sources/TestSupport/FormulaWeights.swift), and the image is defined by an integer
formula, so Swift and Python build identical bytes without floating point:

    pixel(x, y, c) = (7x + 13y + 50c + (x·y mod 37)) mod 256      x, y in 0..<224, c = R, G, B

Preprocessing is the recipe's evaluation pipeline: resize (shorter side 224), center crop 224,
random_resized_crop (at evaluation a resize to 224 × 224), /255, ImageNet normalisation. For a
224 × 224 image the resizes and the crop are identities (LoRAKit's Resize returns its input unchanged
at equal size, as torchvision's does), so here the image goes straight to ToTensor + Normalize:
    x = (uint8 / 255 - mean) / std       mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225)
computed in float32 as torchvision does. model.eval() (running statistics) then runs in float64
from those float32 values and weights; the fixture also records how far PyTorch's own float32 run
lies from that reference (max |Δ| / max |logit|).

    pip install --no-deps --target /tmp/torchvision-src torchvision
    python3 scripts/make_vision_golden.py [/tmp/torchvision-src]
(needs torch; torchvision's models/resnet.py is loaded alone from that directory, never put on
sys.path; the tests never need Python)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet_goldens import build, load_resnet_module, relative_error, set_formula_weights  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LoRAKitCLITests", "Fixtures")
SIZE = 224
CLASSES = 1000
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
IMAGE_FORMULA = "(7x + 13y + 50c + (x*y mod 37)) mod 256"


def formula_image():
    """The [3, SIZE, SIZE] uint8 image, channel c, row y, column x."""
    y = torch.arange(SIZE, dtype=torch.int64).reshape(1, SIZE, 1)
    x = torch.arange(SIZE, dtype=torch.int64).reshape(1, 1, SIZE)
    c = torch.arange(3, dtype=torch.int64).reshape(3, 1, 1)
    return ((x * 7 + y * 13 + c * 50 + (x * y) % 37) % 256).to(torch.uint8)


def preprocess(image):
    """ToTensor then Normalize, in float32 as torchvision computes them."""
    x = image.to(torch.float32) / 255
    mean = torch.tensor(MEAN, dtype=torch.float32).reshape(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).reshape(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def logits(resnet, x, dtype):
    model = build(resnet, "resnet34", CLASSES)
    set_formula_weights(model)
    model = model.to(dtype).eval()
    with torch.no_grad():
        return model(x.to(dtype)).reshape(-1)


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "/tmp/torchvision-src"
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    resnet, where = load_resnet_module(source)
    print("reference:", where)
    image = formula_image()
    x = preprocess(image)
    reference = logits(resnet, x, torch.float64)
    float32 = logits(resnet, x, torch.float32)
    error = relative_error(float32, reference)
    values = reference.float().tolist()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "vision_resnet34_golden.json")
    with open(path, "w") as f:
        f.write("{\n")
        f.write(f'"reference": "torchvision models/resnet.py ResNet-34, {CLASSES} classes, formula weights, eval mode",\n')
        f.write(f'"image_formula": "{IMAGE_FORMULA}",\n')
        f.write(f'"size": {SIZE},\n')
        f.write(f'"pixel_sum": {int(image.to(torch.int64).sum())},\n')
        f.write(f'"mean": {json.dumps(MEAN)},\n"std": {json.dumps(STD)},\n')
        f.write(f'"torch_float32_error": {error:.3g},\n')
        f.write('"logits": [\n')
        rows = [", ".join(f"{v:.7g}" for v in values[i:i + 10]) for i in range(0, len(values), 10)]
        f.write(",\n".join(rows))
        f.write("\n]\n}\n")
    print(f"wrote {path}: |logits| max {reference.abs().max().item():.4g}, argmax {int(reference.argmax())}, "
          f"PyTorch float32 relative error {error:.2g}")


if __name__ == "__main__":
    main()
