#!/usr/bin/env python3
"""Writes torch_masks.safetensors for tests/test_nn_masks.c: PyTorch 1.13's
nn.MultiheadAttention and nn.TransformerEncoderLayer on padded batches,
with their state_dicts under prefixes, the inputs and PyTorch's outputs.

  mha   MultiheadAttention(8, 2, batch_first=True) on x [3,5,8] (self-
        attention) with
          kp     bool key_padding_mask [3,5]: sample 0 has 2 padded keys,
                 sample 1 none, sample 2 all (PyTorch: NaN rows) -> y_kp
          kpf    the same as float (0 / -inf)                      -> y_kpf
          am     bool attn_mask [5,5] (row 3 all True: NaN rows), given to
                 minitensor expanded to [3,5,5]           -> y_am, with kp: y_am_kp
          amf    float attn_mask [3·2,5,5] (random, additive; given as
                 amf4 [3,2,5,5]) with kp                  -> y_amf_kp
          a causal bool attn_mask with kp                 -> y_causal_kp
  mha2  MultiheadAttention(8, 2, kdim=6, vdim=4) on q [3,4,8], k [3,6,6],
        v [3,6,4] with a bool key_padding_mask kp2 [3,6]  -> y2
  enc   a classifier: Embedding(20, 8, padding_idx=0) "emb", Transformer-
        EncoderLayer(8, 2, 16, dropout=0, batch_first=True) "enc" with
        src_key_padding_mask = ids == 0, the padded steps left out of a
        mean "avg" and a max "max" over the sequence, Linear(8, 3) "fc" on
        the mean -> logits; ids [3,6] (I64); the first step "first" and
        the last unpadded one "last".
  tenc  TransformerEncoder(TransformerEncoderLayer(8, 2, 16, dropout=0,
        batch_first=True), 2) on x [3,6,8] with the same padding "pad":
        "h" (eval mode: zeros at the padded steps) and its plain mean over
        the steps "mean" (what a model that forgot the mask computes).
  dec   TransformerDecoderLayer(8, 2, 16, dropout=0, batch_first=True) on
        tgt [3,5,8] (causal tgt_mask, tgt_key_padding_mask "tpad") and
        memory [3,6,8] (memory_key_padding_mask "mpad") -> "y".
  bert  Hugging Face BERT's self-attention by hand (separate q, k, v, o
        Linears "bert.q" …, 2 heads) on x [3,5,8] with attention_mask
        "bert.mask" [3,5] (I64, 1 = attend) -> "bert.y".

Run with Debian's python3 (PyTorch 1.13):
  /usr/bin/python3 tests/reference/make_mask_refs.py tests/reference
"""
import json
import struct
import sys

import torch
import torch.nn as nn


