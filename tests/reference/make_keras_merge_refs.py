#!/usr/bin/env python3
"""Writes keras_merge.safetensors for tests/test_nn_keras_merge.c: Keras 3's
merge layers run on small inputs, the inputs and Keras' own outputs.

  merge   a, b, c [2,3,4] (a holds a NaN), g [2,1,4] (broadcast over dim 1):
          Subtract a-b and a-g, Average (a, b, c) and (a, g), Maximum and
          Minimum (a, b, c) and (g, b), Multiply (a, b, c):
          "sub_ab", "sub_ag", "avg_abc", "avg_ag", "max_abc", "max_gb",
          "min_abc", "min_gb", "mul_abc"; v [2,4] and h [2,1,4]: Multiply (a, v),
          Subtract (v, a) (v as [2,1,4], as Keras' Merge expands it),
          Maximum (g, h, b) and Average (v, g, b) (only b has dim 1's 3):
          "mul_av", "sub_va", "max_ghb", "avg_vgb"; Add broadcasts as they
          do: (a, g) and (v, g, b): "add_ag", "add_vgb".
  dot     x2, y2 [3,5] (x2's row 2 all zeros): Dot(1) and Dot(1,
          normalize=True): "dot2", "dot2_norm".
          x3 [2,4,5], y3 [2,6,5], z3 [2,4,3]: Dot(2) (x3, y3) -> [2,4,6],
          Dot(-1, normalize=True) (x3, y3), Dot((1, 1)) (x3, z3) -> [2,5,3],
          Dot((1, 2)) (x2-like w2 [2,5], y3) -> [2,6], Dot((2, 1),
          normalize=True) (y3, w5 [2,5,3]) -> [2,6,3]: "dot3", "dot3_norm",
          "dot3_11", "dot_w2_y3", "dot_y3_w5_norm"; y3 also stored transposed
          as "y3t" [2,5,6] for a strided view.

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_merge_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save  # noqa: E402

L = keras.layers


def merge(rng):
    a, b, c = (rng.normal(0, 1, (2, 3, 4)).astype("f4") for _ in range(3))
    a[1, 2, 3] = np.nan
    g = rng.normal(0, 1, (2, 1, 4)).astype("f4")
    t = {"a": a, "b": b, "c": c, "g": g}
    t["sub_ab"] = L.Subtract()([a, b])
    t["sub_ag"] = L.Subtract()([a, g])
    t["avg_abc"] = L.Average()([a, b, c])
    t["avg_ag"] = L.Average()([a, g])
    t["max_abc"] = L.Maximum()([a, b, c])
    t["max_gb"] = L.Maximum()([g, b])
    t["min_abc"] = L.Minimum()([a, b, c])
    t["min_gb"] = L.Minimum()([g, b])
    t["mul_abc"] = L.Multiply()([a, b, c])
    # a lower rank gets dims of 1 after the batch; only the last input has dim 1's 3
    v, h = rng.normal(0, 1, (2, 4)).astype("f4"), rng.normal(0, 1, (2, 1, 4)).astype("f4")
    t |= {"v": v, "h": h}
    t["mul_av"] = L.Multiply()([a, v])
    t["sub_va"] = L.Subtract()([v, a])
    t["max_ghb"] = L.Maximum()([g, h, b])
    t["avg_vgb"] = L.Average()([v, g, b])
    t["add_ag"] = L.Add()([a, g])
    t["add_vgb"] = L.Add()([v, g, b])
    return t


def dot(rng):
    x2, y2 = (rng.normal(0, 1, (3, 5)).astype("f4") for _ in range(2))
    x2[2] = 0
    x3 = rng.normal(0, 1, (2, 4, 5)).astype("f4")
    y3 = rng.normal(0, 1, (2, 6, 5)).astype("f4")
    z3 = rng.normal(0, 1, (2, 4, 3)).astype("f4")
    w2 = rng.normal(0, 1, (2, 5)).astype("f4")
    w5 = rng.normal(0, 1, (2, 5, 3)).astype("f4")
    t = {"x2": x2, "y2": y2, "x3": x3, "y3": y3, "y3t": y3.transpose(0, 2, 1), "z3": z3,
         "w2": w2, "w5": w5}
    t["dot2"] = L.Dot(1)([x2, y2])
    t["dot2_norm"] = L.Dot(1, normalize=True)([x2, y2])
    t["dot3"] = L.Dot(2)([x3, y3])
    t["dot3_norm"] = L.Dot(-1, normalize=True)([x3, y3])
    t["dot3_11"] = L.Dot((1, 1))([x3, z3])
    t["dot_w2_y3"] = L.Dot((1, 2))([w2, y3])
    t["dot_y3_w5_norm"] = L.Dot((2, 1), normalize=True)([y3, w5])
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(7)
    t = merge(rng) | dot(rng)
    for name, v in t.items():
        print(name, np.asarray(v).shape)
    save(os.path.join(out, "keras_merge.safetensors"), t)


if __name__ == "__main__":
    main()
