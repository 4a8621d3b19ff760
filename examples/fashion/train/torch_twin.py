#!/usr/bin/python3
"""torch_twin.py — the PyTorch twin of `fashion train --model mlp|cnn`.

Trains the same network — mlp: 784 -> 128 ReLU -> Dropout(0.2) -> 10; cnn:
Conv 3x3x32 ReLU, MaxPool 2, Conv 3x3x64 ReLU, MaxPool 2, Flatten, Dense
1600-128 ReLU, Dropout 0.3, Dense 10 — with PyTorch's default
initialisation, Adam (lr 1e-3), batch 64, reshuffled every epoch, the same
learning-rate schedule as `fashion train`'s default for the model (mlp:
constant; cnn: cosine from 1e-3 to 0 over all steps, per step), on the same
Fashion-MNIST files, evaluates on the 10,000 test images after every epoch,
runs `fashion train` with the same settings and prints both test accuracies
per epoch side by side. Exit status 0 when the final accuracies are within
0.5 points.

Pinned: Debian 12's /usr/bin/python3 (3.11) with python3-torch 1.13 (torch.__version__ 1.13.0a0) and
python3-numpy 1.24.2 (no pip). Usage:

    /usr/bin/python3 examples/fashion/train/torch_twin.py build/examples/fashion/fashion \
        [--model mlp|cnn] [--epochs 5|10] [--schedule constant|cosine] [--seed 0]
        [--threads 1] [--limit N] [--data DIR]
"""
import argparse
import gzip
import math
import re
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn


def load(data, prefix, limit):
    with gzip.open(f"{data}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(f"{data}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return (torch.from_numpy(images.astype(np.float32) / 255.0),
            torch.from_numpy(labels.astype(np.int64)))


def model(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(128, 10))
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10))


def train_torch(args, log):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    x, y = load(args.data, "train", args.limit)
    tx, ty = load(args.data, "t10k", args.limit)
    net = model(args.model)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    total = args.epochs * ((len(x) + 63) // 64)
    # fashion train's cosine: 1e-3 * (1 + cos(pi * step / total)) / 2 for the
    # step about to be taken (mt_lr_cosine_warmup with no warmup, min 0)
    cosine = lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, cosine if args.schedule == "cosine" else lambda step: 1.0)
    loss_fn = nn.CrossEntropyLoss()
    accuracies = []
    for epoch in range(1, args.epochs + 1):
        net.train()
        order = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), 64):
            rows = order[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(net(x[rows]), y[rows])
            loss.backward()
            opt.step()
            sched.step()
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            acc = sum((net(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum().item()
                      for i in range(0, len(tx), 1000)) / len(tx) * 100
        accuracies.append(acc)
        log(f"pytorch epoch {epoch}: test {acc:.2f}%  {len(x) / seconds:.0f} images/s")
    return accuracies


def train_ours(args, log):
    cmd = [args.fashion, "train", "--model", args.model, "--epochs", str(args.epochs),
           "--schedule", args.schedule,
           "--seed", str(args.seed), "--threads", str(args.threads), "--data", args.data,
           "--out", args.out]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    log("$ " + " ".join(cmd))
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    accuracies = [float(a) for a in re.findall(r"test ([0-9.]+)%", run.stdout)]
    for line in run.stdout.splitlines():
        log("minitensor " + line)
    return accuracies


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("fashion", help="the built fashion program")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--epochs", type=int, help="default 5 (mlp), 10 (cnn)")
    p.add_argument("--schedule", choices=["constant", "cosine"],
                   help="default constant (mlp), cosine (cnn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", help="default /tmp/torch_twin_MODEL.safetensors")
    args = p.parse_args()
    args.epochs = args.epochs or (5 if args.model == "mlp" else 10)
    args.schedule = args.schedule or ("constant" if args.model == "mlp" else "cosine")
    args.out = args.out or f"/tmp/torch_twin_{args.model}.safetensors"
    log = lambda s: print(s, file=sys.stderr, flush=True)
    ours = train_ours(args, log)
    theirs = train_torch(args, log)
    print(f"{args.model}: torch {torch.__version__}, batch 64, Adam 1e-3, {args.schedule} "
          f"schedule, {args.epochs} epochs, {args.threads} thread(s), seed {args.seed}")
    print("epoch  minitensor  pytorch  difference")
    for e, (a, b) in enumerate(zip(ours, theirs), 1):
        print(f"{e:5d}  {a:9.2f}%  {b:6.2f}%  {a - b:+9.2f}")
    gap = abs(ours[-1] - theirs[-1])
    verdict = "within" if gap <= 0.5 else "NOT within"
    print(f"final: minitensor {ours[-1]:.2f}%, pytorch {theirs[-1]:.2f}%: {verdict} 0.5 points")
    return 0 if gap <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
