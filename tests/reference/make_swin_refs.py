#!/usr/bin/env python3
"""Writes the references of tests/test_nn_swin.c: torch.roll, torchvision
0.14's ShiftedWindowAttention and PatchMerging, and a tiny swin_t built from
torchvision's own SwinTransformer class (its state_dict names and forward
are swin_t's, at a fraction of the size):

  SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2, 2],
      num_heads=[2, 4, 8], window_size=[7, 7], mlp_ratio=2.0,
      num_classes=10)

on 3 images of 40x48: the patches 10x12 are padded to 14x14 for the 7x7
windows, with the shift of 3 in the odd blocks (its -100 mask); PatchMerging
pads 5x6 to 6x6; the later stages (5x6 -> 3x3) fit one window, where
torchvision drops the shift. Weights are seeded and redrawn so they matter
(torchvision's trunc_normal(0.02) Linear weights, zero biases and 0.02
position tables would leave the logits nearly input-free).

  swin_layers.safetensors  roll_x [3,4,5] and roll_<case> results; per
                           window-attention case <c>: <c>.x, <c>.y and the
                           module's state_dict under <c>.attn.*; merge.x,
                           merge.y, merge.norm.*, merge.reduction.weight
  swin.safetensors         the model's state_dict (relative_position_index
                           in stage 1 only, to keep the file small)
  swin_io.safetensors      x [3,40,48,3] (NHWC) and logits [3,10]
  swin_timm.safetensors    timm_<c>.x, .y, .attn.*: timm's order (its
                           SwinTransformerBlock rolls the unpadded H, W,
                           then pads, crops, rolls back), written out below
                           with torch ops from timm 1.0's _attn and
                           WindowAttention (timm is not in Debian: checked
                           against timm 1.0.31's swin_tiny_patch4_window7_224
                           at 150x90 and 100x130 by hand)

and Swin V2's (block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2:
cosine attention with a clamped per-head logit_scale, the cpb_mlp position
bias, the norms after attention, MLP and reduction), depths [2, 2]:

  swin_v2_layers.safetensors  swa2_<c>.x, .y, .attn.* for two attention
                              cases (one logit_scale above ln 100, the k
                              third of qkv.bias nonzero: torchvision zeroes
                              it); merge2.x, .y, .norm.*, .reduction.weight
  swin_v2.safetensors         the model's state_dict (the buffers
                              relative_position_index and
                              relative_coords_table in stage 1 only)
  swin_v2_io.safetensors      x [3,40,48,3] (NHWC) and logits [3,10]

Run with Debian's PyTorch 1.13 and torchvision 0.14 (a rerun writes the
same bytes):

    /usr/bin/python3 tests/reference/make_swin_refs.py tests/reference
"""
import pathlib
import sys

import torch
from torchvision.models.swin_transformer import (PatchMerging, PatchMergingV2,
                                                 ShiftedWindowAttention,
                                                 ShiftedWindowAttentionV2, SwinTransformer,
                                                 SwinTransformerBlockV2)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def rolls(out):
    x = torch.randn(3, 4, 5)
    out["roll_x"] = x
    out["roll_dim1"] = torch.roll(x, 2, 1)
    out["roll_neg"] = torch.roll(x, (-1, 7), (0, -1))        # negative, larger than the dim
    out["roll_repeat"] = torch.roll(x, (1, 2), (2, 2))      # a dim twice: the sum
    out["roll_flat"] = torch.roll(x, -7)                    # no dims: flattened
    out["roll_all"] = torch.roll(x, (1, -2, 3), (0, 1, 2))
    out["roll_t"] = torch.roll(x.transpose(0, 2), (3, -2), (0, 2))           # [5,4,3]
    out["roll_slice"] = torch.roll(x[:, 1:3, ::2], (1, -1), (1, 2))          # [3,2,3]
    out["roll_flat_t"] = torch.roll(x.transpose(0, 2), 5)


