#!/usr/bin/env python3
"""Writes nn_activation_shrink.safetensors for tests/test_nn_activation_shrink.c:
PyTorch 1.13's nn.Hardshrink, nn.Softshrink, nn.Threshold, nn.Softmin and
nn.Softmax2d on random values and on the edges: NaN, ±inf, ±0, values
exactly at ±lambd and at the threshold (0.5, and float32(0.1), where a
double lambd would differ), and their float32 neighbours.

  "act.x" [3, 8], "edge.x" [1, 24], "big.x" [3, 3] (±inf and ±1000 rows);
  "<input>.<module>" the module's output (names in the test);
  "img.x" [2, 4, 3, 5] and "img.softmax2d" as NHWC (NCHW permuted), as
  minitensor computes them.

Seeded (torch.manual_seed(0)). Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_nn_activation_shrink_refs.py tests/reference
"""
import pathlib
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    f = np.float32
    up, down = np.nextafter(f(0.5), f(1)), np.nextafter(f(0.5), f(0))
    tenth = f(0.1)
    edge = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, up, -up, down, -down,
            tenth, -tenth, np.nextafter(tenth, f(1)), np.nextafter(tenth, f(0)),
            1.0, -1.0, 2.5, -2.5, 1e-30, -1e-30, 3e38, -3e38, 7.0]
    modules = {
        "hardshrink": nn.Hardshrink(),                # lambd 0.5
        "hardshrink_0.1": nn.Hardshrink(0.1),
        "hardshrink_neg": nn.Hardshrink(-1.0),
        "softshrink": nn.Softshrink(),                # lambd 0.5
        "softshrink_0.1": nn.Softshrink(0.1),
        "softshrink_0": nn.Softshrink(0.0),
        "threshold": nn.Threshold(0.5, -7.0),
        "threshold_0.1": nn.Threshold(0.1, 20.0),
        "threshold_inf": nn.Threshold(0.0, float("inf")),
    }
    t = {}
    with torch.no_grad():
        inputs = {"act": torch.randn(3, 8) * 2,
                  "edge": torch.tensor([edge], dtype=torch.float32)}
        for key, x in inputs.items():
            t[key + ".x"] = x
            for name, m in modules.items():
                t[f"{key}.{name}"] = m(x)
        x = inputs["act"]
        t["act.softmin_1"] = nn.Softmin(1)(x)
        inf = float("inf")
        big = torch.tensor([[inf, 1.0, 2.0], [-inf, 1.0, 2.0], [-1000.0, 0.0, 1000.0]])
        t["big.x"] = big
        t["big.softmin"] = nn.Softmin(-1)(big)
        img = torch.randn(2, 4, 3, 5) * 3
        t["img.x"] = img.permute(0, 2, 3, 1)
        t["img.softmax2d"] = nn.Softmax2d()(img).permute(0, 2, 3, 1)
    save(pathlib.Path(out) / "nn_activation_shrink.safetensors", t)


if __name__ == "__main__":
    main()
