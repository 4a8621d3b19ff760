#!/usr/bin/env python3
"""Writes conv3d_keras.safetensors for tests/test_nn_conv3d.c and
test_nn_conv_transpose3d.c: Keras 3's volumetric layers (Conv3DTranspose
too) run by Keras itself on channels-last x [2,5,6,7,3] ([N,D,H,W,C]).
Each layer's variables are stored under their Keras paths ({v.path: v},
as docs/porting-a-keras-model.md exports them); the outputs under
"y_<layer name>".

  k0  Conv3D(4, 3) (valid)
  k1  Conv3D(4, (2,3,2), strides (2,1,2), padding 'same'): an even kernel at
      stride 2, the extra plane/row/column after
  k2  Conv3D(2, 2, padding 'same', dilation_rate (2,1,2), relu)
  k3  Conv3D(6, 3, padding 'same', groups 3, no bias)
  mp0 MaxPooling3D(2); mp1 MaxPooling3D((2,3,2), strides (1,2,2), 'same')
  ap0 AveragePooling3D(2); ap1 AveragePooling3D(3, strides 2, 'same')
      (padding not counted)
  gap GlobalAveragePooling3D(), gmp GlobalMaxPooling3D()
  zp  ZeroPadding3D(((1,0),(0,2),(1,1))); crop Cropping3D(((1,0),(0,2),(1,1)))
  up  UpSampling3D((2,3,2)) on xs = x[:, :2, :3, :3] (small: the output grows 12 times)
  m3d Sequential(Conv3D(4, 3, 'same', relu), MaxPooling3D(2), Conv3D(5, 3),
      GlobalAveragePooling3D(), Dense(3)) on xm [2,6,8,8,2]: "y_m3d", its
      variables under "m3d/…"
  bn3d Sequential(Conv3D(4, 3, 'same'), BatchNormalization(), ReLU()) on xs
      (random moving statistics): "y_bn3d", variables under "bn3d/…"
  kt0 Conv3DTranspose(3, 3) (valid) on xs
  kt1 Conv3DTranspose(4, (2,3,2), strides (2,1,2), padding 'same') on xs
  kt2 Conv3DTranspose(2, 3, strides 2, 'same', output_padding (1,0,1)) on xs
  kt3 Conv3DTranspose(2, (3,2,3), strides (1,3,2), 'valid', output_padding
      (0,2,1)) on xs
  kt4 Conv3DTranspose(2, 2, dilation_rate 2) on xs
  ed  Sequential(Conv3D(4, 3, strides 2, 'same', relu), Conv3DTranspose(2, 3,
      strides 2, 'same')) on xe [1,4,6,6,2]: "y_ed", variables under "ed/…"

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_conv3d_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save  # noqa: E402

L = keras.layers


def run(layer, x, rng, t):
    """Builds layer on x, randomizes its biases, stores its variables and
    y_<name>."""
    layer(x)
    for v in layer.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)
    t["y_" + layer.name] = np.asarray(layer(x))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(3)
    keras.utils.set_random_seed(3)   # the kernels the layers initialise themselves
    x = rng.normal(0, 1, (2, 5, 6, 7, 3)).astype("f4")
    t = {"x": x}
    run(L.Conv3D(4, 3, name="k0"), x, rng, t)
    run(L.Conv3D(4, (2, 3, 2), strides=(2, 1, 2), padding="same", name="k1"), x, rng, t)
    run(L.Conv3D(2, 2, padding="same", dilation_rate=(2, 1, 2), activation="relu",
                 name="k2"), x, rng, t)
    run(L.Conv3D(6, 3, padding="same", groups=3, use_bias=False, name="k3"), x, rng, t)
    run(L.MaxPooling3D(2, name="mp0"), x, rng, t)
    run(L.MaxPooling3D((2, 3, 2), strides=(1, 2, 2), padding="same", name="mp1"), x, rng, t)
    run(L.AveragePooling3D(2, name="ap0"), x, rng, t)
    run(L.AveragePooling3D(3, strides=2, padding="same", name="ap1"), x, rng, t)
    run(L.GlobalAveragePooling3D(name="gap"), x, rng, t)
    run(L.GlobalMaxPooling3D(name="gmp"), x, rng, t)
    run(L.ZeroPadding3D(((1, 0), (0, 2), (1, 1)), name="zp"), x, rng, t)
    run(L.Cropping3D(((1, 0), (0, 2), (1, 1)), name="crop"), x, rng, t)
    t["xs"] = xs = np.ascontiguousarray(x[:, :2, :3, :3])
    run(L.UpSampling3D((2, 3, 2), name="up"), xs, rng, t)
    xm = rng.normal(0, 1, (2, 6, 8, 8, 2)).astype("f4")
    t["xm"] = xm
    m = keras.Sequential([keras.Input((6, 8, 8, 2)),
                          L.Conv3D(4, 3, padding="same", activation="relu", name="c1"),
                          L.MaxPooling3D(2, name="p1"),
                          L.Conv3D(5, 3, name="c2"),
                          L.GlobalAveragePooling3D(name="gap"),
                          L.Dense(3, name="head")], name="m3d")
    for v in m.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)
    t["y_m3d"] = np.asarray(m(xm, training=False))
    m = keras.Sequential([keras.Input((2, 3, 3, 3)),
                          L.Conv3D(4, 3, padding="same", name="c"),
                          L.BatchNormalization(name="bn"), L.ReLU(name="relu")], name="bn3d")
    for v in m.weights:
        if v.path.endswith(("bias", "beta", "moving_mean")):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        elif v.path.endswith("gamma"):
            v.assign(rng.normal(1, 0.3, v.shape).astype("f4"))
        elif v.path.endswith("moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)
    t["y_bn3d"] = np.asarray(m(xs, training=False))
    run(L.Conv3DTranspose(3, 3, name="kt0"), xs, rng, t)
    run(L.Conv3DTranspose(4, (2, 3, 2), strides=(2, 1, 2), padding="same", name="kt1"), xs,
        rng, t)
    run(L.Conv3DTranspose(2, 3, strides=2, padding="same", output_padding=(1, 0, 1),
                          name="kt2"), xs, rng, t)
    run(L.Conv3DTranspose(2, (3, 2, 3), strides=(1, 3, 2), padding="valid",
                          output_padding=(0, 2, 1), name="kt3"), xs, rng, t)
    run(L.Conv3DTranspose(2, 2, dilation_rate=2, name="kt4"), xs, rng, t)
    xe = rng.normal(0, 1, (1, 4, 6, 6, 2)).astype("f4")
    t["xe"] = xe
    m = keras.Sequential([keras.Input((4, 6, 6, 2)),
                          L.Conv3D(4, 3, strides=2, padding="same", activation="relu",
                                   name="down"),
                          L.Conv3DTranspose(2, 3, strides=2, padding="same", name="up")],
                         name="ed")
    for v in m.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)
    t["y_ed"] = np.asarray(m(xe, training=False))
    for name, v in t.items():
        print(name, np.asarray(v).shape)
    save(os.path.join(out, "conv3d_keras.safetensors"), t)


if __name__ == "__main__":
    main()
