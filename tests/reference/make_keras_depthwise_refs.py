#!/usr/bin/env python3
"""Writes keras_depthwise.safetensors for tests/test_nn_conv.c: a small
Keras CNN with a DepthwiseConv2D, its weights under their Keras variable
paths ("dw/kernel" [3,3,3,2], "bn/moving_mean", ...), inputs "x" and Keras'
outputs "y", computed by Keras itself:

    Input (7, 7, 3)                                         NHWC, N = 2
    DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)  -> 4x4x6
    BatchNormalization()        (seeded random statistics)             -> 4x4x6
    ReLU()
    Conv2D(4, 1, use_bias=False)                                       -> 4x4x4
    GlobalAveragePooling2D()                                           -> 4
    Dense(3)

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_depthwise_refs.py tests/reference
"""
import json
import os
import struct
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def save(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = np.ascontiguousarray(np.asarray(t, dtype="<f4")).tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(t)),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((7, 7, 3)),
        layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="dw"),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(name="relu"),
        layers.Conv2D(4, 1, use_bias=False, name="pw"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(3, name="d"),
    ])
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn")
    bn.moving_mean.assign(rng.normal(0, 0.5, 6).astype("f4"))
    bn.moving_variance.assign(rng.uniform(0.3, 2.3, 6).astype("f4"))
    bn.gamma.assign(rng.normal(0, 1, 6).astype("f4"))
    bn.beta.assign(rng.normal(0, 1, 6).astype("f4"))
    model.get_layer("dw").bias.assign(rng.normal(0, 0.5, 6).astype("f4"))
    t = {v.path: np.asarray(v) for v in model.weights}
    x = rng.normal(0, 1, (2, 7, 7, 3)).astype("f4")
    t["x"] = x
    t["y"] = np.asarray(model(x, training=False))
    save(f"{out}/keras_depthwise.safetensors", t)
    print(f"Keras {keras.__version__}:", ", ".join(f"{k} {list(np.shape(v))}" for k, v in t.items()))


if __name__ == "__main__":
    main()
