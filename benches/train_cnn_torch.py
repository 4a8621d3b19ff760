#!/usr/bin/env python3
"""PyTorch's training speed for the Fashion CNN, to compare with
`fashion train --model cnn` (examples/fashion/train_model.c).

    /usr/bin/python3 benches/train_cnn_torch.py [--threads T] [--steps S]

The same network (Conv 3x3x32 ReLU, MaxPool 2, Conv 3x3x64 ReLU, MaxPool 2,
Flatten, Dense 1600-128 ReLU, Dropout 0.3, Dense 10), eager mode, float32,
Adam 1e-3, batch 64, channels-first as PyTorch users write it; random
images (speed does not depend on the pixels). Prints training images/s
after a warm-up, best of three timed runs of S steps, by the clock and
per CPU-second (all threads' time: a fairer figure on a busy machine).
"""
import argparse
import time

import torch
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(a.batch, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(10):
        step()
    best = best_cpu = 0.0
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            step()
        best = max(best, a.steps * a.batch / (time.perf_counter() - t))
        best_cpu = max(best_cpu, a.steps * a.batch / (time.process_time() - c))
    print(f"torch {torch.__version__} threads {a.threads}: {best:.0f} images/s "
          f"({best_cpu:.0f} per CPU-second)")


if __name__ == "__main__":
    main()
