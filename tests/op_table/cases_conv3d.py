"""conv3d, max_pool3d, avg_pool3d, conv_transpose3d, adaptive_avg_pool3d and
adaptive_max_pool3d cases: references from PyTorch (torch.nn.functional,
float64 from the float32 inputs). PyTorch works in NCDHW: NDHWC cases are
permuted in and out; Keras' DHWIO kernels are permuted to OIDHW. Asymmetric
pads (and Keras' SAME) are applied with F.pad first; a transposed conv's
extra pad after is a crop of PyTorch's symmetric result."""
import numpy as np
import torch
import torch.nn.functional as F

import optable


def ncdhw(x, layout):  # the caller's layout -> torch NCDHW (float64)
    t = torch.from_numpy(x).double()
    return t.permute(0, 4, 1, 2, 3) if layout == "ndhwc" else t


def back(t, layout):  # torch NCDHW -> the caller's layout, float32
    if layout == "ndhwc":
        t = t.permute(0, 2, 3, 4, 1)
    return np.ascontiguousarray(t.numpy().astype(np.float32))


def same_pads(n, k, s, d=1):  # Keras/TF SAME: (before, after)
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def ilist(v):
    return ",".join(str(int(a)) for a in v)


def resolve_pads(padding, dhw, k, s, d, pads):  # six pads: front, back, top, …
    if padding == "same":
        return sum((same_pads(dhw[a], k[a], s[a], d[a]) for a in range(3)), ())
    return tuple(pads) if padding == "explicit" else (0,) * 6


def torch_pad(pads):  # F.pad's order: the last dim (W) first
    return (pads[4], pads[5], pads[2], pads[3], pads[0], pads[1])


# ---- conv3d -------------------------------------------------------------------

