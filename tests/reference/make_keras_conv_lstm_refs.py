#!/usr/bin/env python3
"""Writes conv_lstm_keras.safetensors for tests/test_nn_conv_lstm.c: Keras 3's
ConvLSTM1D/2D/3D run by Keras itself, channels last. Each layer's variables
are stored under their Keras paths ({v.path: v}, as
docs/porting-a-keras-model.md exports them), its outputs under "y_<name>"
(and "h_<name>", "c_<name>" with return_state). Biases are random, so that
the forget gate's 1s do not hide a gate order mistake.

  x [2,4,6,7,3] ([N,T,H,W,C]):
  a   ConvLSTM2D(4, 3, padding 'same', return_sequences)
  b   ConvLSTM2D(3, (2,3), strides (2,1)) (valid): the last h
  c   ConvLSTM2D(2, 3, 'same', dilation_rate 2, go_backwards, return_sequences,
      no bias, activation relu, recurrent_activation hard_sigmoid)
  d   ConvLSTM2D(4, 2, 'same', return_state): an even kernel, its extra row
      and column after, in both convs; y_d, h_d (= y_d), c_d
  e   ConvLSTM2D(3, 3, 'same', return_sequences) from initial_state [h0, c0]
      ([2,6,7,3] each, stored as h0_e, c0_e)
  x1 [2,5,8,2]:       k1  ConvLSTM1D(3, 3, 'same', return_sequences)
                      k1v ConvLSTM1D(2, 2, strides 2) (valid)
  x3 [1,3,4,4,5,2]:   k3  ConvLSTM3D(2, 2) (valid)
                      k3s ConvLSTM3D(2, (1,3,2), 'same', return_sequences)
  nf  the Keras example "Next-frame video prediction with convolutional
      LSTMs", width-reduced: ConvLSTM2D(8, 5, 'same', return_sequences, relu),
      BatchNormalization, ConvLSTM2D(8, 3, same, return_sequences, relu),
      BatchNormalization, ConvLSTM2D(8, 1, same, return_sequences, relu),
      Conv3D(1, 3, sigmoid, same) on xnf [2,5,16,16,1] (random moving
      statistics): "y_nf", variables under "nf/…"

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_conv_lstm_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save  # noqa: E402

L = keras.layers


def randomize(layer_or_model, rng, t):
    for v in layer_or_model.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.5, v.shape).astype("f4"))
        elif v.path.endswith(("beta", "moving_mean")):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        elif v.path.endswith("gamma"):
            v.assign(rng.normal(1, 0.3, v.shape).astype("f4"))
        elif v.path.endswith("moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)


def run(layer, x, rng, t, **kw):
    """Builds layer on x, randomizes its biases, stores its variables and
    y_<name> (h_<name>, c_<name> with return_state)."""
    layer(x, **kw)
    randomize(layer, rng, t)
    y = layer(x, **kw)
    if isinstance(y, (list, tuple)):
        y, h, c = y
        t["h_" + layer.name] = np.asarray(h)
        t["c_" + layer.name] = np.asarray(c)
    t["y_" + layer.name] = np.asarray(y)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(5)
    keras.utils.set_random_seed(5)   # the kernels the layers initialise themselves
    x = rng.normal(0, 1, (2, 4, 6, 7, 3)).astype("f4")
    t = {"x": x}
    run(L.ConvLSTM2D(4, 3, padding="same", return_sequences=True, name="a"), x, rng, t)
    run(L.ConvLSTM2D(3, (2, 3), strides=(2, 1), name="b"), x, rng, t)
    run(L.ConvLSTM2D(2, 3, padding="same", dilation_rate=2, go_backwards=True,
                     return_sequences=True, use_bias=False, activation="relu",
                     recurrent_activation="hard_sigmoid", name="c"), x, rng, t)
    run(L.ConvLSTM2D(4, 2, padding="same", return_state=True, name="d"), x, rng, t)
    h0 = rng.normal(0, 1, (2, 6, 7, 3)).astype("f4")
    c0 = rng.normal(0, 1, (2, 6, 7, 3)).astype("f4")
    t["h0_e"], t["c0_e"] = h0, c0
    run(L.ConvLSTM2D(3, 3, padding="same", return_sequences=True, name="e"), x, rng, t,
        initial_state=[h0, c0])
    x1 = rng.normal(0, 1, (2, 5, 8, 2)).astype("f4")
    t["x1"] = x1
    run(L.ConvLSTM1D(3, 3, padding="same", return_sequences=True, name="k1"), x1, rng, t)
    run(L.ConvLSTM1D(2, 2, strides=2, name="k1v"), x1, rng, t)
    x3 = rng.normal(0, 1, (1, 3, 4, 4, 5, 2)).astype("f4")
    t["x3"] = x3
    run(L.ConvLSTM3D(2, 2, name="k3"), x3, rng, t)
    run(L.ConvLSTM3D(2, (1, 3, 2), padding="same", return_sequences=True, name="k3s"), x3,
        rng, t)
    xnf = rng.uniform(0, 1, (2, 5, 16, 16, 1)).astype("f4")
    t["xnf"] = xnf
    m = keras.Sequential([
        keras.Input((5, 16, 16, 1)),
        L.ConvLSTM2D(8, 5, padding="same", return_sequences=True, activation="relu",
                     name="l1"),
        L.BatchNormalization(name="bn1"),
        L.ConvLSTM2D(8, 3, padding="same", return_sequences=True, activation="relu",
                     name="l2"),
        L.BatchNormalization(name="bn2"),
        L.ConvLSTM2D(8, 1, padding="same", return_sequences=True, activation="relu",
                     name="l3"),
        L.Conv3D(1, 3, activation="sigmoid", padding="same", name="head")], name="nf")
    randomize(m, rng, t)
    t["y_nf"] = np.asarray(m(xnf, training=False))
    for name, v in t.items():
        print(name, np.asarray(v).shape)
    save(os.path.join(out, "conv_lstm_keras.safetensors"), t)


if __name__ == "__main__":
    main()
