#!/usr/bin/env python3
"""Writes the residual CNN of tests/test_nn_resnet.c, made in PyTorch:

    x [N,4,6,6] (NCHW)
    conv1 3x3 pad 1 (4->4) -> bn1 -> ReLU -> conv2 3x3 pad 1 (4->4) -> bn2
    + x (the skip) -> ReLU -> global average pool -> fc (4->4, a square
    weight: the PyTorch default layout reads it, no flag): logits

resnet_block.safetensors holds model.state_dict() under its own names
("conv1.weight", "bn1.running_mean", "fc.bias", ...; bn*.num_batches_tracked
is dropped: int64 bookkeeping, not a weight). resnet_block_io.safetensors
holds 8 held-out inputs, permuted to NHWC ("x", [8,6,6,4]), and the model's
logits on them ("logits", [8,4]).

The weights: torch.manual_seed(0) initialisation, then 60 SGD steps in train
mode on seeded random images labelled by their brightest channel (so the
BatchNorm running statistics and affine parameters are not their defaults),
then eval mode. The safetensors files are written by hand (8-byte header
length, JSON header, little-endian F32 data): no safetensors package needed. Run with
Debian's PyTorch (1.13):

    /usr/bin/python3 tests/resnet/make_resnet.py tests/resnet
"""
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


class Block(nn.Module):
    def __init__(self, c=4, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        h = torch.relu(h + x)
        return self.fc(h.mean(dim=(2, 3)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = Block()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(60):
        x = torch.randn(16, 4, 6, 6) * 2 + 0.5
        y = x.mean(dim=(2, 3)).argmax(1)          # the brightest channel
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    save(f"{out}/resnet_block.safetensors", state)
    x = torch.randn(8, 4, 6, 6) * 2 + 0.5          # held out: drawn after training
    with torch.no_grad():
        logits = model(x)
    save(f"{out}/resnet_block_io.safetensors",
         {"x": x.permute(0, 2, 3, 1), "logits": logits})
    print("state_dict:", ", ".join(f"{k} {list(v.shape)}" for k, v in state.items()))
    print("argmax:", logits.argmax(1).tolist())


if __name__ == "__main__":
    main()
