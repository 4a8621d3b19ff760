#!/usr/bin/env python3
"""Writes conv3d_torch.safetensors for tests/test_nn_conv3d.c and
test_nn_conv_transpose3d.c: PyTorch 1.13's nn.Conv3d, nn.ConvTranspose3d,
nn.MaxPool3d, nn.AvgPool3d, AdaptiveAvg/MaxPool3d, a tiny 3-D CNN, an
encoder-decoder and a U-Net. Inputs and outputs in PyTorch's [N,C,D,H,W]
(the tests read them as they are and through [N,D,H,W,C] permuted views);
kernels OIDHW as the state_dict holds them.

  x [2,3,5,6,7], x4 [2,4,5,6,7]
  c0  Conv3d(3, 4, 3) on x
  c1  Conv3d(3, 4, (3,2,3), stride (2,1,2), padding (1,0,2)) on x
  c2  Conv3d(3, 4, 3, dilation (2,1,2), padding 2, bias=False) on x
  c3  Conv3d(4, 6, (2,3,3), groups 2, stride 2, padding 1) on x4
  c4  Conv3d(4, 8, 3, groups 4 (depthwise, multiplier 2), padding 'same') on x4
  c5  Conv3d(3, 2, (2,4,3), padding 'same') on x: an even kernel, the extra
      plane/column after (as Keras' SAME)
  mp0 MaxPool3d(2); mp1 MaxPool3d((3,2,3), (2,1,2), 1, ceil_mode=True);
  mp2 MaxPool3d(3, 2, 1, dilation (2,1,1)) on x
  ap0 AvgPool3d(2); ap1 AvgPool3d(3, 2, 1, ceil_mode=True) (count_include_pad);
  ap2 AvgPool3d((2,3,3), (1,2,2), (1,1,0), ceil_mode=True,
      count_include_pad=False) on x
  gap AdaptiveAvgPool3d(1) + flatten, gmp AdaptiveMaxPool3d(1) + flatten on x
  cnn Sequential(Conv3d(2,4,3,padding=1), ReLU, MaxPool3d(2), Conv3d(4,6,3),
      AdaptiveAvgPool3d(1), Flatten, Linear(6,3)) on xc [2,2,6,8,8]: its
      state_dict under "cnn.", logits "cnn.y"
  bn  Sequential(Conv3d(3, 4, 3, padding=1, bias=False), BatchNorm3d(4), ReLU)
      (eval, random running statistics) on x: state_dict under "bn.", "bn.y"
  pad F.pad(xp, (1,1,2,0,1,1), 'reflect' / 'replicate') on xp = x[:1, :, :3, :4, :4]
      (Conv3d's padding_mode): "padr.y", "padp.y"
  xt [2,4,3,4,3]
  t0  ConvTranspose3d(4, 3, 3) on xt
  t1  ConvTranspose3d(4, 6, (2,3,3), stride (2,1,2), padding (0,1,1),
      output_padding (1,0,1), groups 2) on xt
  t2  ConvTranspose3d(4, 2, 3, stride 2, padding 1, dilation (2,1,1),
      output_padding (1,1,0), bias=False) on xt
  aap0, aap1 AdaptiveAvgPool3d((2,4,3)), ((3,5,9)) on x (overlapping and
      repeated windows); amp0, amp1 AdaptiveMaxPool3d the same
  ed  Sequential(Conv3d(2,4,3,stride=2,padding=1), ReLU,
      ConvTranspose3d(4,2,3,stride=2,padding=1,output_padding=1)) on xe
      [1,2,4,6,6], an encoder-decoder back to the input's size: "ed." names,
      "ed.y"
  unet UNet3d below on xe: two encoder convs (the second stride 2), a
      ConvTranspose3d(4,3,2,stride=2) back up, concatenated with the first
      encoder's output, a 1x1x1 head: "unet." names, "unet.y"

Seeded (torch.manual_seed(0)). Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_conv3d_refs.py tests/reference
"""
import pathlib
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def conv(t, name, layer, x):
    with torch.no_grad():
        if layer.bias is not None:   # biases away from zero
            layer.bias.normal_(0, 0.3)
        t[name + ".weight"] = layer.weight
        if layer.bias is not None:
            t[name + ".bias"] = layer.bias
        t[name + ".y"] = layer(x)


