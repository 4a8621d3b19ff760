#!/usr/bin/env python3
"""Writes keras_vector.safetensors for tests/test_nn_keras_vector.c: Keras 3's
Attention, AdditiveAttention, RepeatVector and UnitNormalization run on small
inputs; their variables under their Keras paths ({v.path: v}), the inputs
and Keras' own outputs.

  q [2,4,4], v [2,5,6], k [2,5,4], vq [2,5,4] (a value that is its key);
  masks qm [2,4], vm [2,5] (I32, Keras' True = take part; and F32 with 1 =
  masked out: "qm_ignore", "vm_ignore"):
  att_plain     Attention()([q, vq]) (no variables)
  att_scale     Attention(use_scale=True, name="att_s")([q, v, k]) ("att_s/scale")
  att_concat    Attention(use_scale=True, score_mode="concat", name="att_c")
                ([q, v, k]) ("att_c/scale", "att_c/concat_score_weight")
  att_concat1   Attention(score_mode="concat", name="att_c1")([q, vq])
  att_masked    Attention()([q, v, k], mask=[qm, vm], use_causal_mask=True):
                sample 1's query 0 sees only key 0, which vm masks: every
                key masked (Keras averages the values there)
  add_scale     AdditiveAttention(name="add_s")([q, v, k]) ("add_s/scale" [4])
  add_plain     AdditiveAttention(use_scale=False)([q, vq])
  add_masked    AdditiveAttention(name="add_m")([q, v, k], mask=[qm, vm]) (vm
                given as [N,1,Tv]: below)
  rv_x [2,5] -> RepeatVector(3): "rv_y" [2,3,5]
  un_x [2,3,4] (un_x[1,2] zeros) -> UnitNormalization(): "un_last";
          UnitNormalization([1, 2]): "un_12"; (un_x[0] has a NaN at [0,1,1])
          UnitNormalization(1): "un_1"
  nf_q, nf_k [2,2,2], nf_v [2,2,2] with an inf (sample 0) and a NaN
          (sample 1), nf_qm [2,2] (I32) masking query 1 of sample 0 and
          query 0 of sample 1: Keras multiplies a masked query's row by 0,
          NaN where the row is not finite:
          Attention()([nf_q, nf_v, nf_k], mask=[nf_qm, None]): "att_nf";
          AdditiveAttention(use_scale=False)(same): "add_nf"
  model   two inputs model_a, model_b [2,6,3] through the layers above and
          the merges (model() below): "model_y" [2,3,2], the variables by
          path ("enc/kernel", "self_att/scale", …)

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_vector_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save, weights  # noqa: E402

L = keras.layers


def variables(layer, rng):
    """The layer's variables by path, made other than their initial values."""
    for w in layer.weights:
        w.assign(rng.uniform(0.4, 1.6, w.shape).astype("f4"))
    return {w.path: np.asarray(w) for w in layer.weights}


def attention(rng):
    q = rng.normal(0, 1, (2, 4, 4)).astype("f4")
    v = rng.normal(0, 1, (2, 5, 6)).astype("f4")
    k = rng.normal(0, 1, (2, 5, 4)).astype("f4")
    vq = rng.normal(0, 1, (2, 5, 4)).astype("f4")
    qm = np.array([[1, 1, 0, 1], [1, 1, 1, 0]], bool)
    vm = np.array([[1, 1, 1, 0, 1], [0, 1, 1, 1, 1]], bool)
    t = {"q": q, "v": v, "k": k, "vq": vq, "qm": qm.astype("i4"), "vm": vm.astype("i4"),
         "qm_ignore": (~qm).astype("f4"), "vm_ignore": (~vm).astype("f4")}
    t["att_plain"] = L.Attention()([q, vq])

    def run(layer, inputs, out, **kw):
        layer.build([x.shape for x in inputs])
        t.update(variables(layer, rng))
        t[out] = layer(inputs, **kw)

    run(L.Attention(use_scale=True, name="att_s"), [q, v, k], "att_scale")
    run(L.Attention(use_scale=True, score_mode="concat", name="att_c"), [q, v, k],
        "att_concat")
    run(L.Attention(score_mode="concat", name="att_c1"), [q, vq], "att_concat1")
    t["att_masked"] = L.Attention()([q, v, k], mask=[qm, vm], use_causal_mask=True)
    run(L.AdditiveAttention(name="add_s"), [q, v, k], "add_scale")
    t["add_plain"] = L.AdditiveAttention(use_scale=False)([q, vq])
    # Keras 3.11 subtracts a [N,Tv] value mask from the [N,Tq,Tv] scores
    # unexpanded unless use_causal_mask (an error, or a wrong broadcast when
    # N == Tq): given as the [N,1,Tv] its _apply_scores documents
    run(L.AdditiveAttention(name="add_m"), [q, v, k], "add_masked",
        mask=[qm, vm[:, None, :]])
    return t


