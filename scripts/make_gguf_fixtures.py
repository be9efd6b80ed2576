#!/usr/bin/env python3
"""Writes the GGUF fixtures of Tests/GGUFTests/Fixtures with the `gguf` package (the reference
implementation's Python side, `pip install gguf`), and what that package reads back from them.

    python3 scripts/make_gguf_fixtures.py             # small fixtures, committed
    python3 scripts/make_gguf_fixtures.py --model     # + checksums of the real SmolLM2 GGUF

Fixtures (all small, no model weights):
  types.gguf / types.json       one tensor of every type LoRAKit dequantises (F32, F16, BF16, Q8_0,
                                Q4_0, Q4_1) in 1-4 dimensions, quantised by `gguf.quants` from random
                                values and also made of random raw blocks (any f16 scale, NaN and
                                infinity included), plus Q5_0, Q6_K and I32 tensors LoRAKit refuses;
                                the JSON has every tensor's table entry and the bit patterns of the
                                floats `gguf.quants.dequantize` gives, and the byte offsets of the
                                header fields the malformed-file tests corrupt.
  metadata.gguf / metadata.json metadata of every GGUF value type, arrays of each (strings, nested
                                arrays), extreme integers, unicode; a custom alignment of 64.
  empty_array.gguf / .json      an empty array and no tensors (the writer refuses empty arrays,
                                so this one is written by hand, and read back by the reference).
  v2.gguf / v2.json             a version-2 file (same layout; the reference reads both).

With --model, smollm2_checksums.json gets, for every tensor of SmolLM2-135M-Instruct.Q4_1.gguf
(fetched by scripts/fetch_smollm2), its type, shapes and the SHA-256 of the little-endian F32
bytes that `gguf.quants.dequantize` produces, so that the Swift test can check that all 272
tensors dequantise identically without committing the model.
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFReader, GGUFValueType as V
from gguf.quants import dequantize, quantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "GGUFTests", "Fixtures")
MODEL = os.path.join(ROOT, "data", "models", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def bits(values: np.ndarray) -> list[int]:
    """Float32 values as their bit patterns (exact, NaN payloads included)."""
    return [int(x) for x in np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).ravel()]


def offset_of(reader: GGUFReader, part: np.ndarray) -> int:
    return part.__array_interface__["data"][0] - reader.data.__array_interface__["data"][0]


def tensor_table(reader: GGUFReader, supported: set) -> list[dict]:
    rows = []
    for t in reader.tensors:
        name_len, _, n_dims, dims, raw_type, offset = t.field.parts
        row = {
            "name": t.name,
            "type": t.tensor_type.name,
            "dimensions": [int(d) for d in t.shape],            # ne0 first, as stored
            "shape": [int(d) for d in reversed(t.shape.tolist())],
            "offset": int(t.data_offset) - int(reader.data_offset),   # from the data section
            "byte_count": int(t.n_bytes),
            "element_count": int(t.n_elements),
            "field_offsets": {
                "name": offset_of(reader, name_len), "n_dims": offset_of(reader, n_dims),
                "dims": offset_of(reader, dims), "type": offset_of(reader, raw_type),
                "offset": offset_of(reader, offset),
            },
        }
        if t.tensor_type in supported:
            with np.errstate(all="ignore"):       # the raw blocks have NaN and infinite scales
                values = dequantize(t.data, t.tensor_type).astype(np.float32)
            row["values"] = bits(values)
        rows.append(row)
    return rows


def nested_contents(field):
    """The reader's `contents()` flattens arrays of arrays (a FIXME in gguf_reader.py); rebuild the
    nesting from the parts it read: an array's parts are its element type, its count, then each
    element's parts."""
    parts = field.parts[3:]          # after the key's length, the key and the value type
    position = 0

    def read(vtype):
        nonlocal position
        if vtype == V.ARRAY:
            element, count = V(int(parts[position][0])), int(parts[position + 1][0])
            position += 2
            return [read(element) for _ in range(count)]
        if vtype == V.STRING:
            text = bytes(parts[position + 1]).decode("utf-8")
            position += 2
            return text
        value = parts[position][0]
        position += 1
        return value.item()
    return read(V(int(field.parts[2][0])))


def value_json(field) -> dict:
    """A metadata field as the reference reader sees it: types (outer first) and contents."""
    types = [t.name for t in field.types]
    contents = field.contents()
    if types[:2] == ["ARRAY", "ARRAY"]:
        contents = nested_contents(field)
        flat = []
        def flatten(v):
            if isinstance(v, list):
                for x in v:
                    flatten(x)
            else:
                flat.append(v)
        flatten(contents)
        assert flat == field.contents(), (flat, field.contents())   # the same values as the reference's

    def encode(v):
        if isinstance(v, list):
            return [encode(x) for x in v]
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (float, np.floating)):
            # The bits of the value as a float64 (a FLOAT32 widens exactly): NaN, infinities and -0 stay exact.
            return {"f64bits": str(struct.unpack("<Q", struct.pack("<d", float(v)))[0])}
        if isinstance(v, (int, np.integer)):
            return {"int": str(int(v))}      # a string: JSON readers may round integers beyond 2^53
        return v
    return {"types": types, "value": encode(contents)}


