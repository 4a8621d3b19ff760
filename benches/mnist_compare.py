#!/usr/bin/env python3
"""mnist_compare.py — the MNIST MLP on the same weights and digits in
minitensor, NumPy, onnxruntime and (when importable) PyTorch, side by side:
µs per image at batch 1 and images/s at batch 256, medians, after checking
each engine's logits against TensorFlow's committed ones (1e-4).

  minitensor    bench_mnist (benches/bench_mnist.c): backend auto, native,
                openblas, blis at the same thread count
  numpy         x @ W1 + b1, maximum, @ W2 + b2
  onnxruntime   MatMul/Add/Relu graph built with the `onnx` package
  pytorch       torch.nn.functional.linear on the transposed weights

Every engine runs with the same thread count (--threads, default 1).

usage:
  python3 -m venv /tmp/bench-venv
  /tmp/bench-venv/bin/pip install -r benches/requirements-mnist.txt
  /tmp/bench-venv/bin/python benches/mnist_compare.py --bench build/benches/bench_mnist
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "examples", "mnist", "data")


def load():
    import numpy as np
    from safetensors.numpy import load_file

    w = load_file(os.path.join(DATA, "mnist_mlp.safetensors"))
    raw = open(os.path.join(DATA, "test-images-idx3-ubyte"), "rb").read()
    n = int.from_bytes(raw[4:8], "big")
    x = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 784).astype(np.float32) / 255.0
    ref = np.fromfile(os.path.join(DATA, "test-logits.f32"), "<f4").reshape(n, 10)
    return w, x, ref


CLOCK = time.perf_counter


def timed(fn, x, batch, samples):
    """µs/image (batch 1) or images/s (batch 256): medians of `samples`."""
    n = 1000 if batch == 1 else 3 * 256
    chunks = [x[i:i + batch] for i in range(0, n, batch)]
    for c in chunks[:3]:
        fn(c)
    results = []
    for _ in range(samples):
        t0 = CLOCK()
        for c in chunks:
            fn(c)
        dt = CLOCK() - t0
        results.append(dt / n * 1e6 if batch == 1 else n / dt)
    return statistics.median(results)


def engines(w, threads):
    import numpy as np

    w1, b1, w2, b2 = w["d1_w"], w["d1_b"], w["d2_w"], w["d2_b"]
    out = {"numpy": lambda x: np.maximum(x @ w1 + b1, 0) @ w2 + b2}
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"]),
                 helper.make_node("Add", ["h0", "b1"], ["h1"]),
                 helper.make_node("Relu", ["h1"], ["h"]),
                 helper.make_node("MatMul", ["h", "w2"], ["y0"]),
                 helper.make_node("Add", ["y0", "b2"], ["y"])]
        graph = helper.make_graph(
            nodes, "mnist",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 784])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
            [numpy_helper.from_array(a, n) for n, a in
             (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        out[f"onnxruntime {ort.__version__}"] = lambda x: sess.run(None, {"x": x})[0]
    except ImportError as e:
        print(f"onnxruntime: skipped ({e})", file=sys.stderr)
    try:
        import torch

        torch.set_num_threads(threads)
        t = {k: torch.from_numpy(v.copy()) for k, v in w.items()}
        w1t, w2t = t["d1_w"].T.contiguous(), t["d2_w"].T.contiguous()   # (out, in)

        def run(x):
            with torch.inference_mode():
                h = torch.relu(torch.nn.functional.linear(torch.from_numpy(x), w1t, t["d1_b"]))
                return torch.nn.functional.linear(h, w2t, t["d2_b"]).numpy()
        out[f"pytorch {torch.__version__}"] = run
    except Exception as e:   # noqa: BLE001 — any import failure means "not here"
        print(f"pytorch: skipped ({type(e).__name__}: {str(e)[:80]})", file=sys.stderr)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path to bench_mnist")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=11)
    ap.add_argument("--json", default="mnist-compare.json")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the process's CPU time (every engine; bench_mnist "
                         "--cpu-time): on a loaded machine preemption then does not "
                         "count. One thread only: at two it sums both threads")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    w, x, ref = load()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mt.json")
        subprocess.run([args.bench, path, "--repeats", str(args.samples)] +
                       (["--cpu-time"] if args.cpu_time else []), check=True,
                       stdout=subprocess.DEVNULL)
        for r in json.load(open(path))["results"]:
            if r["threads"] == args.threads and r["backend"] != "naive":
                rows.append((f"minitensor {r['backend']}", r["batch1_us_per_image"],
                             r["batch256_images_per_s"], r["max_abs_diff_vs_tensorflow"]))
    for name, fn in engines(w, args.threads).items():
        diff = float(abs(fn(x) - ref).max())
        if diff > 1e-4:
            sys.exit(f"{name}: logits differ from TensorFlow's by {diff}")
        rows.append((name, timed(fn, x, 1, args.samples), timed(fn, x, 256, args.samples), diff))
    best_mt = min(r[1] for r in rows if r[0].startswith("minitensor"))
    best_mt_tp = max(r[2] for r in rows if r[0].startswith("minitensor"))
    print(f"MNIST MLP, {args.threads} thread(s), median of {args.samples}"
          f"{', CPU time' if args.cpu_time else ''}")
    print(f"{'engine':<24}{'batch 1 µs/img':>16}{'× best mt':>10}{'batch 256 img/s':>17}"
          f"{'best mt ×':>10}{'max |Δ| vs TF':>15}")
    for name, us, ips, diff in rows:
        print(f"{name:<24}{us:>16.2f}{us / best_mt:>10.2f}{ips:>17.0f}{best_mt_tp / ips:>10.2f}"
              f"{diff:>15.2e}")
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump({"threads": args.threads, "samples": args.samples,
                   "clock": "process CPU time" if args.cpu_time else "wall",
                   "results": [dict(zip(("engine", "batch1_us_per_image",
                                         "batch256_images_per_s", "max_abs_diff"), r))
                               for r in rows]}, f, indent=2)
    print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
