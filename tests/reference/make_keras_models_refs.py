#!/usr/bin/env python3
"""Writes keras_<model>.safetensors for tests/test_nn_keras.c: small Keras
models, their weights under their Keras variable paths ({v.path: v}, as
docs/porting-a-keras-model.md exports them), inputs "x" (and "pos") and
Keras' own outputs "y", computed by Keras itself (training=False).

  charlm   a character-level transformer: token and position Embedding,
           2 pre-LayerNorm blocks (MultiHeadAttention(2, 16) with
           use_causal_mask=True, Dense(128, gelu), Dense(32), residual Adds),
           final LayerNorm, Dense(40) head; ids [3, 16]. charlm_f16: the
           same with its weights rounded to float16 and stored as F16.
  mha      MultiHeadAttention(2, key_dim=8, value_dim=4, output_shape=6,
           use_bias=False) on query [2,5,12] and key = value [2,7,10];
           MultiHeadAttention(2, 4) with use_causal_mask=True on a query of
           length 5 against keys of length 7, and 7 against 5.
  gqa      GroupQueryAttention(head_dim 4, 4 query heads, 2 key/value
           heads) as self-attention on x [2,6,12], with and without
           use_causal_mask; GroupQueryAttention(3, 6 query heads, 1
           key/value head: multi-query, use_bias=False) with query [2,5,12]
           against key = value [2,7,12].
  convt    Conv2DTranspose(4, kernel, strides, padding, dilation_rate,
           output_padding): (3, 2, same), (2, 3, valid), (4, 2, valid),
           (3, 1, same, dilation 2), (4, 1, same: the odd row cropped at the
           bottom), (2, 3, same), and with output_padding 0, 1 (3, 2, same),
           2 (4, 3, same), 1 (3, 2, valid); each on x [2,5,4,3].
  cnn      Conv2D(8, 3, strides 2, same, relu), BatchNormalization(momentum
           0.9, epsilon 1e-5), SeparableConv2D(16, 3, same,
           depth_multiplier 2), BatchNormalization(center=False,
           scale=False), ZeroPadding2D(((1, 2), (0, 1))), GlobalMaxPooling2D
           and GlobalAveragePooling2D Concatenated, Dropout, Dense(5, tanh);
           x [2,9,9,3]. cnn_keras2: the same, its variables named as tf.keras
           2 names them ("c1/kernel:0").
  dense    Dense(4, activation) for tanh, sigmoid, gelu (exact: Keras'
           default), silu, elu, softplus, leaky_relu (slope 0.2),
           hard_sigmoid; gelu(approximate=True), LayerNormalization(epsilon
           1e-6) and (center=False, scale=False), RMSNormalization(); x [3,7],
           outputs "y_<name>".
  resize   UpSampling2D(2) (nearest) and UpSampling2D((2, 3), bilinear),
           Resizing to 5x7 and 2x3 (nearest: pixel centres) and 5x3
           (bilinear), and Flatten + Dense on NHWC x [2,3,4,2].
  bad      not Keras': MultiHeadAttention kernels of two key_dims, a bias
           that does not fit its kernel, a Conv2DTranspose bias of the in
           channels, kernels with a dim 0; a Dense quantized by
           model.quantize("int8").

Run with the repository's Keras venv (names after the directory: only
those models):
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_models_refs.py tests/reference [gqa ...]
"""
import json
import os
import struct
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

L = keras.layers


