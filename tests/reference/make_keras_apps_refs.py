#!/usr/bin/env python3
"""Writes keras_convnext.safetensors for tests/test_nn_keras_apps.c: a
width-reduced ConvNeXt built by keras.applications' own ConvNeXt function
(the one ConvNeXtTiny … XLarge call), so that its layers, names and
forward pass are Keras': depths [1, 1, 2, 1], projection_dims
[8, 16, 16, 24], drop_path_rate 0.1 (StochasticDepth layers, the identity
at inference), include_preprocessing (a Normalization whose mean and
variance are in its config, not variables), 10 classes, no softmax.

What a user porting ConvNeXtTiny meets: the stem and the downsampling
blocks are nested Sequentials (their variables' paths carry both names),
the depthwise conv is a Conv2D with groups = channels, the pointwise convs
are Dense layers on [N,H,W,C], and LayerScale's one variable is named by
Keras' counter ("…_layer_scale/variable", "…/variable_1", …).

The file holds every variable by its path ({v.path: v}, as
docs/porting-a-keras-model.md exports them; LayerNormalization and
LayerScale weights made non-trivial first: Keras starts LayerScale at
1e-6, which would hide every block), inputs "x" [2,64,64,3] (pixels
0..255) and Keras' logits "y" [2,10]. Run with the repository's Keras venv:

  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_apps_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.applications.convnext import ConvNeXt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_keras_models_refs import save  # noqa: E402


def convnext(rng):
    model = ConvNeXt(depths=[1, 1, 2, 1], projection_dims=[8, 16, 16, 24],
                     drop_path_rate=0.1, input_shape=(64, 64, 3), classes=10,
                     classifier_activation=None, name="convnext")
    for v in model.weights:
        if "layer_scale" in v.path:
            v.assign(rng.normal(0, 0.5, v.shape).astype("f4"))
        elif v.path.endswith(("gamma", "beta")):
            base = 1.0 if v.path.endswith("gamma") else 0.0
            v.assign(base + rng.normal(0, 0.2, v.shape).astype("f4"))
    # two images that differ in more than noise: a gradient and its mirror
    ramp = np.linspace(0, 255, 64, dtype="f4")
    x = rng.uniform(0, 64, (2, 64, 64, 3)).astype("f4")
    x[0] += 0.7 * ramp[None, :, None]
    x[1] += 0.7 * ramp[::-1, None, None]
    y = np.asarray(model(x, training=False))
    t = {v.path: np.asarray(v) for v in model.weights}
    t.update(x=x, y=y)
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    keras.utils.set_random_seed(0)
    t = convnext(np.random.default_rng(0))
    save(f"{out}/keras_convnext.safetensors", t)
    print(f"Keras {keras.__version__} convnext: {len(t) - 2} variables, logits",
          [[round(float(v), 3) for v in row] for row in t["y"]])


if __name__ == "__main__":
    main()
