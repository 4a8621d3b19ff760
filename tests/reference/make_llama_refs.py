#!/usr/bin/env python3
"""Writes the references of tests/test_nn_llama.c: rotary position
embeddings and two tiny Llama models written out in PyTorch 1.13 exactly as
their sources compute them (transformers is not installed here; its Llama
needs torch 2):

  llama_hf.safetensors   Hugging Face's LlamaForCausalLM (modeling_llama.py):
      names model.embed_tokens.weight, model.layers.{i}.self_attn.
      {q,k,v,o}_proj.weight, mlp.{gate,up,down}_proj.weight,
      input_layernorm.weight, post_attention_layernorm.weight,
      model.norm.weight; tie_word_embeddings (no lm_head.weight: the
      logits use embed_tokens' rows, as SmolLM-135M). hidden 32, 4 heads,
      2 key/value heads (GQA, repeat_kv), head_dim 8, intermediate 48,
      rms_norm_eps 1e-6, rope_theta 500000 (Llama 3's base), rotate_half.
  llama2c.safetensors    llama2.c's model.py Transformer (stories15M's
      code): names tok_embeddings.weight, layers.{i}.attention.{wq,wk,wv,wo}
      .weight, feed_forward.{w1,w2,w3}.weight, attention_norm.weight,
      ffn_norm.weight, norm.weight; output.weight tied to tok_embeddings
      (saved once). dim 32, 4 heads, 1 key/value head (MQA), hidden_dim
      from its rule (4·dim·2/3 rounded up to multiple_of 16: 96),
      norm_eps 1e-5, theta 10000, interleaved (complex) pairs.
  llama_refs.safetensors the token ids and logits of both ([2, 7]: two
      sequences, logits [2, 7, vocab] at every position; model.py itself
      returns only the last position's at inference), and RoPE cases:
      rope_x [2,5,3,8] ([N, L, heads, D]) turned with each pairing, theta,
      offset and rotary_dim named in the key (see the C test); and one
      attention layer with biases (Qwen2's), HF's names under "attn",
      theta 1e6, on attn_x [2, 6, 32] -> attn_y [2, 6, 24]; rope_scaling
      cases (rope_scaled_x, rope_scaled_wide_x: Hugging Face's "llama3" and
      "linear" frequencies, and Meta's apply_scaling with interleaved
      pairs) and two layers with q/k RMSNorms: Qwen3's per head ("qwen3")
      and OLMo2's over the projections ("qkwhole", with llama3 scaling).

Weights are seeded normals large enough that the logits depend on the
tokens and their order (norm weights 1 + N(0, 0.1)). Run with Debian's
PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_llama_refs.py tests/reference
"""
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


# ---- RoPE as the two sources compute it ------------------------------------------

def hf_cos_sin(dim, positions, base):
    """LlamaRotaryEmbedding: inv_freq in float32, emb = cat(freqs, freqs)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = torch.outer(positions.float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def hf_rope(x, cos, sin):
    """apply_rotary_pos_emb on [N, heads, L, D] with cos, sin [L, D]."""
    return (x * cos) + (rotate_half(x) * sin)


def precompute_freqs_cis(dim, end, theta, start=0):
    """llama2.c model.py (with a start for the offset cases)."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: (dim // 2)].float() / dim))
    t = torch.arange(start, start + end, device=freqs.device)
    freqs = torch.outer(t, freqs).float()
    return torch.cos(freqs), torch.sin(freqs)


def llama2c_rope(x, freqs_cos, freqs_sin):
    """apply_rotary_emb of model.py on [N, L, heads, D]."""
    xr, xi = x.float().reshape(x.shape[:-1] + (-1, 2)).unbind(-1)
    cos = freqs_cos.view(1, freqs_cos.shape[0], 1, freqs_cos.shape[1])
    sin = freqs_sin.view(1, freqs_sin.shape[0], 1, freqs_sin.shape[1])
    out_r = xr * cos - xi * sin
    out_i = xr * sin + xi * cos
    return torch.stack([out_r, out_i], dim=-1).flatten(3).type_as(x)