# (name, C, heads, window, shift, input shape, biases)
ATTENTION = [
    ("swa_a", 8, 2, [3, 4], [1, 2], [2, 5, 9, 8], True),   # padded, shifted both ways
    ("swa_b", 6, 3, [4, 3], [2, 1], [1, 3, 7, 6], True),   # H's shift dropped (4 >= 4)
    ("swa_c", 4, 1, [2, 2], [0, 0], [2, 4, 4, 4], False),  # no shift, no biases
    ("swa_d", 4, 2, [2, 3], [0, 1], [1, 4, 6, 4], True),   # shifted along W only
]


def attention(out):
    for name, c, heads, window, shift, shape, bias in ATTENTION:
        m = ShiftedWindowAttention(c, window, shift, heads, qkv_bias=bias, proj_bias=bias)
        with torch.no_grad():
            m.relative_position_bias_table.normal_(0, 1)
            if bias:
                m.qkv.bias.normal_(0, 0.3)
                m.proj.bias.normal_(0, 0.3)
        m.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = m(x)
        out[f"{name}.x"] = x
        out[f"{name}.y"] = y
        for k, v in m.state_dict().items():
            out[f"{name}.attn.{k}"] = v


def merge(out):
    m = PatchMerging(4)
    with torch.no_grad():
        m.norm.weight.add_(0.2 * torch.randn(16))
        m.norm.bias.normal_(0, 0.2)
    x = torch.randn(2, 5, 3, 4)   # odd H and W: padded
    with torch.no_grad():
        y = m(x)
    out["merge.x"] = x
    out["merge.y"] = y
    for k, v in m.state_dict().items():
        out[f"merge.{k}"] = v


