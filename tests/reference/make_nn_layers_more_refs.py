#!/usr/bin/env python3
"""Writes nn_layers_more.safetensors for tests/test_nn_layers_more.c:
inputs, weights and PyTorch's outputs for nn.PReLU (one slope, and one per
channel after a Conv2d), nn.SELU, nn.CELU(0.7), nn.Mish, nn.Softsign,
nn.LogSigmoid, nn.Tanhshrink, nn.LogSoftmax(1), nn.GLU(-1) and nn.GLU(1),
nn.CELU(-1.5) and nn.CELU(0.05) on x up to 3e38,
nn.Softplus(beta=2), nn.RReLU(0.1, 0.3) at eval,
nn.InstanceNorm2d(4) (affine or not) on
3·x + 1, a layer scale (ConvNeXt's [C,1,1] gamma), a position embedding
[1, L, D] added, x.chunk(2, dim=1), nn.ChannelShuffle(3), nn.PixelShuffle(2),
nn.PixelUnshuffle(2), nn.MaxPool1d(3, 2, 1), nn.MaxPool1d(2, ceil_mode),
nn.AvgPool1d(3, 2, 1) and x.amax / x.mean over the length; nn.ConvTranspose1d(3, 4, 5, 2, 1,
output_padding=1), and a Conv1d, Linears and a ConvTranspose1d(4, 2, 8, 4,
2) under weight norm; nn.EmbeddingBag (mean, max), nn.AdaptiveAvgPool1d(3)
and nn.Conv2d(4, 2, 4, padding='same', dilation=2), as compositions (weight_g/weight_v, and torch 2's
parametrizations.weight.original0/1 names); image results
saved NHWC and sequence results [N,L,C], as minitensor computes them.
Seeded (torch.manual_seed(0)); module weights under their state_dict names
with a prefix ("prelu_c.weight"). Run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_nn_layers_more_refs.py tests/reference
"""
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def nlc(t):
    return t.permute(0, 2, 1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    t = {}
    with torch.no_grad():
        x = torch.randn(3, 8) * 3
        t["act.x"] = x
        for name, m in [("selu", nn.SELU()), ("celu", nn.CELU(0.7)), ("mish", nn.Mish()),
                        ("softsign", nn.Softsign()), ("log_sigmoid", nn.LogSigmoid()),
                        ("tanhshrink", nn.Tanhshrink()), ("log_softmax", nn.LogSoftmax(1)),
                        ("glu", nn.GLU(-1))]:
            t["act." + name] = m(x)
        # compositions the docs give: Softplus(beta=2) is rescale, softplus,
        # rescale; RReLU at eval is a LeakyReLU of slope (lower + upper) / 2
        t["act.softplus_beta2"] = nn.Softplus(beta=2)(x)
        t["act.rrelu"] = nn.RReLU(0.1, 0.3).eval()(x)
        # far tails: log_sigmoid(-30), log_softmax of a large spread
        tail = torch.tensor([[-30.0, -12.0, 0.0, 12.0, 30.0, 90.0, -90.0, 1e-3]])
        t["tail.x"] = tail
        t["tail.log_sigmoid"] = nn.LogSigmoid()(tail)
        t["tail.log_softmax"] = nn.LogSoftmax(1)(tail)
        t["tail.mish"] = nn.Mish()(tail)
        # CELU beyond alpha > 0 on small x: a negative alpha (PyTorch picks the
        # branch by x's sign), and alpha 0.05 on x up to 3e38 (x passes as is)
        t["tail.celu_neg"] = nn.CELU(-1.5)(tail)
        big = torch.tensor([[3e38, 1e30, 90.0, 1.0, 0.0, -1e-3, -1.0, -90.0]])
        t["celu.x"] = big
        t["celu.small"] = nn.CELU(0.05)(big)

        # PReLU with one slope and with one per channel, after a conv (NCHW)
        img = torch.randn(2, 4, 5, 6)
        t["img.x"] = nhwc(img)
        p1, pc = nn.PReLU(), nn.PReLU(4)
        p1.weight.fill_(-0.3)
        pc.weight.copy_(torch.tensor([0.25, -0.5, 1.5, 0.0]))
        t.update({"prelu_1." + k: v for k, v in p1.state_dict().items()})
        t.update({"prelu_c." + k: v for k, v in pc.state_dict().items()})
        t["img.prelu_1"] = nhwc(p1(img))
        t["img.prelu_c"] = nhwc(pc(img))
        t["img.glu1"] = nhwc(nn.GLU(1)(img))            # halves the channels
        # InstanceNorm2d (track_running_stats=False: the statistics of each
        # image at eval too) is GroupNorm with one group per channel
        inorm = nn.InstanceNorm2d(4, affine=True)
        inorm.weight.copy_(torch.randn(4))
        inorm.bias.copy_(torch.randn(4))
        t.update({"inorm." + k: v for k, v in inorm.state_dict().items()})
        t["img.x31"] = nhwc(img * 3 + 1)
        t["img.inorm_affine"] = nhwc(inorm.eval()(img * 3 + 1))
        t["img.inorm"] = nhwc(nn.InstanceNorm2d(4).eval()(img * 3 + 1))
        # ConvNeXt's layer scale (a [C,1,1] parameter on NCHW), a learned
        # position embedding [1, L, D] added to tokens
        t["ls.gamma"] = torch.randn(4, 1, 1)
        t["img.layer_scale"] = nhwc(t["ls.gamma"] * img)
        t["tok.x"] = torch.randn(2, 5, 6)
        t["tok.pos_embedding"] = torch.randn(1, 5, 6)
        t["tok.pos"] = t["tok.x"] + t["tok.pos_embedding"]
        a, b = img.chunk(2, dim=1)
        t["img.chunk0"], t["img.chunk1"] = nhwc(a), nhwc(b)

        six = torch.randn(2, 6, 3, 4)                   # 6 channels, 3 groups
        t["six.x"] = nhwc(six)
        t["six.shuffle3"] = nhwc(nn.ChannelShuffle(3)(six))
        t["six.shuffle2"] = nhwc(nn.ChannelShuffle(2)(six))
        ps = torch.randn(2, 8, 3, 2)                    # 8 = 2 channels x 2 x 2
        t["ps.x"] = nhwc(ps)
        t["ps.shuffle"] = nhwc(nn.PixelShuffle(2)(ps))   # [2,6,4,2] NHWC
        pu = torch.randn(2, 3, 4, 6)
        t["pu.x"] = nhwc(pu)
        t["pu.unshuffle"] = nhwc(nn.PixelUnshuffle(2)(pu))   # [2,2,3,12] NHWC

        seq = torch.randn(2, 3, 9)                      # [N,C,L]
        t["seq.x"] = nlc(seq)
        t["seq.max3_2_1"] = nlc(nn.MaxPool1d(3, 2, 1)(seq))
        t["seq.max2_ceil"] = nlc(nn.MaxPool1d(2, ceil_mode=True)(seq))
        t["seq.avg3_2_1"] = nlc(nn.AvgPool1d(3, 2, 1)(seq))
        t["seq.gmax"] = seq.amax(-1)
        t["seq.gavg"] = seq.mean(-1)
        # weight norm: a TCN-style dilated Conv1d under torch.nn.utils
        # .weight_norm (wn_conv.weight_g [4,1,1], .weight_v), a Linear under
        # weight_norm(dim=None) (one norm, g of shape []), and a Linear saved
        # as parametrize.weight_norm names it (torch 2's
        # parametrizations.weight.original0/1; written by hand here)
        conv = nn.utils.weight_norm(nn.Conv1d(3, 4, 3, dilation=2, padding=2))
        conv.weight_g.mul_(torch.rand(4, 1, 1) + 0.5)
        t.update({"wn_conv." + k: v for k, v in conv.state_dict().items()})
        t["seq.wn_conv"] = nlc(conv(seq))
        lin = nn.utils.weight_norm(nn.Linear(3, 2), dim=None)
        lin.weight_g.mul_(1.7)
        t.update({"wn_lin." + k: v for k, v in lin.state_dict().items()})
        t["seq.wn_lin"] = lin(nlc(seq))
        lin2 = nn.utils.weight_norm(nn.Linear(3, 2))
        t["wn_lin2.parametrizations.weight.original0"] = lin2.weight_g * 0.8
        t["wn_lin2.parametrizations.weight.original1"] = lin2.weight_v
        t["wn_lin2.bias"] = lin2.bias
        lin2.weight_g.mul_(0.8)
        t["seq.wn_lin2"] = lin2(nlc(seq))
        # ConvTranspose1d, plain and (a HiFi-GAN upsampler) under weight norm
        ct = nn.ConvTranspose1d(3, 4, 5, stride=2, padding=1, output_padding=1)
        t.update({"ct1." + k: v for k, v in ct.state_dict().items()})
        t["seq.ct1"] = nlc(ct(seq))
        up = nn.utils.weight_norm(nn.ConvTranspose1d(4, 2, 8, stride=4, padding=2))
        t.update({"wn_up." + k: v for k, v in up.state_dict().items()})
        t["seq.wn_up"] = nlc(up(ct(seq)))
        # compositions the docs give: EmbeddingBag(mode='mean'/'max') over
        # fixed-length bags, AdaptiveAvgPool1d(3), Conv2d(padding='same')
        # with an even, dilated kernel
        bag = nn.EmbeddingBag(7, 4, mode="mean")
        ids = torch.tensor([[1, 2, 4, 4, 0], [6, 5, 3, 2, 1]])
        t.update({"bag." + k: v for k, v in bag.state_dict().items()})
        t["bag.ids"] = ids
        t["bag.mean"] = bag(ids)
        t["bag.max"] = nn.EmbeddingBag(7, 4, mode="max", _weight=bag.weight)(ids)
        t["seq.adaptive3"] = nlc(nn.AdaptiveAvgPool1d(3)(seq))
        same = nn.Conv2d(4, 2, 4, padding="same", dilation=2)
        t.update({"same." + k: v for k, v in same.state_dict().items()})
        t["img.same"] = nhwc(same(img))
    save(f"{out}/nn_layers_more.safetensors", t)
    print(", ".join(f"{k} {list(v.shape)}" for k, v in t.items()))


if __name__ == "__main__":
    main()
