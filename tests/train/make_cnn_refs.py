#!/usr/bin/env python3
"""PyTorch references for the CNN test of tests/test_autograd.c.

Run with Debian's interpreter (python3-torch 1.13):
    /usr/bin/python3 tests/train/make_cnn_refs.py
Writes tests/train/cnn_refs.safetensors: the Fashion CNN of
examples/fashion/model.c (Conv 3x3x32 ReLU -> MaxPool 2 -> Conv 3x3x64 ReLU ->
MaxPool 2 -> Flatten in NHWC order -> Dense 1600-128 ReLU -> Dense 10; the
dropout is off), on a batch of 3 images: inputs [3,28,28,1], weights in
Keras layouts (HWIO kernels, [in,out] dense), the mean cross-entropy and its
gradients, all computed in float64 and stored as float32.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "op_table"))
from optable import write_tensors  # noqa: E402  (reuses the writer)

NAMES = ["conv1_w", "conv1_b", "conv2_w", "conv2_b", "d1_w", "d1_b", "d2_w", "d2_b"]


def cnn_loss(x, labels, c1w, c1b, c2w, c2b, d1w, d1b, d2w, d2b):
    h = x.permute(0, 3, 1, 2)                          # NHWC -> NCHW
    h = F.relu(F.conv2d(h, c1w.permute(3, 2, 0, 1), c1b))   # HWIO -> OIHW
    h = F.max_pool2d(h, 2)
    h = F.relu(F.conv2d(h, c2w.permute(3, 2, 0, 1), c2b))
    h = F.max_pool2d(h, 2)
    h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)   # Keras' (h, w, c) order
    h = F.relu(h @ d1w + d1b)
    return F.cross_entropy(h @ d2w + d2b, labels)


def main():
    rng = np.random.default_rng(4321)
    x = rng.random((3, 28, 28, 1)).astype(np.float32)
    labels = np.array([3, 7, 0], dtype=np.int64)
    shapes = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 128), (128,),
              (128, 10), (10,)]
    fan_in = [9, 9, 288, 288, 1600, 1600, 128, 128]
    weights = [(rng.uniform(-1, 1, s) / np.sqrt(f)).astype(np.float32)
               for s, f in zip(shapes, fan_in)]
    tensors = {"x": x, "labels": labels}
    tensors.update(dict(zip(NAMES, weights)))
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    loss = cnn_loss(torch.tensor(x, dtype=torch.float64), torch.tensor(labels), *params)
    loss.backward()
    tensors["loss"] = np.array(loss.item(), dtype=np.float32)
    for name, p in zip(NAMES, params):
        tensors[f"grad.{name}"] = p.grad.numpy().astype(np.float32)
    write_tensors(os.path.join(HERE, "cnn_refs.safetensors"), tensors)


if __name__ == "__main__":
    main()
