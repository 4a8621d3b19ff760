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

keras_mobilenet_v3.safetensors: a MobileNetV3 built by keras.applications'
own MobileNetV3 function and _inverted_res_block (what MobileNetV3Small
calls) with a stack of four blocks instead of eleven: (expansion 1, 8, k3,
stride 2, SE, relu), (3, 8, k3, stride 2, relu), (3, 8, k5, stride 1, SE,
hard_swish: the residual Add), (4, 16, k5, stride 2, SE, hard_swish);
last_point_ch 32, 10 classes, include_preprocessing (Rescaling(1/127.5,
-1)), on a 40x54 input, so that the stride-2 blocks' ZeroPadding2D
(correct_pad) meets even and odd sizes, rows and columns of different
parity among them (20x27 -> 10x14 -> 5x7 -> 3x4). What a user meets:
hard_sigmoid written as keras ops on constants (ReLU(6)(x + 3) * (1/6):
single-input Add and Multiply layers), squeeze-and-excitation with a
keepdims GlobalAveragePooling2D, a 1x1-conv head on [1,1,C] and a
Flatten. BatchNormalization statistics
are measured on a batch, layer by layer, as training would leave them;
the squeeze-and-excitation kernels scaled up so that the gates saturate.

Each file holds every variable by its path ({v.path: v}, as
docs/porting-a-keras-model.md exports them; LayerNormalization and
LayerScale weights made non-trivial first: Keras starts LayerScale at
1e-6, which would hide every block), inputs "x" (pixels 0..255: ConvNeXt
[2,64,64,3], MobileNetV3 [2,40,54,3]) and Keras' logits "y" [2,10].
Run with the repository's Keras venv:

  /work/main/build-venv-keras/bin/python \\
      tests/reference/make_keras_apps_refs.py tests/reference
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.applications.mobilenet_v3 import MobileNetV3, _inverted_res_block, relu  # noqa: E402
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


def images(rng, h, w):
    """two images that differ in more than noise: a gradient and its mirror"""
    x = rng.uniform(0, 64, (2, h, w, 3)).astype("f4")
    x[0] += np.linspace(0, 180, w, dtype="f4")[None, :, None]
    x[1] += np.linspace(180, 0, h, dtype="f4")[:, None, None]
    return x


def mobilenet_v3(rng):
    block = _inverted_res_block

    def stack_fn(x, kernel, activation, se_ratio):
        x = block(x, 1, 8, 3, 2, se_ratio, relu, 0)
        x = block(x, 3, 8, 3, 2, None, relu, 1)
        x = block(x, 3, 8, kernel, 1, se_ratio, activation, 2)
        return block(x, 4, 16, kernel, 2, se_ratio, activation, 3)

    model = MobileNetV3(stack_fn, 32, input_shape=(40, 54, 3), model_type="small",
                        weights=None, classes=10, classifier_activation=None,
                        name="tiny_mobilenet_v3")
    for v in model.weights:   # gates that reach both ends of hard_sigmoid (x + 3 < 0, > 6)
        if v.path.endswith("squeeze_excite_conv_1/kernel"):
            v.assign(6 * np.asarray(v))
    x = images(rng, 40, 54)
    batch = rng.uniform(0, 255, (8, 40, 54, 3)).astype("f4")
    for layer in model.layers:   # statistics of a batch, in order, as training leaves them
        if isinstance(layer, keras.layers.BatchNormalization):
            seen = np.asarray(keras.Model(model.input, layer.input)(batch, training=False))
            layer.moving_mean.assign(seen.mean(axis=(0, 1, 2)))
            layer.moving_variance.assign(seen.var(axis=(0, 1, 2)))
            layer.gamma.assign(1 + rng.normal(0, 0.2, layer.gamma.shape).astype("f4"))
            layer.beta.assign(rng.normal(0, 0.2, layer.beta.shape).astype("f4"))
    y = np.asarray(model(x, training=False))
    t = {v.path: np.asarray(v) for v in model.weights}
    t.update(x=x, y=y)
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    for name, make in [("convnext", convnext), ("mobilenet_v3", mobilenet_v3)]:
        keras.utils.set_random_seed(0)
        t = make(np.random.default_rng(0))
        save(f"{out}/keras_{name}.safetensors", t)
        print(f"Keras {keras.__version__} {name}: {len(t) - 2} variables, logits",
              [[round(float(v), 3) for v in row] for row in t["y"]])


if __name__ == "__main__":
    main()
