#!/usr/bin/env python3
"""Independent numpy check of the exported MNIST artefacts in ../data/.

Loads mnist_mlp.safetensors with safetensors.numpy, reads the IDX test set,
recomputes logits = relu(x @ d1_w + d1_b) @ d2_w + d2_b with x = images/255
(float32), and compares with test-logits.f32 (TensorFlow's own logits).
Exits non-zero if max |diff| >= 1e-5 or accuracy disagrees with reference.json.
"""
import json
import os
import struct
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))
TOL = 1e-5


def read_idx_images(path):
    with open(path, "rb") as f:
        buf = f.read()
    magic, n, h, w = struct.unpack(">IIII", buf[:16])
    assert magic == 0x00000803, hex(magic)
    assert len(buf) == 16 + n * h * w
    return np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(n, h, w)


def read_idx_labels(path):
    with open(path, "rb") as f:
        buf = f.read()
    magic, n = struct.unpack(">II", buf[:8])
    assert magic == 0x00000801, hex(magic)
    assert len(buf) == 8 + n
    return np.frombuffer(buf, dtype=np.uint8, offset=8)


def main():
    st_path = os.path.join(DATA, "mnist_mlp.safetensors")
    w = load_file(st_path)
    with safe_open(st_path, framework="numpy") as f:
        meta = f.metadata()
    expect = {"d1_w": (784, 128), "d1_b": (128,), "d2_w": (128, 10), "d2_b": (10,)}
    assert sorted(w) == sorted(expect), sorted(w)
    for k, shape in expect.items():
        assert w[k].shape == shape and w[k].dtype == np.float32, (k, w[k].shape, w[k].dtype)

    x_u8 = read_idx_images(os.path.join(DATA, "test-images-idx3-ubyte"))
    y = read_idx_labels(os.path.join(DATA, "test-labels-idx1-ubyte"))
    n = len(y)
    assert x_u8.shape == (n, 28, 28)
    ref_logits = np.fromfile(os.path.join(DATA, "test-logits.f32"), dtype="<f4")
    assert ref_logits.size == n * 10
    ref_logits = ref_logits.reshape(n, 10)
    with open(os.path.join(DATA, "reference.json")) as f:
        ref = json.load(f)

    x = x_u8.reshape(n, 784).astype(np.float32) / np.float32(255.0)
    h = np.maximum(x @ w["d1_w"] + w["d1_b"], np.float32(0))
    logits = h @ w["d2_w"] + w["d2_b"]
    assert logits.dtype == np.float32

    diff = float(np.max(np.abs(logits - ref_logits)))
    acc = float(np.mean(np.argmax(logits, axis=1) == y))
    ref_acc = float(np.mean(np.argmax(ref_logits, axis=1) == y))
    print(f"metadata            {meta}")
    print(f"n                   {n}")
    print(f"max |logit diff|    {diff:.3e}  (tol {TOL:.0e})")
    print(f"numpy accuracy      {acc:.4f}")
    print(f"tf logits accuracy  {ref_acc:.4f}")
    print(f"reference.json      n={ref['n']} accuracy={ref['accuracy']}")

    ok = (diff < TOL and ref["n"] == n and abs(acc - ref["accuracy"]) < 1e-6
          and acc == ref_acc)
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
