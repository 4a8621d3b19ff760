#!/usr/bin/env python3
"""fashion_compare.py — the Fashion-MNIST CNN (examples/fashion) on the same
weights in minitensor, TensorFlow/Keras (the exporting framework) and
onnxruntime: images/s at batch 1 and 256, medians, after each engine's
logits have been checked against Keras' committed ones (1e-4).

  minitensor         bench_fashion (benches/bench_fashion.c), run from here
  tensorflow         tf.function(model) — Keras' compiled graph, the fast path
  keras eager        model(x, training=False) — the call most code makes
  onnxruntime        an ONNX graph built by hand with the `onnx` package from
                     the safetensors weights (Transpose to NCHW, Conv+Relu,
                     MaxPool ×2, Transpose back so Flatten keeps Keras' (h,w,c)
                     order, Gemm+Relu, Gemm), ORT_ENABLE_ALL

Every engine gets the same thread count (--threads, default: all cores):
TensorFlow intra-op threads (inter-op 1), onnxruntime intra-op threads,
minitensor --threads. Prints a table and writes JSON (--json).

usage (the venv of examples/mnist/train plus benches/requirements-fashion.txt):
  examples/mnist/train/.venv/bin/pip install -r benches/requirements-fashion.txt
  examples/mnist/train/.venv/bin/python benches/fashion_compare.py \\
      --bench build-fashion/benches/bench_fashion [--threads 2] [--samples 11] \\
      [--json fashion-compare.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from machine import cpu_name

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "examples", "fashion", "data")
BATCHES = (1, 256)


def measure(fn, samples):
    """Median seconds per call: warm up, samples of >= 50 ms each."""
    start, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < 0.05:
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    reps = max(1, int(0.05 / per_call) + 1)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps)
    return statistics.median(times), min(times), max(times)


def load_data(np):
    from safetensors.numpy import load_file
    weights = load_file(os.path.join(DATA, "fashion_cnn.safetensors"))
    with open(os.path.join(DATA, "test-images-idx3-ubyte"), "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    x = (np.frombuffer(raw[16:], np.uint8).reshape(n, 28, 28, 1) / 255.0).astype(np.float32)
    keras_logits = np.fromfile(os.path.join(DATA, "test-logits.f32"), "<f4").reshape(n, 10)
    return weights, x, keras_logits


def batch_of(np, x, b):
    return np.ascontiguousarray(np.resize(x, (b, 28, 28, 1)))  # the slice, repeated


# ---- TensorFlow / Keras --------------------------------------------------------------

def keras_model(weights, threads):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu", name="d1"),
        layers.Dropout(0.3),
        layers.Dense(10, name="d2"),
    ])
    for name in ("conv1", "conv2", "d1", "d2"):
        model.get_layer(name).set_weights([weights[name + "_w"], weights[name + "_b"]])
    return model


def run_tensorflow(np, weights, x, ref, threads, samples):
    import tensorflow as tf
    import keras
    model = keras_model(weights, threads)
    compiled = tf.function(lambda t: model(t, training=False))
    diff = float(np.abs(compiled(tf.constant(x)).numpy() - ref).max())
    rows = []
    for name, fn in (("tensorflow tf.function", compiled),
                     ("keras eager model(x)", lambda t: model(t, training=False))):
        result = {"engine": name, "version": f"tensorflow {tf.__version__}, keras "
                  f"{keras.__version__}", "max_abs_diff_vs_keras": diff, "batches": []}
        for b in BATCHES:
            t = tf.constant(batch_of(np, x, b))
            med, lo, hi = measure(lambda: fn(t), samples)
            result["batches"].append({"batch": b, "images_per_s": b / med,
                                      "min": b / hi, "max": b / lo})
        rows.append(result)
    return rows


# ---- onnxruntime -------------------------------------------------------------------------

def onnx_graph(np, weights):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name, arr):
        return numpy_helper.from_array(np.ascontiguousarray(arr), name)

    inits = [
        const("w1", weights["conv1_w"].transpose(3, 2, 0, 1)),   # HWIO -> OIHW
        const("b1", weights["conv1_b"]),
        const("w2", weights["conv2_w"].transpose(3, 2, 0, 1)),
        const("b2", weights["conv2_b"]),
        const("d1_w", weights["d1_w"]), const("d1_b", weights["d1_b"]),
        const("d2_w", weights["d2_w"]), const("d2_b", weights["d2_b"]),
        const("flat_shape", np.array([-1, 1600], np.int64)),
    ]
    node = helper.make_node
    nodes = [
        node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]),
        node("Conv", ["x_nchw", "w1", "b1"], ["c1"], kernel_shape=[3, 3]),
        node("Relu", ["c1"], ["r1"]),
        node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3]),
        node("Relu", ["c2"], ["r2"]),
        node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Transpose", ["p2"], ["p2_nhwc"], perm=[0, 2, 3, 1]),   # Keras' (h,w,c) flatten
        node("Reshape", ["p2_nhwc", "flat_shape"], ["flat"]),
        node("Gemm", ["flat", "d1_w", "d1_b"], ["h1"]),
        node("Relu", ["h1"], ["a1"]),
        node("Gemm", ["a1", "d2_w", "d2_b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "fashion_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="benches/fashion_compare.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def run_onnxruntime(np, weights, x, ref, threads, samples):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_graph(np, weights), opts,
                                providers=["CPUExecutionProvider"])
    diff = float(np.abs(sess.run(None, {"x": x})[0] - ref).max())
    import onnx
    result = {"engine": "onnxruntime", "version": f"onnxruntime {ort.__version__}, onnx "
              f"{onnx.__version__}", "max_abs_diff_vs_keras": diff, "batches": []}
    for b in BATCHES:
        xb = batch_of(np, x, b)
        med, lo, hi = measure(lambda: sess.run(None, {"x": xb}), samples)
        result["batches"].append({"batch": b, "images_per_s": b / med,
                                  "min": b / hi, "max": b / lo})
    return [result]


# ---- minitensor -------------------------------------------------------------------------

def run_minitensor(bench, threads, samples):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        subprocess.run([bench, "--threads", str(threads), "--samples", str(samples),
                        "--json", out], check=True, stdout=subprocess.DEVNULL)
        with open(out, encoding="utf-8") as f:
            got = json.load(f)
    return [{"engine": "minitensor", "version": got["backend"],
             "max_abs_diff_vs_keras": got["validation"]["max_abs_diff_vs_keras"],
             "batches": [{"batch": t["batch"], "images_per_s": t["images_per_s"],
                          "min": t["min"], "max": t["max"]} for t in got["throughput"]]}]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "build-fashion", "benches",
                                                    "bench_fashion"))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--samples", type=int, default=11)
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()

    import numpy as np
    weights, x, ref = load_data(np)
    rows = run_minitensor(args.bench, args.threads, args.samples)
    rows += run_tensorflow(np, weights, x, ref, args.threads, args.samples)
    rows += run_onnxruntime(np, weights, x, ref, args.threads, args.samples)
    bad = [r["engine"] for r in rows if not r["max_abs_diff_vs_keras"] <= 1e-4]
    if bad:
        sys.exit(f"fashion_compare: logits differ from Keras' by more than 1e-4: {bad}")

    print(f"Fashion-MNIST CNN, {cpu_name()}, {os.cpu_count()} cores, "
          f"{args.threads} threads, median of {args.samples} samples (images/s)")
    print(f"{'engine':<26} {'batch 1':>10} {'batch 256':>10}   {'max |diff| vs Keras':>20}")
    for r in rows:
        per = {b["batch"]: b["images_per_s"] for b in r["batches"]}
        print(f"{r['engine']:<26} {per[1]:>10.0f} {per[256]:>10.0f}   "
              f"{r['max_abs_diff_vs_keras']:>20.3g}")
    result = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
              "threads": args.threads, "samples": args.samples, "results": rows}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
