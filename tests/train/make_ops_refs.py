#!/usr/bin/env python3
"""PyTorch references for the differentiable op set's rows in
tests/train/fd_rows_ops.h: for each row (by its name) the output and the
gradient of sum(out * weights) with respect to each parameter, computed in
float64 from the same float32 parameters the C harness makes.

Run with Debian's interpreter (python3-torch 1.13):
    /usr/bin/python3 tests/train/make_ops_refs.py
Writes tests/train/ops_refs.safetensors ("<row>.out", "<row>.grad<k>").
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "op_table"))
from optable import write_tensors  # noqa: E402  (reuses the writer)


def params(shapes):
    """The C harness's parameters: rand_unit (tests/test_util.h) * 1.5f, seed 99."""
    state, out = 99, []
    for shape in shapes:
        values = []
        for _ in range(int(np.prod(shape, dtype=np.int64))):
            state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            unit = np.float32((state >> 40) / float(1 << 24) * 2.0 - 1.0)
            values.append(unit * np.float32(1.5))
        out.append(np.array(values, dtype=np.float32).reshape(shape))
    return out


def weights(n):
    return torch.tensor([0.5 + 0.37 * ((i * 7) % 5) for i in range(n)], dtype=torch.float64)


def attention(q, k, v, mask, scale):
    s = (q @ k.transpose(-1, -2)) * scale
    s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, -1) @ v


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def split_concat(x, b):
    p = x.split(2, 0)
    return torch.cat([torch.tanh(p[0]), p[1] * p[1], p[2] * b], 0)


def chunk(x):
    c = x.chunk(3, -1)
    return c[0] * c[2] + c[1]


EMB = torch.tensor([[3, 0, 3], [1, 3, 0]])
SEL = torch.tensor([2, 0, 2, 1])
ALONG = torch.tensor([1, 0, 2, 2, 2, 0]).reshape(1, 2, 3)
WHERE = torch.tensor([1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0], dtype=torch.bool).reshape(3, 4)
KEEP = torch.tensor([[1, 0, 1], [1, 1, 0]], dtype=torch.bool)
up = lambda x: x + 2.0  # noqa: E731  (shift_up in the C rows)

