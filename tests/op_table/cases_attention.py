"""attention.h cases: scaled dot-product attention, computed with explicit
torch math in float64 (torch 1.13 has no F.scaled_dot_product_attention).
minitensor's conventions: causal is aligned bottom-right (query i sees keys
j <= i + Lk - Lq) and a row with no key taking part is 0 (torch: NaN)."""
import numpy as np
import torch

from optable import Case


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _attention(q, k, v, mask, causal, scale):
    q, k, v = (torch.from_numpy(a).double() for a in (q, k, v))
    s = (q @ k.transpose(-1, -2)) * (scale if scale else 1.0 / np.sqrt(q.shape[-1]))
    lq, lk = s.shape[-2], s.shape[-1]
    allow = torch.ones(lq, lk).tril(lk - lq).bool() if causal \
        else torch.ones(lq, lk, dtype=torch.bool)
    if mask is not None:
        if mask.dtype == np.bool_:
            allow = allow & torch.from_numpy(mask)
        else:
            s = s + torch.from_numpy(mask).double()
    s = s.masked_fill(~allow, float("-inf"))
    s, allow = torch.broadcast_tensors(s, allow)
    none = torch.isneginf(s).all(dim=-1, keepdim=True)
    p = torch.softmax(s, dim=-1)
    p = torch.where(none, torch.zeros_like(p), p)
    return (p @ v).float().numpy()


def cases(rng):
    out = []
    shapes = [
        ((1, 4, 8, 16), (1, 4, 8, 16), (1, 4, 8, 16)),      # fused rows
        ((1, 1, 40, 16), (1, 1, 40, 16), (1, 1, 40, 16)),   # matmul path
        ((1, 2, 1, 16), (1, 2, 64, 16), (1, 2, 64, 16)),    # a KV-cache step (fused)
        ((1, 1, 5, 16), (1, 1, 64, 16), (1, 1, 64, 16)),    # five steps (matmul path)
        ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6)),         # Lq < Lk, Ev != E
        ((2, 3, 7, 4), (2, 3, 5, 4), (2, 3, 5, 6)),         # Lq > Lk: causal rows of 0
        ((3, 5, 4), (1, 7, 4), (7, 6)),                     # leading dims broadcast
        ((2, 1, 5, 4), (1, 3, 7, 4), (2, 3, 7, 2)),
        ((5, 8), (70, 8), (70, 3)),                         # no leading dims, > a block
        ((0, 3, 4), (0, 5, 4), (0, 5, 2)),                  # empty batch
        ((2, 3, 0, 4), (2, 3, 5, 4), (2, 3, 5, 2)),         # no queries
        ((2, 4, 3), (2, 0, 3), (2, 0, 5)),                  # no keys: rows of 0
    ]
    for qs, ks, vs in shapes:
        q, k, v = _f32(rng, *qs), _f32(rng, *ks), _f32(rng, *vs)
        big = q.size + k.size + v.size > 2000   # fewer variants: file size
        for causal in (False, True):
            for scale in ((0.0,) if big else (0.0, 0.37)):
                out.append(Case("scaled_dot_product_attention", [q, k, v], [_attention(q, k, v, None, causal, scale)],
                                causal=causal, scale=scale, mask=False))
        lq, lk = qs[-2], ks[-2]
        bmask = rng.random((lq, lk)) > 0.35
        if lq > 0 and lk > 0:
            bmask[0, :] = False                      # a fully masked row
        fmask = _f32(rng, *((1,) * (len(qs) > 2) + (lq, lk)))
        if lq > 1 and lk > 0:
            fmask[..., 1, :] = -np.inf               # -inf everywhere in one row
        for mask in ((bmask,) if big else (bmask, fmask)):
            for causal in ((True,) if big else (False, True)):
                out.append(Case("scaled_dot_product_attention", [q, k, v, mask],
                                [_attention(q, k, v, mask, causal, 0.0)],
                                causal=causal, scale=0.0, mask=True))
    # a per-head mask [H, 1, Lk] broadcast over queries; NaN/inf inputs
    q, k, v = _f32(rng, 2, 3, 4, 8), _f32(rng, 2, 3, 6, 8), _f32(rng, 2, 3, 6, 5)
    m = rng.random((3, 1, 6)) > 0.3
    out.append(Case("scaled_dot_product_attention", [q, k, v, m], [_attention(q, k, v, m, False, 0.0)],
                    causal=False, scale=0.0, mask=True))
    q2 = q.copy()
    q2[0, 0, 1, 2] = np.nan
    out.append(Case("scaled_dot_product_attention", [q2, k, v], [_attention(q2, k, v, None, True, 0.0)],
                    causal=True, scale=0.0, mask=False))
    return out
