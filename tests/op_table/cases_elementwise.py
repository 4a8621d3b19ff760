"""elementwise cases: unary ops and activations, parameterised unary ops,
binary ops with broadcasting, comparisons (BOOL masks), where.

References: PyTorch 1.13 on float64 copies of the float32 inputs (the
parameters rounded to float32 first, as the C functions take float),
stored as float32 (bool for masks).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from optable import Case

SPECIALS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 25.0, -25.0]


def _f32(rng, *shape, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _with_specials(a):
    """a with its first elements replaced by NaN, ±inf, ±0, ±1, ±25."""
    flat = a.reshape(-1)
    n = min(len(SPECIALS), flat.size)
    flat[:n] = SPECIALS[:n]
    return a


def _t(a):
    return torch.from_numpy(np.array(a)).double()


def _out(t):
    return t.float().numpy() if t.dtype != torch.bool else t.numpy()


def _p(v):
    return float(np.float32(v))


UNARY = {
    "neg": torch.neg, "abs": torch.abs, "exp": torch.exp, "log": torch.log,
    "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "square": torch.square,
    "reciprocal": torch.reciprocal, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu, "softplus": F.softplus, "hardswish": F.hardswish, "relu": F.relu,
    "sin": torch.sin, "cos": torch.cos, "erf": torch.erf, "log1p": torch.log1p,
    "expm1": torch.expm1, "floor": torch.floor, "ceil": torch.ceil, "round": torch.round,
    "trunc": torch.trunc, "sign": torch.sign,
}

ACTIVATIONS = {"none": lambda x: x, "relu": F.relu, "gelu": F.gelu,
               "gelu_tanh": UNARY["gelu_tanh"], "tanh": torch.tanh,
               "sigmoid": torch.sigmoid, "silu": F.silu}

# shapes for unary ops: specials, size 0, size 1, rank 0, rank 3
UNARY_SHAPES = [(3, 5), (0, 3), (1,), (), (2, 1, 3)]

BINARY = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
    "maximum": torch.maximum, "minimum": torch.minimum, "pow": torch.pow,
}
COMPARE = {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le,
           "gt": torch.gt, "ge": torch.ge}

# broadcasting pairs: the bias add, outer, rank mismatch, size 0, rank 0
BINARY_SHAPES = [((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 3), (4, 1)), ((4,), (3, 4)),
                 ((0, 3), (3,)), ((2, 3), ()), ((1,), (1,)), ((2, 0), (1, 0))]


def _unary_cases(rng):
    out = []
    for name, fn in UNARY.items():
        for shape in UNARY_SHAPES:
            x = _f32(rng, *shape)
            if len(shape) == 2 and shape[0] > 1:
                x = _with_specials(x)
            out.append(Case(name, [x], [_out(fn(_t(x)))]))
    return out


def _param_cases(rng):
    out = []
    x = _with_specials(_f32(rng, 3, 5))
    for slope in [0.01, 0.2, -1.5]:
        out.append(Case("leaky_relu", [x], [_out(F.leaky_relu(_t(x), _p(slope)))], slope=slope))
    for alpha in [1.0, 0.5]:
        out.append(Case("elu", [x], [_out(F.elu(_t(x), _p(alpha)))], alpha=alpha))
    for lo, hi in [(-1.0, 1.0), (-math.inf, 0.5), (0.0, math.inf), (2.0, 1.0),
                   (math.nan, 1.0), (-1.0, math.nan)]:
        out.append(Case("clamp", [x], [_out(torch.clamp(_t(x), _p(lo), _p(hi)))],
                        min=lo, max=hi))
    for s in [0.5, -3.25]:
        out.append(Case("add_scalar", [x], [_out(_t(x) + _p(s))], s=s))
        out.append(Case("mul_scalar", [x], [_out(_t(x) * _p(s))], s=s))
    for e in [2.0, 0.5, -0.5, -1.0, 3.0, 1.7, 0.0]:
        out.append(Case("pow_scalar", [x], [_out(torch.pow(_t(x), _p(e)))], e=e))
    y = _f32(rng, 0, 4)
    out.append(Case("clamp", [y], [y.copy()], min=-1.0, max=1.0))
    z = _f32(rng, 2, 1, 3)
    out.append(Case("leaky_relu", [z], [_out(F.leaky_relu(_t(z), _p(0.3)))], slope=0.3))
    return out


def _binary_cases(rng):
    out = []
    for name, fn in BINARY.items():
        for sa, sb in BINARY_SHAPES:
            a, b = _f32(rng, *sa), _f32(rng, *sb)
            if name == "pow":    # positive bases, and negative ones with whole exponents
                a = np.abs(a) + np.float32(0.1)
                if a.size > 2:
                    a.reshape(-1)[:2] = [-2.0, -0.5]
                    b = np.round(b)
            out.append(Case(name, [a, b], [_out(fn(_t(a), _t(b)))]))
        # NaN, ±inf, zero divisors, equal values
        a = np.array([[1, math.nan, -2, math.inf, 0, -0.0], [3, 1, math.nan, -math.inf, 0, 2]],
                     dtype=np.float32)
        b = np.array([2, 1, math.nan, math.inf, 0, -0.0], dtype=np.float32)
        out.append(Case(name, [a, b], [_out(fn(_t(a), _t(b)))]))
    return out


def _compare_cases(rng):
    out = []
    for name, fn in COMPARE.items():
        for sa, sb in BINARY_SHAPES[:5]:
            # small integers, so that equal values occur
            a = rng.integers(-2, 3, sa).astype(np.float32)
            b = rng.integers(-2, 3, sb).astype(np.float32)
            if a.size:
                a.reshape(-1)[0] = math.nan
            out.append(Case(name, [a, b], [_out(fn(_t(a), _t(b)))]))
        a = np.array([math.inf, -math.inf, 0.0, -0.0, math.nan], dtype=np.float32)
        b = np.array([math.inf, math.inf, -0.0, 0.0, math.nan], dtype=np.float32)
        out.append(Case(name, [a, b], [_out(fn(_t(a), _t(b)))]))
    return out


def _where_cases(rng):
    out = []
    for sc, sa, sb in [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), (3, 4)),
                       ((4,), (2, 4), ()), ((2, 1, 1), (3, 1), (1, 5)),
                       ((0, 2), (2,), (1, 2)), ((1,), (2, 2), (2, 1))]:
        c = rng.random(sc) < 0.5
        a, b = _f32(rng, *sa), _f32(rng, *sb)
        if a.size:
            a.reshape(-1)[0] = math.nan
        ref = torch.where(torch.from_numpy(np.array(c)), _t(a), _t(b))
        out.append(Case("where", [c, a, b], [_out(ref)]))
    return out


def _activation_cases(rng):
    out = []
    for act, fn in ACTIVATIONS.items():
        for shape in [(4, 6), (0, 2)]:
            x = _f32(rng, *shape)
            if x.size:
                x = _with_specials(x)
            out.append(Case("activation_apply", [x], [_out(fn(_t(x)))], act=act))
    return out


# Values where ops have edges: NaN, ±inf, ±0, a denormal, ±FLT_MAX, the
# thresholds of softplus (20) and exp (88.7), far tails, hardswish's ±3,
# integers beyond 2^24, 1/3 and negative bases for pow, halves for round
# (to even), large arguments of sin and cos.
HARD = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 1e-40, -1e-40, 3.4028235e38,
        -3.4028235e38, 20.0, 20.5, -20.0, 88.7, -88.7, -104.0, 1e20, -1e20, 3.0, -3.0,
        16777217.0, 0.5, -0.5, 2.0, -2.0, -8.0, 1.0 / 3.0, 1e-3, -1e-3, 1.5, 2.5, -2.5,
        4194304.5, 1e5, -1e5]


def _hard_cases():
    """Every unary op on HARD; every binary op and comparison on all pairs."""
    x = np.array(HARD, np.float32)
    # torch's gelu(-0) is -0 or 0 by code path; hardswish in float32, as
    # torch's: x·6 overflows at FLT_MAX before the /6 (float64 does not)
    out = [Case(name, [x], [_out(fn(torch.from_numpy(x) if name == "hardswish" else _t(x)))])
           for name, fn in UNARY.items() if name != "gelu"]
    g = np.array([v for v in HARD if not (v == 0 and math.copysign(1, v) < 0)], np.float32)
    out.append(Case("gelu", [g], [_out(F.gelu(_t(g)))]))
    a, b = np.meshgrid(x, x, indexing="ij")
    for name, fn in {**BINARY, **COMPARE}.items():
        out.append(Case(name, [a, b], [_out(fn(_t(a), _t(b)))]))
    for e in [0.0, 0.5, -0.5, 1.0 / 3.0, -1.0, 3.0, math.inf, -math.inf, math.nan]:
        out.append(Case("pow_scalar", [x], [_out(torch.pow(_t(x), _p(e)))], e=e))
    return out


def cases(rng):
    return (_unary_cases(rng) + _param_cases(rng) + _binary_cases(rng) +
            _compare_cases(rng) + _where_cases(rng) + _activation_cases(rng) +
            _hard_cases())
