#!/usr/bin/env python3
"""Writes Tests/SafeTensorsTests/Fixtures/reference.safetensors with the reference
implementation (`pip install safetensors numpy`), so that the Swift reader is checked against a
file it did not write. The values are chosen to be checkable by hand; the Swift test
(`SafeTensorsReferenceTests`) hard-codes them. Run from the repository root:

    python3 scripts/make_safetensors_fixture.py
"""
import os

import numpy as np
from safetensors import TensorSpec, serialize_file

OUT = os.path.join("Tests", "SafeTensorsTests", "Fixtures", "reference.safetensors")

arrays = {
    # name: (safetensors dtype name, array whose little-endian bytes are the data)
    "weight": ("float32", np.array([[0.5, -1.0, 2.0], [3.25, -0.125, 100.0]], dtype="<f4")),
    "half": ("float16", np.array([1.0, -2.0, 0.5, 65504.0], dtype="<f2")),
    # numpy has no bfloat16: these are raw bit patterns 1.0, -2.0, 3.140625, 0.0.
    "brain": ("bfloat16", np.array([[0x3F80, 0xC000], [0x4049, 0x0000]], dtype="<u2")),
    "ids": ("int64", np.array([-1, 0, 1 << 40], dtype="<i8")),
    "count": ("int32", np.array(7, dtype="<i4")),  # a scalar: shape []
    "bytes": ("uint8", np.array([0, 1, 127, 128, 255], dtype="u1")),
    "empty": ("float32", np.zeros((0, 4), dtype="<f4")),
    "double": ("float64", np.array([1.5, 2.5], dtype="<f8")),
}

specs = {
    name: TensorSpec(dtype=dtype, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes)
    for name, (dtype, a) in arrays.items()
}
metadata = {"format": "np", "source": "scripts/make_safetensors_fixture.py"}
serialize_file(specs, OUT, metadata=metadata)
print(OUT, os.path.getsize(OUT), "bytes")