def save(path, tensors):
    """bool tensors as BOOL, int64 as I64, the rest as F32."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        kind, t = (("BOOL", t.to(torch.uint8)) if t.dtype == torch.bool else
                   ("I64", t) if t.dtype == torch.int64 else ("F32", t.float()))
        data = t.numpy().tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    t = {}
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    for k, v in mha.state_dict().items():
        t["mha." + k] = v
    x = torch.randn(3, 5, 8)
    kp = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    kpf = torch.zeros(3, 5).masked_fill(kp, float("-inf"))
    am = torch.rand(5, 5) < 0.3
    am.fill_diagonal_(False)
    am[3] = True
    amf = torch.randn(3 * 2, 5, 5)
    amf[1, 2, 4] = float("-inf")
    with torch.no_grad():
        def run(**kw):
            return mha(x, x, x, need_weights=False, **kw)[0]
        t.update({"mha.x": x, "mha.kp": kp, "mha.kpf": kpf,
                  "mha.am": am, "mha.amf4": amf.view(3, 2, 5, 5)})
        t["mha.y_kp"] = run(key_padding_mask=kp)
        t["mha.y_kpf"] = run(key_padding_mask=kpf)
        t["mha.y_am"] = run(attn_mask=am)
        t["mha.y_am_kp"] = run(attn_mask=am, key_padding_mask=kp)
        t["mha.y_amf_kp"] = run(attn_mask=amf, key_padding_mask=kp)
        causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
        t["mha.y_causal_kp"] = run(attn_mask=causal, key_padding_mask=kp)
        # the additive float mask by hand: PyTorch's fast path reads a float
        # key_padding_mask as bool, its slow path adds it; 0 / -inf agree
        q, k, v = (x @ w.T + b for w, b in zip(mha.in_proj_weight.chunk(3),
                                                mha.in_proj_bias.chunk(3)))
        q, k, v = (z.view(3, 5, 2, 4).transpose(1, 2) for z in (q, k, v))
        s = q @ k.transpose(-1, -2) / 2.0 + amf.view(3, 2, 5, 5) + kpf[:, None, None, :]
        by_hand = (s.softmax(-1) @ v).transpose(1, 2).reshape(3, 5, 8) @ mha.out_proj.weight.T
        by_hand += mha.out_proj.bias
        ok = ~torch.isnan(t["mha.y_amf_kp"])
        assert torch.allclose(by_hand[ok], t["mha.y_amf_kp"][ok], atol=1e-5)
        assert torch.isnan(t["mha.y_kp"][2]).all() and torch.isnan(t["mha.y_am"][:, 3]).all()

    mha2 = nn.MultiheadAttention(8, 2, kdim=6, vdim=4, batch_first=True).eval()
    for k, v in mha2.state_dict().items():
        t["mha2." + k] = v
    q, k, v = torch.randn(3, 4, 8), torch.randn(3, 6, 6), torch.randn(3, 6, 4)
    kp2 = torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1]],
                       dtype=torch.bool)
    with torch.no_grad():
        t.update({"mha2.q": q, "mha2.k": k, "mha2.v": v, "mha2.kp": kp2})
        t["mha2.y"] = mha2(q, k, v, key_padding_mask=kp2, need_weights=False)[0]

    emb = nn.Embedding(20, 8, padding_idx=0)
    enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    fc = nn.Linear(8, 3)
    with torch.no_grad():
        for p in enc.parameters():
            if p.dim() == 1:
                p.normal_(0, 0.5)
    for prefix, m in (("emb.", emb), ("enc.", enc), ("fc.", fc)):
        for k, v in m.state_dict().items():
            t[prefix + k] = v
    ids = torch.tensor([[5, 3, 9, 0, 0, 0], [7, 1, 2, 8, 4, 6], [11, 19, 0, 0, 0, 0]])
    pad = ids == 0
    with torch.no_grad():
        h = enc(emb(ids), src_key_padding_mask=pad)
        keep = (~pad).float()[..., None]
        avg = (h * keep).sum(1) / keep.sum(1)
        last = (~pad).sum(1) - 1   # right padding: the last token
        t.update({"enc.first": h[:, 0], "enc.last": h[torch.arange(3), last]})
        t.update({"enc.ids": ids, "enc.avg": avg,
                  "enc.max": h.masked_fill(pad[..., None], float("-inf")).amax(1),
                  "enc.logits": fc(avg)})
        # a padded batch gives each sample what it gives alone
        alone = enc(emb(ids[2:, :2]))
        assert torch.allclose(alone.mean(1), avg[2:], atol=1e-5)

    # nn.TransformerEncoder (2 layers) in eval mode takes its nested-tensor
    # path: zeros at the padded steps (one layer alone, or training, not)
    stack = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                             batch_first=True), 2).eval()
    with torch.no_grad():
        for p in stack.parameters():
            if p.dim() == 1:
                p.normal_(0, 0.5)
    for k, v in stack.state_dict().items():
        t["tenc." + k] = v
    x = torch.randn(3, 6, 8)
    with torch.no_grad():
        h = stack(x, src_key_padding_mask=pad)
        assert (h[pad] == 0).all()
        t.update({"tenc.x": x, "tenc.pad": pad, "tenc.h": h, "tenc.mean": h.mean(1)})

    # TransformerDecoderLayer: causal self-attention with the target's
    # padding, cross-attention with the memory's
    dec = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    with torch.no_grad():
        for p in dec.parameters():
            if p.dim() == 1:
                p.normal_(0, 0.5)
    for k, v in dec.state_dict().items():
        t["dec." + k] = v
    tgt, mem = torch.randn(3, 5, 8), torch.randn(3, 6, 8)
    tpad = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)
    mpad = torch.tensor([[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 1, 1]],
                        dtype=torch.bool)
    with torch.no_grad():
        y = dec(tgt, mem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5),
                tgt_key_padding_mask=tpad, memory_key_padding_mask=mpad)
        t.update({"dec.tgt": tgt, "dec.mem": mem, "dec.tpad": tpad, "dec.mpad": mpad,
                  "dec.y": y})

    # Hugging Face BERT's self-attention, written out: separate query, key,
    # value Linears, attention_mask [N, L] (1 = attend) added to the scores
    # as (1 - m) * -10000, the heads joined, an output Linear
    qkvo = [nn.Linear(8, 8) for _ in range(4)]
    for name, lin in zip("qkvo", qkvo):
        t[f"bert.{name}.weight"], t[f"bert.{name}.bias"] = lin.weight, lin.bias
    x = torch.randn(3, 5, 8)
    m = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    with torch.no_grad():
        q, k, v = (lin(x).view(3, 5, 2, 4).transpose(1, 2) for lin in qkvo[:3])
        scores = q @ k.transpose(-1, -2) / 2.0 + (1.0 - m[:, None, None, :].float()) * -10000.0
        y = qkvo[3]((scores.softmax(-1) @ v).transpose(1, 2).reshape(3, 5, 8))
        t.update({"bert.x": x, "bert.mask": m, "bert.y": y})
    save(f"{out}/torch_masks.safetensors", t)
    print("\n".join(f"{k} {list(v.shape)}" for k, v in t.items()))


if __name__ == "__main__":
    main()
