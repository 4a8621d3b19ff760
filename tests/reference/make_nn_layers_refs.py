#!/usr/bin/env python3
"""Writes nn_layers.safetensors: inputs, weights and PyTorch's outputs for
the layers of nn.h built on the new ops (tests/test_nn_layers.c):
activations, LeakyReLU, ELU, Hardswish, Softplus, LayerNorm, RMSNorm,
Embedding, Pad, AvgPool2d, MaxPool2d (ceil_mode), AdaptiveAvgPool2d, Upsample (nearest, bilinear; NCHW results saved NHWC) and
nn.MultiheadAttention (packed in_proj_weight, self-attention, with and
without a causal mask; separate q/k/v projections with kdim/vdim). Weights
are seeded random (torch.manual_seed(0)); module weights keep their
state_dict names under a prefix ("mha.in_proj_weight", ...). Written by
hand (header length, JSON header, little-endian data). Run with Debian's
PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_nn_layers_refs.py tests/reference
"""
import pathlib
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    t = {}
    x = torch.randn(3, 5) * 3
    t["act.x"] = x
    t["act.gelu"] = F.gelu(x)
    t["act.gelu_tanh"] = F.gelu(x, approximate="tanh")
    t["act.tanh"] = torch.tanh(x)
    t["act.sigmoid"] = torch.sigmoid(x)
    t["act.silu"] = F.silu(x)
    t["act.leaky"] = F.leaky_relu(x, 0.1)
    t["act.elu"] = F.elu(x, 0.5)
    t["act.hardswish"] = F.hardswish(x)
    t["act.softplus"] = F.softplus(x)

    ln = nn.LayerNorm([3, 4])
    with torch.no_grad():
        ln.weight.copy_(torch.randn(3, 4))
        ln.bias.copy_(torch.randn(3, 4))
    x = torch.randn(2, 3, 4) * 2 + 1
    t["ln.x"], t["ln.weight"], t["ln.bias"], t["ln.y"] = x, ln.weight, ln.bias, ln(x)

    w = torch.randn(4)
    x = torch.randn(2, 3, 4)
    xd = x.double()   # torch 1.13 has no nn.RMSNorm: its formula, in double
    t["rms.x"], t["rms.weight"] = x, w
    t["rms.y"] = (xd / torch.sqrt((xd * xd).mean(-1, keepdim=True) + 1e-6) * w.double()).float()

    emb = nn.Embedding(10, 3)
    ids = torch.tensor([[0, 9, 3, 3], [7, 1, 0, 5]])
    t["emb.weight"], t["emb.ids"], t["emb.y"] = emb.weight, ids, emb(ids)

    x = torch.randn(2, 3, 4)
    t["pad.x"] = x
    t["pad.reflect"] = F.pad(x, (1, 2, 0, 1), mode="reflect")
    t["pad.constant"] = F.pad(x, (1, 2, 0, 1), value=0.5)
    t["pad.replicate_crop"] = F.pad(x, (-1, 2, 1, -1), mode="replicate")

    x = torch.randn(2, 3, 7, 6)            # NCHW; saved NHWC
    nhwc = lambda t: t.permute(0, 2, 3, 1)  # noqa: E731
    t["pool.x"] = nhwc(x)
    t["pool.avg"] = nhwc(F.avg_pool2d(x, 3, stride=2, padding=1))   # count_include_pad
    t["pool.up_nearest"] = nhwc(F.interpolate(x, scale_factor=2, mode="nearest"))
    t["pool.up_bilinear"] = nhwc(F.interpolate(x, size=(5, 9), mode="bilinear",
                                               align_corners=False))
    t["pool.max_ceil"] = nhwc(F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True))
    t["pool.max_ceil_valid"] = nhwc(F.max_pool2d(x, 2, stride=2, ceil_mode=True))
    # ceil_mode's last window would start in the bottom pad: dropped (7 -> 3)
    t["pool.max_ceil_pad"] = nhwc(F.max_pool2d(x, 2, stride=3, padding=1, ceil_mode=True))
    t["pool.avg_ceil"] = nhwc(F.avg_pool2d(x, 2, stride=2, ceil_mode=True,
                                           count_include_pad=False))
    t["pool.adaptive"] = nhwc(F.adaptive_avg_pool2d(x, (3, 4)))

    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    for k, v in mha.state_dict().items():
        t["mha." + k] = v
    x = torch.randn(2, 5, 8)
    causal = torch.triu(torch.full((5, 5), float("-inf")), diagonal=1)
    with torch.no_grad():
        t["mha.x"] = x
        t["mha.y"] = mha(x, x, x, need_weights=False)[0]
        t["mha.y_causal"] = mha(x, x, x, attn_mask=causal, need_weights=False)[0]

    mha2 = nn.MultiheadAttention(8, 4, kdim=6, vdim=4, batch_first=True).eval()
    for k, v in mha2.state_dict().items():
        t["mha2." + k] = v
    q, k, v = torch.randn(2, 3, 8), torch.randn(2, 5, 6), torch.randn(2, 5, 4)
    with torch.no_grad():
        t["mha2.q"], t["mha2.k"], t["mha2.v"] = q, k, v
        t["mha2.y"] = mha2(q, k, v, need_weights=False)[0]
    save(f"{out}/nn_layers.safetensors", t)
    print("\n".join(f"{k} {list(v.shape)}" for k, v in t.items()))


if __name__ == "__main__":
    main()