def metadata_json(reader: GGUFReader) -> dict:
    fields = {k: f for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    return {
        "keys": list(fields),
        "values": {k: value_json(f) for k, f in fields.items()},
        "field_offsets": {k: int(f.offset) for k, f in fields.items()},
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "version": int(reader.fields["GGUF.version"].parts[0][0]),
    }


def write_json(name: str, obj) -> None:
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")


def make_types(rng: np.random.Generator) -> None:
    path = os.path.join(OUT, "types.gguf")
    w = gguf.GGUFWriter(path, arch="lorakit-test")
    w.add_string("general.name", "every tensor type")
    w.add_array("lorakit.strings", ["a", "bb", "ccc"])

    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -3e-39, 65504.0, 1e30, -1e-8], np.float32)
    f32 = np.concatenate([rng.standard_normal(27).astype(np.float32), special])
    w.add_tensor("f32.vector", f32)                                                  # [37]
    half_bits = rng.integers(0, 1 << 16, size=(3, 40), dtype=np.uint16)
    half_bits[0, :6] = [0x7C01, 0xFC01, 0x7E00, 0x7C00, 0x0001, 0x83FF]                 # sNaN, NaN, ±inf, subnormals
    w.add_tensor("f16.matrix", half_bits.view(np.float16))                            # [3, 40]
    w.add_tensor("f16.normal", rng.standard_normal((2, 2, 8)).astype(np.float16))     # [2, 2, 8]
    bf16_bits = rng.integers(0, 1 << 16, size=(5, 16), dtype=np.uint16)
    w.add_tensor("bf16.matrix", bf16_bits.view(np.uint8), raw_dtype=T.BF16)           # [5, 16]
    w.add_tensor("bf16.quantised", quantize(rng.standard_normal((4, 8)).astype(np.float32), T.BF16), raw_dtype=T.BF16)

    for qtype, shapes in [(T.Q8_0, [(4, 64), (2, 2, 2, 32)]), (T.Q4_0, [(3, 96), (64,)]),
                          (T.Q4_1, [(6, 64), (2, 3, 32)])]:
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        for i, shape in enumerate(shapes):
            values = (rng.standard_normal(shape) * rng.uniform(0.01, 4)).astype(np.float32)
            w.add_tensor(f"{qtype.name.lower()}.quantised{i}", quantize(values, qtype), raw_dtype=qtype)
        # Random raw blocks: every f16 bit pattern for d and m is possible, NaN and infinity included.
        rows, blocks = 3, 2
        raw = rng.integers(0, 256, size=(rows, blocks * type_size), dtype=np.uint8)
        raw[0, 0:2] = [0x01, 0x7C]            # a signalling NaN scale
        raw[1, 0:2] = [0x00, 0x7C]            # +inf scale (0 · inf = NaN where q is 0)
        raw[2, 0:2] = [0x01, 0x00]            # the smallest subnormal scale
        w.add_tensor(f"{qtype.name.lower()}.raw", raw, raw_dtype=qtype)

    # Types LoRAKit reads in the table but refuses to dequantise.
    w.add_tensor("q5_0.refused", quantize(rng.standard_normal((2, 32)).astype(np.float32), T.Q5_0), raw_dtype=T.Q5_0)
    q6k = gguf.GGML_QUANT_SIZES[T.Q6_K][1]
    w.add_tensor("q6_k.refused", rng.integers(0, 256, size=(1, q6k), dtype=np.uint8), raw_dtype=T.Q6_K)
    w.add_tensor("i32.refused", np.arange(12, dtype=np.int32).reshape(3, 4))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = GGUFReader(path)
    supported = {T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1}
    meta = metadata_json(r)
    strings = r.fields["lorakit.strings"]
    write_json("types.json", {
        "file_size": os.path.getsize(path),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "header_offsets": {"version": 4, "tensor_count": 8, "kv_count": 16,
                           "first_key": meta["field_offsets"]["general.architecture"],
                           "first_value_type": meta["field_offsets"]["general.architecture"] + 8
                           + len("general.architecture"),
                           "strings_element_type": offset_of(r, strings.parts[3]),
                           "strings_count": offset_of(r, strings.parts[4])},
        "metadata": meta,
        "tensors": tensor_table(r, supported),
    })


