#!/usr/bin/env python3
"""Independent numpy check of the exported Fashion-MNIST artefacts in ../data/.

Loads fashion_cnn.safetensors with safetensors.numpy, reads the IDX test slice
and recomputes the CNN forward pass with plain numpy, no TensorFlow:

  x = images/255 (float32, NHWC [N,28,28,1])
  conv2d 'valid' (stride 1, Keras HWIO kernel) + bias + relu   -> [N,26,26,32]
  maxpool 2x2 stride 2 (floor)                                  -> [N,13,13,32]
  conv2d 'valid' + bias + relu                                  -> [N,11,11,64]
  maxpool 2x2 stride 2 (floor: drops row/col 10)                -> [N,5,5,64]
  flatten in (h, w, c) order, like Keras' Flatten on NHWC       -> [N,1600]
  relu(x @ d1_w + d1_b) @ d2_w + d2_b                           -> [N,10]

and compares with test-logits.f32 (TensorFlow's own logits).
Exits non-zero if max |diff| >= 1e-4 or the slice accuracy disagrees with
reference.json.
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
TOL = 1e-4


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


def conv2d_valid(x, w, b):
    """x [N,H,W,C] NHWC, w [KH,KW,C,O] (Keras HWIO), b [O]; stride 1, no padding.
    out[n,i,j,o] = b[o] + sum_{di,dj,c} x[n,i+di,j+dj,c] * w[di,dj,c,o]
    Explicit loop over the kernel taps, einsum over the channels."""
    n, h, wd, c = x.shape
    kh, kw, c2, o = w.shape
    assert c == c2, (x.shape, w.shape)
    oh, ow = h - kh + 1, wd - kw + 1
    out = np.zeros((n, oh, ow, o), dtype=x.dtype)
    for di in range(kh):
        for dj in range(kw):
            patch = x[:, di:di + oh, dj:dj + ow, :]            # [N,OH,OW,C]
            out += np.einsum("nhwc,co->nhwo", patch, w[di, dj])
    return out + b


def maxpool2(x):
    """2x2 max pooling, stride 2, 'valid' (floor): an odd last row/col is dropped."""
    n, h, w, c = x.shape
    oh, ow = h // 2, w // 2
    x = x[:, :2 * oh, :2 * ow, :].reshape(n, oh, 2, ow, 2, c)
    return x.max(axis=(2, 4))


def relu(x):
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def forward(x, w):
    """x [N,28,28] float; w = dict of arrays (cast to x.dtype)."""
    w = {k: v.astype(x.dtype) for k, v in w.items()}
    h = x[..., None]                                            # [N,28,28,1]
    h = maxpool2(relu(conv2d_valid(h, w["conv1_w"], w["conv1_b"])))  # [N,13,13,32]
    h = maxpool2(relu(conv2d_valid(h, w["conv2_w"], w["conv2_b"])))  # [N,5,5,64]
    assert h.shape[1:] == (5, 5, 64), h.shape
    h = h.reshape(len(h), 5 * 5 * 64)                           # (h, w, c) order
    h = relu(h @ w["d1_w"] + w["d1_b"])
    return h @ w["d2_w"] + w["d2_b"]


def main():
    st_path = os.path.join(DATA, "fashion_cnn.safetensors")
    w = load_file(st_path)
    with safe_open(st_path, framework="numpy") as f:
        meta = f.metadata()
    expect = {
        "conv1_w": (3, 3, 1, 32), "conv1_b": (32,),
        "conv2_w": (3, 3, 32, 64), "conv2_b": (64,),
        "d1_w": (1600, 128), "d1_b": (128,),
        "d2_w": (128, 10), "d2_b": (10,),
    }
    assert sorted(w) == sorted(expect), sorted(w)
    for k, shape in expect.items():
        assert w[k].shape == shape and w[k].dtype == np.float32, (k, w[k].shape, w[k].dtype)
    assert meta.get("format") == "keras-channels-last", meta

    x_u8 = read_idx_images(os.path.join(DATA, "test-images-idx3-ubyte"))
    y = read_idx_labels(os.path.join(DATA, "test-labels-idx1-ubyte"))
    n = len(y)
    assert x_u8.shape == (n, 28, 28)
    ref_logits = np.fromfile(os.path.join(DATA, "test-logits.f32"), dtype="<f4")
    assert ref_logits.size == n * 10
    ref_logits = ref_logits.reshape(n, 10)
    with open(os.path.join(DATA, "reference.json")) as f:
        ref = json.load(f)

    x = x_u8.astype(np.float32) / np.float32(255.0)
    logits = forward(x, w)
    assert logits.dtype == np.float32
    # Same maths in float64, as a check that the f32 differences are rounding only.
    logits64 = forward(x.astype(np.float64), w)

    diff = float(np.max(np.abs(logits - ref_logits)))
    diff64 = float(np.max(np.abs(logits64 - ref_logits)))
    acc = float(np.mean(np.argmax(logits, axis=1) == y))
    ref_acc = float(np.mean(np.argmax(ref_logits, axis=1) == y))
    print(f"metadata              {meta}")
    print(f"n                     {n}")
    print(f"max |logit|           {float(np.max(np.abs(ref_logits))):.2f}")
    print(f"max |logit diff|      {diff:.3e}  (numpy f32 vs TF, tol {TOL:.0e})")
    print(f"max |logit diff| f64  {diff64:.3e}  (numpy f64 vs TF, info)")
    print(f"numpy accuracy        {acc:.4f}")
    print(f"tf logits accuracy    {ref_acc:.4f}")
    print(f"reference.json        n_slice={ref['n_slice']} accuracy_slice={ref['accuracy_slice']}"
          f" accuracy_full_test={ref['accuracy_full_test']}")

    ok = (diff < TOL and ref["n_slice"] == n and abs(acc - ref["accuracy_slice"]) < 1e-6
          and acc == ref_acc)
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
