"""reduce.h cases: reductions over a dim, a dim list or all dims (keepdim),
argmin/argmax, cumsum, softmax/log_softmax — PyTorch semantics, computed by
torch in float64 from the float32 inputs."""
import numpy as np
import torch

from optable import Case

NAN, INF = float("nan"), float("inf")


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _t(x):
    return torch.from_numpy(np.asarray(x)).double()


def _out(r):
    return r.float().numpy() if r.dtype == torch.float64 else r.numpy()


def _reduce(op, x, dims, keepdim, correction=1):
    """torch's answer; dims None = all dims."""
    t = _t(x)
    d = tuple(range(x.ndim)) if dims is None else tuple(dims)
    if x.ndim == 0:   # torch takes dim 0 of a scalar; the result is the element
        d = ()
    if op == "sum":
        return t.sum(dim=d, keepdim=keepdim) if d else t
    if op == "mean":
        return t.mean(dim=d, keepdim=keepdim) if d else t
    if op in ("var", "std"):
        if not d:
            return torch.tensor(NAN, dtype=torch.float64)
        f = torch.var if op == "var" else torch.std
        return f(t, dim=d, correction=correction, keepdim=keepdim)
    if op == "min":
        return t.amin(dim=d, keepdim=keepdim) if d else t
    if op == "max":
        return t.amax(dim=d, keepdim=keepdim) if d else t
    if op == "logsumexp":
        return torch.logsumexp(t, dim=d, keepdim=keepdim) if d else t
    raise ValueError(op)


def _case(op, x, dims, keepdim, single=False, correction=None):
    params = {"keepdim": keepdim}
    if single:
        params["dim"] = dims[0]
    elif dims is not None:
        params["dims"] = list(dims)
    if correction is not None:
        params["correction"] = correction
    ref = _reduce(op, x, dims, keepdim, 1 if correction is None else correction)
    return Case(op, [x], [_out(ref)], **params)


