#!/usr/bin/env python3
"""Writes the CNN of tests/test_nn_resnet.c that flattens NCHW activations,
made in PyTorch: its Linear weights expect PyTorch's (c, h, w) order, and
an nn.Unflatten turns features back into an image:

    x [N,3,8,8] (NCHW)
    0  Conv2d(3,4,3) -> ReLU                     -> 4x6x6
    2  Flatten                                   -> 144, (c, h, w) order
    3  Linear(144,72) -> ReLU
    5  Unflatten(1, (2,6,6))                     -> 2x6x6
    6  Conv2d(2,2,3) -> Flatten                  -> 32, (c, h, w) order
    8  Linear(32,5): logits

flatten.safetensors holds model.state_dict() as it is (no row permuted);
flatten_io.safetensors holds 4 inputs permuted to NHWC ("x", [4,8,8,3]) and
the logits ("logits", [4,5]). Written by hand (header length, JSON header,
little-endian F32 data). Run with Debian's PyTorch (1.13):

    /usr/bin/python3 tests/resnet/make_flatten.py tests/resnet
"""
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 72), nn.ReLU(),
        nn.Unflatten(1, (2, 6, 6)), nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(32, 5)).eval()
    with torch.no_grad():
        model[8].weight.mul_(10)   # logits that differ between inputs by more than 0.1
    save(f"{out}/flatten.safetensors", model.state_dict())
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        logits = model(x)
    save(f"{out}/flatten_io.safetensors", {"x": x.permute(0, 2, 3, 1), "logits": logits})
    print("logits:", logits.tolist())


if __name__ == "__main__":
    main()
