#!/usr/bin/env python3
"""PyTorch references for tests/test_autograd.c and test_optim.c.

Run with Debian's interpreter (python3-torch 1.13):
    /usr/bin/python3 tests/train/make_train_refs.py
Writes tests/train/train_refs.safetensors: a small MLP's batch, weights,
PyTorch's loss and gradients (float64 arithmetic, stored as float32), and
the weights after three steps of SGD (momentum, Nesterov, weight decay),
Adam (weight decay) and AdamW, each run by torch.optim in float32; and four
steps of each on two parameters where the second gets no gradient (grad None,
which torch.optim skips) until the third step, with SGD's dampening and
AdamW under clip_grad_norm_; cross_entropy with ignore_index;
binary_cross_entropy_with_logits with pos_weight.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "op_table"))
from optable import write_tensors  # noqa: E402  (reuses the writer)


def mlp_loss(x, labels, w1, b1, w2, b2, smoothing):
    h = torch.relu(x @ w1 + b1)
    logits = h @ w2 + b2
    return torch.nn.functional.cross_entropy(logits, labels, label_smoothing=smoothing)


def main():
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((8, 20)).astype(np.float32)
    labels = rng.integers(0, 5, size=8).astype(np.int64)
    w1 = (rng.standard_normal((20, 16)) * 0.3).astype(np.float32)
    b1 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((16, 5)) * 0.3).astype(np.float32)
    b2 = (rng.standard_normal(5) * 0.1).astype(np.float32)
    weights = [w1, b1, w2, b2]
    tensors = {"x": x, "labels": labels, "w1": w1, "b1": b1, "w2": w2, "b2": b2}

    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    loss = mlp_loss(torch.tensor(x, dtype=torch.float64), torch.tensor(labels), *params, 0.1)
    loss.backward()
    tensors["loss"] = np.array(loss.item(), dtype=np.float32)
    for name, p in zip(["w1", "b1", "w2", "b2"], params):
        tensors[f"grad.{name}"] = p.grad.numpy().astype(np.float32)

    optimizers = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                          weight_decay=1e-3),
        "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=1e-3),
        "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    }
    for name, make in optimizers.items():
        ps = [torch.tensor(w, requires_grad=True) for w in weights]
        opt = make(ps)
        for _ in range(3):
            opt.zero_grad()
            mlp_loss(torch.tensor(x), torch.tensor(labels), *ps, 0.1).backward()
            opt.step()
        for pname, p in zip(["w1", "b1", "w2", "b2"], ps):
            tensors[f"{name}.{pname}"] = p.detach().numpy()

    late_steps(rng, tensors)
    ignore_index(rng, tensors)
    bce_pos_weight(rng, tensors)
    write_tensors(os.path.join(HERE, "train_refs.safetensors"), tensors)


def ignore_index(rng, tensors):
    """cross_entropy(ignore_index=...): torch's default -100 with smoothing and a
    mean over the rows left; an index inside 0..C-1 with a sum; every row
    ignored (mean: NaN, gradient zero). float64, stored as float32."""
    logits = rng.standard_normal((5, 4)).astype(np.float32)
    tensors["ce_ignore.logits"] = logits
    cases = {"neg": ([0, -100, 3, -100, 1], "mean", 0.2, -100),
             "two": ([0, 2, 3, 2, 1], "sum", 0.1, 2),
             "all": ([2, 2, 2, 2, 2], "mean", 0.3, 2)}
    for name, (labels, reduction, smoothing, index) in cases.items():
        x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(x, torch.tensor(labels), reduction=reduction,
                                                 label_smoothing=smoothing, ignore_index=index)
        loss.backward()
        tensors[f"ce_ignore.{name}.labels"] = np.array(labels, dtype=np.int64)
        tensors[f"ce_ignore.{name}.loss"] = np.array(loss.item(), dtype=np.float32)
        tensors[f"ce_ignore.{name}.grad"] = x.grad.numpy().astype(np.float32)


def bce_pos_weight(rng, tensors):
    """binary_cross_entropy_with_logits(x [4,3], soft targets, pos_weight [3]),
    mean; float64, stored as float32."""
    x = rng.standard_normal((4, 3)).astype(np.float32)
    target = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    pos_weight = rng.uniform(0.2, 3, 3).astype(np.float32)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(target, dtype=torch.float64),
        pos_weight=torch.tensor(pos_weight, dtype=torch.float64))
    loss.backward()
    tensors.update({"bce_pw.x": x, "bce_pw.target": target, "bce_pw.pos_weight": pos_weight,
                    "bce_pw.loss": np.array(loss.item(), dtype=np.float32),
                    "bce_pw.grad": xt.grad.numpy().astype(np.float32)})


def late_steps(rng, tensors):
    """loss = sum(c·w²) on steps 0 and 1, + sum(u³) from step 2: u's grad is
    None for two steps (torch.optim leaves u alone: no weight decay, no state,
    and its own step count starts later)."""
    w0 = rng.standard_normal(5).astype(np.float32)
    u0 = rng.standard_normal((2, 2)).astype(np.float32)
    c = rng.standard_normal(5).astype(np.float32)
    tensors.update({"late.w": w0, "late.u": u0, "late.c": c})
    optimizers = {
        "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3,
                                           weight_decay=0.01), None),
        "adam": (lambda ps: torch.optim.Adam(ps, lr=0.05, weight_decay=0.1), None),
        "adamw": (lambda ps: torch.optim.AdamW(ps, lr=0.05, betas=(0.5, 0.999)), 0.5),
    }
    for name, (make, clip) in optimizers.items():
        w, u = torch.tensor(w0, requires_grad=True), torch.tensor(u0, requires_grad=True)
        opt = make([w, u])
        for step in range(4):
            opt.zero_grad()
            loss = (torch.tensor(c) * w * w).sum()
            if step >= 2:
                loss = loss + (u ** 3).sum()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_([w, u], clip)
            opt.step()
        tensors[f"late.{name}.w"] = w.detach().numpy()
        tensors[f"late.{name}.u"] = u.detach().numpy()


if __name__ == "__main__":
    main()