class UNet3d(nn.Module):
    """e1 = relu(conv(x)); e2 = relu(conv_s2(e1)); d = up(e2) (x2);
    y = head(cat(d, e1)): a skip connection across the scales."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv3d(2, 3, 3, padding=1)
        self.enc2 = nn.Conv3d(3, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose3d(4, 3, 2, stride=2)
        self.head = nn.Conv3d(6, 2, 1)

    def forward(self, x):
        e1 = torch.relu(self.enc1(x))
        d = self.up(torch.relu(self.enc2(e1)))
        return self.head(torch.cat([d, e1], 1))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    t = {}
    x, x4 = torch.randn(2, 3, 5, 6, 7), torch.randn(2, 4, 5, 6, 7)
    t["x"], t["x4"] = x, x4
    conv(t, "c0", nn.Conv3d(3, 4, 3), x)
    conv(t, "c1", nn.Conv3d(3, 4, (3, 2, 3), stride=(2, 1, 2), padding=(1, 0, 2)), x)
    conv(t, "c2", nn.Conv3d(3, 4, 3, dilation=(2, 1, 2), padding=2, bias=False), x)
    conv(t, "c3", nn.Conv3d(4, 6, (2, 3, 3), groups=2, stride=2, padding=1), x4)
    conv(t, "c4", nn.Conv3d(4, 8, 3, groups=4, padding="same"), x4)
    conv(t, "c5", nn.Conv3d(3, 2, (2, 4, 3), padding="same"), x)
    with torch.no_grad():
        t["mp0.y"] = nn.MaxPool3d(2)(x)
        t["mp1.y"] = nn.MaxPool3d((3, 2, 3), (2, 1, 2), 1, ceil_mode=True)(x)
        t["mp2.y"] = nn.MaxPool3d(3, 2, 1, dilation=(2, 1, 1))(x)
        t["ap0.y"] = nn.AvgPool3d(2)(x)
        t["ap1.y"] = nn.AvgPool3d(3, 2, 1, ceil_mode=True)(x)
        t["ap2.y"] = nn.AvgPool3d((2, 3, 3), (1, 2, 2), (1, 1, 0), ceil_mode=True,
                                  count_include_pad=False)(x)
        t["gap.y"] = nn.AdaptiveAvgPool3d(1)(x).flatten(1)
        t["gmp.y"] = nn.AdaptiveMaxPool3d(1)(x).flatten(1)
        cnn = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2),
                            nn.Conv3d(4, 6, 3), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                            nn.Linear(6, 3)).eval()
        for m in cnn:
            if isinstance(m, (nn.Conv3d, nn.Linear)):
                m.bias.normal_(0, 0.3)
        xc = torch.randn(2, 2, 6, 8, 8)
        t["xc"] = xc
        for k, v in cnn.state_dict().items():
            t["cnn." + k] = v
        t["cnn.y"] = cnn(xc)
        bn = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1, bias=False), nn.BatchNorm3d(4),
                           nn.ReLU()).eval()
        bn[1].weight.normal_(1, 0.3)
        bn[1].bias.normal_(0, 0.3)
        bn[1].running_mean.normal_(0, 0.3)
        bn[1].running_var.uniform_(0.5, 1.5)
        for k, v in bn.state_dict().items():
            t["bn." + k] = v
        t["bn.y"] = bn(x)
        xp = x[:1, :, :3, :4, :4].contiguous()
        t["xp"] = xp
        t["padr.y"] = F.pad(xp, (1, 1, 2, 0, 1, 1), mode="reflect")
        t["padp.y"] = F.pad(xp, (1, 1, 2, 0, 1, 1), mode="replicate")
    xt = torch.randn(2, 4, 3, 4, 3)
    t["xt"] = xt
    conv(t, "t0", nn.ConvTranspose3d(4, 3, 3), xt)
    conv(t, "t1", nn.ConvTranspose3d(4, 6, (2, 3, 3), stride=(2, 1, 2), padding=(0, 1, 1),
                                     output_padding=(1, 0, 1), groups=2), xt)
    conv(t, "t2", nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, dilation=(2, 1, 1),
                                     output_padding=(1, 1, 0), bias=False), xt)
    with torch.no_grad():
        t["aap0.y"] = nn.AdaptiveAvgPool3d((2, 4, 3))(x)
        t["aap1.y"] = nn.AdaptiveAvgPool3d((3, 5, 9))(x)
        t["amp0.y"] = nn.AdaptiveMaxPool3d((2, 4, 3))(x)
        t["amp1.y"] = nn.AdaptiveMaxPool3d((3, 5, 9))(x)
        ed = nn.Sequential(nn.Conv3d(2, 4, 3, stride=2, padding=1), nn.ReLU(),
                           nn.ConvTranspose3d(4, 2, 3, stride=2, padding=1,
                                              output_padding=1)).eval()
        for m in ed:
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                m.bias.normal_(0, 0.3)
        xe = torch.randn(1, 2, 4, 6, 6)
        t["xe"] = xe
        for k, v in ed.state_dict().items():
            t["ed." + k] = v
        t["ed.y"] = ed(xe)
        unet = UNet3d().eval()
        for m in unet.modules():
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                m.bias.normal_(0, 0.3)
        for k, v in unet.state_dict().items():
            t["unet." + k] = v
        t["unet.y"] = unet(xe)
    for k, v in t.items():
        print(k, list(v.shape))
    save(pathlib.Path(out) / "conv3d_torch.safetensors", t)


if __name__ == "__main__":
    main()
