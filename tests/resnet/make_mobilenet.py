#!/usr/bin/env python3
"""Writes the MobileNetV3-style block of tests/test_nn_resnet.c, made in
PyTorch: Hardswish, ReLU6, a depthwise conv, a squeeze-and-excitation gate
(1x1 convs on the pooled channels, Hardsigmoid, a broadcast product) and
Hardtanh:

    x [N,3,12,12] (NCHW)
    stem    Conv2d(3,8,3,stride=2,padding=1,bias=False) -> bn0 -> Hardswish  -> 8x6x6
    expand  Conv2d(8,16,1,bias=False) -> bn1 -> ReLU6
    dw      Conv2d(16,16,3,padding=1,groups=16,bias=False) -> bn2 -> ReLU6
    se      s = mean over H, W -> fc1 Conv2d(16,4,1) -> ReLU -> fc2 Conv2d(4,16,1)
            -> Hardsigmoid; h * s
    project Conv2d(16,8,1,bias=False) -> bn3; + the stem's output
    mean over H, W -> Hardtanh(-0.5, 0.5) -> fc Linear(8,5): logits

mobilenet.safetensors holds model.state_dict() (seeded random weights and
BatchNorm statistics, num_batches_tracked included, I64);
mobilenet_io.safetensors holds 4 inputs permuted to NHWC ("x",
[4,12,12,3]) and the logits ("logits", [4,5]). Written by hand (header
length, JSON header, little-endian data). Run with Debian's PyTorch (1.13):

    /usr/bin/python3 tests/resnet/make_mobilenet.py tests/resnet
"""
import pathlib
import sys

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.expand = nn.Conv2d(8, 16, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Conv2d(16, 4, 1)
        self.fc2 = nn.Conv2d(4, 16, 1)
        self.project = nn.Conv2d(16, 8, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = F.hardswish(self.bn0(self.stem(x)))
        h = F.relu6(self.bn1(self.expand(x)))
        h = F.relu6(self.bn2(self.dw(h)))
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(h.mean((2, 3), keepdim=True)))))
        h = self.bn3(self.project(h * s)) + x
        return self.fc(F.hardtanh(h.mean((2, 3)), -0.5, 0.5))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = Block()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c) * 0.5)
                m.running_var.copy_(torch.rand(c) * 2 + 0.3)
                m.weight.copy_(torch.randn(c))
                m.bias.copy_(torch.randn(c))
        model.fc.weight.mul_(4)
        model.expand.weight.mul_(6)   # so that both ReLU6 bounds and Hardtanh's bite
    model.eval()
    save(f"{out}/mobilenet.safetensors", model.state_dict())
    x = torch.randn(4, 3, 12, 12) * 2
    with torch.no_grad():
        logits = model(x)
        h = F.relu6(model.bn1(model.expand(F.hardswish(model.bn0(model.stem(x))))))
        print("ReLU6 at 6:", int((h == 6).sum()), "at 0:", int((h == 0).sum()))
        model.fc.register_forward_hook(
            lambda m, i, o: print("Hardtanh at its bounds:", int((i[0].abs() == 0.5).sum())))
        model(x)
    save(f"{out}/mobilenet_io.safetensors", {"x": x.permute(0, 2, 3, 1), "logits": logits})
    print("logits:", logits.tolist())


if __name__ == "__main__":
    main()