def rope_cases():
    x = torch.randn(2, 5, 3, 8)        # [N, L, heads, D]
    out = {"rope_x": x}
    cos, sin = precompute_freqs_cis(8, 5, 10000.0)
    out["rope_inter_t10000_o0"] = llama2c_rope(x, cos, sin)
    cos, sin = precompute_freqs_cis(8, 5, 10000.0, start=3)
    out["rope_inter_t10000_o3"] = llama2c_rope(x, cos, sin)
    xh = x.transpose(1, 2)             # HF's [N, heads, L, D]
    cos, sin = hf_cos_sin(8, torch.arange(5), 10000.0)
    out["rope_half_t10000_o0"] = hf_rope(xh, cos, sin).transpose(1, 2)
    cos, sin = hf_cos_sin(8, torch.arange(4, 9), 500000.0)
    out["rope_half_t500000_o4"] = hf_rope(xh, cos, sin).transpose(1, 2)
    cos, sin = hf_cos_sin(8, torch.arange(1000, 1005), 10000.0)
    out["rope_half_t10000_o1000"] = hf_rope(xh, cos, sin).transpose(1, 2)
    # GPT-NeoX's partial rotary: the first 4 of 8 dims turn, frequencies over 4
    cos, sin = hf_cos_sin(4, torch.arange(2, 7), 10000.0)
    rot = hf_rope(xh[..., :4], cos, sin)
    out["rope_half_t10000_o2_r4"] = torch.cat((rot, xh[..., 4:]), dim=-1).transpose(1, 2)
    # GPT-J's rotate_every_two on the first 4 dims (interleaved pairs)
    cos, sin = precompute_freqs_cis(4, 5, 10000.0, start=1)
    out["rope_inter_t10000_o1_r4"] = torch.cat((llama2c_rope(x[..., :4], cos, sin),
                                               x[..., 4:]), dim=-1)
    # a head dim of 260: 130 pairs, more than one block of angles in C
    w = torch.randn(1, 3, 2, 260)
    out["rope_wide_x"] = w
    cos, sin = hf_cos_sin(260, torch.arange(7, 10), 10000.0)
    out["rope_wide_half_o7"] = hf_rope(w.transpose(1, 2), cos, sin).transpose(1, 2)
    cos, sin = precompute_freqs_cis(260, 3, 10000.0, start=7)
    out["rope_wide_inter_o7"] = llama2c_rope(w, cos, sin)
    return out


# ---- Hugging Face's LlamaForCausalLM ------------------------------------------------

def rms_norm(x, w, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def repeat_kv(x, n_rep):
    b, h, L, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, h, n_rep, L, d).reshape(b, h * n_rep, L, d)


