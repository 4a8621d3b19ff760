#!/usr/bin/env python3
"""Writes a width-reduced torchvision 0.14 LRASPP (lraspp_mobilenet_v3_large's
segmentation model) for tests/test_nn_torchvision.c, built from
torchvision's own classes so that its state_dict names and forward pass are
torchvision's:

  backbone  torchvision.models.MobileNetV3 with six blocks (input, kernel,
            expanded, out, SE, activation, stride, dilation):
            (8, 3, 8, 8, SE, RE, 2, 1), (8, 3, 24, 12, -, RE, 2, 1),
            (12, 3, 32, 12, -, RE, 1, 1), (12, 5, 48, 16, SE, HS, 2, 1),
            (16, 5, 64, 16, SE, HS, 1, 2), (16, 5, 64, 16, SE, HS, 1, 2) (the
            12s rounded up to 16 by torchvision's _make_divisible): the
            last stage dilated instead of strided, as
            lraspp_mobilenet_v3_large's (dilated=True); last conv 16 -> 96;
            BatchNorm eps 0.001 (MobileNetV3's norm_layer), the head's 1e-5;
  head      torchvision.models.segmentation.lraspp.LRASPP(backbone's
            features through IntermediateLayerGetter, "low" after the
            stride-4 block and "high" after the last conv, chosen as
            _lraspp_mobilenetv3 chooses them, 3 classes, inter_channels 32):
            a pooled sigmoid gate, F.interpolate(bilinear) of the high
            branch to the low one's size (3x4 -> 11x14) and of the sum to
            the input's (11x14 -> 42x54: factors that are not whole).

lraspp.safetensors holds model.state_dict() (seeded weights: He-initialised
convolutions, BatchNorm statistics of a random batch, num_batches_tracked as
I64); lraspp_io.safetensors 2 inputs [2,42,54,3] (NHWC, "x": gradients
plus noise) and the per-pixel logits "out" [2,42,54,3] (NHWC). Run with
Debian's PyTorch 1.13 and torchvision 0.14:

    /usr/bin/python3 tests/resnet/make_lraspp.py tests/resnet
"""
import pathlib
import sys
from functools import partial

import torch
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.mobilenetv3 import InvertedResidualConfig, MobileNetV3
from torchvision.models.segmentation.lraspp import LRASPP

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def lraspp():
    bneck = partial(InvertedResidualConfig, width_mult=1.0)
    setting = [bneck(8, 3, 8, 8, True, "RE", 2, 1), bneck(8, 3, 24, 12, False, "RE", 2, 1),
               bneck(12, 3, 32, 12, False, "RE", 1, 1), bneck(12, 5, 48, 16, True, "HS", 2, 1),
               bneck(16, 5, 64, 16, True, "HS", 1, 2), bneck(16, 5, 64, 16, True, "HS", 1, 2)]
    features = MobileNetV3(setting, last_channel=64).features
    # _lraspp_mobilenetv3's choice of the two feature maps
    stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    stages.append(len(features) - 1)
    low, high = stages[-4], stages[-1]
    backbone = IntermediateLayerGetter(features, return_layers={str(low): "low", str(high): "high"})
    return LRASPP(backbone, features[low].out_channels, features[high].out_channels, 3,
                  inter_channels=32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = lraspp()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.out_channels))
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.num_features))
                m.bias.copy_(0.2 * torch.randn(m.num_features))
                m.momentum = 1.0   # the statistics of the batch below
        model.train()
        model(torch.randn(8, 3, 42, 54))
    model.eval()
    ramp_w, ramp_h = torch.linspace(-2, 2, 54), torch.linspace(-2, 2, 42)
    x = torch.randn(2, 3, 42, 54) * 0.5
    x[0] += ramp_w.view(1, 1, 54) + ramp_h.view(1, 42, 1) * torch.tensor([1.0, 0.0, -1.0]).view(3, 1, 1)
    x[1] += -2 * ramp_w.view(1, 1, 54) * torch.tensor([0.0, 1.0, 2.0]).view(3, 1, 1)
    with torch.no_grad():
        y = model(x)["out"]
    save(f"{out}/lraspp.safetensors", model.state_dict())
    save(f"{out}/lraspp_io.safetensors", {"x": x.permute(0, 2, 3, 1), "out": y.permute(0, 2, 3, 1)})
    print("lraspp", sum(p.numel() for p in model.parameters()), "parameters; features",
          [type(f).__name__ for f in model.backbone.values()], "logits range",
          round(float(y.min()), 3), round(float(y.max()), 3),
          "images differ by", round(float((y[0] - y[1]).abs().max()), 3))


if __name__ == "__main__":
    main()