def model(out_dir):
    m = SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2, 2], num_heads=[2, 4, 8],
                        window_size=[7, 7], mlp_ratio=2.0, num_classes=10)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.normal_(0, 1)
            elif p.dim() == 2:   # Linear weights: fan-in scaled, not 0.02
                p.normal_(0, p.shape[1] ** -0.5)
            elif "norm" in name and name.endswith("weight"):
                p.add_(0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.normal_(0, 0.2)
    m.eval()
    x = torch.randn(3, 3, 40, 48)
    with torch.no_grad():
        logits = m(x)
    print("logits", logits)
    # the relative_position_index buffers (I64, 19 KB each) kept in stage 1
    # only: the loader reads them there and computes torchvision's elsewhere
    sd = {k: v for k, v in m.state_dict().items()
          if not k.endswith("relative_position_index") or k.startswith("features.1.")}
    save(f"{out_dir}/swin.safetensors", sd)
    save(f"{out_dir}/swin_io.safetensors", {"x": x.permute(0, 2, 3, 1), "logits": logits})


def v2_layers(out):
    for name, c, heads, window, shift, shape, scale in [
            ("swa2_a", 8, 2, [3, 4], [1, 2], [2, 5, 9, 8], [5.0, 1.5]),
            ("swa2_b", 6, 3, [4, 3], [2, 1], [1, 3, 7, 6], [2.0, 3.0, 4.0])]:
        m = ShiftedWindowAttentionV2(c, window, shift, heads)
        with torch.no_grad():
            m.logit_scale.copy_(torch.tensor(scale).view(heads, 1, 1))
            m.qkv.bias.normal_(0, 0.3)
            m.proj.bias.normal_(0, 0.3)
        m.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = m(x)
        out[f"{name}.x"] = x
        out[f"{name}.y"] = y
        for k, v in m.state_dict().items():
            out[f"{name}.attn.{k}"] = v
    m = PatchMergingV2(4)
    with torch.no_grad():
        m.norm.weight.add_(0.2 * torch.randn(8))
        m.norm.bias.normal_(0, 0.2)
    x = torch.randn(2, 5, 3, 4)
    with torch.no_grad():
        y = m(x)
    out["merge2.x"] = x
    out["merge2.y"] = y
    for k, v in m.state_dict().items():
        out[f"merge2.{k}"] = v


def v2_model(out_dir):
    m = SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2, 2], num_heads=[2, 4],
                        window_size=[7, 7], mlp_ratio=2.0, num_classes=10,
                        block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("logit_scale"):
                p.add_(0.5 * torch.randn_like(p))
            elif p.dim() == 2:
                p.normal_(0, p.shape[1] ** -0.5)
            elif "norm" in name and name.endswith("weight"):
                p.add_(0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.normal_(0, 0.2)
    m.eval()
    x = torch.randn(3, 3, 40, 48)
    with torch.no_grad():
        logits = m(x)
    print("v2 logits", logits)
    sd = {k: v for k, v in m.state_dict().items()
          if not k.endswith(("relative_position_index", "relative_coords_table"))
          or k.startswith("features.1.")}
    save(f"{out_dir}/swin_v2.safetensors", sd)
    save(f"{out_dir}/swin_v2_io.safetensors", {"x": x.permute(0, 2, 3, 1), "logits": logits})


def timm_attention(x, m, window, shift):
    """timm 1.0's SwinTransformerBlock._attn with m's weights (a
    torchvision ShiftedWindowAttention: the same names)."""
    B, H, W, C = x.shape
    wh, ww = window
    if any(shift):
        x = torch.roll(x, (-shift[0], -shift[1]), (1, 2))
    x = torch.nn.functional.pad(x, (0, 0, 0, (ww - W % ww) % ww, 0, (wh - H % wh) % wh))
    _, Hp, Wp, _ = x.shape
    n = wh * ww
    win = x.view(B, Hp // wh, wh, Wp // ww, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, n, C)
    heads = m.num_heads
    qkv = m.qkv(win).reshape(win.shape[0], n, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    attn = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1) + m.get_relative_position_bias()
    if any(shift):
        img = torch.zeros(1, Hp, Wp, 1)
        cnt = 0
        for h in ((0, -wh), (-wh, -shift[0]), (-shift[0], None)):
            for w in ((0, -ww), (-ww, -shift[1]), (-shift[1], None)):
                img[:, h[0]:h[1], w[0]:w[1], :] = cnt
                cnt += 1
        mw = img.view(1, Hp // wh, wh, Wp // ww, ww, 1).permute(0, 1, 3, 2, 4, 5).reshape(-1, n)
        mask = mw.unsqueeze(1) - mw.unsqueeze(2)
        mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
        nw = mask.shape[0]
        attn = (attn.view(-1, nw, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)).view(-1, heads, n, n)
    y = m.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, n, C))
    y = y.view(B, Hp // wh, Wp // ww, wh, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, C)
    y = y[:, :H, :W, :].contiguous()
    if any(shift):
        y = torch.roll(y, shift, (1, 2))
    return y


def timm_cases(out):
    # (name, C, heads, window, shift, input shape): padded both ways, and a
    # shift along W only (timm keeps a shift where the resolution exceeds
    # the window)
    for name, c, heads, window, shift, shape in [
            ("timm_a", 8, 2, [3, 4], [1, 2], [2, 5, 9, 8]),
            ("timm_b", 6, 3, [3, 4], [0, 2], [1, 3, 10, 6])]:
        m = ShiftedWindowAttention(c, window, shift, heads)
        with torch.no_grad():
            m.relative_position_bias_table.normal_(0, 1)
            m.qkv.bias.normal_(0, 0.3)
            m.proj.bias.normal_(0, 0.3)
        m.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = timm_attention(x, m, window, shift)
        out[f"{name}.x"] = x
        out[f"{name}.y"] = y
        for k, v in m.state_dict().items():
            out[f"{name}.attn.{k}"] = v


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    refs = {}
    rolls(refs)
    attention(refs)
    merge(refs)
    save(f"{out_dir}/swin_layers.safetensors", refs)
    model(out_dir)
    refs = {}
    v2_layers(refs)
    save(f"{out_dir}/swin_v2_layers.safetensors", refs)
    v2_model(out_dir)
    refs = {}
    timm_cases(refs)
    save(f"{out_dir}/swin_timm.safetensors", refs)


if __name__ == "__main__":
    main()