def vectors(rng):
    rv = rng.normal(0, 1, (2, 5)).astype("f4")
    un = rng.normal(0, 1, (2, 3, 4)).astype("f4")
    un[1, 2] = 0
    t = {"rv_x": rv, "rv_y": L.RepeatVector(3)(rv), "un_x": un}
    t["un_last"] = L.UnitNormalization()(un)
    t["un_12"] = L.UnitNormalization([1, 2])(un)
    nan = un.copy()
    nan[0, 1, 1] = np.nan
    t["un_nan_x"] = nan
    t["un_1"] = L.UnitNormalization(1)(nan)
    return t


def nonfinite():
    q = np.array([[[1, 0], [0, 1]], [[1, 0], [0, 1]]], "f4")
    k = np.array([[[1, 0.5], [0.2, 1]], [[1, 0.5], [0.2, 1]]], "f4")
    v = np.array([[[np.inf, 1], [2, 3]], [[np.nan, 1], [2, 3]]], "f4")
    qm = np.array([[1, 0], [0, 1]], bool)
    return {"nf_q": q, "nf_k": k, "nf_v": v, "nf_qm": qm.astype("i4"),
            "att_nf": L.Attention()([q, v, k], mask=[qm, None]),
            "add_nf": L.AdditiveAttention(use_scale=False)([q, v, k], mask=[qm, None])}


def model(rng):
    """Two towers sharing Dense("enc", tanh) -> Attention(use_scale=True,
    name="self_att")([h, h]) -> UnitNormalization -> GlobalAveragePooling1D
    -> Dense("proj", 4), then Dot(1, normalize=True), Subtract, Maximum,
    RepeatVector(3), Dense("dec", 2), Dense("dd", 2) on the difference,
    Average of [N,3,2] and [N,2], Multiply by the [N,1] cosine."""
    a_in, b_in = keras.Input((6, 3), name="a"), keras.Input((6, 3), name="b")
    enc = L.Dense(8, activation="tanh", name="enc")
    att = L.Attention(use_scale=True, name="self_att")
    proj = L.Dense(4, name="proj")

    def tower(x):
        h = enc(x)
        h = L.UnitNormalization()(att([h, h]))
        return proj(L.GlobalAveragePooling1D()(h))

    ta, tb = tower(a_in), tower(b_in)
    cos = L.Dot(1, normalize=True)([ta, tb])
    seq = L.Dense(2, name="dec")(L.RepeatVector(3)(L.Maximum()([ta, tb])))
    avg = L.Average()([seq, L.Dense(2, name="dd")(L.Subtract()([ta, tb]))])
    m = keras.Model([a_in, b_in], L.Multiply()([avg, cos]))
    t = weights(m, rng)
    a, b = (rng.normal(0, 1, (2, 6, 3)).astype("f4") for _ in range(2))
    return t | {"model_a": a, "model_b": b, "model_y": m([a, b], training=False)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(11)
    keras.utils.set_random_seed(11)   # the Dense kernels' initial values
    t = attention(rng) | vectors(rng) | model(rng) | nonfinite()
    for name, x in t.items():
        print(name, np.asarray(x).shape)
    save(os.path.join(out, "keras_vector.safetensors"), t)


if __name__ == "__main__":
    main()
