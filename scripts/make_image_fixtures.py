#!/usr/bin/env python3
"""Makes the tiny image fixtures of Tests/ImageModelsTests/Fixtures/images/ (needs Pillow:
`pip install pillow`). Rerunning rewrites them identically.

- One PNG per variant the decoder must handle: gray 1/4/8/16-bit, gray+alpha 8/16, RGB 8/16,
  RGBA 8/16, palette with and without transparency, an Adam7-interlaced RGB, and RGB files
  with gAMA / sRGB chunks (which must not change the samples). 8-bit non-palette
  files and 1-bit gray are written by Pillow; 16-bit colour, gray+alpha and interlaced files by the
  small hand-written encoder below (Pillow does not write them). `expected.json` holds every
  file's pixel values as stored in the file (row-major, interleaved, integers of its bit depth),
  which are what the decoder must return, exactly.
- Two JPEGs (RGB 4:2:0 and grayscale) with the pixels Pillow decodes from them (the reference the
  Swift decoder is compared to within a tolerance).
- `resize.json`: a 17x13 RGB image and Pillow's antialiased bilinear resizes of it (to 5x4, 8x20,
  23x19), both as 8-bit RGB (`Image.resize(..., BILINEAR)`, what torchvision's Resize does to a PIL
  image) and per channel in float mode "F" (the same filter without 8-bit rounding).
"""
import json
import os
import random
import struct
import zlib

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "ImageModelsTests", "Fixtures", "images")


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(width, height, color_type, bit_depth, rows, interlace=False):
    """rows: list of rows, each a flat list of samples (interleaved channels), 8 or 16 bits."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]

    def pack_rows(selected):
        raw = b""
        for row in selected:
            raw += b"\x00"  # filter type None
            if bit_depth == 16:
                raw += b"".join(struct.pack(">H", v) for v in row)
            else:
                raw += bytes(row)
        return raw

    if not interlace:
        raw = pack_rows(rows)
    else:
        # Adam7: (x0, y0, dx, dy) for each of the seven passes.
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            sub = []
            for y in range(y0, height, dy):
                sub.append([v for x in range(x0, width, dx) for v in rows[y][x * channels:(x + 1) * channels]])
            if sub and sub[0]:
                raw += pack_rows(sub)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(20240611)
    expected = {}

    def record(name, width, height, channels, bits, flat):
        expected[name] = {"width": width, "height": height, "channels": channels, "bits": bits, "pixels": flat}

    def samples(n, top):
        return [rng.randint(0, top) for _ in range(n)]

    w, h = 5, 3
    # 8-bit files written by Pillow.
    for name, mode, channels in [("gray8.png", "L", 1), ("gray_alpha8.png", "LA", 2),
                                 ("rgb8.png", "RGB", 3), ("rgba8.png", "RGBA", 4)]:
        flat = samples(w * h * channels, 255)
        if mode == "L":
            pixels = flat
        else:
            pixels = [tuple(flat[i:i + channels]) for i in range(0, len(flat), channels)]
        img = Image.new(mode, (w, h))
        img.putdata(pixels)
        img.save(os.path.join(OUT, name))
        record(name, w, h, channels, 8, flat)

    # 1-bit gray (Pillow mode "1"): values 0 or 255 after expansion to 8 bits.
    bits = samples(w * h, 1)
    img = Image.new("1", (w, h))
    img.putdata([b * 255 for b in bits])
    img.save(os.path.join(OUT, "gray1.png"))
    record("gray1.png", w, h, 1, 8, [b * 255 for b in bits])

    # 4-bit gray: Pillow cannot write it; pack two samples per byte by hand. 4-bit v expands to 17·v.
    nibbles = [samples(w, 15) for _ in range(h)]
    raw = b""
    for row in nibbles:
        padded = row + [0] * (len(row) % 2)
        raw += b"\x00" + bytes((padded[i] << 4) | padded[i + 1] for i in range(0, len(padded), 2))
    ihdr = struct.pack(">IIBBBBB", w, h, 4, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(os.path.join(OUT, "gray4.png"), "wb").write(data)
    record("gray4.png", w, h, 1, 8, [v * 17 for row in nibbles for v in row])

    # Palette, without and with transparency (tRNS).
    palette = samples(3 * 6, 255)
    indices = samples(w * h, 5)
    img = Image.new("P", (w, h))
    img.putpalette(palette)
    img.putdata(indices)
    img.save(os.path.join(OUT, "palette.png"))
    record("palette.png", w, h, 3, 8, [palette[3 * i + c] for i in indices for c in range(3)])
    alphas = [255, 0, 128, 200, 30, 255]
    img.save(os.path.join(OUT, "palette_trns.png"), transparency=bytes(alphas))
    record("palette_trns.png", w, h, 4, 8,
           [v for i in indices for v in (palette[3 * i], palette[3 * i + 1], palette[3 * i + 2], alphas[i])])

    # 16-bit files, hand-encoded (no gAMA chunk: libpng's simplified API takes them as linear).
    for name, color_type, channels, opaque in [("gray16.png", 0, 1, False), ("gray_alpha16.png", 4, 2, True),
                                               ("rgb16.png", 2, 3, False), ("rgba16.png", 6, 4, True)]:
        flat = samples(w * h * channels, 65535)
        if opaque:
            # Alpha mostly opaque, one pixel half-transparent, none fully transparent: libpng
            # premultiplies 16-bit colour by alpha, and the decoder's division back is only exact
            # where alpha is 65535 (see PNGCodec).
            for p in range(w * h):
                flat[p * channels + channels - 1] = 65535
            flat[7 * channels + channels - 1] = 40000
        rows = [flat[y * w * channels:(y + 1) * w * channels] for y in range(h)]
        open(os.path.join(OUT, name), "wb").write(encode_png(w, h, color_type, 16, rows))
        record(name, w, h, channels, 16, flat)

    # Colour-management chunks that the decoder must ignore (as Pillow does): gAMA 1.0 in an
    # 8-bit file (libpng would otherwise re-encode it as sRGB) and sRGB in a 16-bit file
    # (otherwise linearised). Same pixels as rgb8.png and rgb16.png.
    def with_chunk(source, kind, data):
        raw = open(os.path.join(OUT, source), "rb").read()
        ihdr_end = 8 + 25  # signature + IHDR chunk
        return raw[:ihdr_end] + chunk(kind, data) + raw[ihdr_end:]
    open(os.path.join(OUT, "rgb8_gamma.png"), "wb").write(with_chunk("rgb8.png", b"gAMA", struct.pack(">I", 100000)))
    expected["rgb8_gamma.png"] = expected["rgb8.png"]
    open(os.path.join(OUT, "rgb16_srgb.png"), "wb").write(with_chunk("rgb16.png", b"sRGB", b"\x00"))
    expected["rgb16_srgb.png"] = expected["rgb16.png"]

    # Adam7-interlaced 8-bit RGB, 9x10 so that every pass has pixels.
    iw, ih = 9, 10
    flat = samples(iw * ih * 3, 255)
    rows = [flat[y * iw * 3:(y + 1) * iw * 3] for y in range(ih)]
    open(os.path.join(OUT, "rgb8_interlaced.png"), "wb").write(encode_png(iw, ih, 2, 8, rows, interlace=True))
    record("rgb8_interlaced.png", iw, ih, 3, 8, flat)

    # JPEGs: a smooth RGB image (JPEG's home ground) and a gray one; expected = Pillow's decode.
    jw, jh = 16, 12
    rgb = Image.new("RGB", (jw, jh))
    rgb.putdata([(min(255, 12 * x + 3 * y), min(255, 20 * y + 5), (x * y * 3) % 256) for y in range(jh) for x in range(jw)])
    rgb.save(os.path.join(OUT, "rgb.jpg"), quality=90)
    decoded = Image.open(os.path.join(OUT, "rgb.jpg")).convert("RGB")
    record("rgb.jpg", jw, jh, 3, 8, list(decoded.tobytes()))
    gray = Image.new("L", (jw, jh))
    gray.putdata([(15 * x + 10 * y) % 256 for y in range(jh) for x in range(jw)])
    gray.save(os.path.join(OUT, "gray.jpg"), quality=92)
    decoded = Image.open(os.path.join(OUT, "gray.jpg"))
    record("gray.jpg", jw, jh, 1, 8, list(decoded.tobytes()))

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"), sort_keys=True)

    # Resize references.
    rw, rh = 17, 13
    src = [(rng.randint(0, 255), min(255, 15 * x + rng.randint(0, 20)), min(255, 19 * y)) for y in range(rh) for x in range(rw)]
    img = Image.new("RGB", (rw, rh))
    img.putdata(src)
    cases = []
    for tw, th in [(5, 4), (8, 20), (23, 19)]:
        out8 = img.resize((tw, th), Image.BILINEAR)
        floats = []
        for c in range(3):
            plane = Image.new("F", (rw, rh))
            plane.putdata([float(p[c]) for p in src])
            resized = plane.resize((tw, th), Image.BILINEAR).tobytes()
            floats.append([round(v, 3) for v in struct.unpack("=%df" % (tw * th), resized)])
        cases.append({"width": tw, "height": th, "rgb8": list(out8.tobytes()), "float": floats})
    with open(os.path.join(OUT, "resize.json"), "w") as f:
        json.dump({"width": rw, "height": rh, "pixels": [v for p in src for v in p], "cases": cases}, f,
                  separators=(",", ":"))


if __name__ == "__main__":
    main()
