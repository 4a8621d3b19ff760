#!/usr/bin/env python3
"""Writes einsum_refs.safetensors for tests/test_nn_einsum.c: torch.einsum
(PyTorch 1.13) as graph layers.

  "attn.*"  q [3,2,4,5], k, v [3,2,6,5]: p = softmax(einsum('bhqd,bhkd->bhqk',
            q, k), -1), y = einsum('bhqk,bhkd->bqhd', p, v) [3,4,2,5].
  "ell.*"   x [3,4,5], w [3,5,2]: y = einsum('...ij,...jk', x, w) [3,4,2].
  "one.*"   x [3,4,4]: diag = einsum('bii->bi'), tr = einsum('bij->bji'),
            sum = einsum('bij->b').
  "three.*" x [3,4], u [3,4,5], v [3,5]: y = einsum('bi,bij,bj->b') [3] (a
            per-sample bilinear form), z = einsum('...i,...ij,...j->...ij').

Seeded (torch.manual_seed(0)). Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_einsum_refs.py tests/reference
"""
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    t = {}
    with torch.no_grad():
        q, k, v = torch.randn(3, 2, 4, 5), torch.randn(3, 2, 6, 5), torch.randn(3, 2, 6, 5)
        t["attn.q"], t["attn.k"], t["attn.v"] = q, k, v
        p = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q.double(), k.double()), -1)
        t["attn.y"] = torch.einsum("bhqk,bhkd->bqhd", p, v.double()).float()
        x, w = torch.randn(3, 4, 5), torch.randn(3, 5, 2)
        t["ell.x"], t["ell.w"] = x, w
        t["ell.y"] = torch.einsum("...ij,...jk", x.double(), w.double()).float()
        x = torch.randn(3, 4, 4)
        t["one.x"] = x
        t["one.diag"] = torch.einsum("bii->bi", x.double()).float()
        t["one.tr"] = torch.einsum("bij->bji", x.double()).float()
        t["one.sum"] = torch.einsum("bij->b", x.double()).float()
        x, u, v = torch.randn(3, 4), torch.randn(3, 4, 5), torch.randn(3, 5)
        t["three.x"], t["three.u"], t["three.v"] = x, u, v
        t["three.y"] = torch.einsum("bi,bij,bj->b", x.double(), u.double(), v.double()).float()
        t["three.z"] = torch.einsum("...i,...ij,...j->...ij", x.double(), u.double(),
                                    v.double()).float()
    save(pathlib.Path(out) / "einsum_refs.safetensors",
         {name: v.contiguous() for name, v in t.items()})


if __name__ == "__main__":
    main()
