#!/usr/bin/env python3
"""References for test_nn_resample.c: Keras 3's bicubic resizing on the
TensorFlow backend (Resizing and UpSampling2D with interpolation='bicubic'
run tf.image.resize(method='bicubic', antialias=False), which is
TensorFlow's resize_bicubic with half-pixel centres), and Resizing with
interpolation='area' (tf.image.resize 'area', TensorFlow's resize_area),
which equals an adaptive average pool only at whole-number factors.

keras_resample.safetensors:
  x [2,5,7,3] N(0,1); x1 [1,1,4,2] (one row); xc [1,3,6,5] (NCHW)
  up     Resizing(9, 11, 'bicubic')(x)          uneven factors up
  down   Resizing(3, 4, 'bicubic')(x)           down (taps outside dropped)
  same   Resizing(5, 7, 'bicubic')(x)           the identity
  mixed  Resizing(2, 13, 'bicubic')(x)          down one axis, up the other
  far    Resizing(2, 2, 'bicubic')(big)         big [1,17,19,2]: taps far apart
  row    Resizing(3, 9, 'bicubic')(x1)          H = 1
  nchw   Resizing(7, 4, 'bicubic', data_format='channels_first')(xc)
  ups    UpSampling2D((2, 3), interpolation='bicubic')(x)
  area_x [1,6,9,2]; area_3x3, area_2x9: tf.image.resize(area_x, ..., 'area')
  area_4x5   Resizing(4, 5, 'area')(area_x)     partly covered pixels
  area_up    Resizing(7, 11, 'area')(x)         up: pixels shared by outputs
  area_mixed Resizing(4, 20, 'area')(area_x)    down one axis, up the other
  big [1,17,19,2]

Run with the repository's Keras venv (a rerun is byte-identical):
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_resize_refs.py tests/reference
"""
import json
import os
import struct
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

L = keras.layers


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
    assert keras.backend.backend() == "tensorflow", keras.backend.backend()
    rng = np.random.default_rng(1209)
    x = rng.standard_normal((2, 5, 7, 3)).astype(np.float32)
    x1 = rng.standard_normal((1, 1, 4, 2)).astype(np.float32)
    xc = rng.standard_normal((1, 3, 6, 5)).astype(np.float32)
    big = rng.standard_normal((1, 17, 19, 2)).astype(np.float32)
    area_x = rng.standard_normal((1, 6, 9, 2)).astype(np.float32)
    t = {"x": x, "x1": x1, "xc": xc, "big": big, "area_x": area_x}

    def resize(h, w, v, **kw):
        return np.asarray(L.Resizing(h, w, interpolation="bicubic", **kw)(v))

    t["up"] = resize(9, 11, x)
    t["down"] = resize(3, 4, x)
    t["same"] = resize(5, 7, x)
    t["mixed"] = resize(2, 13, x)
    t["far"] = resize(2, 2, big)
    t["row"] = resize(3, 9, x1)
    t["nchw"] = resize(7, 4, xc, data_format="channels_first")
    t["ups"] = np.asarray(L.UpSampling2D((2, 3), interpolation="bicubic")(x))
    # the layer is tf.image.resize's bicubic (no antialias)
    assert np.array_equal(t["up"], tf.image.resize(x, (9, 11), method="bicubic").numpy())
    for h, w in ((3, 3), (2, 9)):
        t[f"area_{h}x{w}"] = tf.image.resize(area_x, (h, w), method="area").numpy()
    area = L.Resizing(4, 5, interpolation="area")
    t["area_4x5"] = np.asarray(area(area_x))
    t["area_up"] = np.asarray(L.Resizing(7, 11, interpolation="area")(x))
    t["area_mixed"] = np.asarray(L.Resizing(4, 20, interpolation="area")(area_x))
    save(f"{out}/keras_resample.safetensors", t)


if __name__ == "__main__":
    main()
