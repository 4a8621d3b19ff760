#!/usr/bin/env python3
"""Writes two width-reduced torchvision 0.14 models for
tests/test_nn_torchvision.c, built from torchvision's own classes so that
their state_dict names and forward passes are torchvision's:

  shufflenet   torchvision.models.ShuffleNetV2(stages_repeats=[2, 1, 1],
               stages_out_channels=[8, 16, 32, 64, 96], num_classes=10):
               shufflenet_v2_x0_5's blocks (x.chunk(2, dim=1), a depthwise
               branch, torch.cat, channel_shuffle(x, 2)) at a fraction of
               its width;
  efficientnet torchvision.models.EfficientNet with three MBConv stages
               (expand 1, k3, 8->8; expand 4, k3, stride 2, 8->12, two
               layers; expand 4, k5, stride 2, 12->16), last_channel 48,
               num_classes 10: efficientnet_b0's blocks (SiLU,
               squeeze-and-excitation with a sigmoid gate, StochasticDepth,
               the identity at eval).

Each <name>.safetensors holds model.state_dict() (seeded random weights,
BatchNorm statistics of a random batch, num_batches_tracked as I64); <name>_io
.safetensors 2 inputs [2,32,32,3] (NHWC, "x": gradients plus noise) and the logits ("logits",
[2,10]). Run with Debian's PyTorch 1.13 and torchvision 0.14:

    /usr/bin/python3 tests/resnet/make_torchvision.py tests/resnet
"""
import pathlib
import sys

import torch
from torch import nn
from torchvision.models import ShuffleNetV2
from torchvision.models.efficientnet import EfficientNet, MBConvConfig

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def models():
    yield "shufflenet", ShuffleNetV2([2, 1, 1], [8, 16, 32, 64, 96], num_classes=10)
    cfg = [MBConvConfig(1, 3, 1, 8, 8, 1), MBConvConfig(4, 3, 2, 8, 12, 2),
           MBConvConfig(4, 5, 2, 12, 16, 1)]
    yield "efficientnet", EfficientNet(cfg, dropout=0.2, stochastic_depth_prob=0.2,
                                       num_classes=10, last_channel=48)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    for name, model in models():
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.copy_(1 + 0.2 * torch.randn(m.num_features))
                    m.bias.copy_(0.2 * torch.randn(m.num_features))
                    m.momentum = 1.0   # the statistics of the batch below
            # BatchNorm statistics measured on a batch, as training would leave
            # them: made-up ones drown the input, every image gets the same logits
            model.train()
            model(torch.randn(16, 3, 32, 32))
        model.eval()
        # two images that differ in more than noise (the pooled features of
        # two noise images are nearly the same): a gradient, and its mirror
        # at another contrast
        ramp = torch.linspace(-2, 2, 32)
        x = torch.randn(2, 3, 32, 32) * 0.5
        x[0] += ramp.view(1, 1, 32) + ramp.view(1, 32, 1) * torch.tensor([1.0, 0.0, -1.0]).view(3, 1, 1)
        x[1] += -2 * ramp.view(1, 1, 32) * torch.tensor([0.0, 1.0, 2.0]).view(3, 1, 1)
        with torch.no_grad():
            logits = model(x)
        save(f"{out}/{name}.safetensors", model.state_dict())
        save(f"{out}/{name}_io.safetensors", {"x": x.permute(0, 2, 3, 1), "logits": logits})
        print(name, sum(p.numel() for p in model.parameters()), "parameters; logits:",
              [[round(v, 3) for v in row] for row in logits.tolist()])


if __name__ == "__main__":
    main()
