#!/usr/bin/env python3
"""Writes the encoder-decoder CNN of tests/test_nn_resnet.c, made in
PyTorch: the layers of a U-Net's up path, GroupNorm and ConvTranspose2d
among them.

    x [N,3,8,8] (NCHW)
    enc   Conv2d(3,8,3,padding=1) -> GroupNorm(2,8) -> SiLU   (the skip)
    down  Conv2d(8,16,3,stride=2,padding=1) -> GroupNorm(4,16) -> ELU -> 16x4x4
    up    ConvTranspose2d(16,8,3,stride=2,padding=1,output_padding=1)  -> 8x8x8
    cat   torch.cat([up, skip], dim=1)                                 -> 16x8x8
    ct2   ConvTranspose2d(16,4,4,stride=2,padding=1,groups=2,
                          bias=False) -> Hardswish                     -> 4x16x16
    head  Conv2d(4,2,1): the output, [N,2,16,16]

decoder.safetensors holds model.state_dict() (seeded random weights,
GroupNorm affine parameters too); decoder_io.safetensors holds 3 inputs and
the outputs, both permuted to NHWC ("x" [3,8,8,3], "y" [3,16,16,2]).
Written by hand (header length, JSON header, little-endian F32 data). Run
with Debian's PyTorch (1.13):

    /usr/bin/python3 tests/resnet/make_decoder.py tests/resnet
"""
import pathlib
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 8, 3, padding=1)
        self.gn1 = nn.GroupNorm(2, 8)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.gn2 = nn.GroupNorm(4, 16)
        self.up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.ct2 = nn.ConvTranspose2d(16, 4, 4, stride=2, padding=1, groups=2, bias=False)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        skip = F.silu(self.gn1(self.enc(x)))
        h = F.elu(self.gn2(self.down(skip)))
        h = torch.cat([self.up(h), skip], dim=1)
        return self.head(F.hardswish(self.ct2(h)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = Decoder().eval()
    with torch.no_grad():
        for m in (model.gn1, model.gn2):
            m.weight.copy_(torch.randn(m.num_channels))
            m.bias.copy_(torch.randn(m.num_channels))
    save(f"{out}/decoder.safetensors", model.state_dict())
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        y = model(x)
    nhwc = lambda t: t.permute(0, 2, 3, 1)  # noqa: E731
    save(f"{out}/decoder_io.safetensors", {"x": nhwc(x), "y": nhwc(y)})
    print("y:", list(y.shape), "std", float(y.std()))


if __name__ == "__main__":
    main()
