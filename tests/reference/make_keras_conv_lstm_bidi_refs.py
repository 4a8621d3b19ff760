#!/usr/bin/env python3
"""Writes conv_lstm_bidi_keras.safetensors for tests/test_nn_conv_lstm.c:
Keras 3's Bidirectional around ConvLSTM1D/2D, run by Keras itself. Variables
under their Keras paths (bc/forward_c/conv_lstm_cell/kernel, …), outputs as
"y_<name>"; biases random (run() and randomize() of
make_keras_conv_lstm_refs.py).

  x [2,4,6,7,3]:  bc  Bidirectional(ConvLSTM2D(3, 3, 'same', return_sequences))
                  bs  Bidirectional(ConvLSTM2D(2, (2,3), strides (2,1)), 'sum')
                  bm  Bidirectional(ConvLSTM2D(2, 3, 'same', return_sequences), 'mul')
  x1 [2,5,8,2]:   ba  Bidirectional(ConvLSTM1D(3, 3, 'same', return_sequences), 'ave')

(Keras 3 refuses a Bidirectional around a go_backwards=True layer: its
backward copy gets go_backwards=True too.)

Run with the repository's Keras venv:
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_conv_lstm_bidi_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_conv_lstm_refs import run  # noqa: E402
from make_keras_models_refs import save  # noqa: E402

L = keras.layers


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(6)
    keras.utils.set_random_seed(6)
    x = rng.normal(0, 1, (2, 4, 6, 7, 3)).astype("f4")
    x1 = rng.normal(0, 1, (2, 5, 8, 2)).astype("f4")
    t = {"x": x, "x1": x1}
    run(L.Bidirectional(L.ConvLSTM2D(3, 3, padding="same", return_sequences=True, name="c"),
                        name="bc"), x, rng, t)
    run(L.Bidirectional(L.ConvLSTM2D(2, (2, 3), strides=(2, 1), name="c"), merge_mode="sum",
                        name="bs"), x, rng, t)
    run(L.Bidirectional(L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, name="c"),
                        merge_mode="mul", name="bm"), x, rng, t)
    run(L.Bidirectional(L.ConvLSTM1D(3, 3, padding="same", return_sequences=True, name="c"),
                        merge_mode="ave", name="ba"), x1, rng, t)
    for name, v in t.items():
        print(name, np.asarray(v).shape)
    save(os.path.join(out, "conv_lstm_bidi_keras.safetensors"), t)


if __name__ == "__main__":
    main()