def save(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = np.asarray(t)
        kind, dtype = (("I8", "i1") if t.dtype == np.int8 else
                       ("I32", "<i4") if t.dtype.kind in "iu" else
                       ("F16", "<f2") if t.dtype == np.float16 else ("F32", "<f4"))
        data = np.ascontiguousarray(t.astype(dtype)).tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def weights(model, rng):
    """The variables by path, biases and norms' weights made non-trivial
    first."""
    for v in model.weights:
        if v.path.endswith(("bias", "beta", "gamma", "scale")):
            base = 1.0 if v.path.endswith(("gamma", "scale")) else 0.0
            v.assign(base + rng.normal(0, 0.3, v.shape).astype("f4"))
    return {v.path: np.asarray(v) for v in model.weights}


def charlm(rng, half=False):
    vocab, seq, dim, heads = 40, 16, 32, 2
    tok = keras.Input((seq,), dtype="int32", name="tok")
    pos = keras.Input((seq,), dtype="int32", name="pos")
    x = L.Add(name="emb")([L.Embedding(vocab, dim, name="wte")(tok),
                           L.Embedding(seq, dim, name="wpe")(pos)])
    for b in range(2):
        h = L.LayerNormalization(epsilon=1e-5, name=f"h{b}_ln1")(x)
        h = L.MultiHeadAttention(heads, dim // heads, name=f"h{b}_attn")(
            h, h, use_causal_mask=True)
        x = L.Add(name=f"h{b}_res1")([x, h])
        h = L.LayerNormalization(epsilon=1e-5, name=f"h{b}_ln2")(x)
        h = L.Dense(4 * dim, activation="gelu", name=f"h{b}_fc")(h)
        h = L.Dense(dim, name=f"h{b}_proj")(h)
        x = L.Add(name=f"h{b}_res2")([x, h])
    x = L.LayerNormalization(epsilon=1e-5, name="ln_f")(x)
    model = keras.Model([tok, pos], L.Dense(vocab, name="head")(x))
    t = weights(model, rng)
    if half:   # the weights rounded to float16, stored so; Keras computes in float32
        for v in model.weights:
            v.assign(np.asarray(v).astype("f2").astype("f4"))
        t = {v.path: np.asarray(v).astype("f2") for v in model.weights}
    ids = rng.integers(0, vocab, (3, seq)).astype("i4")
    positions = np.tile(np.arange(seq, dtype="i4"), (3, 1))
    t.update(x=ids, pos=positions, y=model([ids, positions], training=False))
    return t


def mha(rng):
    q, kv = keras.Input((5, 12)), keras.Input((7, 10))
    layer = L.MultiHeadAttention(2, 8, value_dim=4, output_shape=6, use_bias=False,
                                 name="mha")
    # causal with a query shorter and one longer than the keys
    causal = L.MultiHeadAttention(2, 4, name="causal")
    c5, c7 = keras.Input((5, 8)), keras.Input((7, 8))
    model = keras.Model([q, kv, c5, c7], [
        layer(q, kv), causal(c5, c7, use_causal_mask=True),
        causal(c7, c5, use_causal_mask=True)])
    t = weights(model, rng)
    xq = rng.normal(0, 1, (2, 5, 12)).astype("f4")
    xkv = rng.normal(0, 1, (2, 7, 10)).astype("f4")
    x5 = rng.normal(0, 1, (2, 5, 8)).astype("f4")
    x7 = rng.normal(0, 1, (2, 7, 8)).astype("f4")
    y, y57, y75 = model([xq, xkv, x5, x7], training=False)
    t.update(x=xq, kv=xkv, x5=x5, x7=x7, y=y, y_causal_5_7=y57, y_causal_7_5=y75)
    return t


def gqa(rng):
    x, q, kv = keras.Input((6, 12)), keras.Input((5, 12)), keras.Input((7, 12))
    grouped = L.GroupQueryAttention(4, 4, 2, name="gqa")
    multi = L.GroupQueryAttention(3, 6, 1, use_bias=False, name="mqa")
    model = keras.Model([x, q, kv], [grouped(x, x), grouped(x, x, use_causal_mask=True),
                                      multi(q, kv)])
    t = weights(model, rng)
    xs = rng.normal(0, 1, (2, 6, 12)).astype("f4")
    xq = rng.normal(0, 1, (2, 5, 12)).astype("f4")
    xkv = rng.normal(0, 1, (2, 7, 12)).astype("f4")
    y, yc, ym = model([xs, xq, xkv], training=False)
    t.update(x=xs, q=xq, kv=xkv, y=y, y_causal=yc, y_mqa=ym)
    return t


CONVT = [  # name, kernel, strides, padding, dilation, output_padding
    ("ct_same_s2", 3, 2, "same", 1, None),
    ("ct_valid_s3_k2", 2, 3, "valid", 1, None),
    ("ct_valid_s2_k4", 4, 2, "valid", 1, None),
    ("ct_same_s1_d2", 3, 1, "same", 2, None),
    ("ct_same_s1_k4", 4, 1, "same", 1, None),
    ("ct_same_s3_k2", 2, 3, "same", 1, None),
    ("ct_same_s2_op0", 3, 2, "same", 1, 0),
    ("ct_same_s2_op1", 3, 2, "same", 1, 1),
    ("ct_same_s3_k4_op2", 4, 3, "same", 1, 2),
    ("ct_valid_s2_op1", 3, 2, "valid", 1, 1),
]


def convt(rng):
    t = {}
    x = rng.normal(0, 1, (2, 5, 4, 3)).astype("f4")
    t["x"] = x
    for name, k, s, pad, d, op in CONVT:
        inp = keras.Input((5, 4, 3))
        model = keras.Model(inp, L.Conv2DTranspose(
            4, k, strides=s, padding=pad, dilation_rate=d, output_padding=op,
            name=name)(inp))
        t.update(weights(model, rng))
        t["y_" + name] = model(x, training=False)
    return t


def cnn(rng):
    inp = keras.Input((9, 9, 3))
    h = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c1")(inp)
    h = L.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn1")(h)
    h = L.SeparableConv2D(16, 3, padding="same", depth_multiplier=2, name="sep")(h)
    h = L.BatchNormalization(center=False, scale=False, name="bn2")(h)
    h = L.ZeroPadding2D(((1, 2), (0, 1)), name="zp")(h)
    h = L.Concatenate(name="cat")([L.GlobalMaxPooling2D(name="gmp")(h),
                                   L.GlobalAveragePooling2D(name="gap")(h)])
    h = L.Dropout(0.3, name="drop")(h)
    model = keras.Model(inp, L.Dense(5, activation="tanh", name="d")(h))
    for name in ("bn1", "bn2"):
        bn = model.get_layer(name)
        bn.moving_mean.assign(rng.normal(0, 0.5, bn.moving_mean.shape).astype("f4"))
        bn.moving_variance.assign(rng.uniform(0.3, 2.0, bn.moving_variance.shape).astype("f4"))
    t = weights(model, rng)
    x = rng.normal(0, 1, (2, 9, 9, 3)).astype("f4")
    t.update(x=x, y=model(x, training=False))
    return t


DENSE_ACTS = ["tanh", "sigmoid", "gelu", "silu", "elu", "softplus", "leaky_relu",
              "hard_sigmoid"]


def dense(rng):
    inp = keras.Input((7,))
    outs = {a: L.Dense(4, activation=a, name=a)(inp) for a in DENSE_ACTS}
    outs["gelu_tanh"] = L.Activation(
        lambda v: keras.activations.gelu(v, approximate=True), name="gelu_tanh")(inp)
    outs["ln"] = L.LayerNormalization(epsilon=1e-6, name="ln")(inp)
    outs["ln_plain"] = L.LayerNormalization(center=False, scale=False, name="ln_plain")(inp)
    outs["rms"] = L.RMSNormalization(name="rms")(inp)
    model = keras.Model(inp, outs)
    t = weights(model, rng)
    x = rng.normal(0, 2, (3, 7)).astype("f4")
    t["x"] = x
    t.update({"y_" + k: v for k, v in model(x, training=False).items()})
    return t


def resize(rng):
    inp = keras.Input((3, 4, 2))
    outs = {"dense": L.Dense(3, name="d")(L.Flatten()(inp)),
            "nearest": L.UpSampling2D(2)(inp),
            "bilinear": L.UpSampling2D((2, 3), interpolation="bilinear")(inp),
            "resize_nearest_up": L.Resizing(5, 7, interpolation="nearest")(inp),
            "resize_nearest_down": L.Resizing(2, 3, interpolation="nearest")(inp),
            "resize_bilinear": L.Resizing(5, 3)(inp)}
    model = keras.Model(inp, outs)
    t = weights(model, rng)
    x = rng.normal(0, 1, (2, 3, 4, 2)).astype("f4")
    t["x"] = x
    t.update({"y_" + k: v for k, v in model(x, training=False).items()})
    return t


def keras2(make):
    """The model with its variables named as Keras 2 (tf.keras) names them:
    "c1/kernel:0"."""
    def named(rng):
        return {k if k in ("x", "y") else k + ":0": v for k, v in make(rng).items()}
    return named


def bad(rng):
    """Hostile files: kernels that do not fit together, a wrong bias; and
    Keras' own int8-quantized Dense (an I8 kernel and its kernel_scale)."""
    def z(*shape):
        return np.zeros(shape, "f4")
    quantized = keras.Sequential([keras.Input((6,)), L.Dense(4, name="q")])
    quantized.quantize("int8")
    return {v.path: np.asarray(v) for v in quantized.weights} | {"a/query/kernel": z(8, 2, 4), "a/key/kernel": z(8, 2, 5),
            "a/value/kernel": z(8, 2, 4), "a/attention_output/kernel": z(2, 4, 8),
            "b/query/kernel": z(8, 2, 4), "b/key/kernel": z(8, 2, 4),
            "b/value/kernel": z(8, 2, 4), "b/attention_output/kernel": z(2, 4, 8),
            "b/query/bias": z(2, 5),
            "ct/kernel": z(3, 3, 4, 2), "ct/bias": z(3),
            "empty/query/kernel": z(0, 2, 4), "empty/key/kernel": z(8, 2, 4),
            "empty/value/kernel": z(8, 2, 4), "empty/attention_output/kernel": z(2, 4, 8),
            "dw/kernel": z(3, 3, 0, 2)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    for name, make in [("charlm", charlm), ("charlm_f16", lambda r: charlm(r, True)),
                       ("mha", mha), ("convt", convt), ("cnn", cnn), ("dense", dense),
                       ("resize", resize), ("bad", bad), ("cnn_keras2", keras2(cnn)),
                       ("gqa", gqa)]:
        if sys.argv[2:] and name not in sys.argv[2:]:   # only the models named
            continue
        keras.utils.set_random_seed(0)
        t = make(np.random.default_rng(0))
        save(f"{out}/keras_{name}.safetensors", t)
        print(f"Keras {keras.__version__} {name}:",
              ", ".join(f"{k} {list(np.shape(v))}" for k, v in t.items()))


if __name__ == "__main__":
    main()