def hf_forward(sd, ids, cfg):
    H, Hkv, D, eps = cfg["heads"], cfg["kv_heads"], cfg["head_dim"], cfg["eps"]
    b, L = ids.shape
    h = F.embedding(ids, sd["model.embed_tokens.weight"])
    cos, sin = hf_cos_sin(D, torch.arange(L), cfg["theta"])
    mask = torch.full((L, L), torch.finfo(torch.float32).min).triu(1)
    for i in range(cfg["layers"]):
        p = f"model.layers.{i}."
        x = rms_norm(h, sd[p + "input_layernorm.weight"], eps)
        q = F.linear(x, sd[p + "self_attn.q_proj.weight"]).view(b, L, H, D).transpose(1, 2)
        k = F.linear(x, sd[p + "self_attn.k_proj.weight"]).view(b, L, Hkv, D).transpose(1, 2)
        v = F.linear(x, sd[p + "self_attn.v_proj.weight"]).view(b, L, Hkv, D).transpose(1, 2)
        q, k = hf_rope(q, cos, sin), hf_rope(k, cos, sin)
        k, v = repeat_kv(k, H // Hkv), repeat_kv(v, H // Hkv)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D) + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32)
        a = torch.matmul(w, v).transpose(1, 2).reshape(b, L, H * D)
        h = h + F.linear(a, sd[p + "self_attn.o_proj.weight"])
        x = rms_norm(h, sd[p + "post_attention_layernorm.weight"], eps)
        m = F.silu(F.linear(x, sd[p + "mlp.gate_proj.weight"])) * \
            F.linear(x, sd[p + "mlp.up_proj.weight"])
        h = h + F.linear(m, sd[p + "mlp.down_proj.weight"])
    h = rms_norm(h, sd["model.norm.weight"], eps)
    return F.linear(h, sd["model.embed_tokens.weight"])   # tied lm_head


def hf_model():
    cfg = {"vocab": 48, "dim": 32, "heads": 4, "kv_heads": 2, "head_dim": 8, "inter": 48,
           "layers": 2, "eps": 1e-6, "theta": 500000.0}
    E, I, D = cfg["dim"], cfg["inter"], cfg["head_dim"]
    sd = {"model.embed_tokens.weight": torch.randn(cfg["vocab"], E)}
    for i in range(cfg["layers"]):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = torch.randn(cfg["heads"] * D, E) * 0.35
        sd[p + "self_attn.k_proj.weight"] = torch.randn(cfg["kv_heads"] * D, E) * 0.35
        sd[p + "self_attn.v_proj.weight"] = torch.randn(cfg["kv_heads"] * D, E) * 0.3
        sd[p + "self_attn.o_proj.weight"] = torch.randn(E, cfg["heads"] * D) * 0.3
        sd[p + "mlp.gate_proj.weight"] = torch.randn(I, E) * 0.3
        sd[p + "mlp.up_proj.weight"] = torch.randn(I, E) * 0.3
        sd[p + "mlp.down_proj.weight"] = torch.randn(E, I) * 0.3
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(E)
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(E)
    sd["model.norm.weight"] = 1 + 0.1 * torch.randn(E)
    return cfg, sd


# ---- llama2.c's model.py Transformer -------------------------------------------------

def llama2c_forward(sd, ids, cfg):
    H, Hkv, eps = cfg["heads"], cfg["kv_heads"], cfg["eps"]
    D = cfg["dim"] // H
    b, L = ids.shape
    h = F.embedding(ids, sd["tok_embeddings.weight"])
    cos, sin = precompute_freqs_cis(D, L, cfg["theta"])
    mask = torch.full((1, 1, L, L), float("-inf")).triu(1)
    for i in range(cfg["layers"]):
        p = f"layers.{i}."
        x = rms_norm(h, sd[p + "attention_norm.weight"], eps)
        xq = F.linear(x, sd[p + "attention.wq.weight"]).view(b, L, H, D)
        xk = F.linear(x, sd[p + "attention.wk.weight"]).view(b, L, Hkv, D)
        xv = F.linear(x, sd[p + "attention.wv.weight"]).view(b, L, Hkv, D)
        xq, xk = llama2c_rope(xq, cos, sin), llama2c_rope(xk, cos, sin)
        # model.py's repeat_kv works on [N, L, heads, D]
        xk = xk[:, :, :, None, :].expand(b, L, Hkv, H // Hkv, D).reshape(b, L, H, D)
        xv = xv[:, :, :, None, :].expand(b, L, Hkv, H // Hkv, D).reshape(b, L, H, D)
        xq, xk, xv = xq.transpose(1, 2), xk.transpose(1, 2), xv.transpose(1, 2)
        scores = torch.matmul(xq, xk.transpose(2, 3)) / math.sqrt(D) + mask
        scores = F.softmax(scores.float(), dim=-1).type_as(xq)
        a = torch.matmul(scores, xv).transpose(1, 2).contiguous().view(b, L, -1)
        h = h + F.linear(a, sd[p + "attention.wo.weight"])
        x = rms_norm(h, sd[p + "ffn_norm.weight"], eps)
        f = F.silu(F.linear(x, sd[p + "feed_forward.w1.weight"])) * \
            F.linear(x, sd[p + "feed_forward.w3.weight"])
        h = h + F.linear(f, sd[p + "feed_forward.w2.weight"])
    h = rms_norm(h, sd["norm.weight"], eps)
    return F.linear(h, sd["tok_embeddings.weight"])   # output.weight is tied


def llama2c_model():
    cfg = {"vocab": 40, "dim": 32, "heads": 4, "kv_heads": 1, "layers": 2, "eps": 1e-5,
           "theta": 10000.0, "multiple_of": 16}
    E, D = cfg["dim"], cfg["dim"] // cfg["heads"]
    hidden = int(2 * (4 * E) / 3)
    hidden = cfg["multiple_of"] * ((hidden + cfg["multiple_of"] - 1) // cfg["multiple_of"])
    cfg["hidden"] = hidden
    sd = {"tok_embeddings.weight": torch.randn(cfg["vocab"], E)}
    for i in range(cfg["layers"]):
        p = f"layers.{i}."
        sd[p + "attention.wq.weight"] = torch.randn(cfg["heads"] * D, E) * 0.35
        sd[p + "attention.wk.weight"] = torch.randn(cfg["kv_heads"] * D, E) * 0.35
        sd[p + "attention.wv.weight"] = torch.randn(cfg["kv_heads"] * D, E) * 0.3
        sd[p + "attention.wo.weight"] = torch.randn(E, cfg["heads"] * D) * 0.3
        sd[p + "feed_forward.w1.weight"] = torch.randn(hidden, E) * 0.3
        sd[p + "feed_forward.w2.weight"] = torch.randn(E, hidden) * 0.3
        sd[p + "feed_forward.w3.weight"] = torch.randn(hidden, E) * 0.3
        sd[p + "attention_norm.weight"] = 1 + 0.1 * torch.randn(E)
        sd[p + "ffn_norm.weight"] = 1 + 0.1 * torch.randn(E)
    sd["norm.weight"] = 1 + 0.1 * torch.randn(E)
    return cfg, sd


def to_hf(sd, cfg):
    """llama2.c's state_dict in HF's names (convert_llama_weights_to_hf.py:
    permute(w, n_heads) for wq, wk turns interleaved pairs into halves)."""
    def permute(w, heads):
        rows, cols = w.shape
        return w.view(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)
    names = {"attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
             "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj",
             "feed_forward.w1": "mlp.gate_proj", "feed_forward.w3": "mlp.up_proj",
             "feed_forward.w2": "mlp.down_proj", "attention_norm": "input_layernorm",
             "ffn_norm": "post_attention_layernorm"}
    out = {"model.embed_tokens.weight": sd["tok_embeddings.weight"],
           "model.norm.weight": sd["norm.weight"]}
    for i in range(cfg["layers"]):
        for old, new in names.items():
            w = sd[f"layers.{i}.{old}.weight"]
            if old == "attention.wq":
                w = permute(w, cfg["heads"])
            elif old == "attention.wk":
                w = permute(w, cfg["kv_heads"])
            out[f"model.layers.{i}.{new}.weight"] = w
    return out


def qwen_attention():
    """One attention layer with q/k/v biases (Qwen2's attention_bias) and an
    o_proj bias, by HF's names under "attn", on x [2, 6, 32]."""
    H, Hkv, D, E = 4, 2, 8, 32
    sd = {"attn.q_proj.weight": torch.randn(H * D, E) * 0.35,
          "attn.q_proj.bias": torch.randn(H * D) * 0.5,
          "attn.k_proj.weight": torch.randn(Hkv * D, E) * 0.35,
          "attn.k_proj.bias": torch.randn(Hkv * D) * 0.5,
          "attn.v_proj.weight": torch.randn(Hkv * D, E) * 0.3,
          "attn.v_proj.bias": torch.randn(Hkv * D) * 0.5,
          "attn.o_proj.weight": torch.randn(24, H * D) * 0.3,
          "attn.o_proj.bias": torch.randn(24) * 0.5}
    x = torch.randn(2, 6, E)
    b, L = 2, 6
    cos, sin = hf_cos_sin(D, torch.arange(L), 1000000.0)
    q = F.linear(x, sd["attn.q_proj.weight"], sd["attn.q_proj.bias"])
    k = F.linear(x, sd["attn.k_proj.weight"], sd["attn.k_proj.bias"])
    v = F.linear(x, sd["attn.v_proj.weight"], sd["attn.v_proj.bias"])
    q = hf_rope(q.view(b, L, H, D).transpose(1, 2), cos, sin)
    k = repeat_kv(hf_rope(k.view(b, L, Hkv, D).transpose(1, 2), cos, sin), H // Hkv)
    v = repeat_kv(v.view(b, L, Hkv, D).transpose(1, 2), H // Hkv)
    mask = torch.full((L, L), torch.finfo(torch.float32).min).triu(1)
    w = F.softmax(torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D) + mask, dim=-1)
    a = torch.matmul(w, v).transpose(1, 2).reshape(b, L, H * D)
    sd["attn_x"] = x
    sd["attn_y"] = F.linear(a, sd["attn.o_proj.weight"], sd["attn.o_proj.bias"])
    return sd


# ---- rope_scaling, and q/k norms (drawn after everything above) -----------------------

def hf_inv_freq(dim, base, scaling=None):
    """transformers' modeling_rope_utils: _compute_default_rope_parameters,
    then _compute_linear_scaling_rope_parameters or
    _compute_llama3_parameters, step by step as they compute it."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if scaling is None:
        return inv_freq
    factor = scaling["factor"]
    if scaling["rope_type"] == "linear":
        return inv_freq / factor
    low_freq_factor = scaling["low_freq_factor"]
    high_freq_factor = scaling["high_freq_factor"]
    old_context_len = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / \
        (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + \
        smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def meta_apply_scaling(freqs, scale_factor, low_freq_factor, high_freq_factor,
                       old_context_len):
    """Meta's llama3 reference (llama-models, model.py's apply_scaling)."""
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    new_freqs = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_freq_wavelen:
            new_freqs.append(freq)
        elif wavelen > low_freq_wavelen:
            new_freqs.append(freq / scale_factor)
        else:
            smooth = (old_context_len / wavelen - low_freq_factor) / \
                (high_freq_factor - low_freq_factor)
            new_freqs.append((1 - smooth) * freq / scale_factor + smooth * freq)
    return torch.tensor(new_freqs, dtype=freqs.dtype, device=freqs.device)


def scaled_cos_sin(dim, positions, base, scaling):
    """LlamaRotaryEmbedding.forward on hf_inv_freq (attention_factor 1)."""
    freqs = torch.outer(positions.float(), hf_inv_freq(dim, base, scaling))
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rope_scaling_cases():
    """RoPE with rope_scaling, x [2, 6, 3, 16] ([N, L, heads, D]): llama3 with
    a small original context (32: wavelengths below 8 kept, above 32
    divided, between blended), at positions 100..105; Llama 3.2's own
    values (theta 500000, factor 32, 1, 4, 8192) on D 64 at 5000..5005, in
    both pairings; linear 2.5."""
    out = {}
    x = torch.randn(2, 6, 3, 16)
    out["rope_scaled_x"] = x
    xh = x.transpose(1, 2)
    small = {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
             "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
    wl = 2 * math.pi / hf_inv_freq(16, 10000.0)
    assert (wl < 8).any() and ((wl >= 8) & (wl <= 32)).any() and (wl > 32).any()
    cos, sin = scaled_cos_sin(16, torch.arange(100, 106), 10000.0, small)
    out["rope_llama3_small_o100"] = hf_rope(xh, cos, sin).transpose(1, 2)
    cos, sin = scaled_cos_sin(16, torch.arange(3, 9), 10000.0,
                              {"rope_type": "linear", "factor": 2.5})
    out["rope_linear_o3"] = hf_rope(xh, cos, sin).transpose(1, 2)
    w = torch.randn(1, 6, 2, 64)
    out["rope_scaled_wide_x"] = w
    l32 = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    wl = 2 * math.pi / hf_inv_freq(64, 500000.0)
    assert (wl < 2048).any() and ((wl >= 2048) & (wl <= 8192)).any() and (wl > 8192).any()
    cos, sin = scaled_cos_sin(64, torch.arange(5000, 5006), 500000.0, l32)
    out["rope_llama32_half_o5000"] = hf_rope(w.transpose(1, 2), cos, sin).transpose(1, 2)
    # Meta's interleaved pairs with its apply_scaling: the same frequencies
    base = 1.0 / (500000.0 ** (torch.arange(0, 64, 2)[:32].float() / 64))
    freqs = meta_apply_scaling(base, 32.0, 1.0, 4.0, 8192)
    assert torch.equal(freqs, hf_inv_freq(64, 500000.0, l32))
    t = torch.arange(5000, 5006)
    f = torch.outer(t, freqs).float()
    out["rope_llama32_inter_o5000"] = llama2c_rope(w, torch.cos(f), torch.sin(f))
    return out


def qk_norm_attention(prefix, per_head, eps, theta, scaling):
    """An attention layer with q and k RMSNorms, by HF's names under prefix,
    on x [2, 6, 32]: Qwen3Attention's (per_head: q_norm, k_norm [D] on each
    head after the view) or Olmo2Attention's ([H·D], [Hkv·D] on the
    projections before it); GQA 4 heads on 2, D 16, no biases."""
    H, Hkv, D, E = 4, 2, 16, 32
    sd = {prefix + ".q_proj.weight": torch.randn(H * D, E) * 0.35,
          prefix + ".k_proj.weight": torch.randn(Hkv * D, E) * 0.35,
          prefix + ".v_proj.weight": torch.randn(Hkv * D, E) * 0.3,
          prefix + ".o_proj.weight": torch.randn(E, H * D) * 0.3,
          prefix + ".q_norm.weight": 1 + 0.2 * torch.randn(D if per_head else H * D),
          prefix + ".k_norm.weight": 1 + 0.2 * torch.randn(D if per_head else Hkv * D)}
    x = torch.randn(2, 6, E)
    b, L = 2, 6
    cos, sin = scaled_cos_sin(D, torch.arange(L), theta, scaling)
    q = F.linear(x, sd[prefix + ".q_proj.weight"])
    k = F.linear(x, sd[prefix + ".k_proj.weight"])
    v = F.linear(x, sd[prefix + ".v_proj.weight"])
    if per_head:
        q = rms_norm(q.view(b, L, H, D), sd[prefix + ".q_norm.weight"], eps)
        k = rms_norm(k.view(b, L, Hkv, D), sd[prefix + ".k_norm.weight"], eps)
    else:
        q = rms_norm(q, sd[prefix + ".q_norm.weight"], eps)
        k = rms_norm(k, sd[prefix + ".k_norm.weight"], eps)
    q = hf_rope(q.reshape(b, L, H, D).transpose(1, 2), cos, sin)
    k = repeat_kv(hf_rope(k.reshape(b, L, Hkv, D).transpose(1, 2), cos, sin), H // Hkv)
    v = repeat_kv(v.view(b, L, Hkv, D).transpose(1, 2), H // Hkv)
    mask = torch.full((L, L), torch.finfo(torch.float32).min).triu(1)
    w = F.softmax(torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D) + mask, dim=-1)
    a = torch.matmul(w, v).transpose(1, 2).reshape(b, L, H * D)
    sd[prefix + "_x"] = x
    sd[prefix + "_y"] = F.linear(a, sd[prefix + ".o_proj.weight"])
    return sd


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    refs = rope_cases()
    refs.update(qwen_attention())
    with torch.no_grad():
        cfg, sd = hf_model()
        ids = torch.randint(0, cfg["vocab"], (2, 7))
        refs["hf_ids"] = ids
        refs["hf_logits"] = hf_forward(sd, ids, cfg)
        save(f"{out}/llama_hf.safetensors", sd)
        cfg2, sd2 = llama2c_model()
        assert cfg2["hidden"] == 96
        ids2 = torch.randint(0, cfg2["vocab"], (2, 7))
        refs["llama2c_ids"] = ids2
        refs["llama2c_logits"] = llama2c_forward(sd2, ids2, cfg2)
        save(f"{out}/llama2c.safetensors", sd2)
        # the two codes agree: llama2.c's model in HF's names, q and k rows
        # permuted as convert_llama_weights_to_hf.py does, gives its logits
        assert torch.allclose(hf_forward(to_hf(sd2, cfg2), ids2, dict(
            cfg2, head_dim=cfg2["dim"] // cfg2["heads"], theta=cfg2["theta"])),
            refs["llama2c_logits"], atol=1e-4, rtol=1e-4)
        # the logits depend on the tokens and their order: another order of
        # the first sequence gives other last-position logits
        swapped = ids[:1].flip(1)
        d = (hf_forward(sd, swapped, cfg)[0, -1] - refs["hf_logits"][0, -1]).abs().max()
        print("hf logits range", refs["hf_logits"].abs().max().item(), "order change", d.item())
        print("llama2c logits range", refs["llama2c_logits"].abs().max().item())
        refs.update(rope_scaling_cases())
        # Qwen3's per-head norms (rms_norm_eps 1e-6, rope_theta 1e6); norms
        # over the projections as OLMo2's (eps 1e-5), here with llama3
        # scaling of a 32-position original context
        refs.update(qk_norm_attention("qwen3", True, 1e-6, 1000000.0, None))
        refs.update(qk_norm_attention("qkwhole", False, 1e-5, 10000.0, {
            "rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 32}))
    save(f"{out}/llama_refs.safetensors", refs)


if __name__ == "__main__":
    main()
