"""Convolution, pooling and resizing cases: references from PyTorch
(torch.nn.functional, float64 from the float32 inputs). PyTorch works in
NCHW: NHWC cases are permuted in and out; Keras' HWIO kernels are permuted
to OIHW. Asymmetric pads (and Keras' SAME) are applied with F.pad first."""
import math

import numpy as np
import torch
import torch.nn.functional as F

import optable


def nchw(x, layout):  # the caller's layout -> torch NCHW (float64)
    t = torch.from_numpy(x).double()
    if layout == "nhwc":
        t = t.permute(0, 3, 1, 2) if t.dim() == 4 else t.permute(0, 2, 1)
    return t


def back(t, layout):  # torch NCHW -> the caller's layout, float32
    if layout == "nhwc":
        t = t.permute(0, 2, 3, 1) if t.dim() == 4 else t.permute(0, 2, 1)
    return np.ascontiguousarray(t.numpy().astype(np.float32))


def same_pads(n, k, s, d=1):  # Keras/TF SAME: (before, after)
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def ilist(v):
    return ",".join(str(int(a)) for a in v)


# ---- conv2d -------------------------------------------------------------------

def conv2d_case(rng, n, h, w, cin, cout, kh, kw, layout="nhwc", klayout="hwio",
                stride=(1, 1), padding="valid", pads=(0, 0, 0, 0), dilation=(1, 1),
                groups=1, bias=True, act="none", auto=False, torch_padding=None):
    shape = (n, h, w, cin) if layout == "nhwc" else (n, cin, h, w)
    x = rng.standard_normal(shape).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, kh, kw)).astype(np.float32)  # OIHW
    kernel = np.ascontiguousarray(wt.transpose(2, 3, 1, 0)) if klayout == "hwio" else wt
    b = rng.standard_normal(cout).astype(np.float32)
    t = nchw(x, layout)
    if padding == "same":
        pt, pb = same_pads(h, kh, stride[0], dilation[0])
        pl, pr = same_pads(w, kw, stride[1], dilation[1])
    elif padding == "explicit":
        pt, pb, pl, pr = pads
    else:
        pt = pb = pl = pr = 0
    if torch_padding is not None:  # PyTorch's own symmetric padding argument
        y = F.conv2d(t, torch.from_numpy(wt).double(), torch.from_numpy(b).double() if bias else None,
                     stride=stride, padding=torch_padding, dilation=dilation, groups=groups)
    elif h + pt + pb < dilation[0] * (kh - 1) + 1:  # Keras' VALID: no rows
        ow = (w + pl + pr - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        y = torch.zeros(n, cout, 0, ow, dtype=torch.float64)
    else:
        t = F.pad(t, (pl, pr, pt, pb))
        y = F.conv2d(t, torch.from_numpy(wt).double(), torch.from_numpy(b).double() if bias else None,
                     stride=stride, dilation=dilation, groups=groups)
    if act == "relu":
        y = F.relu(y)
    inputs = [x, kernel] + ([b] if bias else [])
    return optable.Case("conv2d", inputs=inputs, outputs=[back(y, layout)], layout=layout,
                        kernel_layout="auto" if auto else klayout, stride=ilist(stride),
                        padding=padding, pads=ilist((pt, pb, pl, pr)) if padding == "explicit" else "0,0,0,0",
                        dilation=ilist(dilation), groups=groups, act=act)


def conv2d_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        for kl in ("hwio", "oihw"):
            c.append(conv2d_case(rng, 2, 5, 6, 3, 4, 3, 3, layout, kl))
            c.append(conv2d_case(rng, 1, 7, 5, 2, 3, 3, 2, layout, kl, stride=(2, 3), padding="same",
                                 bias=False))
            c.append(conv2d_case(rng, 1, 6, 6, 4, 4, 3, 3, layout, kl, padding="explicit",
                                 pads=(1, 2, 0, 3), act="relu"))
            c.append(conv2d_case(rng, 2, 8, 7, 4, 6, 3, 3, layout, kl, stride=(2, 1),
                                 dilation=(2, 1), padding="explicit", pads=(2, 1, 1, 1), groups=2))
            # depthwise with a channel multiplier of 2
            c.append(conv2d_case(rng, 1, 5, 5, 3, 6, 3, 3, layout, kl, padding="same", groups=3,
                                 act="relu"))
        # PyTorch's padding=1 with stride 2, as torch computes it
        c.append(conv2d_case(rng, 1, 8, 7, 3, 4, 3, 3, layout, "oihw", stride=(2, 2),
                             padding="explicit", pads=(1, 1, 1, 1), torch_padding=1))
        c.append(conv2d_case(rng, 1, 9, 9, 2, 2, 3, 3, layout, "oihw", stride=(2, 2),
                             dilation=(3, 2), padding="explicit", pads=(2, 2, 2, 2),
                             torch_padding=2))
        # 1x1 kernels, size-1 spatial dims, an empty batch, dilated SAME
        c.append(conv2d_case(rng, 2, 3, 3, 4, 2, 1, 1, layout, "hwio"))
        c.append(conv2d_case(rng, 3, 1, 1, 5, 3, 1, 1, layout, "oihw", padding="same"))
        c.append(conv2d_case(rng, 1, 1, 6, 2, 3, 1, 3, layout, "hwio", stride=(1, 2)))
        c.append(conv2d_case(rng, 0, 4, 4, 2, 3, 3, 3, layout, "hwio"))
        c.append(conv2d_case(rng, 1, 7, 6, 2, 3, 3, 2, layout, "hwio", padding="same",
                             dilation=(2, 3)))
        # height dilation only: the run-copying im2col of a contiguous NHWC input
        c.append(conv2d_case(rng, 2, 8, 6, 3, 4, 3, 3, layout, "hwio", padding="explicit",
                             pads=(2, 1, 1, 0), dilation=(2, 1), stride=(1, 2)))
        # a window larger than the input fits only with its pads (without
        # them conv2d refuses, as PyTorch: tests/test_conv.c)
        c.append(conv2d_case(rng, 1, 2, 5, 2, 3, 3, 3, layout, "hwio", padding="explicit",
                             pads=(1, 0, 0, 0)))
        # AUTO: [3,3,2,4] can only be HWIO for 2 channels, [4,2,3,3] only OIHW
        c.append(conv2d_case(rng, 1, 5, 5, 2, 4, 3, 3, layout, "hwio", auto=True))
        c.append(conv2d_case(rng, 1, 5, 5, 2, 4, 3, 3, layout, "oihw", auto=True, act="relu"))
    return c


# ---- conv1d -------------------------------------------------------------------

def conv1d_case(rng, n, length, cin, cout, k, layout="nhwc", klayout="hwio", stride=1,
                padding="valid", pads=(0, 0), dilation=1, groups=1, bias=True):
    shape = (n, length, cin) if layout == "nhwc" else (n, cin, length)
    x = rng.standard_normal(shape).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, k)).astype(np.float32)  # (out, in, k)
    kernel = np.ascontiguousarray(wt.transpose(2, 1, 0)) if klayout == "hwio" else wt
    b = rng.standard_normal(cout).astype(np.float32)
    if padding == "same":
        pads = same_pads(length, k, stride, dilation)
    elif padding == "valid":
        pads = (0, 0)
    t = F.pad(nchw(x, layout), pads)
    y = F.conv1d(t, torch.from_numpy(wt).double(), torch.from_numpy(b).double() if bias else None,
                 stride=stride, dilation=dilation, groups=groups)
    return optable.Case("conv1d", inputs=[x, kernel] + ([b] if bias else []),
                        outputs=[back(y, layout)], layout=layout, kernel_layout=klayout,
                        stride=stride, padding=padding,
                        pads=ilist(pads) if padding == "explicit" else "0,0",
                        dilation=dilation, groups=groups)


