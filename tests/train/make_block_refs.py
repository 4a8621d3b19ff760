#!/usr/bin/env python3
"""PyTorch references for the one-block character transformer in
tests/test_autograd.c (nanoGPT's Block between token/position embeddings and
an LM head).

Run with Debian's interpreter (python3-torch 1.13):
    /usr/bin/python3 tests/train/make_block_refs.py
Writes tests/train/block_refs.safetensors: the batch (idx, targets), the
weights (PyTorch layouts: Linear weights [out, in]), and PyTorch's loss and
gradient of every weight, computed in float64 and stored as float32.

The model, B=2 sequences of T=6 characters from a V=11 vocabulary, C=8,
H=2 heads:
    x = wte[idx] + wpe[0..T-1]
    x = x + c_proj(attention(ln_1(x)))      causal, q,k,v = split(c_attn(.))
    x = x + mlp_proj(gelu(c_fc(ln_2(x))))   exact (erf) GELU
    loss = cross_entropy(lm_head(ln_f(x)), targets)
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

B, T, V, C, H = 2, 6, 11, 8, 2

SHAPES = {
    "wte": (V, C), "wpe": (T, C),
    "ln_1.weight": (C,), "ln_1.bias": (C,),
    "attn.c_attn.weight": (3 * C, C), "attn.c_attn.bias": (3 * C,),
    "attn.c_proj.weight": (C, C), "attn.c_proj.bias": (C,),
    "ln_2.weight": (C,), "ln_2.bias": (C,),
    "mlp.c_fc.weight": (4 * C, C), "mlp.c_fc.bias": (4 * C,),
    "mlp.c_proj.weight": (C, 4 * C), "mlp.c_proj.bias": (C,),
    "ln_f.weight": (C,), "ln_f.bias": (C,),
    "lm_head.weight": (V, C),
}


def forward(p, idx, targets):
    x = p["wte"][idx] + p["wpe"][torch.arange(T)]
    h = F.layer_norm(x, (C,), p["ln_1.weight"], p["ln_1.bias"], 1e-5)
    q, k, v = F.linear(h, p["attn.c_attn.weight"], p["attn.c_attn.bias"]).split(C, dim=2)
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = F.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
    y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
    x = x + F.linear(y, p["attn.c_proj.weight"], p["attn.c_proj.bias"])
    h = F.layer_norm(x, (C,), p["ln_2.weight"], p["ln_2.bias"], 1e-5)
    h = F.gelu(F.linear(h, p["mlp.c_fc.weight"], p["mlp.c_fc.bias"]))
    x = x + F.linear(h, p["mlp.c_proj.weight"], p["mlp.c_proj.bias"])
    x = F.layer_norm(x, (C,), p["ln_f.weight"], p["ln_f.bias"], 1e-5)
    logits = F.linear(x, p["lm_head.weight"])
    return F.cross_entropy(logits.view(-1, V), targets.view(-1))


def main():
    rng = np.random.default_rng(2026)
    idx = rng.integers(0, V, size=(B, T)).astype(np.int64)
    targets = rng.integers(0, V, size=(B, T)).astype(np.int64)
    weights = {}
    for name, shape in SHAPES.items():
        if name.startswith("ln_") and name.endswith("weight"):
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            w = 0.3 * rng.standard_normal(shape)
        weights[name] = w.astype(np.float32)
    params = {n: torch.tensor(w, dtype=torch.float64, requires_grad=True)
              for n, w in weights.items()}
    loss = forward(params, torch.tensor(idx), torch.tensor(targets))
    loss.backward()
    tensors = {"idx": idx, "targets": targets, "loss": np.array(loss.item(), np.float32)}
    tensors.update(weights)
    for n, p in params.items():
        tensors["grad." + n] = p.grad.numpy().astype(np.float32)
    write_tensors(os.path.join(HERE, "block_refs.safetensors"), tensors,
                  {"generator": "tests/train/make_block_refs.py", "torch": torch.__version__})
    print("loss", loss.item())


if __name__ == "__main__":
    main()