def make_metadata() -> None:
    path = os.path.join(OUT, "metadata.gguf")
    w = gguf.GGUFWriter(path, arch="lorakit-test")
    w.add_custom_alignment(64)
    w.add_uint8("t.uint8", 255)
    w.add_int8("t.int8", -128)
    w.add_uint16("t.uint16", 65535)
    w.add_int16("t.int16", -32768)
    w.add_uint32("t.uint32", 4294967295)
    w.add_int32("t.int32", -2147483648)
    w.add_float32("t.float32", 3.14159265)
    w.add_float32("t.float32.tiny", 1e-45)
    w.add_float32("t.float32.inf", float("-inf"))
    w.add_uint64("t.uint64", 18446744073709551615)
    w.add_uint64("t.uint64.small", 42)
    w.add_int64("t.int64", -9223372036854775808)
    w.add_float64("t.float64", 2.718281828459045)
    w.add_float64("t.float64.nan", float("nan"))
    w.add_bool("t.bool.true", True)
    w.add_bool("t.bool.false", False)
    w.add_string("t.string", "héllo, wörld — 日本語 🦙 \t\n\"quoted\"")
    w.add_string("t.string.ascii", "llama")
    w.add_key_value("t.array.uint8", [0, 1, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("t.array.int8", [-128, 0, 127], V.ARRAY, sub_type=V.INT8)
    w.add_key_value("t.array.uint16", [0, 65535], V.ARRAY, sub_type=V.UINT16)
    w.add_key_value("t.array.int16", [-32768, 32767], V.ARRAY, sub_type=V.INT16)
    w.add_key_value("t.array.uint32", [0, 4294967295], V.ARRAY, sub_type=V.UINT32)
    w.add_key_value("t.array.int32", [-1, 2, -3, 2147483647], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("t.array.uint64", [0, 18446744073709551615], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("t.array.int64", [-9223372036854775808, 9223372036854775807], V.ARRAY, sub_type=V.INT64)
    w.add_key_value("t.array.float32", [0.5, -1.25, 1e-30], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("t.array.float64", [0.1, -2.5e300], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("t.array.bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_array("t.array.string", ["", "a", "Ġhello", "日本", "🦙", "<|im_start|>", "tab\there"])
    w.add_key_value("t.array.nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY, sub_type=V.ARRAY)
    w.add_tensor("tiny", np.arange(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = GGUFReader(path)
    out = metadata_json(r)
    out["tensors"] = tensor_table(r, {T.F32})
    write_json("metadata.json", out)


def make_empty_array() -> None:
    """No tensors, one empty INT32 array and one string: written by hand (the writer refuses empty arrays)."""
    def string(s: str) -> bytes:
        b = s.encode()
        return struct.pack("<Q", len(b)) + b
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, 2)
    body += string("t.empty") + struct.pack("<IIQ", V.ARRAY, V.INT32, 0)
    body += string("general.name") + struct.pack("<I", V.STRING) + string("empty")
    path = os.path.join(OUT, "empty_array.gguf")
    with open(path, "wb") as f:
        f.write(body)
    r = GGUFReader(path)
    out = metadata_json(r)
    out["element_type_written"] = "INT32"      # the reader does not report an empty array's element type
    write_json("empty_array.json", out)


def make_v2() -> None:
    """A version-2 file: the v3 layout (64-bit counts) under version number 2."""
    src = os.path.join(OUT, "v2.gguf")
    w = gguf.GGUFWriter(src, arch="lorakit-test")
    w.add_string("general.name", "version two")
    w.add_tensor("v", np.array([1.5, -2.0, 0.25], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(src, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", 2))
    r = GGUFReader(src)
    out = metadata_json(r)
    out["tensors"] = tensor_table(r, {T.F32})
    write_json("v2.json", out)


def make_model_checksums() -> None:
    if not os.path.exists(MODEL):
        sys.exit(f"make_gguf_fixtures: {MODEL} is missing: run scripts/fetch_smollm2 first")
    r = GGUFReader(MODEL)
    rows = []
    for t in r.tensors:
        values = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype="<f4")
        shape = [int(d) for d in reversed(t.shape.tolist())]
        assert list(values.shape) == shape, (t.name, values.shape, shape)
        rows.append({
            "name": t.name, "type": t.tensor_type.name,
            "dimensions": [int(d) for d in t.shape], "shape": shape,
            "offset": int(t.data_offset) - int(r.data_offset), "byte_count": int(t.n_bytes),
            "sha256": hashlib.sha256(values.tobytes()).hexdigest(),
            "first": bits(values.ravel()[:4]),
        })
    with open(MODEL, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    write_json("smollm2_checksums.json", {
        "file": os.path.basename(MODEL), "file_sha256": digest, "gguf_package": importlib.metadata.version("gguf"),
        "data_offset": int(r.data_offset), "tensors": rows,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="store_true", help="also write smollm2_checksums.json from the real model")
    args = parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240614)
    make_types(rng)
    make_metadata()
    make_empty_array()
    make_v2()
    if args.model:
        make_model_checksums()
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, name)):>9}  {name}")


if __name__ == "__main__":
    main()
