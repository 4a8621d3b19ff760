"""norm.h cases: layer_norm, rms_norm, batch_norm (inference), group_norm,
computed by torch in float64 from the float32 inputs. Optional weight/bias
are present when the case says w=1 / b=1 (inputs in the order x, [stats],
[weight], [bias])."""
import numpy as np
import torch
import torch.nn.functional as F

from optable import Case


def _f32(rng, *shape, loc=0.0, scale=1.0):
    return (rng.standard_normal(shape) * scale + loc).astype(np.float32)


def _t(x):
    return None if x is None else torch.from_numpy(x).double()


def _with(inputs, w, b):
    return inputs + [a for a in (w, b) if a is not None]


def cases(rng):
    out = []
    eps = 1e-5
    # layer_norm / rms_norm over the last k dims
    for shape, k in [((2, 3, 8), 1), ((2, 3, 8), 2), ((4, 5), 2), ((7,), 1), ((0, 4), 1),
                     ((3, 1), 1), ((2, 2, 3, 4), 3)]:
        x = _f32(rng, *shape, loc=1.5, scale=3.0)
        ns = shape[len(shape) - k:]
        w, b = _f32(rng, *ns), _f32(rng, *ns)
        for use_w, use_b in [(False, False), (True, False), (True, True)]:
            ww, bb = (w if use_w else None), (b if use_b else None)
            r = F.layer_norm(_t(x), ns, _t(ww), _t(bb), eps)
            out.append(Case("layer_norm", _with([x], ww, bb), [r.float().numpy()],
                            k=k, eps=eps, w=use_w, b=use_b))
        for use_w in (False, True):
            ww = w if use_w else None
            t = _t(x)
            dims = tuple(range(x.ndim - k, x.ndim))
            r = t / torch.sqrt((t * t).mean(dim=dims, keepdim=True) + 1e-6)
            if use_w:
                r = r * _t(ww)
            out.append(Case("rms_norm", _with([x], ww, None), [r.float().numpy()],
                            k=k, eps=1e-6, w=use_w))
    x = np.array([[1e3, 1e3 + 1, 1e3 + 2], [5.0, np.nan, 1.0]], np.float32)
    r = F.layer_norm(_t(x), (3,), None, None, eps)
    out.append(Case("layer_norm", [x], [r.float().numpy()], k=1, eps=eps, w=False, b=False))

    # batch_norm, inference: channel dim 1 (NC, NCL, NCHW) or -1 (NHWC)
    for shape in [(4, 3), (2, 3, 5), (2, 3, 2, 4), (1, 1, 3)]:
        c = shape[1]
        x = _f32(rng, *shape, loc=0.5, scale=2.0)
        mean, var = _f32(rng, c), rng.uniform(0.2, 3.0, c).astype(np.float32)
        w, b = _f32(rng, c), _f32(rng, c)
        for use_w, use_b in [(False, False), (True, True), (False, True)]:
            ww, bb = (w if use_w else None), (b if use_b else None)
            r = F.batch_norm(_t(x), _t(mean), _t(var), _t(ww), _t(bb), False, 0.1, eps)
            ref = r.float().numpy()
            out.append(Case("batch_norm", _with([x, mean, var], ww, bb), [ref],
                            channel_dim=1, eps=eps, w=use_w, b=use_b))
            xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
            out.append(Case("batch_norm", _with([xl, mean, var], ww, bb),
                            [np.ascontiguousarray(np.moveaxis(ref, 1, -1))],
                            channel_dim=-1, eps=eps, w=use_w, b=use_b))

    # group_norm: [N, C, *] (channel_dim 1) and channels last (-1)
    for shape, groups in [((2, 6, 5), (1, 2, 3, 6)), ((2, 4, 3, 3), (2, 4)), ((3, 4), (2,)),
                          ((1, 6, 2), (3,))]:
        c = shape[1]
        x = _f32(rng, *shape, loc=-1.0, scale=2.0)
        w, b = _f32(rng, c), _f32(rng, c)
        for g in groups:
            for use_w, use_b in [(False, False), (True, True)]:
                ww, bb = (w if use_w else None), (b if use_b else None)
                r = F.group_norm(_t(x), g, _t(ww), _t(bb), eps).float().numpy()
                out.append(Case("group_norm", _with([x], ww, bb), [r], groups=g,
                                channel_dim=1, eps=eps, w=use_w, b=use_b))
                xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
                out.append(Case("group_norm", _with([xl], ww, bb),
                                [np.ascontiguousarray(np.moveaxis(r, 1, -1))], groups=g,
                                channel_dim=-1, eps=eps, w=use_w, b=use_b))
    # empty batches: nothing to normalise, an empty result
    mean, var = _f32(rng, 3), rng.uniform(0.2, 3.0, 3).astype(np.float32)
    x = np.zeros((0, 3, 2), np.float32)
    out.append(Case("batch_norm", [x, mean, var], [x.copy()], channel_dim=1, eps=eps,
                    w=False, b=False))
    out.append(Case("group_norm", [np.zeros((0, 4, 3), np.float32)],
                    [np.zeros((0, 4, 3), np.float32)], groups=2, channel_dim=1, eps=eps,
                    w=False, b=False))
    out.append(Case("group_norm", [np.zeros((2, 4, 0), np.float32)],
                    [np.zeros((2, 4, 0), np.float32)], groups=2, channel_dim=1, eps=eps,
                    w=False, b=False))
    # hard rows, each its own lane: constant (variance 0, eps 0 too), NaN in
    # one row only, ±1e30 (squares overflow float), ±3e38, tiny, an inf
    hard = _f32(rng, 6, 8)
    hard[0] = 3.0
    hard[1, 2] = np.nan
    hard[2] = [1e30, -1e30] * 4
    hard[3] = [3e38] * 4 + [-3e38] * 4
    hard[4] = 1e-30
    hard[5, 0] = np.inf
    for e in (eps, 0.0):
        r = F.layer_norm(_t(hard), (8,), eps=e).float().numpy()
        out.append(Case("layer_norm", [hard], [r], k=1, eps=e, w=False, b=False))
        x4 = hard.reshape(6, 8, 1, 1)
        out.append(Case("group_norm", [x4], [F.group_norm(_t(x4), 2, eps=e).float().numpy()],
                        groups=2, channel_dim=1, eps=e, w=False, b=False))
    return out
