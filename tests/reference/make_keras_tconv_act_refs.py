#!/usr/bin/env python3
"""Writes keras_tconv_act.safetensors for tests/test_nn_conv_transpose3d.c:
Keras 3's Conv3DTranspose, Conv2DTranspose and Conv1DTranspose with
activation= (run by the op after the bias) on channels-last x [2,3,4,4,3]
([N,D,H,W,C]), x2 [2,5,6,3] ([N,H,W,C]) and x1 [2,7,3] ([N,L,C]), and
each of the 3-D and 2-D ones followed by an Activation layer (which a
minitensor model fuses into it).
Each layer's variables are stored under their Keras paths ({v.path: v}, as
docs/porting-a-keras-model.md exports them); the outputs under
"y_<layer name>".

  ka0 Conv3DTranspose(4, 3, strides 2, 'same', activation 'relu')
  ka1 Conv3DTranspose(2, (2,3,2), strides (1,2,1), activation 'gelu')
      (Keras' gelu: the exact, erf form)
  ka2 Conv3DTranspose(3, 2, dilation_rate 2, activation 'sigmoid')
  ka3 Conv3DTranspose(2, 3, strides 2, 'same', output_padding (1,0,1),
      activation 'tanh')
  ka4 Conv3DTranspose(2, 2, strides (2,1,1), activation 'silu', no bias)
  sa  Sequential(Conv3DTranspose(3, 3, strides 2, 'same'), Activation('tanh'))
      on x: "y_sa", variables under "sa/…"
  kb0 Conv2DTranspose(4, 3, strides 2, 'same', activation 'relu') on x2
  kb1 Conv2DTranspose(2, (2,3), dilation_rate (2,1), activation 'sigmoid')
  kb2 Conv2DTranspose(3, 3, strides 2, output_padding 1, activation 'gelu')
  kc0 Conv1DTranspose(3, 3, strides 2, 'same', activation 'silu') on x1
  sb  Sequential(Conv2DTranspose(3, 3, strides 2, 'same'), Activation('relu'))
      on x2: "y_sb", variables under "sb/…"

Run with the repository's Keras venv (a rerun on the same CPU writes the same bytes;
TensorFlow's kernels round differently on another, in the last bits):
  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_tconv_act_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save  # noqa: E402
from make_keras_conv3d_refs import run  # noqa: E402  (a layer or a Sequential: y_<name>)

L = keras.layers


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(11)
    keras.utils.set_random_seed(11)   # the kernels the layers initialise themselves
    x = rng.normal(0, 1, (2, 3, 4, 4, 3)).astype("f4")
    t = {"x": x}
    run(L.Conv3DTranspose(4, 3, strides=2, padding="same", activation="relu", name="ka0"),
        x, rng, t)
    run(L.Conv3DTranspose(2, (2, 3, 2), strides=(1, 2, 1), activation="gelu", name="ka1"),
        x, rng, t)
    run(L.Conv3DTranspose(3, 2, dilation_rate=2, activation="sigmoid", name="ka2"), x, rng, t)
    run(L.Conv3DTranspose(2, 3, strides=2, padding="same", output_padding=(1, 0, 1),
                          activation="tanh", name="ka3"), x, rng, t)
    run(L.Conv3DTranspose(2, 2, strides=(2, 1, 1), activation="silu", use_bias=False,
                          name="ka4"), x, rng, t)
    m = keras.Sequential([keras.Input((3, 4, 4, 3)),
                          L.Conv3DTranspose(3, 3, strides=2, padding="same", name="up"),
                          L.Activation("tanh", name="act")], name="sa")
    run(m, x, rng, t)
    t["x2"] = x2 = rng.normal(0, 1, (2, 5, 6, 3)).astype("f4")
    run(L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="kb0"),
        x2, rng, t)
    run(L.Conv2DTranspose(2, (2, 3), dilation_rate=(2, 1), activation="sigmoid", name="kb1"),
        x2, rng, t)
    run(L.Conv2DTranspose(3, 3, strides=2, output_padding=1, activation="gelu", name="kb2"),
        x2, rng, t)
    t["x1"] = x1 = rng.normal(0, 1, (2, 7, 3)).astype("f4")
    run(L.Conv1DTranspose(3, 3, strides=2, padding="same", activation="silu", name="kc0"),
        x1, rng, t)
    m = keras.Sequential([keras.Input((5, 6, 3)),
                          L.Conv2DTranspose(3, 3, strides=2, padding="same", name="up"),
                          L.Activation("relu", name="act")], name="sb")
    run(m, x2, rng, t)
    for name, v in t.items():
        print(name, np.asarray(v).shape)
    save(os.path.join(out, "keras_tconv_act.safetensors"), t)


if __name__ == "__main__":
    main()
