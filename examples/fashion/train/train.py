#!/usr/bin/env python3
"""Train the reference Fashion-MNIST CNN with TensorFlow/Keras and export artefacts.

Reads Fashion-MNIST (60,000 train + 10,000 test images, gzip-compressed IDX)
from Debian's package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/),
trains

  keras.Sequential([Input((28, 28, 1)),
                    Conv2D(32, 3, relu), MaxPooling2D(2),
                    Conv2D(64, 3, relu), MaxPooling2D(2),
                    Flatten, Dense(128, relu), Dropout(0.3), Dense(10)])

on the full training set and writes to ../data/ (see README.md):

  fashion_cnn.safetensors  conv1_w [3,3,1,32]  conv1_b [32]
                           conv2_w [3,3,32,64] conv2_b [64]
                           d1_w [1600,128] d1_b [128] d2_w [128,10] d2_b [10]
  test-images-idx3-ubyte   the first N_SLICE official test images, IDX, uint8
  test-labels-idx1-ubyte   their labels, IDX
  test-logits.f32          model(x, training=False), N_SLICE x 10 little-endian f32
  reference.json           accuracies (full test set and slice), versions, seed, epochs
"""
import gzip
import hashlib
import json
import os
import struct
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import keras
import safetensors
from safetensors.tensorflow import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "data"))

SEED = 42
EPOCHS = 12
BATCH_SIZE = 128
N_SLICE = 500  # first 500 images of the official test set -> ../data/

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# SHA-256 of the *decompressed* IDX files of dataset-fashion-mnist
# 0.0~git20200523.55506a9-1 (Debian 12).  The .gz files themselves differ from
# the MD5s in upstream's README only in the gzip header (Debian's copy has no
# embedded file name and a 2020-06-05 mtime), so hash the content instead.
SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def read_gz(name):
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        buf = f.read()
    got = hashlib.sha256(buf).hexdigest()
    assert got == SHA256[name], f"{name}: sha256 {got} != {SHA256[name]}"
    return buf


def load_idx_images(name):
    buf = read_gz(name)
    magic, n, h, w = struct.unpack(">IIII", buf[:16])
    assert magic == 0x00000803 and (h, w) == (28, 28), (name, hex(magic), h, w)
    assert len(buf) == 16 + n * h * w
    return np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(n, h, w)


def load_idx_labels(name):
    buf = read_gz(name)
    magic, n = struct.unpack(">II", buf[:8])
    assert magic == 0x00000801, (name, hex(magic))
    assert len(buf) == 8 + n
    y = np.frombuffer(buf, dtype=np.uint8, offset=8)
    assert y.max() <= 9
    return y


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


def build_model():
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),  # NHWC -> (h, w, c) order, 5*5*64
        keras.layers.Dense(128, activation="relu", name="d1"),
        keras.layers.Dropout(0.3, name="dropout"),
        keras.layers.Dense(10, name="d2"),
    ])


def main():
    if not os.path.isdir(DATA_DIR):
        sys.exit(f"missing {DATA_DIR}: run `apt-get install dataset-fashion-mnist` (as root)")
    os.makedirs(OUT_DIR, exist_ok=True)

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(SEED)
    if hasattr(tf.config.experimental, "enable_op_determinism"):
        tf.config.experimental.enable_op_determinism()

    xtr_u8 = load_idx_images("train-images-idx3-ubyte.gz")
    ytr = load_idx_labels("train-labels-idx1-ubyte.gz")
    xte_u8 = load_idx_images("t10k-images-idx3-ubyte.gz")
    yte = load_idx_labels("t10k-labels-idx1-ubyte.gz")
    assert xtr_u8.shape == (60000, 28, 28) and ytr.shape == (60000,)
    assert xte_u8.shape == (10000, 28, 28) and yte.shape == (10000,)
    print(f"train {len(xtr_u8)}  test {len(xte_u8)}  slice {N_SLICE}")
    xtr = (xtr_u8.astype(np.float32) / np.float32(255.0))[..., None]  # [N,28,28,1]
    xte = (xte_u8.astype(np.float32) / np.float32(255.0))[..., None]

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    t0 = time.perf_counter()
    model.fit(xtr, ytr.astype(np.int64), epochs=EPOCHS, batch_size=BATCH_SIZE,
              shuffle=True, verbose=2)
    train_s = time.perf_counter() - t0
    print(f"training took {train_s:.1f} s ({train_s / EPOCHS:.1f} s/epoch)")
    loss, acc = model.evaluate(xte, yte.astype(np.int64), verbose=0)
    print(f"full test (10,000) loss {loss:.4f}  accuracy {acc:.4f}")

    x_slice_u8, y_slice = xte_u8[:N_SLICE], yte[:N_SLICE]
    logits = model(xte[:N_SLICE], training=False)
    logits_np = np.asarray(logits, dtype=np.float32)
    assert logits_np.shape == (N_SLICE, 10)
    slice_acc = float(np.mean(np.argmax(logits_np, axis=1) == y_slice))
    print(f"slice ({N_SLICE}) accuracy {slice_acc:.4f}")

    def t(v):
        # Keras 3 weights are keras.Variable; convert to plain tf.Tensor for safetensors.
        return tf.convert_to_tensor(v, dtype=tf.float32)

    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    dense1, dense2 = model.get_layer("d1"), model.get_layer("d2")
    tensors = {
        "conv1_w": t(conv1.kernel),  # [3,3,1,32]   HWIO
        "conv1_b": t(conv1.bias),    # [32]
        "conv2_w": t(conv2.kernel),  # [3,3,32,64]  HWIO
        "conv2_b": t(conv2.bias),    # [64]
        "d1_w": t(dense1.kernel),    # [1600,128]   (in,out), rows in (h,w,c) order
        "d1_b": t(dense1.bias),      # [128]
        "d2_w": t(dense2.kernel),    # [128,10]
        "d2_b": t(dense2.bias),      # [10]
    }
    expect = {
        "conv1_w": (3, 3, 1, 32), "conv1_b": (32,),
        "conv2_w": (3, 3, 32, 64), "conv2_b": (64,),
        "d1_w": (1600, 128), "d1_b": (128,),
        "d2_w": (128, 10), "d2_b": (10,),
    }
    for k, shape in expect.items():
        assert tuple(tensors[k].shape) == shape, (k, tensors[k].shape)
    metadata = {
        "framework": f"tensorflow {tf.__version__}",
        "keras": keras.__version__,
        "format": "keras-channels-last",
    }
    st_path = os.path.join(OUT_DIR, "fashion_cnn.safetensors")
    save_file(tensors, st_path, metadata=metadata)
    canonicalize_safetensors_metadata(st_path)

    write_idx_images(os.path.join(OUT_DIR, "test-images-idx3-ubyte"), x_slice_u8)
    write_idx_labels(os.path.join(OUT_DIR, "test-labels-idx1-ubyte"), y_slice)
    logits_np.astype("<f4").tofile(os.path.join(OUT_DIR, "test-logits.f32"))

    ref = {
        "n_slice": N_SLICE,
        "accuracy_full_test": round(float(acc), 6),
        "accuracy_slice": round(slice_acc, 6),
        "loss_full_test": round(float(loss), 6),
        "n_train": int(len(xtr_u8)),
        "n_test_full": int(len(xte_u8)),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "seed": SEED,
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "class_names": CLASS_NAMES,
        "data": "Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1; "
                "train on all 60,000, slice = first 500 of the 10,000 official test images",
    }
    with open(os.path.join(OUT_DIR, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(json.dumps(ref, indent=2))


if __name__ == "__main__":
    main()