def conv_case(rng, n, dhw, cin, cout, k, layout="ndhwc", klayout="dhwio", stride=(1, 1, 1),
              padding="valid", pads=(0,) * 6, dilation=(1, 1, 1), groups=1, bias=True,
              act="none"):
    shape = (n, *dhw, cin) if layout == "ndhwc" else (n, cin, *dhw)
    x = rng.standard_normal(shape).astype(np.float32)
    wt = rng.standard_normal((cout, cin // groups, *k)).astype(np.float32)  # OIDHW
    kernel = np.ascontiguousarray(wt.transpose(2, 3, 4, 1, 0)) if klayout == "dhwio" else wt
    b = rng.standard_normal(cout).astype(np.float32)
    p = resolve_pads(padding, dhw, k, stride, dilation, pads)
    t = F.pad(ncdhw(x, layout), torch_pad(p))
    y = F.conv3d(t, torch.from_numpy(wt).double(),
                 torch.from_numpy(b).double() if bias else None, stride=stride,
                 dilation=dilation, groups=groups)
    if act == "relu":
        y = torch.relu(y)
    inputs = [x, kernel] + ([b] if bias else [])
    return optable.Case("conv3d", inputs=inputs, outputs=[back(y, layout)], layout=layout,
                        kernel_layout=klayout, stride=ilist(stride), padding=padding,
                        pads=ilist(pads), dilation=ilist(dilation), groups=groups, act=act)


def conv_cases(rng):
    c = []
    for layout in ("ndhwc", "ncdhw"):
        for klayout in ("dhwio", "oidhw"):
            c.append(conv_case(rng, 2, (4, 5, 6), 3, 4, (3, 3, 3), layout, klayout))
            c.append(conv_case(rng, 1, (5, 6, 7), 2, 3, (2, 3, 2), layout, klayout,
                               stride=(2, 1, 2), padding="same", act="relu"))
            c.append(conv_case(rng, 1, (5, 4, 6), 4, 6, (3, 1, 3), layout, klayout,
                               stride=(1, 2, 2), padding="explicit", pads=(1, 2, 0, 1, 2, 0),
                               dilation=(2, 1, 1), groups=2, bias=False))
        c.append(conv_case(rng, 1, (3, 4, 5), 4, 8, (3, 3, 3), layout, padding="same",
                           groups=4))   # depthwise, multiplier 2
        c.append(conv_case(rng, 0, (3, 3, 3), 2, 2, (2, 2, 2), layout))   # no samples
        c.append(conv_case(rng, 2, (1, 1, 1), 5, 3, (1, 1, 1), layout))   # 1x1x1
    return c


# ---- pools ----------------------------------------------------------------------

def pool_case(rng, op, n, dhw, ch, k, layout, stride=None, padding="valid", pads=(0,) * 6,
              dilation=(1, 1, 1), ceil=False, include=False, nan=False):
    shape = (n, *dhw, ch) if layout == "ndhwc" else (n, ch, *dhw)
    x = rng.standard_normal(shape).astype(np.float32)
    if nan:
        x.flat[1] = np.nan
    s = stride or k
    p = resolve_pads(padding, dhw, k, s, dilation, pads)
    t = ncdhw(x, layout)
    symmetric = p[0] == p[1] and p[2] == p[3] and p[4] == p[5]
    if op == "max_pool3d":
        if symmetric:
            y = F.max_pool3d(t, k, s, (p[0], p[2], p[4]), dilation, ceil_mode=ceil)
        else:   # padded positions never win
            assert not ceil
            y = F.max_pool3d(F.pad(t, torch_pad(p), value=-np.inf), k, s, 0, dilation)
    elif symmetric:
        y = F.avg_pool3d(t, k, s, (p[0], p[2], p[4]), ceil_mode=ceil,
                         count_include_pad=include)
    else:  # sum over the window / count of what the window covers
        assert not ceil
        vol = k[0] * k[1] * k[2]
        total = F.avg_pool3d(F.pad(t, torch_pad(p)), k, s) * vol
        ones = F.pad(torch.ones_like(t), torch_pad(p))
        count = float(vol) if include else F.avg_pool3d(ones, k, s) * vol
        y = total / count
    return optable.Case(op, inputs=[x], outputs=[back(y, layout)], layout=layout,
                        pool=ilist(k), stride=ilist(stride) if stride else "0,0,0",
                        padding=padding, pads=ilist(pads), dilation=ilist(dilation),
                        ceil_mode=int(ceil), count_include_pad=int(include))


def pool_cases(rng):
    c = []
    for layout in ("ndhwc", "ncdhw"):
        for op in ("max_pool3d", "avg_pool3d"):
            c.append(pool_case(rng, op, 2, (4, 5, 7), 3, (2, 2, 2), layout))
            c.append(pool_case(rng, op, 1, (5, 6, 5), 2, (3, 2, 3), layout, stride=(2, 2, 2),
                               padding="same"))
            c.append(pool_case(rng, op, 1, (5, 6, 4), 2, (3, 3, 2), layout, stride=(2, 1, 2),
                               padding="explicit", pads=(1, 0, 1, 1, 0, 1)))
            c.append(pool_case(rng, op, 0, (2, 2, 2), 2, (2, 2, 2), layout))
            for include in (False, True):
                c.append(pool_case(rng, op, 1, (5, 7, 6), 2, (3, 3, 2), layout,
                                   stride=(2, 2, 2), padding="explicit",
                                   pads=(1, 1, 1, 1, 1, 1), ceil=True, include=include))
        c.append(pool_case(rng, "max_pool3d", 1, (7, 6, 5), 2, (3, 2, 2), layout,
                           stride=(2, 2, 2), padding="explicit", pads=(1, 1, 1, 1, 1, 1),
                           dilation=(2, 2, 1), ceil=True))
        c.append(pool_case(rng, "max_pool3d", 1, (2, 2, 2), 3, (2, 2, 2), layout, nan=True))
    return c


# ---- conv_transpose3d ------------------------------------------------------------

def tconv_case(rng, n, dhw, cin, cout, k, layout="ndhwc", stride=(1, 1, 1), pads=(0,) * 6,
               opad=(0, 0, 0), dilation=(1, 1, 1), groups=1, bias=True):
    shape = (n, *dhw, cin) if layout == "ndhwc" else (n, cin, *dhw)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((cin, cout // groups, *k)).astype(np.float32)  # PyTorch's
    b = rng.standard_normal(cout).astype(np.float32)
    # PyTorch pads symmetrically: an extra pad after is a crop of the result
    sym = (pads[0], pads[2], pads[4])
    y = F.conv_transpose3d(ncdhw(x, layout), torch.from_numpy(w).double(),
                           torch.from_numpy(b).double() if bias else None, stride=stride,
                           padding=sym, output_padding=opad, groups=groups, dilation=dilation)
    extra = [pads[1] - pads[0], pads[3] - pads[2], pads[5] - pads[4]]
    assert min(extra) >= 0
    y = y[:, :, :y.shape[2] - extra[0], :y.shape[3] - extra[1], :y.shape[4] - extra[2]]
    inputs = [x, w] + ([b] if bias else [])
    return optable.Case("conv_transpose3d", inputs=inputs, outputs=[back(y, layout)],
                        layout=layout, stride=ilist(stride), pads=ilist(pads),
                        output_padding=ilist(opad), dilation=ilist(dilation), groups=groups)


def tconv_cases(rng):
    c = []
    for layout in ("ndhwc", "ncdhw"):
        c.append(tconv_case(rng, 2, (3, 4, 3), 3, 4, (3, 3, 3), layout))
        c.append(tconv_case(rng, 1, (2, 3, 4), 4, 6, (2, 3, 3), layout, stride=(2, 1, 2),
                            pads=(0, 1, 1, 1, 1, 2), opad=(1, 0, 1), groups=2))
        c.append(tconv_case(rng, 1, (3, 3, 2), 2, 3, (3, 2, 3), layout, stride=(2, 2, 1),
                            pads=(1, 1, 0, 0, 1, 1), opad=(1, 1, 0), dilation=(2, 1, 2),
                            bias=False))
        c.append(tconv_case(rng, 0, (2, 2, 2), 2, 2, (2, 2, 2), layout))   # no samples
        c.append(tconv_case(rng, 2, (1, 1, 1), 5, 3, (1, 1, 1), layout))   # 1x1x1
    return c


# ---- adaptive pools --------------------------------------------------------------

def adaptive_case(rng, op, n, dhw, ch, size, layout, nan=False):
    shape = (n, *dhw, ch) if layout == "ndhwc" else (n, ch, *dhw)
    x = rng.standard_normal(shape).astype(np.float32)
    if nan:
        x.flat[1] = np.nan
    fn = F.adaptive_max_pool3d if op == "adaptive_max_pool3d" else F.adaptive_avg_pool3d
    y = fn(ncdhw(x, layout), size)
    return optable.Case(op, inputs=[x], outputs=[back(y, layout)], layout=layout,
                        size=ilist(size))


def adaptive_cases(rng):
    c = []
    for layout in ("ndhwc", "ncdhw"):
        for op in ("adaptive_avg_pool3d", "adaptive_max_pool3d"):
            c.append(adaptive_case(rng, op, 2, (5, 6, 7), 3, (2, 4, 3), layout))
            c.append(adaptive_case(rng, op, 1, (3, 4, 5), 2, (4, 5, 9), layout))   # upsizing
            c.append(adaptive_case(rng, op, 1, (4, 4, 4), 2, (1, 1, 1), layout))
            c.append(adaptive_case(rng, op, 0, (2, 3, 2), 2, (2, 2, 2), layout))
        c.append(adaptive_case(rng, "adaptive_max_pool3d", 1, (2, 2, 2), 3, (1, 2, 1), layout,
                               nan=True))
    return c


def cases(rng):
    return conv_cases(rng) + pool_cases(rng) + tconv_cases(rng) + adaptive_cases(rng)
