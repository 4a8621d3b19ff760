#!/usr/bin/env python3
"""Writes the downsampling CNN of tests/test_nn_resnet.c, made in PyTorch
with the convolutions and pools a ResNet or MobileNet uses, none of which
is Keras' 'same' padding:

    x [N,3,10,10] (NCHW)
    stem  Conv2d(3,8,3,padding=1,bias=False) -> bn0 -> ReLU
    pool  MaxPool2d(3,2,padding=1)                                -> 8x5x5
    c1    Conv2d(8,16,3,stride=2,padding=1,bias=False) -> bn1 -> ReLU
    c2    Conv2d(16,16,3,padding=1,bias=False) -> bn2
    down  Conv2d(8,16,1,stride=2,bias=False) -> bnd   (the shortcut)
    add, ReLU                                                     -> 16x3x3
    dw    Conv2d(16,16,3,padding=2,dilation=2,groups=16) -> bn3 -> ReLU
    pw    Conv2d(16,8,(1,3),padding=(0,1))
    global average pool -> fc Linear(8,5): logits

resnet_down.safetensors holds model.state_dict() as
safetensors.torch.save_file writes it: num_batches_tracked included (I64,
which no loader reads). The BatchNorms' running statistics and affine
parameters are seeded random (not their defaults). resnet_down_io.safetensors
holds 4 inputs, permuted to NHWC ("x", [4,10,10,3]), and the logits
("logits", [4,5]). Written by hand (header length, JSON header,
little-endian data). Run with Debian's PyTorch (1.13):

    /usr/bin/python3 tests/resnet/make_resnet_down.py tests/resnet
"""
import pathlib
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


class Down(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, 2, padding=1)
        self.c1 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.down = nn.Conv2d(8, 16, 1, stride=2, bias=False)
        self.bnd = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=16)
        self.bn3 = nn.BatchNorm2d(16)
        self.pw = nn.Conv2d(16, 8, (1, 3), padding=(0, 1))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        h = self.pool(F.relu(self.bn0(self.stem(x))))
        r = self.bnd(self.down(h))
        h = self.bn2(self.c2(F.relu(self.bn1(self.c1(h)))))
        h = F.relu(h + r)
        h = F.relu(self.bn3(self.dw(h)))
        return self.fc(self.pw(h).mean(dim=(2, 3)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = Down()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c) * 0.5)
                m.running_var.copy_(torch.rand(c) * 2 + 0.3)
                m.weight.copy_(torch.randn(c))
                m.bias.copy_(torch.randn(c))
                m.num_batches_tracked.fill_(60)
        model.fc.weight.mul_(8)   # logits that differ between inputs by more than 0.01
    model.eval()
    save(f"{out}/resnet_down.safetensors", model.state_dict())
    x = torch.randn(4, 3, 10, 10) * 2
    with torch.no_grad():
        logits = model(x)
    save(f"{out}/resnet_down_io.safetensors",
         {"x": x.permute(0, 2, 3, 1), "logits": logits})
    print("logits:", logits.tolist())


if __name__ == "__main__":
    main()
