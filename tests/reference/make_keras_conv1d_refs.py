#!/usr/bin/env python3
"""Writes keras_conv1d.safetensors for tests/test_nn_keras_conv1d.c: Keras
3's 1-D convolutions beyond Conv1D, and Dense, TimeDistributed and
CenterCrop on rank-3 to rank-5 inputs, run by Keras itself on small
inputs. Each layer's variables are stored under their Keras paths
({v.path: v}, as docs/porting-a-keras-model.md exports them); the outputs
under "y_<layer name>".

  ct*   Conv1DTranspose(3, k, strides, padding, dilation_rate,
        output_padding) on x [2,7,4]: ct0 (3, 1, valid), ct1 (3, 2, same),
        ct2 (4, 2, valid), ct3 (2, 3, valid: stride beyond the kernel),
        ct4 (3, 1, same, dilation 2), ct5 (4, 1, same: the odd step cropped
        at the end), ct6 (3, 2, same, output_padding 1), ct7 (4, 3, valid,
        output_padding 2), ct8 (5, 2, same, output_padding 0, no bias).
  dw*   DepthwiseConv1D(k, strides, padding, depth_multiplier,
        dilation_rate) on x: dw0 (3, 1, valid, m 2), dw1 (3, 2, same, m 1),
        dw2 (3, 1, same, m 3, dilation 2, no bias), dw3 (2, 2, valid, m 2,
        relu).
  sc*   SeparableConv1D(filters, k, strides, padding, depth_multiplier,
        dilation_rate) on x: sc0 (5, 3, 2, same, m 2, relu), sc1 (2, 3, 1,
        valid, m 1, dilation 2), sc2 (3, 1, 1, valid, m 2, no bias).
  seq1d a Sequential of SeparableConv1D(6, 3, same, m 2), DepthwiseConv1D(3,
        strides 2), Conv1DTranspose(4, 3, strides 2, same), Dense(2) on x:
        "y_seq1d", its variables under "seq1d/…" paths.
  dense Dense(3) on xt [2,4,5] and on xi [2,3,4,5]: "y_dense3", "y_dense4";
        TimeDistributed(Dense(3, tanh)) on xt: "y_td_dense".
  td    TimeDistributed(Conv2D(3, 2, strides 2, same, relu)) on
        xv [2,3,5,6,2] (videos: [N,T,H,W,C]): "y_td_conv";
        TimeDistributed(Conv2D(2, 3, valid)) then TimeDistributed(Flatten())
        and Dense(2): "y_td_model".
  e*    EinsumDense(equation, output_shape, bias_axes, activation): e0
        "ab,bc->ac" (3, "c") on x2 [2,5]; e1 "abc,cd->abd" ((None, 3), "d",
        relu) on xt; e2 "abc,cde->abde" ((None, 2, 3), "de") and e3 (the
        same, bias_axes "d": a bias [2,1]) on xt; e4 "abde,def->abf"
        ((None, 4), "f") on xe [2,4,2,3]; e5 "...b,bc->...c" (3, no bias)
        on xi.
  g*    grouped convolutions: g1 Conv1D(6, 3, groups=2) on x, g2 Conv2D(9, 3,
        strides 2, same, groups=3) on xg [2,5,5,6].
  cnnlstm  a video classifier: TimeDistributed(Conv2D(4, 3, relu)),
        TimeDistributed(MaxPooling2D(2)), TimeDistributed(Flatten()),
        LSTM(5), Dense(2) on xv: "y_cnnlstm", its variables under
        "cnnlstm/…".
  crop  CenterCrop(4, 5) on xc [2,7,8,3]: "y_crop"; CenterCrop(3, 3) on
        xc2 [2,6,5,1] (even and odd margins): "y_crop2".
  tdr   TimeDistributed of layers with optional inputs, on xh [2,3,4,5]
        (documents of sentences of words): TimeDistributed(LSTM(4)):
        "y_td_lstm" (variables under "td_lstm/…"), TimeDistributed(
        GlobalAveragePooling1D()): "y_td_gap".

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_conv1d_refs.py tests/reference
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


def conv1d(rng):
    x = rng.normal(0, 1, (2, 7, 4)).astype("f4")
    t = {"x": x}
    ct = [dict(kernel_size=3), dict(kernel_size=3, strides=2, padding="same"),
          dict(kernel_size=4, strides=2), dict(kernel_size=2, strides=3),
          dict(kernel_size=3, padding="same", dilation_rate=2),
          dict(kernel_size=4, padding="same"),
          dict(kernel_size=3, strides=2, padding="same", output_padding=1),
          dict(kernel_size=4, strides=3, output_padding=2),
          dict(kernel_size=5, strides=2, padding="same", output_padding=0, use_bias=False)]
    for i, kw in enumerate(ct):
        run(L.Conv1DTranspose(3, name=f"ct{i}", **kw), x, rng, t)
    dw = [dict(kernel_size=3, depth_multiplier=2),
          dict(kernel_size=3, strides=2, padding="same"),
          dict(kernel_size=3, padding="same", depth_multiplier=3, dilation_rate=2,
               use_bias=False),
          dict(kernel_size=2, strides=2, depth_multiplier=2, activation="relu")]
    for i, kw in enumerate(dw):
        run(L.DepthwiseConv1D(name=f"dw{i}", **kw), x, rng, t)
    sc = [dict(filters=5, kernel_size=3, strides=2, padding="same", depth_multiplier=2,
               activation="relu"),
          dict(filters=2, kernel_size=3, dilation_rate=2),
          dict(filters=3, kernel_size=1, depth_multiplier=2, use_bias=False)]
    for i, kw in enumerate(sc):
        run(L.SeparableConv1D(name=f"sc{i}", **kw), x, rng, t)
    seq = keras.Sequential([keras.Input((7, 4)),
                            L.SeparableConv1D(6, 3, padding="same", depth_multiplier=2,
                                              name="sep"),
                            L.DepthwiseConv1D(3, strides=2, name="dw"),
                            L.Conv1DTranspose(4, 3, strides=2, padding="same", name="ct"),
                            L.Dense(2, name="head")], name="seq1d")
    for v in seq.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)
    t["y_seq1d"] = np.asarray(seq(x, training=False))
    return t


def time_distributed(rng):
    xt = rng.normal(0, 1, (2, 4, 5)).astype("f4")
    xi = rng.normal(0, 1, (2, 3, 4, 5)).astype("f4")
    xv = rng.normal(0, 1, (2, 3, 5, 6, 2)).astype("f4")
    t = {"xt": xt, "xi": xi, "xv": xv}
    d = L.Dense(3, name="dense3")
    run(d, xt, rng, t)
    t["y_dense4"] = np.asarray(d(xi))
    td = L.TimeDistributed(L.Dense(3, activation="tanh", name="tdd"), name="td_dense")
    run(td, xt, rng, t)
    td = L.TimeDistributed(L.Conv2D(3, 2, strides=2, padding="same", activation="relu",
                                    name="tdc"), name="td_conv")
    run(td, xv, rng, t)
    m = keras.Sequential([keras.Input((3, 5, 6, 2)),
                          L.TimeDistributed(L.Conv2D(2, 3, name="c"), name="tc"),
                          L.TimeDistributed(L.Flatten(), name="tf"),
                          L.Dense(2, name="head")], name="td_model")
    for v in m.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)
    t["y_td_model"] = np.asarray(m(xv, training=False))
    m = keras.Sequential([keras.Input((3, 5, 6, 2)),
                          L.TimeDistributed(L.Conv2D(4, 3, activation="relu", name="c"),
                                            name="tc"),
                          L.TimeDistributed(L.MaxPooling2D(2), name="tp"),
                          L.TimeDistributed(L.Flatten(), name="tf"),
                          L.LSTM(5, name="lstm"),
                          L.Dense(2, name="head")], name="cnnlstm")
    for v in m.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.3, v.shape).astype("f4"))
        t[v.path] = np.asarray(v)
    t["y_cnnlstm"] = np.asarray(m(xv, training=False))
    return t


def einsum(rng):
    x2 = rng.normal(0, 1, (2, 5)).astype("f4")
    xt = rng.normal(0, 1, (2, 4, 5)).astype("f4")
    xe = rng.normal(0, 1, (2, 4, 2, 3)).astype("f4")
    xi = rng.normal(0, 1, (2, 3, 4, 5)).astype("f4")
    t = {"x2": x2, "xe": xe}
    E = L.EinsumDense
    run(E("ab,bc->ac", 3, bias_axes="c", name="e0"), x2, rng, t)
    run(E("abc,cd->abd", (None, 3), bias_axes="d", activation="relu", name="e1"), xt, rng, t)
    run(E("abc,cde->abde", (None, 2, 3), bias_axes="de", name="e2"), xt, rng, t)
    run(E("abc,cde->abde", (None, 2, 3), bias_axes="d", name="e3"), xt, rng, t)
    run(E("abde,def->abf", (None, 4), bias_axes="f", name="e4"), xe, rng, t)
    run(E("...b,bc->...c", 3, name="e5"), xi, rng, t)
    t["xt_e"], t["xi_e"] = xt, xi
    return t


def grouped(rng):
    x = rng.normal(0, 1, (2, 7, 4)).astype("f4")
    xg = rng.normal(0, 1, (2, 5, 5, 6)).astype("f4")
    t = {"xg1": x, "xg": xg}
    run(L.Conv1D(6, 3, groups=2, name="g1"), x, rng, t)
    run(L.Conv2D(9, 3, strides=2, padding="same", groups=3, name="g2"), xg, rng, t)
    return t


def crop(rng):
    xc = rng.normal(0, 1, (2, 7, 8, 3)).astype("f4")
    xc2 = rng.normal(0, 1, (2, 6, 5, 1)).astype("f4")
    return {"xc": xc, "xc2": xc2, "y_crop": np.asarray(L.CenterCrop(4, 5)(xc)),
            "y_crop2": np.asarray(L.CenterCrop(3, 3)(xc2))}


def td_rnn(rng):
    xh = rng.normal(0, 1, (2, 3, 4, 5)).astype("f4")
    t = {"xh": xh}
    run(L.TimeDistributed(L.LSTM(4, name="lstm"), name="td_lstm"), xh, rng, t)
    t["y_td_gap"] = np.asarray(L.TimeDistributed(L.GlobalAveragePooling1D())(xh))
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(11)
    keras.utils.set_random_seed(11)   # the kernels the layers initialise themselves
    t = (conv1d(rng) | time_distributed(rng) | crop(rng) | einsum(rng) | grouped(rng) |
         td_rnn(rng))
    for name, v in t.items():
        print(name, np.asarray(v).shape)
    save(os.path.join(out, "keras_conv1d.safetensors"), t)


if __name__ == "__main__":
    main()
