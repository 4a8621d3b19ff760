#!/usr/bin/env python3
"""interop_keras.py — `fashion train` checkpoints load in Keras.

For each model (mlp, cnn): trains one short epoch with `fashion train`, loads
the checkpoint (FILE.ckpt) into the same network built with Keras 3 on
TensorFlow — the weights as they are (minitensor writes Keras layouts:
(in,out) Dense kernels, HWIO conv kernels, NHWC flatten order) and Adam's
state into a keras.optimizers.Adam (iterations, first and second moments) —
and checks that Keras's logits on 1,000 test images match minitensor's
(`mnist|fashion --weights FILE eval --logits`) within 1e-4, and that the
checkpoint's weights equal the --out file's.

usage: interop_keras.py FASHION MNIST DATA_DIR
(Python with the pins of examples/mnist/train/requirements.txt: TensorFlow,
Keras, safetensors; scripts/test.sh makes that venv.)
"""
import gzip
import os
import struct
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from safetensors import safe_open  # noqa: E402

N_TEST = 1000
TOL = 1e-4


def keras_model(kind):
    L = keras.layers
    if kind == "mlp":
        layers = [keras.Input((784,)), L.Dense(128, activation="relu", name="d1"),
                  L.Dropout(0.2), L.Dense(10, name="d2")]
    else:
        layers = [keras.Input((28, 28, 1)),
                  L.Conv2D(32, 3, activation="relu", name="conv1"), L.MaxPooling2D(2),
                  L.Conv2D(64, 3, activation="relu", name="conv2"), L.MaxPooling2D(2),
                  L.Flatten(), L.Dense(128, activation="relu", name="d1"), L.Dropout(0.3),
                  L.Dense(10, name="d2")]
    return keras.Sequential(layers)


def load_checkpoint(model, path):
    """Weights and Adam state from a minitensor checkpoint into model and an Adam."""
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
        ck = {name: f.get_tensor(name) for name in f.keys()}
    assert meta["minitensor.optimizer"] == "adam", meta
    assert int(meta["minitensor.epoch"]) == 1, meta
    opt = keras.optimizers.Adam(learning_rate=float(meta["learning_rate"]))
    opt.build(model.trainable_variables)
    steps = int(meta["minitensor.steps"])
    opt.iterations.assign(steps)
    for var in model.trainable_variables:
        layer, kind = var.path.split("/")[-2:]
        name = f"{layer}_{'w' if kind == 'kernel' else 'b'}"
        assert tuple(var.shape) == ck[name].shape, (var.path, var.shape, ck[name].shape)
        var.assign(ck[name])
        slot = opt._get_variable_index(var)
        opt._momentums[slot].assign(ck[f"optim.{name}.exp_avg"])
        opt._velocities[slot].assign(ck[f"optim.{name}.exp_avg_sq"])
    assert int(opt.iterations.numpy()) == steps > 0
    return ck


def test_images(data, tmp):
    with gzip.open(f"{data}/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:N_TEST]
    with gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:N_TEST]
    paths = os.path.join(tmp, "images.idx"), os.path.join(tmp, "labels.idx")
    with open(paths[0], "wb") as f:
        f.write(struct.pack(">IIII", 0x803, N_TEST, 28, 28) + images.tobytes())
    with open(paths[1], "wb") as f:
        f.write(struct.pack(">II", 0x801, N_TEST) + labels.tobytes())
    return images.astype(np.float32) / 255.0, paths


def check(kind, program, fashion, data, tmp, images, idx_paths):
    out = os.path.join(tmp, f"{kind}.safetensors")
    subprocess.run([fashion, "train", "--model", kind, "--epochs", "1", "--limit", "640",
                    "--data", data, "--out", out], check=True, capture_output=True)
    model = keras_model(kind)
    ck = load_checkpoint(model, out + ".ckpt")
    with safe_open(out, framework="numpy") as f:
        for name in f.keys():
            assert np.array_equal(f.get_tensor(name), ck[name]), f"{name}: .ckpt and --out differ"
    logits_path = os.path.join(tmp, f"{kind}.logits")
    subprocess.run([program, "--weights", out, "eval", *idx_paths, "--logits", logits_path],
                   check=True, capture_output=True)
    ours = np.fromfile(logits_path, "<f4").reshape(N_TEST, 10)
    x = images.reshape(N_TEST, 784) if kind == "mlp" else images[..., None]
    theirs = np.asarray(model(x, training=False))
    err = float(np.max(np.abs(ours - theirs)))
    print(f"{kind}: max |logit difference| Keras {keras.__version__} vs minitensor over "
          f"{N_TEST} images: {err:.3g} (tolerance {TOL:g})")
    return err <= TOL


def main(fashion, mnist, data):
    tmp = tempfile.mkdtemp()
    images, idx_paths = test_images(data, tmp)
    ok = check("mlp", mnist, fashion, data, tmp, images, idx_paths)
    ok &= check("cnn", fashion, fashion, data, tmp, images, idx_paths)
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
