#!/usr/bin/python3
"""bench_train.py — training images/s of the Fashion-MNIST MLP (784-128-10,
dropout 0.2) or CNN (`--model cnn`: examples/fashion/model.c's network), Adam,
batch 64: `fashion train` against PyTorch eager, at 1 and 2 threads, in one
run, on the same images.

Each measurement trains one epoch over the first N training images (`fashion
train --limit N`; PyTorch: the same loop as examples/fashion/train/torch_twin.py)
and reads the images/s of the training loop alone (not loading, not the
evaluation). Repeats alternate the two frameworks; the medians are reported.
Prints a table and writes JSON. A benchmark, not a test: the numbers depend
on the machine and its load.

    /usr/bin/python3 benches/bench_train.py build/examples/fashion/fashion \
        [--model mlp|cnn] [--limit 20000] [--repeats 5] [--threads 1,2] [--json FILE]
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/examples/fashion/train")
from torch_twin import load, model  # noqa: E402
from machine import cpu_name  # noqa: E402


def ours(fashion, kind, data, limit, threads):
    out = subprocess.run([fashion, "train", "--model", kind, "--epochs", "1", "--limit",
                          str(limit), "--threads", str(threads), "--data", data, "--out",
                          f"/tmp/bench_train_{kind}.safetensors"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"([0-9.]+) images/s", out).group(1))


def theirs(kind, x, y, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net, loss_fn = model(kind), nn.CrossEntropyLoss()  # torch_twin's, NCHW for the CNN
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    order = torch.randperm(len(x))
    start = time.perf_counter()
    for i in range(0, len(x), 64):
        rows = order[i:i + 64]
        opt.zero_grad()
        loss_fn(net(x[rows]), y[rows]).backward()
        opt.step()
    return len(x) / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("fashion")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--limit", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--json", default="bench_train.json")
    a = p.parse_args()
    x, y = load(a.data, "train", a.limit)
    theirs(a.model, x[:640], y[:640], 1)   # warm-up
    rows = []
    for t in [int(s) for s in a.threads.split(",")]:
        m, q = [], []
        for _ in range(a.repeats):
            m.append(ours(a.fashion, a.model, a.data, a.limit, t))
            q.append(theirs(a.model, x, y, t))
        rows.append({"threads": t, "minitensor": statistics.median(m),
                     "pytorch": statistics.median(q), "minitensor_all": m, "pytorch_all": q})
    result = {"model": a.model, "cpu": cpu_name(), "torch": torch.__version__,
              "images": a.limit,
              "repeats": a.repeats, "batch": 64, "rows": rows}
    print(f"{a.model}; CPU: {result['cpu']}; torch {torch.__version__}; {a.limit} images, "
          f"one epoch, "
          f"median of {a.repeats}")
    print("| threads | minitensor images/s | PyTorch eager images/s | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['threads']} | {r['minitensor']:.0f} | {r['pytorch']:.0f} | "
              f"{r['minitensor'] / r['pytorch']:.2f} |")
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
