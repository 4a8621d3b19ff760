#!/usr/bin/env python3
"""Writes the references of test_nn_llama.c's GPT-NeoX case: a tiny Hugging
Face GPTNeoXForCausalLM (Pythia's architecture) written out in PyTorch 1.13
exactly as transformers' modeling_gpt_neox.py computes it at inference
(transformers is not installed here: its current releases need torch 2):

  neox.safetensors   gpt_neox.embed_in.weight [vocab, E],
      gpt_neox.layers.{i}.input_layernorm.{weight,bias},
      post_attention_layernorm.{weight,bias},
      attention.query_key_value.{weight,bias} ([3E, E]: per head, q, k and v
      rows of D each, as its forward views [N, L, H, 3·D]),
      attention.dense.{weight,bias}, mlp.dense_h_to_4h.{weight,bias},
      mlp.dense_4h_to_h.{weight,bias}; gpt_neox.final_layer_norm.{weight,
      bias}, embed_out.weight (untied); and the attention.bias mask and
      rotary_emb.inv_freq buffers older checkpoints carry. vocab 50,
      hidden 32, 4 heads (D 8), 2 layers, intermediate 128 (GELU, erf),
      rotary_pct 0.5 (4 of D turn, rotate_half), rotary_emb_base 10000,
      use_parallel_residual (h + attn(ln1(h)) + mlp(ln2(h))),
      layer_norm_eps 1e-5.
  neox_io.safetensors    ids [2, 7] (I64) and logits [2, 7, 50].

Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_neox_refs.py tests/reference
"""
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402

CFG = {"vocab": 50, "E": 32, "H": 4, "layers": 2, "inter": 128, "rotary_pct": 0.5,
       "base": 10000, "eps": 1e-5, "max_pos": 16}


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def forward(sd, ids):
    E, H = CFG["E"], CFG["H"]
    D = E // H
    rot = int(D * CFG["rotary_pct"])
    n, L = ids.shape
    inv_freq = 1.0 / (CFG["base"] ** (torch.arange(0, rot, 2).float() / rot))
    freqs = torch.outer(torch.arange(L).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(L, L, dtype=torch.bool))
    h = F.embedding(ids, sd["gpt_neox.embed_in.weight"])

    def ln(p, x):
        return F.layer_norm(x, (E,), sd[p + ".weight"], sd[p + ".bias"], CFG["eps"])

    def lin(p, x):
        return F.linear(x, sd[p + ".weight"], sd[p + ".bias"])
    for i in range(CFG["layers"]):
        p = f"gpt_neox.layers.{i}."
        qkv = lin(p + "attention.query_key_value", ln(p + "input_layernorm", h))
        qkv = qkv.view(n, L, H, 3 * D)
        q = qkv[..., :D].permute(0, 2, 1, 3)
        k = qkv[..., D:2 * D].permute(0, 2, 1, 3)
        v = qkv[..., 2 * D:].permute(0, 2, 1, 3)
        q_rot, q_pass = q[..., :rot], q[..., rot:]
        k_rot, k_pass = k[..., :rot], k[..., rot:]
        q = torch.cat(((q_rot * cos) + (rotate_half(q_rot) * sin), q_pass), dim=-1)
        k = torch.cat(((k_rot * cos) + (rotate_half(k_rot) * sin), k_pass), dim=-1)
        s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(D))
        s = torch.where(causal, s, torch.tensor(torch.finfo(s.dtype).min))
        a = torch.matmul(F.softmax(s, dim=-1), v).permute(0, 2, 1, 3).reshape(n, L, E)
        attn = lin(p + "attention.dense", a)
        m = lin(p + "mlp.dense_4h_to_h",
                F.gelu(lin(p + "mlp.dense_h_to_4h", ln(p + "post_attention_layernorm", h))))
        h = m + attn + h
    h = ln("gpt_neox.final_layer_norm", h)
    return F.linear(h, sd["embed_out.weight"])


def model():
    E, I, P = CFG["E"], CFG["inter"], CFG["max_pos"]
    D = E // CFG["H"]
    rot = int(D * CFG["rotary_pct"])
    sd = {"gpt_neox.embed_in.weight": torch.randn(CFG["vocab"], E)}
    for i in range(CFG["layers"]):
        p = f"gpt_neox.layers.{i}."
        for name in ("input_layernorm", "post_attention_layernorm"):
            sd[p + name + ".weight"] = 1 + 0.1 * torch.randn(E)
            sd[p + name + ".bias"] = 0.1 * torch.randn(E)
        sd[p + "attention.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
        sd[p + "attention.rotary_emb.inv_freq"] = \
            1.0 / (CFG["base"] ** (torch.arange(0, rot, 2).float() / rot))
        for name, rows, cols, scale in (("attention.query_key_value", 3 * E, E, 0.35),
                                        ("attention.dense", E, E, 0.3),
                                        ("mlp.dense_h_to_4h", I, E, 0.3),
                                        ("mlp.dense_4h_to_h", E, I, 0.15)):
            sd[p + name + ".weight"] = torch.randn(rows, cols) * scale
            sd[p + name + ".bias"] = torch.randn(rows) * 0.2
    sd["gpt_neox.final_layer_norm.weight"] = 1 + 0.1 * torch.randn(E)
    sd["gpt_neox.final_layer_norm.bias"] = 0.1 * torch.randn(E)
    sd["embed_out.weight"] = torch.randn(CFG["vocab"], E) * 0.5
    return sd


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    with torch.no_grad():
        sd = model()
        ids = torch.randint(0, CFG["vocab"], (2, 7))
        logits = forward(sd, ids)
        d = (forward(sd, ids[:1].flip(1))[0, -1] - logits[0, -1]).abs().max()
        print("logits range", logits.abs().max().item(), "order change", d.item())
        assert d > 1.0
    save(f"{out}/neox.safetensors", sd)
    save(f"{out}/neox_io.safetensors", {"ids": ids, "logits": logits})


if __name__ == "__main__":
    main()
