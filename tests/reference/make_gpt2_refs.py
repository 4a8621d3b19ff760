#!/usr/bin/env python3
"""Writes the references of tests/test_nn_gpt2.c: a tiny Hugging Face
GPT2LMHeadModel written out in PyTorch 1.13 exactly as transformers'
modeling_gpt2.py computes it at inference (transformers is not installed
here: its current releases need torch 2):

  gpt2.safetensors   the state_dict as save_pretrained writes it:
      transformer.wte.weight [vocab, E], transformer.wpe.weight [n_pos, E],
      transformer.h.{i}.ln_1.{weight,bias}, attn.c_attn.{weight,bias}
      ([E, 3E], [3E]: Conv1D, (in, out); q, k, v columns in that order),
      attn.c_proj.{weight,bias} ([E, E], (in, out)), ln_2.{weight,bias},
      mlp.c_fc.{weight,bias} ([E, 4E]), mlp.c_proj.{weight,bias} ([4E, E]),
      transformer.ln_f.{weight,bias}; no lm_head.weight (tied to wte, which
      save_pretrained leaves out), and the attn.bias causal-mask buffers
      [1, 1, n_pos, n_pos] that older checkpoints (gpt2, distilgpt2) carry.
      vocab 50, n_embd 32, n_head 4, n_layer 2, n_positions 16,
      layer_norm_epsilon 1e-5, activation gelu_new.
  gpt2_io.safetensors    ids [3, 9] (I64) and logits [3, 9, 50] at every
      position; and bad.attn.c_attn.weight [32, 64], bad.attn.c_proj.weight
      [32, 32], shapes that do not fit.

Weights are seeded normals large enough that the logits depend on the
tokens and their order. Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_gpt2_refs.py tests/reference
"""
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402

CFG = {"vocab": 50, "E": 32, "H": 4, "layers": 2, "n_pos": 16, "eps": 1e-5}


def gelu_new(x):
    """transformers' NewGELUActivation (GPT-2's "gelu_new")."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                       (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(x, w, b):
    """transformers' Conv1D: x·w + b with w (in, out)."""
    size_out = x.size()[:-1] + (w.size(-1),)
    return torch.addmm(b, x.view(-1, x.size(-1)), w).view(size_out)


def forward(sd, ids):
    E, H, eps = CFG["E"], CFG["H"], CFG["eps"]
    D = E // H
    n, L = ids.shape
    t = "transformer."
    h = F.embedding(ids, sd[t + "wte.weight"]) + \
        F.embedding(torch.arange(L).unsqueeze(0), sd[t + "wpe.weight"])
    causal = torch.tril(torch.ones(L, L, dtype=torch.bool)).view(1, 1, L, L)
    for i in range(CFG["layers"]):
        p = f"{t}h.{i}."
        a = F.layer_norm(h, (E,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], eps)
        q, k, v = conv1d(a, sd[p + "attn.c_attn.weight"],
                         sd[p + "attn.c_attn.bias"]).split(E, dim=2)
        q, k, v = (z.view(n, L, H, D).permute(0, 2, 1, 3) for z in (q, k, v))
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
        w = F.softmax(w, dim=-1)
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(n, L, E)
        h = h + conv1d(o, sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"])
        m = F.layer_norm(h, (E,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], eps)
        m = gelu_new(conv1d(m, sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"]))
        h = h + conv1d(m, sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"])
    h = F.layer_norm(h, (E,), sd[t + "ln_f.weight"], sd[t + "ln_f.bias"], eps)
    return F.linear(h, sd[t + "wte.weight"])   # lm_head tied to wte


def model():
    E, P = CFG["E"], CFG["n_pos"]
    t = "transformer."
    sd = {t + "wte.weight": torch.randn(CFG["vocab"], E),
          t + "wpe.weight": torch.randn(P, E) * 0.5}
    for i in range(CFG["layers"]):
        p = f"{t}h.{i}."
        sd[p + "ln_1.weight"] = 1 + 0.1 * torch.randn(E)
        sd[p + "ln_1.bias"] = 0.1 * torch.randn(E)
        sd[p + "attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
        sd[p + "attn.c_attn.weight"] = torch.randn(E, 3 * E) * 0.35
        sd[p + "attn.c_attn.bias"] = torch.randn(3 * E) * 0.2
        sd[p + "attn.c_proj.weight"] = torch.randn(E, E) * 0.3
        sd[p + "attn.c_proj.bias"] = torch.randn(E) * 0.2
        sd[p + "ln_2.weight"] = 1 + 0.1 * torch.randn(E)
        sd[p + "ln_2.bias"] = 0.1 * torch.randn(E)
        sd[p + "mlp.c_fc.weight"] = torch.randn(E, 4 * E) * 0.3
        sd[p + "mlp.c_fc.bias"] = torch.randn(4 * E) * 0.2
        sd[p + "mlp.c_proj.weight"] = torch.randn(4 * E, E) * 0.2
        sd[p + "mlp.c_proj.bias"] = torch.randn(E) * 0.2
    sd[t + "ln_f.weight"] = 1 + 0.1 * torch.randn(E)
    sd[t + "ln_f.bias"] = 0.1 * torch.randn(E)
    return sd


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    with torch.no_grad():
        sd = model()
        ids = torch.randint(0, CFG["vocab"], (3, 9))
        logits = forward(sd, ids)
        # the logits depend on the order: the first sequence reversed gives
        # other last-position logits
        d = (forward(sd, ids[:1].flip(1))[0, -1] - logits[0, -1]).abs().max()
        print("logits range", logits.abs().max().item(), "order change", d.item())
        assert d > 1.0
    save(f"{out}/gpt2.safetensors", sd)
    # for the loader's shape check: a c_attn of 2E columns
    bad = {"bad.attn.c_attn.weight": torch.zeros(CFG["E"], 2 * CFG["E"]),
           "bad.attn.c_proj.weight": torch.zeros(CFG["E"], CFG["E"])}
    save(f"{out}/gpt2_io.safetensors", {"ids": ids, "logits": logits, **bad})


if __name__ == "__main__":
    main()