def cases(rng):
    out = []
    ops = ["sum", "mean", "var", "std", "min", "max", "logsumexp"]
    x = _f32(rng, 3, 4, 5)
    special = _f32(rng, 4, 6)
    special[0, 1] = NAN
    special[1, 2] = INF
    special[2, :] = -INF          # an all -inf row (logsumexp -> -inf)
    special[3, 3] = -INF
    for op in ops:
        for dims, single in [([0], True), ([-1], True), ([1], False), ([0, 2], False),
                             ([-1, 0], False), (None, False)]:
            for keepdim in (False, True):
                out.append(_case(op, x, dims, keepdim, single))
        out.append(_case(op, special, [1], False, True))
        out.append(_case(op, special, [0], True, True))
        out.append(_case(op, special, None, False))
        out.append(_case(op, _f32(rng, 4, 1, 3), [1], False, True))        # size-1 dim
        out.append(_case(op, _f32(rng, 2, 3), [-2, -1], True))
        out.append(_case(op, np.array(rng.standard_normal(), np.float32), [0], False, True))  # scalar
        out.append(_case(op, _f32(rng, 7), [0], False, True))
        if op not in ("min", "max"):   # empty lanes: 0, NaN, NaN, NaN, -inf
            out.append(_case(op, np.zeros((2, 0, 3), np.float32), [1], False, True))
            out.append(_case(op, np.zeros((2, 0, 3), np.float32), None, True))
        out.append(_case(op, np.zeros((2, 0, 3), np.float32), [2], False, True))  # empty result
    for correction in (0, 2, 5):      # 5 > N: divides by 0
        out.append(_case("var", x, [1], False, True, correction))
        out.append(_case("std", x, [0, 2], True, False, correction))
    big = np.float32(1e4) + _f32(rng, 64, 3)   # a large mean: two-pass variance
    out.append(_case("var", big, [0], False, True, 1))

    # argmin / argmax: one dim or all (index into the flattened tensor)
    ties = np.array([[1, 3, 3, 0], [2, 2, -1, -1], [NAN, 5, NAN, 1]], np.float32)
    for op in ("argmin", "argmax"):
        f = getattr(torch, op)
        for t in (x, ties, _f32(rng, 5, 1)):
            for dim in range(-t.ndim, t.ndim):
                for keepdim in (False, True):
                    out.append(Case(op, [t], [f(torch.from_numpy(t), dim=dim,
                                                keepdim=keepdim).numpy()],
                                    dim=dim, keepdim=keepdim))
            for keepdim in (False, True):
                r = f(torch.from_numpy(t), dim=None, keepdim=keepdim)
                out.append(Case(op, [t], [r.numpy()], keepdim=keepdim))
        s = np.array(2.0, np.float32)
        out.append(Case(op, [s], [np.array(0, np.int64)], dim=0, keepdim=False))

    # hard rows: NaN first / last / everywhere, ±inf, ±FLT_MAX (sums in
    # double: mean of [FLT_MAX, FLT_MAX, 1, 1] is finite), ±0, large values
    fm = float(np.finfo(np.float32).max)
    hard = np.array([[NAN, 1, 2, 3], [1, 2, 3, NAN], [NAN, NAN, NAN, NAN], [1, INF, -INF, 2],
                     [-INF, -INF, -INF, -INF], [INF, INF, INF, INF], [fm, fm, 1, 1],
                     [-fm, -fm, -fm, 0], [0.0, -0.0, -0.0, 0.0], [-0.0, -0.0, -0.0, -0.0],
                     [1e30, 1e30, -1e30, 5], [NAN, INF, -INF, 0], [1e20, 1e20, 1e20, -1e20],
                     [16777217, 16777216, 16777218, -1]], np.float32)
    for op in ops:
        out.append(_case(op, hard, [1], False, True))
    for op in ("argmin", "argmax"):
        f = getattr(torch, op)
        for dim in (0, 1):
            out.append(Case(op, [hard], [f(torch.from_numpy(hard), dim=dim).numpy()],
                            dim=dim, keepdim=False))
    for op in ("cumsum", "softmax", "log_softmax"):
        f = getattr(torch, op)
        out.append(Case(op, [hard], [_out(f(_t(hard), 1))], dim=1))

    # along one dim, same shape
    for op in ("cumsum", "softmax", "log_softmax"):
        for t in (x, special, _f32(rng, 6), np.zeros((3, 0), np.float32)):
            for dim in sorted({0, -1, t.ndim - 1}):
                tt = _t(t)
                if op == "cumsum":
                    r = torch.cumsum(tt, dim)
                elif op == "softmax":
                    r = torch.softmax(tt, dim)
                else:
                    r = torch.log_softmax(tt, dim)
                out.append(Case(op, [t], [_out(r)], dim=dim))

    # sort (stable) and topk: values and indices as rows of their own. topk's
    # references are torch.sort(stable=True)[:k]: torch.topk leaves its
    # choice among ties unspecified, minitensor takes the lower index (on
    # inputs without ties the two agree, checked here too).
    def sort_cases(t, dim, desc):
        v, i = torch.sort(torch.from_numpy(t), dim=dim, descending=desc, stable=True)
        out.append(Case("sort", [t], [v.numpy()], dim=dim, descending=int(desc)))
        out.append(Case("sort_indices", [t], [i.numpy()], dim=dim, descending=int(desc)))

    def topk_cases(t, k, dim, largest):
        v, i = torch.sort(torch.from_numpy(t), dim=dim, descending=largest, stable=True)
        if t.ndim:
            v, i = v.narrow(dim, 0, k), i.narrow(dim, 0, k)
        if not np.isnan(t).any() and np.unique(t).size == t.size:
            tv, ti = torch.topk(torch.from_numpy(t), k, dim=dim, largest=largest)
            assert torch.equal(tv, v) and torch.equal(ti, i)
        out.append(Case("topk", [t], [v.numpy()], k=k, dim=dim, largest=int(largest)))
        out.append(Case("topk_indices", [t], [i.numpy()], k=k, dim=dim,
                        largest=int(largest)))

    ties = np.array([[1, 3, 3, 0, -0.0, 0.0], [2, 2, -1, -1, 2, -1], [NAN, 5, NAN, 1, INF, -INF]],
                    np.float32)
    long_lane = _f32(rng, 2, 300)   # topk's heap: k well under a lane's eighth
    long_lane[1, 7] = NAN
    long_lane[1, 100] = long_lane[1, 50]
    for t in (x, ties, hard, _f32(rng, 5, 1), np.zeros((3, 0), np.float32),
              np.array(2.5, np.float32)):
        for dim in sorted({0, -1, max(t.ndim - 1, 0)}):
            for desc in (False, True):
                sort_cases(t, dim, desc)
    for t, k, dim in ((x, 2, -1), (x, 0, 0), (ties, 4, 1), (ties, 3, 0), (hard, 4, 1),
                      (hard, 1, 0), (long_lane, 5, 1), (long_lane, 37, -1),
                      (long_lane, 300, 1), (np.array(2.5, np.float32), 1, 0)):
        for largest in (True, False):
            topk_cases(t, k, dim, largest)
    return out