def conv1d_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        for kl in ("hwio", "oihw"):
            c.append(conv1d_case(rng, 2, 9, 3, 4, 3, layout, kl))
            c.append(conv1d_case(rng, 1, 10, 4, 6, 3, layout, kl, stride=2, padding="explicit",
                                 pads=(1, 2), dilation=2, groups=2, bias=False))
            c.append(conv1d_case(rng, 1, 7, 2, 2, 4, layout, kl, padding="same", groups=2))
        c.append(conv1d_case(rng, 2, 1, 3, 2, 1, layout, "oihw"))
    return c


# ---- conv_transpose2d -----------------------------------------------------------

def tconv_case(rng, n, h, w, cin, cout, kh, kw, layout="nhwc", stride=(1, 1),
               pads=(0, 0, 0, 0), out_pad=(0, 0), dilation=(1, 1), groups=1, bias=True):
    shape = (n, h, w, cin) if layout == "nhwc" else (n, cin, h, w)
    x = rng.standard_normal(shape).astype(np.float32)
    wt = rng.standard_normal((cin, cout // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = F.conv_transpose2d(nchw(x, layout), torch.from_numpy(wt).double(),
                           torch.from_numpy(b).double() if bias else None, stride=stride,
                           output_padding=out_pad, dilation=dilation, groups=groups)
    pt, pb, pl, pr = pads  # PyTorch's padding p crops p from each side
    y = y[:, :, pt:y.shape[2] - pb, pl:y.shape[3] - pr]
    return optable.Case("conv_transpose2d", inputs=[x, wt] + ([b] if bias else []),
                        outputs=[back(y, layout)], layout=layout, stride=ilist(stride),
                        pads=ilist(pads), output_padding=ilist(out_pad),
                        dilation=ilist(dilation), groups=groups)


def tconv_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        c.append(tconv_case(rng, 2, 3, 4, 3, 2, 3, 3, layout))
        c.append(tconv_case(rng, 1, 4, 3, 2, 4, 3, 2, layout, stride=(2, 3), pads=(1, 1, 1, 1),
                            out_pad=(1, 2)))
        c.append(tconv_case(rng, 1, 3, 3, 4, 6, 3, 3, layout, stride=(2, 2), pads=(0, 2, 1, 0),
                            dilation=(2, 1), groups=2, bias=False))
        c.append(tconv_case(rng, 1, 1, 1, 3, 3, 1, 1, layout, groups=3))
    return c


# ---- pooling --------------------------------------------------------------------

def pool_case(rng, op, n, h, w, c, k, layout="nhwc", stride=None, padding="valid",
              pads=(0, 0, 0, 0), dilation=(1, 1), ceil=False, include=False, nan=False):
    shape = (n, h, w, c) if layout == "nhwc" else (n, c, h, w)
    x = rng.standard_normal(shape).astype(np.float32)
    if nan:
        x.reshape(-1)[::7] = np.nan
    t = nchw(x, layout)
    s = stride or k
    if padding == "same":
        pt, pb = same_pads(h, k[0], s[0], dilation[0])
        pl, pr = same_pads(w, k[1], s[1], dilation[1])
    else:
        pt, pb, pl, pr = pads
    symmetric = pt == pb and pl == pr
    if op == "max_pool2d":
        if symmetric:
            y = F.max_pool2d(t, k, s, (pt, pl), dilation, ceil_mode=ceil)
        else:
            assert not ceil
            y = F.max_pool2d(F.pad(t, (pl, pr, pt, pb), value=-math.inf), k, s, 0, dilation)
    elif symmetric:
        y = F.avg_pool2d(t, k, s, (pt, pl), ceil_mode=ceil, count_include_pad=include)
    else:  # sum over the window / count of what the window covers
        assert not ceil
        total = F.avg_pool2d(F.pad(t, (pl, pr, pt, pb)), k, s) * (k[0] * k[1])
        ones = F.pad(torch.ones_like(t), (pl, pr, pt, pb))
        count = float(k[0] * k[1]) if include else F.avg_pool2d(ones, k, s) * (k[0] * k[1])
        y = total / count
    return optable.Case(op, inputs=[x], outputs=[back(y, layout)], layout=layout,
                        pool=ilist(k), stride=ilist(s) if stride else "0,0", padding=padding,
                        pads=ilist(pads) if padding == "explicit" else "0,0,0,0",
                        dilation=ilist(dilation), ceil_mode=int(ceil),
                        count_include_pad=int(include))


def pool_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        for op in ("max_pool2d", "avg_pool2d"):
            c.append(pool_case(rng, op, 2, 5, 7, 3, (2, 2), layout))
            c.append(pool_case(rng, op, 1, 5, 7, 2, (2, 2), layout, padding="same"))
            c.append(pool_case(rng, op, 2, 6, 5, 1, (3, 3), layout, stride=(2, 2), padding="same"))
            c.append(pool_case(rng, op, 1, 7, 6, 2, (3, 2), layout, stride=(2, 1),
                               padding="explicit", pads=(1, 0, 1, 1)))
            c.append(pool_case(rng, op, 1, 1, 1, 4, (1, 1), layout))
            c.append(pool_case(rng, op, 0, 4, 4, 2, (2, 2), layout))
            for include in (False, True):
                c.append(pool_case(rng, op, 1, 7, 8, 3, (3, 3), layout, stride=(2, 2),
                                   padding="explicit", pads=(1, 1, 1, 1), ceil=True,
                                   include=include))
                c.append(pool_case(rng, op, 1, 6, 6, 2, (3, 2), layout, stride=(2, 2),
                                   padding="explicit", pads=(1, 1, 1, 1), include=include))
        c.append(pool_case(rng, "max_pool2d", 1, 9, 8, 2, (3, 2), layout, stride=(2, 2),
                           padding="explicit", pads=(1, 1, 1, 1), dilation=(2, 2), ceil=True))
        c.append(pool_case(rng, "max_pool2d", 1, 4, 4, 3, (2, 2), layout, nan=True))
    return c


def adaptive_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        for (h, w, oh, ow) in ((7, 5, 3, 2), (4, 4, 4, 4), (5, 3, 7, 1), (1, 6, 1, 4)):
            shape = (2, h, w, 3) if layout == "nhwc" else (2, 3, h, w)
            x = rng.standard_normal(shape).astype(np.float32)
            y = F.adaptive_avg_pool2d(nchw(x, layout), (oh, ow))
            c.append(optable.Case("adaptive_avg_pool2d", inputs=[x], outputs=[back(y, layout)],
                                  layout=layout, size=ilist((oh, ow))))
        for keep in (0, 1):
            shape = (2, 3, 4, 5)
            x = rng.standard_normal(shape).astype(np.float32)
            t = nchw(x, layout)
            y = t.mean((2, 3), keepdim=bool(keep))
            out = back(y, layout) if keep else np.ascontiguousarray(y.numpy().astype(np.float32))
            c.append(optable.Case("global_avg_pool2d", inputs=[x], outputs=[out], layout=layout,
                                  keepdims=keep))
    return c


# ---- interpolate ----------------------------------------------------------------

def interp_case(rng, n, h, w, c, layout, mode, size=None, scale=None, align=False, x=None):
    shape = (n, h, w, c) if layout == "nhwc" else (n, c, h, w)
    if x is None:
        x = rng.standard_normal(shape).astype(np.float32)
    kw = {"align_corners": align} if mode in ("bilinear", "bicubic") else {}
    y = F.interpolate(nchw(x, layout), size=size, scale_factor=scale, mode=mode, **kw)
    return optable.Case("interpolate", inputs=[x], outputs=[back(y, layout)], layout=layout,
                        mode=mode, align_corners=int(align),
                        size=ilist(size) if size else "0,0",
                        scale_h=float(scale[0]) if scale else 0.0,
                        scale_w=float(scale[1]) if scale else 0.0)


def interp_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        c.append(interp_case(rng, 1, 3, 4, 2, layout, "nearest", size=(6, 8)))
        c.append(interp_case(rng, 1, 5, 4, 2, layout, "nearest", size=(3, 7)))
        c.append(interp_case(rng, 2, 3, 5, 1, layout, "nearest", scale=(1.5, 0.5)))
        for align in (False, True):
            c.append(interp_case(rng, 1, 3, 4, 2, layout, "bilinear", size=(7, 5), align=align))
            c.append(interp_case(rng, 1, 6, 5, 3, layout, "bilinear", size=(4, 2), align=align))
            c.append(interp_case(rng, 1, 1, 4, 2, layout, "bilinear", size=(3, 1), align=align))
        c.append(interp_case(rng, 1, 4, 3, 2, layout, "bilinear", scale=(2.5, 1.5)))
    # pixel centres (Keras' Resizing 'nearest'), up, down and by scale, from
    # a generator of their own: the other cases keep their inputs
    own = np.random.default_rng(1011)
    for layout in ("nhwc", "nchw"):
        c.append(interp_case(own, 1, 7, 9, 2, layout, "nearest-exact", size=(10, 13)))
        c.append(interp_case(own, 2, 7, 9, 1, layout, "nearest-exact", size=(4, 5)))
        c.append(interp_case(own, 1, 3, 5, 2, layout, "nearest-exact", scale=(1.5, 0.5)))
    # bicubic (small super-resolution models): up, down, by scale, both
    # align_corners, a size-1 axis; a generator of its own as well
    cubic = np.random.default_rng(2026)
    for layout in ("nhwc", "nchw"):
        for align in (False, True):
            c.append(interp_case(cubic, 1, 4, 5, 2, layout, "bicubic", size=(9, 7), align=align))
            c.append(interp_case(cubic, 2, 7, 6, 1, layout, "bicubic", size=(3, 4), align=align))
            c.append(interp_case(cubic, 1, 1, 3, 2, layout, "bicubic", size=(2, 6), align=align))
        c.append(interp_case(cubic, 1, 3, 4, 2, layout, "bicubic", scale=(2.0, 1.5)))
        c.append(interp_case(cubic, 1, 5, 5, 3, layout, "bicubic", scale=(0.6, 3.0)))
    # an axis whose size a scale keeps (4 * 1.1 -> 4) maps each row to itself
    # in bilinear mode (not by 1/1.1), whatever the other axis does; there
    # weights (1, 0) of the same pixel turn an inf into NaN (PyTorch's
    # compute_source_index_and_lambda); bicubic resamples such an axis
    same = np.random.default_rng(1207)
    for layout in ("nhwc", "nchw"):
        c.append(interp_case(same, 1, 4, 5, 2, layout, "bilinear", scale=(1.1, 2.3)))
        c.append(interp_case(same, 1, 4, 5, 2, layout, "bilinear", scale=(1.1, 1.1)))
        c.append(interp_case(same, 1, 4, 5, 2, layout, "bicubic", scale=(1.1, 1.1)))
        x = same.standard_normal((1, 3, 4, 2) if layout == "nhwc" else (1, 2, 3, 4))
        x = x.astype(np.float32)
        x.flat[5], x.flat[14] = np.inf, np.nan
        for align in (False, True):
            c.append(interp_case(None, 1, 3, 4, 2, layout, "bilinear", size=(3, 4),
                                 align=align, x=x))
            c.append(interp_case(None, 1, 3, 4, 2, layout, "bilinear", size=(3, 7),
                                 align=align, x=x))
        c.append(interp_case(None, 1, 3, 4, 2, layout, "bicubic", size=(3, 4), x=x))
    # area (PyTorch's adaptive average pool): down, up, uneven windows, by
    # scale (floor(in * scale)), NaN and inf in a window
    area = np.random.default_rng(1208)
    for layout in ("nhwc", "nchw"):
        c.append(interp_case(area, 2, 6, 9, 3, layout, "area", size=(3, 4)))
        c.append(interp_case(area, 1, 5, 7, 2, layout, "area", size=(3, 10)))
        c.append(interp_case(area, 1, 7, 5, 1, layout, "area", scale=(0.45, 1.5)))
        x = area.standard_normal((1, 4, 5, 2) if layout == "nhwc" else (1, 2, 4, 5))
        x = x.astype(np.float32)
        x.flat[3], x.flat[17] = np.inf, np.nan
        c.append(interp_case(None, 1, 4, 5, 2, layout, "area", size=(2, 3), x=x))
    # nearest by a scale factor that keeps a size (3 * 1.1 -> 3) or doubles
    # it (4 * 2.0): PyTorch's NCHW kernel uses the factor (row 1 <- row 0),
    # its channels-last kernel (NHWC, and NCHW of one channel) copies and
    # halves; nearest-exact always uses the factor
    keep = np.random.default_rng(1209)
    for layout in ("nhwc", "nchw"):
        for ch in (2, 1):
            c.append(interp_case(keep, 1, 3, 4, ch, layout, "nearest", scale=(1.1, 2.0)))
            c.append(interp_case(keep, 1, 3, 4, ch, layout, "nearest-exact", scale=(1.1, 2.0)))
    return c


# ---- the native kernel's row path, and conv2d_max_pool2d ------------------------------
# Output rows of several register tiles (the row path takes rows of at least
# half a tile, MR <= 14): odd widths, edge columns over left/right pads, Cout
# a whole number of NR panels (the kernel read in place: 32, 64) or not
# (packed: 20), one input channel (the Fashion CNN's conv1).

def rows_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        for kl in ("hwio", "oihw"):
            c.append(conv2d_case(rng, 2, 9, 13, 3, 20, 3, 3, layout, kl, act="relu"))
            c.append(conv2d_case(rng, 1, 11, 17, 4, 32, 3, 3, layout, kl, padding="same"))
        c.append(conv2d_case(rng, 2, 12, 15, 1, 32, 3, 3, layout, "hwio", act="relu"))
        c.append(conv2d_case(rng, 1, 13, 13, 8, 64, 3, 3, layout, "hwio", act="relu"))
        c.append(conv2d_case(rng, 1, 9, 23, 5, 64, 3, 5, layout, "oihw", stride=(2, 2),
                             padding="explicit", pads=(1, 2, 2, 1), bias=False))
        c.append(conv2d_case(rng, 2, 14, 19, 6, 16, 3, 3, layout, "hwio", dilation=(2, 1),
                             padding="explicit", pads=(3, 0, 0, 3), stride=(1, 2), act="relu"))
        # many channels, few outputs: each kernel row a pass of its own (no packing)
        c.append(conv2d_case(rng, 1, 7, 19, 16, 8, 3, 3, layout, "hwio", padding="explicit",
                             pads=(2, 1, 1, 2), act="relu"))
        # windows all over the padding for the first and last rows
        c.append(conv2d_case(rng, 1, 2, 15, 2, 8, 3, 3, layout, "hwio", padding="explicit",
                             pads=(3, 3, 1, 1)))
    return c


def conv_pool_case(rng, conv, pool, stride=None, dilation=(1, 1), padding="valid",
                   pads=(0, 0, 0, 0), ceil=False, nan=False):
    """conv2d_max_pool2d: the conv case's reference pooled by torch."""
    layout = conv.params["layout"]
    y = conv.outputs[0]
    if nan:
        conv.inputs[0].reshape(-1)[::97] = np.nan
        y = y.copy()
    s = stride or pool
    t = nchw(y, layout)
    if nan:  # recompute the conv with the NaNs: torch, float64
        x = nchw(conv.inputs[0], layout)
        k = conv.inputs[1]
        wt = k.transpose(3, 2, 0, 1) if conv.params["kernel_layout"] == "hwio" else k
        b = torch.from_numpy(conv.inputs[2]).double() if len(conv.inputs) > 2 else None
        t = F.conv2d(x, torch.from_numpy(np.ascontiguousarray(wt)).double(), b)
        if conv.params["act"] == "relu":
            t = F.relu(t)
    pt, pb, pl, pr = pads
    if pt == pb and pl == pr:
        out = F.max_pool2d(t, pool, s, (pt, pl), dilation, ceil_mode=ceil)
    else:
        out = F.max_pool2d(F.pad(t, (pl, pr, pt, pb), value=-math.inf), pool, s, 0, dilation)
    p = dict(conv.params)
    p.update(pool=ilist(pool), pool_stride=ilist(s) if stride else "0,0",
             pool_padding=padding, pool_pads=ilist(pads), pool_dilation=ilist(dilation),
             ceil_mode=int(ceil))
    return optable.Case("conv2d_max_pool2d", inputs=conv.inputs, outputs=[back(out, layout)], **p)


def conv_pool_cases(rng):
    c = []
    for layout in ("nhwc", "nchw"):
        # the Fashion CNN's two conv + 2x2 pool pairs (odd 11x11 -> 5x5)
        c.append(conv_pool_case(rng, conv2d_case(rng, 2, 14, 16, 1, 32, 3, 3, layout, "hwio",
                                                 act="relu"), (2, 2)))
        c.append(conv_pool_case(rng, conv2d_case(rng, 1, 13, 13, 8, 64, 3, 3, layout, "hwio",
                                                 act="relu"), (2, 2)))
        # overlapping 3x3 windows, stride 2; OIHW and a ragged Cout
        c.append(conv_pool_case(rng, conv2d_case(rng, 2, 12, 17, 3, 20, 3, 3, layout, "oihw",
                                                 padding="same"), (3, 3), stride=(2, 2)))
        # pool dilation, pool stride 1, conv stride and pads
        c.append(conv_pool_case(rng, conv2d_case(rng, 1, 15, 18, 4, 24, 3, 3, layout, "hwio",
                                                 stride=(1, 2), padding="explicit",
                                                 pads=(1, 1, 2, 0), act="relu"),
                                (2, 3), stride=(1, 1), dilation=(2, 2)))
        # many channels (each kernel row a pass): the two conv rows of a pooled row
        # as one sweep; with SAME padding the first and last rows go one by one
        c.append(conv_pool_case(rng, conv2d_case(rng, 2, 9, 14, 16, 8, 3, 3, layout, "hwio",
                                                 act="relu"), (2, 2)))
        c.append(conv_pool_case(rng, conv2d_case(rng, 1, 10, 11, 16, 8, 3, 3, layout, "oihw",
                                                 padding="same"), (2, 2)))
        # Winograd F(2x2,3x3) under the 2x2 pool (3x3, unit strides): at these sizes its
        # cost model takes it on the portable kernel (op_table_generic); test_conv_paths
        # runs it at the Fashion CNN's sizes on every kernel. Even and odd sizes, both
        # kernel layouts, a ragged Cout
        c.append(conv_pool_case(rng, conv2d_case(rng, 3, 10, 12, 16, 24, 3, 3, layout, "hwio",
                                                 act="relu"), (2, 2)))
        c.append(conv_pool_case(rng, conv2d_case(rng, 3, 11, 13, 12, 20, 3, 3, layout, "oihw",
                                                 bias=False), (2, 2)))
        # ceil mode whose last window hangs over the end, pool padding: unfused
        c.append(conv_pool_case(rng, conv2d_case(rng, 1, 11, 12, 2, 16, 3, 3, layout, "hwio"),
                                (2, 2), ceil=True))
        c.append(conv_pool_case(rng, conv2d_case(rng, 1, 11, 12, 2, 16, 3, 3, layout, "hwio"),
                                (3, 3), stride=(2, 2), padding="explicit", pads=(1, 1, 1, 1)))
        # NaN inputs propagate through the fused max
        c.append(conv_pool_case(rng, conv2d_case(rng, 1, 10, 14, 3, 32, 3, 3, layout, "hwio"),
                                (2, 2), nan=True))
    return c


def cases(rng: np.random.Generator) -> list:
    return (conv2d_cases(rng) + conv1d_cases(rng) + tconv_cases(rng) + pool_cases(rng) +
            adaptive_cases(rng) + interp_cases(rng) + rows_cases(rng) + conv_pool_cases(rng))
