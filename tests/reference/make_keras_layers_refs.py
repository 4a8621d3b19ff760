#!/usr/bin/env python3
"""Writes keras_layers.safetensors for tests/test_nn_layers_more.c: small
Keras 3 models with the layers minitensor added for them, their variables
under their Keras paths ({v.path: v}), inputs and Keras' own outputs
(training=False):

  prelu   x [2,6,6,3] -> Conv2D(4, 3, name="pc1") -> PReLU(shared_axes=[1, 2],
          name="pr1") (alpha [1,1,4]) -> Conv2D(4, 3, name="pc2") ->
          PReLU(name="pr2") (alpha [2,2,4], one slope per element) ->
          LayerNormalization(axis=[1, 2, 3], name="ln3") over the conv's whole
          output -> Flatten -> Dense(3, name="pd"): "prelu_x", "prelu_y".
  text    ids [2,12] -> Embedding(20, 6, name="emb") -> Conv1D(8, 3, relu,
          name="t1") -> MaxPooling1D(2) -> Conv1D(8, 3, padding same,
          name="t2") -> AveragePooling1D(2, padding same) ->
          Concatenate(GlobalMaxPooling1D, GlobalAveragePooling1D) ->
          Dense(4, name="td"): "text_ids", "text_y".
  pads    x [2,5,6,3] -> ZeroPadding2D(((1, 2), (0, 1))) -> Cropping2D(((1, 0),
          (2, 1))) -> UpSampling2D(2) -> Conv2D(2, 3, name="kc") ->
          LayerNormalization(name="kln") (channels): "pads_x", "pads_y".
  rescale x [2,4,4,3] in 0..255 -> Rescaling(1/255, offset=-0.5) ->
          Normalization(name="norm") adapted to a batch: "rescale_x",
          "rescale_y".
  seq1d   x [2,5,3] -> ZeroPadding1D((1, 2)) -> Cropping1D((2, 1)) ->
          UpSampling1D(2): "seq1d_x", "seq1d_y".
  inorm   x [2,4,5,3] -> GroupNormalization(groups=-1, name="kgn") (an
          instance norm): "inorm_x", "inorm_y".
  acts    activations selu, mish, softsign, log_sigmoid, celu, tanh_shrink,
          log_softmax, glu on x [3,8]: "acts_x", "acts_<name>".

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_layers_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save, weights  # noqa: E402

L = keras.layers
ACTS = ["selu", "mish", "softsign", "log_sigmoid", "celu", "tanh_shrink", "log_softmax",
        "glu"]


def prelu(rng):
    inp = keras.Input((6, 6, 3))
    h = L.Conv2D(4, 3, name="pc1")(inp)
    h = L.PReLU(shared_axes=[1, 2], name="pr1")(h)
    h = L.Conv2D(4, 3, name="pc2")(h)
    h = L.PReLU(name="pr2")(h)
    h = L.LayerNormalization(axis=[1, 2, 3], name="ln3")(h)
    model = keras.Model(inp, L.Dense(3, name="pd")(L.Flatten()(h)))
    for name in ("pr1", "pr2"):
        a = model.get_layer(name).alpha
        a.assign(rng.uniform(-0.8, 1.2, a.shape).astype("f4"))
    t = weights(model, rng)
    x = rng.normal(0, 1, (2, 6, 6, 3)).astype("f4")
    return t | {"prelu_x": x, "prelu_y": model(x, training=False)}


def text(rng):
    inp = keras.Input((12,), dtype="int32")
    h = L.Embedding(20, 6, name="emb")(inp)
    h = L.Conv1D(8, 3, activation="relu", name="t1")(h)
    h = L.MaxPooling1D(2)(h)
    h = L.Conv1D(8, 3, padding="same", name="t2")(h)
    h = L.AveragePooling1D(2, padding="same")(h)
    h = L.Concatenate()([L.GlobalMaxPooling1D()(h), L.GlobalAveragePooling1D()(h)])
    model = keras.Model(inp, L.Dense(4, name="td")(h))
    t = weights(model, rng)
    ids = rng.integers(0, 20, (2, 12)).astype("i4")
    return t | {"text_ids": ids, "text_y": model(ids, training=False)}


def pads(rng):
    inp = keras.Input((5, 6, 3))
    h = L.ZeroPadding2D(((1, 2), (0, 1)))(inp)
    h = L.Cropping2D(((1, 0), (2, 1)))(h)
    h = L.UpSampling2D(2)(h)
    h = L.Conv2D(2, 3, name="kc")(h)
    model = keras.Model(inp, L.LayerNormalization(name="kln")(h))
    t = weights(model, rng)
    x = rng.normal(0, 1, (2, 5, 6, 3)).astype("f4")
    return t | {"pads_x": x, "pads_y": model(x, training=False)}


def rescale(rng):
    norm = L.Normalization(name="norm")
    norm.adapt(rng.uniform(-0.5, 0.5, (16, 4, 4, 3)).astype("f4") * [1.0, 0.2, 0.05])
    model = keras.Sequential([keras.Input((4, 4, 3)), L.Rescaling(1 / 255, offset=-0.5), norm])
    x = rng.uniform(0, 255, (2, 4, 4, 3)).astype("f4")
    t = {v.path: np.asarray(v) for v in model.weights}
    return t | {"rescale_x": x, "rescale_y": model(x, training=False)}


def seq1d(rng):
    model = keras.Sequential([keras.Input((5, 3)), L.ZeroPadding1D((1, 2)), L.Cropping1D((2, 1)),
                              L.UpSampling1D(2)])
    x = rng.normal(0, 1, (2, 5, 3)).astype("f4")
    return {"seq1d_x": x, "seq1d_y": model(x, training=False)}


def inorm(rng):
    inp = keras.Input((4, 5, 3))   # functional: paths without a model name in front
    model = keras.Model(inp, L.GroupNormalization(-1, name="kgn")(inp))
    t = weights(model, rng)
    x = rng.normal(1, 2, (2, 4, 5, 3)).astype("f4")
    return t | {"inorm_x": x, "inorm_y": model(x, training=False)}


def acts(rng):
    x = rng.normal(0, 3, (3, 8)).astype("f4")
    t = {"acts_x": x}
    for a in ACTS:
        t["acts_" + a] = keras.activations.get(a)(x)
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    t = {}
    for make in (prelu, text, pads, rescale, acts, seq1d, inorm):
        t |= {k: np.asarray(v) for k, v in make(rng).items()}
    save(f"{out}/keras_layers.safetensors", t)
    print(f"Keras {keras.__version__}:", ", ".join(f"{k} {list(np.shape(v))}"
                                                   for k, v in t.items()))


if __name__ == "__main__":
    main()
