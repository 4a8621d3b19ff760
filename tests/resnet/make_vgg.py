#!/usr/bin/env python3
"""Writes the VGG-style CNN of tests/test_nn_resnet.c, made in PyTorch:
3x3 convolutions with padding=1 under 2x2 max pools (which minitensor
runs as one fused layer, and frozen as Winograd), a grouped and a dilated
one, on an odd-height image:

    x [N,3,33,32] (NCHW)
    0  Conv2d(3,8,3,padding=1) -> ReLU -> MaxPool2d(2)            -> 8x16x16
    3  Conv2d(8,16,3,padding=1) -> 4 BatchNorm2d -> ReLU -> MaxPool2d(2)
    7  Conv2d(16,16,3,padding=1,groups=4) -> ReLU -> MaxPool2d(2)  -> 16x4x4
    10 Conv2d(16,8,3,padding=(2,1),dilation=(2,1)) -> MaxPool2d(2)  -> 8x2x2
    AdaptiveAvgPool2d(1) -> Flatten -> 14 Linear(8,4): logits

vgg.safetensors holds model.state_dict() (seeded random weights and
BatchNorm statistics); vgg_io.safetensors holds 5 inputs permuted to NHWC
("x", [5,33,32,3]) and the logits ("logits", [5,4]). Written by hand
(header length, JSON header, little-endian data). Run with Debian's
PyTorch (1.13):

    /usr/bin/python3 tests/resnet/make_vgg.py tests/resnet
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
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 8, 3, padding=(2, 1), dilation=(2, 1)), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    bn = model[4]
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(16) * 0.5)
        bn.running_var.copy_(torch.rand(16) * 2 + 0.3)
        bn.weight.copy_(torch.randn(16))
        bn.bias.copy_(torch.randn(16))
        model[14].weight.mul_(4)
    model.eval()
    save(f"{out}/vgg.safetensors", model.state_dict())
    x = torch.randn(5, 3, 33, 32)
    with torch.no_grad():
        logits = model(x)
    save(f"{out}/vgg_io.safetensors", {"x": x.permute(0, 2, 3, 1), "logits": logits})
    print("logits:", logits.tolist())


if __name__ == "__main__":
    main()
