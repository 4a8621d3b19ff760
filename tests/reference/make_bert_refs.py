#!/usr/bin/env python3
"""Writes the references of tests/test_nn_bert.c: a tiny Hugging Face
BertModel written out in PyTorch 1.13 exactly as transformers'
modeling_bert.py computes it at inference (transformers is not installed
here: its current releases need torch 2), with sentence-transformers' mean
pooling (all-MiniLM-L6-v2's head) on top:

  bert.safetensors   the state_dict by BertModel's names:
      embeddings.{word,position,token_type}_embeddings.weight,
      embeddings.LayerNorm.{weight,bias},
      encoder.layer.{i}.attention.self.{query,key,value}.{weight,bias},
      encoder.layer.{i}.attention.output.dense.{weight,bias},
      encoder.layer.{i}.attention.output.LayerNorm.{weight,bias},
      encoder.layer.{i}.intermediate.dense.{weight,bias},
      encoder.layer.{i}.output.dense.{weight,bias},
      encoder.layer.{i}.output.LayerNorm.{weight,bias},
      pooler.dense.{weight,bias}; and the position_ids buffer [1, 16] that
      older checkpoints carry. vocab 40, hidden 32, 4 heads, 2 layers,
      intermediate 64 (GELU, erf), max_position 16, type_vocab 2,
      layer_norm_eps 1e-12.
  bert_io.safetensors    input_ids [3, 8] (I64, 0 = [PAD]) and
      attention_mask [3, 8] (I64: 8, 5 and 3 real tokens, right-padded);
      last_hidden_state [3, 8, 32] (every position, padded ones too),
      pooler_output [3, 32] (tanh(dense(h[:, 0]))) and mean [3, 32] (the
      masked mean of the hidden states, sentence-transformers' pooling).

Weights are seeded normals large enough that the outputs depend on the
tokens, their order and the mask. Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_bert_refs.py tests/reference
"""
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402

CFG = {"vocab": 40, "E": 32, "H": 4, "layers": 2, "inter": 64, "max_pos": 16, "types": 2,
       "eps": 1e-12}


def linear(sd, p, x):
    return F.linear(x, sd[p + ".weight"], sd[p + ".bias"])


def layer_norm(sd, p, x):
    return F.layer_norm(x, (CFG["E"],), sd[p + ".weight"], sd[p + ".bias"], CFG["eps"])


def forward(sd, ids, mask):
    E, H = CFG["E"], CFG["H"]
    D = E // H
    n, L = ids.shape
    pos = torch.arange(L).unsqueeze(0)
    types = torch.zeros_like(ids)
    h = F.embedding(ids, sd["embeddings.word_embeddings.weight"]) + \
        F.embedding(types, sd["embeddings.token_type_embeddings.weight"]) + \
        F.embedding(pos, sd["embeddings.position_embeddings.weight"])
    h = layer_norm(sd, "embeddings.LayerNorm", h)
    # get_extended_attention_mask: (1 - m) · finfo.min, added to the scores
    ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(CFG["layers"]):
        p = f"encoder.layer.{i}."

        def heads(x):
            return x.view(n, L, H, D).permute(0, 2, 1, 3)
        q = heads(linear(sd, p + "attention.self.query", h))
        k = heads(linear(sd, p + "attention.self.key", h))
        v = heads(linear(sd, p + "attention.self.value", h))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D) + ext
        a = torch.matmul(F.softmax(s, dim=-1), v).permute(0, 2, 1, 3).reshape(n, L, E)
        h = layer_norm(sd, p + "attention.output.LayerNorm",
                       linear(sd, p + "attention.output.dense", a) + h)
        m = F.gelu(linear(sd, p + "intermediate.dense", h))
        h = layer_norm(sd, p + "output.LayerNorm", linear(sd, p + "output.dense", m) + h)
    pooled = torch.tanh(linear(sd, "pooler.dense", h[:, 0]))
    w = mask.unsqueeze(-1).float()
    mean = (h * w).sum(1) / torch.clamp(w.sum(1), min=1e-9)
    return h, pooled, mean


def model():
    E, I = CFG["E"], CFG["inter"]
    sd = {"embeddings.word_embeddings.weight": torch.randn(CFG["vocab"], E),
          "embeddings.position_embeddings.weight": torch.randn(CFG["max_pos"], E) * 0.5,
          "embeddings.token_type_embeddings.weight": torch.randn(CFG["types"], E) * 0.5,
          "embeddings.LayerNorm.weight": 1 + 0.1 * torch.randn(E),
          "embeddings.LayerNorm.bias": 0.1 * torch.randn(E),
          "embeddings.position_ids": torch.arange(CFG["max_pos"]).unsqueeze(0)}
    for i in range(CFG["layers"]):
        p = f"encoder.layer.{i}."
        for name, rows, cols, scale in (("attention.self.query", E, E, 0.35),
                                        ("attention.self.key", E, E, 0.35),
                                        ("attention.self.value", E, E, 0.3),
                                        ("attention.output.dense", E, E, 0.3),
                                        ("intermediate.dense", I, E, 0.3),
                                        ("output.dense", E, I, 0.2)):
            sd[p + name + ".weight"] = torch.randn(rows, cols) * scale
            sd[p + name + ".bias"] = torch.randn(rows) * 0.2
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            sd[p + name + ".weight"] = 1 + 0.1 * torch.randn(E)
            sd[p + name + ".bias"] = 0.1 * torch.randn(E)
    sd["pooler.dense.weight"] = torch.randn(E, E) * 0.3
    sd["pooler.dense.bias"] = torch.randn(E) * 0.2
    return sd


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    with torch.no_grad():
        sd = model()
        L = 8
        lengths = torch.tensor([8, 5, 3])
        mask = (torch.arange(L)[None, :] < lengths[:, None]).long()
        ids = torch.randint(1, CFG["vocab"], (3, L)) * mask   # [PAD] = 0 past the end
        h, pooled, mean = forward(sd, ids, mask)
        # the mask matters: sequence 1 without it gives another mean
        _, _, unmasked = forward(sd, ids[1:2], torch.ones(1, L, dtype=torch.long))
        d = (unmasked[0] - mean[1]).abs().max()
        print("hidden range", h.abs().max().item(), "mask change", d.item())
        assert d > 0.1
    save(f"{out}/bert.safetensors", sd)
    save(f"{out}/bert_io.safetensors", {"input_ids": ids, "attention_mask": mask,
                                        "last_hidden_state": h, "pooler_output": pooled,
                                        "mean": mean})


if __name__ == "__main__":
    main()
