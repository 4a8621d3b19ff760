#!/usr/bin/env python3
"""Writes keras_masks.safetensors for tests/test_nn_masks.c: Keras 3 models
on padded batches, their weights under their variable paths, inputs and
Keras' own outputs (training=False).

  clf   ids [4,6] (I32, 0 = padding; sample 3 all padding) ->
        Embedding(20, 8, mask_zero=True) "emb" -> MultiHeadAttention(2, 4)
        "mha" (self-attention: the query and value masks from the
        Embedding) -> Add with its input -> LayerNormalization "ln" ->
        GlobalAveragePooling1D (masked) -> Dense(3) "head": "clf.y", and the
        attention's own output "clf.attn". Keras gives NaN for sample 3
        (0/0 in the masked average); at a padded query step the attention
        gives the projected mean of all the value rows (its query mask
        leaves that row no key: see "am").
  am    MultiHeadAttention(2, 4) "am0" on query [2,4,6] and value [2,5,6]
        with attention_mask [2,4,5] (True = attend; query row 2 of sample 1
        attends to nothing): "am.y0"; the same weights with dropout=0.1
        "am.yd" (Keras then takes its softmax path: zeros for the row that
        attends to nothing, where with dropout 0 it gives the mean of all
        the value rows). "amc": MultiHeadAttention(2, 4) with
        use_causal_mask=True (top-left: query i sees keys j <= i) and an
        attention_mask "am.mask_c" that leaves every row a key: "am.yc".
  mk    x [3,5,3] -> Masking(-1.0) "mk" -> GlobalAveragePooling1D -> Dense(2)
        "mk_head": "mk.y" (sample 2 all masked: NaN), the Masking output
        "mk.h" (zeros at the masked steps).

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_mask_refs.py tests/reference
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
    """bool arrays as BOOL, integers as I32, the rest as F32."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = np.asarray(t)
        kind, dtype = (("BOOL", "u1") if t.dtype == bool else
                       ("I32", "<i4") if t.dtype.kind in "iu" else ("F32", "<f4"))
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
    """The variables by path, biases and norms' weights made non-trivial."""
    for v in model.weights:
        if v.path.endswith(("bias", "beta", "gamma")):
            v.assign(rng.normal(0, 0.5, v.shape).astype("float32"))
    return {v.path: np.asarray(v) for v in model.weights}


def classifier(rng):
    ids_in = keras.Input((None,), dtype="int32")
    e = L.Embedding(20, 8, mask_zero=True, name="emb")(ids_in)
    a = L.MultiHeadAttention(2, 4, name="mha")(e, e)
    h = L.LayerNormalization(name="ln")(L.Add()([e, a]))
    y = L.Dense(3, name="head")(L.GlobalAveragePooling1D()(h))
    model = keras.Model(ids_in, [y, a])
    t = {k: v for k, v in weights(model, rng).items()}
    ids = np.array([[5, 3, 9, 0, 0, 0], [7, 1, 2, 8, 4, 6], [0, 11, 19, 0, 4, 0],
                    [0, 0, 0, 0, 0, 0]], dtype=np.int32)
    y, attn = (np.asarray(z) for z in model(ids, training=False))
    # a padded sample gives what it gives alone
    assert np.allclose(y[0], np.asarray(model(ids[:1, :3])[0])[0], atol=1e-5)
    assert np.allclose(y[2], np.asarray(model(np.array([[11, 19, 4]]))[0])[0], atol=1e-5)
    assert np.isnan(y[3]).all()
    t["clf.ids"], t["clf.y"], t["clf.attn"] = ids, y, attn
    return t


def attention_mask(rng):
    q, v = keras.Input((4, 6)), keras.Input((5, 6))
    m = keras.Input((4, 5), dtype="bool")
    plain = L.MultiHeadAttention(2, 4, name="am0")
    drop = L.MultiHeadAttention(2, 4, dropout=0.1, name="amd")
    mc = keras.Input((4, 5), dtype="bool")
    causal = L.MultiHeadAttention(2, 4, name="amc")
    model = keras.Model([q, v, m, mc], [plain(q, v, attention_mask=m),
                                        drop(q, v, attention_mask=m),
                                        causal(q, v, attention_mask=mc, use_causal_mask=True)])
    t = weights(model, rng)
    for a, b in zip(plain.weights, drop.weights):
        b.assign(a)
    xq = rng.normal(size=(2, 4, 6)).astype("float32")
    xv = rng.normal(size=(2, 5, 6)).astype("float32")
    mask = rng.random((2, 4, 5)) < 0.6
    mask[:, :, 0] = True
    mask[1, 2] = False
    mask_c = rng.random((2, 4, 5)) < 0.6
    mask_c[:, :, 0] = True
    y0, yd, yc = (np.asarray(y) for y in model([xq, xv, mask, mask_c], training=False))
    keep = np.ones((2, 4), bool)
    keep[1, 2] = False
    assert np.allclose(y0[keep], yd[keep], atol=1e-5) and not np.allclose(y0[1, 2], yd[1, 2])
    t.update({"am.q": xq, "am.v": xv, "am.mask": mask, "am.y0": y0, "am.yd": yd,
              "am.mask_c": mask_c, "am.yc": yc})
    return {k: v for k, v in t.items() if not k.startswith("amd/")}


def masking(rng):
    x_in = keras.Input((5, 3))
    h = L.Masking(-1.0, name="mk")(x_in)
    y = L.Dense(2, name="mk_head")(L.GlobalAveragePooling1D()(h))
    model = keras.Model(x_in, [y, h])
    t = weights(model, rng)
    x = rng.normal(size=(3, 5, 3)).astype("float32")
    x[0, 3:] = -1.0
    x[1, 1] = -1.0
    x[1, 2, 0] = -1.0   # one feature at the mask value: the step stays
    x[2] = -1.0
    y, h = (np.asarray(z) for z in model(x, training=False))
    assert (h[0, 3:] == 0).all() and np.isnan(y[2]).all()
    t.update({"mk.x": x, "mk.y": y, "mk.h": h})
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    t = classifier(rng)
    t.update(attention_mask(rng))
    t.update(masking(rng))
    save(f"{out}/keras_masks.safetensors", t)
    print("\n".join(f"{k} {list(np.shape(v))}" for k, v in t.items()))


if __name__ == "__main__":
    main()