ROWS = {
    "gelu": ([(3, 5)], lambda x: F.gelu(x)),
    "gelu_tanh": ([(3, 5)], lambda x: F.gelu(x, approximate="tanh")),
    "tanh": ([(3, 5)], torch.tanh),
    "tanh of a transposed view": ([(3, 5)], lambda x: torch.tanh(x.t())),
    "sigmoid": ([(3, 5)], torch.sigmoid),
    "silu": ([(3, 5)], F.silu),
    "neg": ([(4,)], torch.neg),
    "abs": ([(3, 5)], torch.abs),
    "exp": ([(3, 5)], torch.exp),
    "log": ([(3, 5)], lambda x: torch.log(up(x))),
    "sqrt": ([(3, 5)], lambda x: torch.sqrt(up(x))),
    "rsqrt": ([(3, 5)], lambda x: torch.rsqrt(up(x))),
    "square": ([(3, 5)], torch.square),
    "reciprocal": ([(3, 5)], lambda x: torch.reciprocal(up(x))),
    "softplus": ([(3, 5)], F.softplus),
    "hardswish": ([(3, 5)], lambda x: F.hardswish(x * 3.0)),
    "leaky_relu": ([(3, 5)], lambda x: F.leaky_relu(x, 0.1)),
    "elu": ([(3, 5)], lambda x: F.elu(x, 1.3)),
    "add_scalar": ([(1, 5)], lambda x: x + 0.7),
    "pow_scalar": ([(3, 5)], lambda x: torch.pow(up(x), 1.7)),
    "clamp": ([(3, 5)], lambda x: torch.clamp(x, -0.6, 0.5)),
    "sin": ([(3, 5)], torch.sin),
    "cos": ([(3, 5)], torch.cos),
    "erf": ([(3, 5)], torch.erf),
    "log1p": ([(3, 5)], lambda x: torch.log1p(up(x))),
    "expm1": ([(3, 5)], torch.expm1),
    "floor": ([(3, 5)], torch.floor),
    "ceil": ([(3, 5)], torch.ceil),
    "round": ([(3, 5)], torch.round),
    "trunc": ([(3, 5)], torch.trunc),
    "sign": ([(3, 5)], torch.sign),
    "linear gelu": ([(4, 6), (6, 3), (3,)], lambda x, w, b: F.gelu(x @ w + b)),
    "linear gelu_tanh": ([(4, 6), (6, 3), (3,)],
                         lambda x, w, b: F.gelu(x @ w + b, approximate="tanh")),
    "linear tanh": ([(4, 6), (6, 3), (3,)], lambda x, w, b: torch.tanh(x @ w + b)),
    "linear sigmoid": ([(4, 6), (6, 3), (3,)], lambda x, w, b: torch.sigmoid(x @ w + b)),
    "linear silu": ([(4, 6), (6, 3), (3,)], lambda x, w, b: F.silu(x @ w + b)),
    "div broadcast": ([(3, 4), (4,)], lambda a, b: a / up(b)),
    "maximum broadcast": ([(3, 1), (1, 4)], torch.maximum),
    "minimum broadcast": ([(2, 3, 4), (3, 1)], torch.minimum),
    "pow broadcast": ([(3, 4), (1,)], lambda a, b: torch.pow(up(a), b)),
    "where broadcast": ([(3, 1), (4,)], lambda a, b: torch.where(WHERE, a, b)),
    "narrow dim -1": ([(3, 5)], lambda x: x.narrow(-1, 1, 3)),
    "slice step 2": ([(5, 3)], lambda x: x[0:5:2]),
    "expand size-1 and new dims": ([(3, 1)], lambda x: x.expand(2, 3, 4)),
    "squeeze": ([(3, 1, 4)], lambda x: x.squeeze(1)),
    "unsqueeze -1": ([(3, 4)], lambda x: x.unsqueeze(-1)),
    "permute": ([(2, 3, 4)], lambda x: x.permute(2, 0, 1)),
    "split pieces into different ops, concat": ([(5, 3), (1, 3)], split_concat),
    "concat dim -1": ([(2, 3), (2, 1)], lambda a, b: torch.cat([a, b], -1)),
    "chunk": ([(2, 6)], chunk),
    "sum dims 0,-1": ([(2, 3, 4)], lambda x: x.sum((0, -1))),
    "sum keepdim size-1 dim": ([(3, 1, 2)], lambda x: x.sum(1, keepdim=True)),
    "mean dim -2": ([(2, 3, 4)], lambda x: x.mean(-2)),
    "mean all keepdim": ([(3, 4)], lambda x: x.mean((0, 1), keepdim=True)),
    "var correction 1": ([(3, 5)], lambda x: torch.var(x, -1, unbiased=True)),
    "var correction 0 dims 0,2 keepdim": ([(2, 3, 4)],
                                          lambda x: torch.var(x, (0, 2), unbiased=False,
                                                              keepdim=True)),
    "std": ([(4, 3)], lambda x: torch.std(x, 0, unbiased=True)),
    "logsumexp": ([(3, 5)], lambda x: torch.logsumexp(x, -1)),
    "max over dim 1": ([(2, 4, 3)], lambda x: torch.max(x, 1).values),
    "min over dim -1 keepdim": ([(3, 5)], lambda x: torch.min(x, -1, keepdim=True).values),
    "amax dims 0,2": ([(3, 2, 2)], lambda x: torch.amax(x, (0, 2))),
    "amin all": ([(3, 5)], lambda x: torch.amin(x, (0, 1))),
    "embedding repeated ids": ([(5, 4)], lambda w: F.embedding(EMB, w)),
    "index_select dim -1, I32, repeated": ([(2, 3)], lambda x: torch.index_select(x, -1, SEL)),
    "take_along_dim broadcast": ([(2, 1, 3)], lambda x: torch.take_along_dim(x, ALONG, 2)),
    "layer_norm": ([(3, 5), (5,), (5,)], lambda x, w, b: F.layer_norm(x, (5,), w, b, 1e-5)),
    "layer_norm 2 dims, no bias": ([(2, 2, 3), (2, 3)],
                                   lambda x, w: F.layer_norm(x, (2, 3), w, None, 1e-5)),
    "layer_norm no affine": ([(2, 4)], lambda x: F.layer_norm(x, (4,), None, None, 1e-5)),
    "layer_norm of a transposed view": ([(5, 3), (5,), (5,)],
                                        lambda x, w, b: F.layer_norm(x.t(), (5,), w, b, 1e-5)),
    "rms_norm": ([(3, 4), (4,)], lambda x, w: rms_norm(x, w, 1e-6)),
    "batch_norm training": ([(4, 3, 2), (3,), (3,)],
                            lambda x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5)),
    "group_norm": ([(2, 4, 3), (4,), (4,)], lambda x, w, b: F.group_norm(x, 2, w, b, 1e-5)),
    "attention causal, batch broadcast": (
        [(2, 3, 4), (3, 4), (3, 2)],
        lambda q, k, v: attention(q, k, v, torch.tril(torch.ones(3, 3, dtype=torch.bool)),
                                  1.0 / math.sqrt(4))),
    "attention bool mask, Lq != Lk": ([(2, 4), (3, 4), (3, 5)],
                                      lambda q, k, v: attention(q, k, v, KEEP, 0.7)),
    "attention additive mask, heads": (
        [(2, 2, 4), (2, 3, 4), (2, 3, 2)],
        lambda q, k, v: torch.softmax(q @ k.transpose(-1, -2) / 2.0
                                      + torch.tensor([0.5, -1.0, 0.25], dtype=torch.float64),
                                      -1) @ v),
    "contiguous of a transposed view": ([(3, 4)], lambda x: x.t().contiguous()),
}


def main():
    tensors = {}
    for name, (shapes, fn) in ROWS.items():
        ps = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params(shapes)]
        out = fn(*ps).contiguous()
        (out.reshape(-1) * weights(out.numel())).sum().backward()
        tensors[name + ".out"] = out.detach().numpy().astype(np.float32)
        for k, p in enumerate(ps):
            tensors[f"{name}.grad{k}"] = p.grad.numpy().astype(np.float32)
    write_tensors(os.path.join(HERE, "ops_refs.safetensors"), tensors,
                  {"generator": "tests/train/make_ops_refs.py", "torch": torch.__version__})
    print(len(ROWS), "rows")


if __name__ == "__main__":
    main()
