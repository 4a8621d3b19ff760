#!/usr/bin/env python3
"""Writes the 1-D CNN of tests/test_nn_resnet.c, made in PyTorch:

    x [N,4,20] (N, channels, length)
    c1   Conv1d(4,8,5,stride=2,padding=2) -> bn BatchNorm1d(8) -> ReLU  -> 8x10
    c2   Conv1d(8,8,3,padding=2,dilation=2,groups=2,bias=False) -> ReLU
    mean over the length -> fc Linear(8,3): logits

conv1d.safetensors holds model.state_dict() as safetensors.torch.save_file
writes it (bn.num_batches_tracked included, I64); the BatchNorm statistics
are seeded random. conv1d_io.safetensors holds 4 inputs permuted to
channels-last ("x", [4,20,4]) and the logits ("logits", [4,3]). Written
by hand (header length, JSON header, little-endian data). Run with
Debian's PyTorch (1.13):

    /usr/bin/python3 tests/resnet/make_conv1d.py tests/resnet
"""
import pathlib
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm1d(8)
        self.c2 = nn.Conv1d(8, 8, 3, padding=2, dilation=2, groups=2, bias=False)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        h = F.relu(self.bn(self.c1(x)))
        return self.fc(F.relu(self.c2(h)).mean(2))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():
        model.bn.running_mean.copy_(torch.randn(8) * 0.5)
        model.bn.running_var.copy_(torch.rand(8) * 2 + 0.3)
        model.bn.weight.copy_(torch.randn(8))
        model.bn.bias.copy_(torch.randn(8))
        model.fc.weight.mul_(4)
    model.eval()
    save(f"{out}/conv1d.safetensors", model.state_dict())
    x = torch.randn(4, 4, 20)
    with torch.no_grad():
        logits = model(x)
    save(f"{out}/conv1d_io.safetensors", {"x": x.permute(0, 2, 1), "logits": logits})
    print("logits:", logits.tolist())


if __name__ == "__main__":
    main()
