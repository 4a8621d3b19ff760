#!/usr/bin/env python3
"""Writes nn_distance_lrn.safetensors for tests/test_nn_distance_lrn.c:
PyTorch 1.13's nn.CosineSimilarity, nn.PairwiseDistance and
nn.LocalResponseNorm.

  "cos.*"   x1, x2 [4, 6]: dim 1; "cosb.*" a [3,1,5] against b [3,4,5] at
            dim -1 (broadcast); "cosimg.*" NCHW [2,3,4,5] at dim 1, saved
            NHWC (x1, x2 [2,4,5,3] -> y [2,4,5]); "costiny.*": rows of norm
            below eps (1e-9, 0, 1e-4), at eps 1e-8 and eps 1e-3.
  "pd.*"    x1, x2 [4, 6] (row 3 equal): p = 2, 1, 3, 0, inf, -inf, 0.5;
            keepdim; eps = 0; "pdb.*" [2,3,6] against [2,1,6]; "pd3.*"
            [2,3,6] (the last dim).
  "lrn.*"   NCHW x [2,7,3,4] (saved NHWC): LocalResponseNorm(5, 1e-4,
            0.75, 2) (AlexNet's), (2, 0.1, 0.75, 1) (even size), (10, 0.5,
            0.5, 1) (wider than C); "lrn3.*" [2,7,5] NCL saved NLC, size 3.
  "range.*" values whose squares leave float's range (past FLT_MAX: inf;
            below the smallest subnormal: 0), as PyTorch's F32 sums take
            them: cosine of x with itself, pairwise distances to zeros
            (p = 2, 1, 3, eps 0), LRN of [1,4,1] and [1,3,1] NCL saved NLC.

Seeded (torch.manual_seed(0)). Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_nn_distance_lrn_refs.py tests/reference
"""
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    t = {}
    with torch.no_grad():
        x1, x2 = torch.randn(4, 6), torch.randn(4, 6)
        t["cos.x1"], t["cos.x2"] = x1, x2
        t["cos.y"] = nn.CosineSimilarity(dim=1)(x1, x2)
        a, b = torch.randn(3, 1, 5), torch.randn(3, 4, 5)
        t["cosb.a"], t["cosb.b"] = a, b
        t["cosb.y"] = nn.CosineSimilarity(dim=-1)(a, b)
        i1, i2 = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
        t["cosimg.x1"], t["cosimg.x2"] = nhwc(i1), nhwc(i2)
        t["cosimg.y"] = nn.CosineSimilarity(dim=1)(i1, i2)
        tiny1 = torch.tensor([[1e-9, 0.0, 0.0], [0.0, 0.0, 0.0], [1e-4, -2e-4, 5e-5],
                              [3.0, -1.0, 2.0]])
        tiny2 = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [2e-4, 1e-4, -1e-4],
                              [1e-4, 1e-4, 0.0]])
        t["costiny.x1"], t["costiny.x2"] = tiny1, tiny2
        t["costiny.y"] = nn.CosineSimilarity(dim=1)(tiny1, tiny2)
        t["costiny.y_eps"] = nn.CosineSimilarity(dim=1, eps=1e-3)(tiny1, tiny2)

        p1, p2 = torch.randn(4, 6), torch.randn(4, 6)
        p2[3] = p1[3]
        t["pd.x1"], t["pd.x2"] = p1, p2
        for name, p in [("2", 2.0), ("1", 1.0), ("3", 3.0), ("0", 0.0), ("inf", float("inf")),
                        ("ninf", float("-inf")), ("half", 0.5)]:
            t[f"pd.p{name}"] = nn.PairwiseDistance(p=p)(p1, p2)
        t["pd.keepdim"] = nn.PairwiseDistance(keepdim=True)(p1, p2)
        t["pd.eps0"] = nn.PairwiseDistance(eps=0.0)(p1, p2)
        t["pd.eps0_p0"] = nn.PairwiseDistance(p=0.0, eps=0.0)(p1, p2)
        pa, pb = torch.randn(2, 3, 6), torch.randn(2, 1, 6)
        t["pdb.a"], t["pdb.b"] = pa, pb
        t["pdb.y"] = nn.PairwiseDistance()(pa, pb)
        r1, r2 = torch.randn(2, 3, 6), torch.randn(2, 3, 6)
        t["pd3.x1"], t["pd3.x2"] = r1, r2
        t["pd3.y"] = nn.PairwiseDistance(p=1.5)(r1, r2)

        x = torch.randn(2, 7, 3, 4) * 3
        t["lrn.x"] = nhwc(x)
        t["lrn.alexnet"] = nhwc(nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)(x))
        t["lrn.even"] = nhwc(nn.LocalResponseNorm(2, 0.1, 0.75, 1.0)(x))
        t["lrn.wide"] = nhwc(nn.LocalResponseNorm(10, 0.5, 0.5, 1.0)(x))
        s = torch.randn(2, 7, 5) * 2
        t["lrn3.x"] = s.permute(0, 2, 1)
        t["lrn3.y"] = nn.LocalResponseNorm(3, 0.2, 0.75, 1.0)(s).permute(0, 2, 1)

        big = torch.tensor([[1.5e19, 1.5e19, 1.0], [1e-23, 1e-23, 0.0], [1e19, 0.0, 0.0],
                            [3e38, 3e38, 0.0]])
        t["range.x"], t["range.zeros"] = big, torch.zeros(4, 3)
        t["range.cos"] = nn.CosineSimilarity(dim=1)(big, big)
        for name, p in [("2", 2.0), ("1", 1.0), ("3", 3.0)]:
            t[f"range.pd{name}"] = nn.PairwiseDistance(p=p, eps=0.0)(big, torch.zeros(4, 3))
        c = torch.tensor([1.5e19, 1.5e19, 1.0, 1e-23]).reshape(1, 4, 1)
        t["range.lrn_x"] = c.permute(0, 2, 1)
        t["range.lrn_a"] = nn.LocalResponseNorm(2, 1e-30, 1.0, 1.0)(c).permute(0, 2, 1)
        t["range.lrn_b"] = nn.LocalResponseNorm(1, 1.0, 1.0, 0.0)(c).permute(0, 2, 1)
        # 2e-23² is 0 in float, though two of them summed in double are not
        tiny = torch.full((1, 3, 1), 2e-23)
        t["range.lrn_tiny"] = tiny.permute(0, 2, 1)
        t["range.lrn_c"] = nn.LocalResponseNorm(2, 1.0, 1.0, 0.0)(tiny).permute(0, 2, 1)
    save(pathlib.Path(out) / "nn_distance_lrn.safetensors", t)


if __name__ == "__main__":
    main()
