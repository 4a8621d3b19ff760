"""index cases: index_select, embedding, take_along_dim, concat, stack, pad
(constant, reflect, replicate, circular),
flip, tril/triu, reshape, roll — references from PyTorch (numpy.pad for the
reflect/replicate modes on ranks PyTorch does not pad, checked against
PyTorch where it does)."""
import numpy as np
import torch
import torch.nn.functional as F

from optable import Case


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _t(a):
    return torch.from_numpy(np.array(a))


def _np(t):
    return t.numpy().copy()


def _index_select(rng):
    out = []
    specs = [((5, 3), 0, [4, 0, 4, 2], np.int64),
             ((5, 3), -1, [2, 0], np.int32),
             ((2, 4, 3), 1, [3, 3, 0, 1, 2], np.int64),
             ((2, 4, 3), -3, [1], np.int32),
             ((1, 6), 0, [0, 0, 0], np.int64),      # size-1 dim picked repeatedly
             ((4, 3), 0, [], np.int64),             # empty index: size-0 result
             ((0, 4), 1, [3, 1], np.int32),         # size-0 input dim elsewhere
             ((7,), 0, [6, 0, 3], np.int32),
             ((2, 3), 1, 2, np.int64)]                # a scalar index keeps the dim
    for shape, dim, idx, dt in specs:
        x = _f32(rng, *shape)
        ix = np.array(idx, dtype=dt)
        ref = torch.index_select(_t(x), dim, _t(ix).long())
        out.append(Case("index_select", [x, ix], [_np(ref)], dim=dim))
    return out


def _embedding(rng):
    out = []
    specs = [((3,), (5, 4), np.int64),
             ((2, 3), (5, 4), np.int32),
             ((2, 2, 2), (3, 1), np.int64),
             ((4,), (1, 3), np.int32),              # one row, looked up 4 times
             ((0,), (5, 4), np.int64),
             ((), (6, 2), np.int64),                # one index -> [dim]
             ((3, 0), (5, 2), np.int32)]
    for ishape, wshape, dt in specs:
        w = _f32(rng, *wshape)
        ix = rng.integers(0, wshape[0], size=ishape).astype(dt)
        ref = F.embedding(_t(ix).long(), _t(w))
        out.append(Case("embedding", [ix, w], [_np(ref)]))
    return out


def _take_along_dim(rng):
    out = []
    specs = [((3, 4), (3, 2), 1, np.int64),         # top-k style gather
             ((3, 4), (1, 4), 0, np.int32),
             ((1, 4), (3, 2), 1, np.int64),         # x broadcasts over dim 0
             ((3, 5), (2, 1), 0, np.int32),         # indices broadcast over dim 1
             ((2, 3, 4), (2, 3, 4), -1, np.int64),
             ((2, 3, 4), (1, 5, 1), -2, np.int32),
             ((4,), (6,), 0, np.int64),
             ((3, 4), (3, 0), 1, np.int64)]
    for xs, ishape, dim, dt in specs:
        x = _f32(rng, *xs)
        ix = rng.integers(0, xs[dim], size=ishape).astype(dt)
        ref = torch.take_along_dim(_t(x), _t(ix).long(), dim)
        out.append(Case("take_along_dim", [x, ix], [_np(ref)], dim=dim))
    return out


def _concat_stack(rng):
    out = []
    specs = [([(2, 3), (4, 3)], 0),
             ([(2, 3), (2, 1), (2, 0), (2, 2)], -1),
             ([(5,), (1,), (3,)], 0),
             ([(2, 1, 3), (2, 4, 3)], 1),
             ([(3, 2)], 1),
             ([(0, 3), (2, 3)], 0),
             ([(2, 2, 2), (2, 2, 2), (2, 2, 1)], -1)]
    for shapes, dim in specs:
        xs = [_f32(rng, *s) for s in shapes]
        ref = torch.cat([_t(x) for x in xs], dim)
        out.append(Case("concat", xs, [_np(ref)], dim=dim))
    specs = [((2, 3), 3, 0), ((2, 3), 3, 1), ((2, 3), 2, 2), ((2, 3), 2, -1),
             ((2, 3), 2, -3), ((), 3, 0), ((0, 2), 2, 1), ((4,), 1, 0)]
    for shape, count, dim in specs:
        xs = [_f32(rng, *shape) for _ in range(count)]
        ref = torch.stack([_t(x) for x in xs], dim)
        out.append(Case("stack", xs, [_np(ref)], dim=dim))
    return out


def _np_pad(x, pads, mode):
    """numpy.pad of the trailing dims, pads in torch's last-dim-first order."""
    width = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        width[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    return np.pad(x, width, mode={"reflect": "reflect", "replicate": "edge"}[mode])


def _pad(rng):
    out = []
    # numpy's reflect/edge equal torch's where torch supports the rank
    probe = _f32(rng, 2, 3, 5)
    for mode in ["reflect", "replicate"]:
        want = F.pad(_t(probe), (2, 4, 1, 2), mode=mode)
        assert np.array_equal(_np(want), _np_pad(probe, [2, 4, 1, 2], mode)), mode
    specs = [((2, 3, 5), [1, 2], "constant", 1.5),
             ((2, 3, 5), [0, 3, 2, 0], "constant", -float("inf")),
             ((2, 3, 5), [-1, 2, 1, -2], "constant", 0.0),    # negative pads crop
             ((4, 6), [-2, -3], "constant", 7.0),
             ((2, 3, 5), [1, 2, 3, 0, 1, 1], "constant", 0.25),
             ((0, 3), [1, 1, 2, 0], "constant", 2.0),
             ((2, 3, 5), [2, 4], "reflect", 0.0),
             ((2, 3, 5), [4, 1, 2, 0], "reflect", 0.0),
             ((3, 4, 5), [1, 0, 0, 3, 2, 1], "reflect", 0.0),
             ((6,), [5, 2], "reflect", 0.0),
             ((2, 3, 5), [3, 1], "replicate", 0.0),
             ((2, 3, 5), [0, 2, 4, 1], "replicate", 0.0),
             ((1, 2, 1), [2, 3, 1, 0, 0, 2], "replicate", 0.0),
             ((3, 4), [0, 0], "replicate", 0.0)]
    for shape, pads, mode, value in specs:
        x = _f32(rng, *shape)
        if mode == "constant":
            ref = _np(F.pad(_t(x), tuple(pads), mode="constant", value=value))
        else:
            ref = _np_pad(x, pads, mode)
        out.append(Case("pad", [x], [ref], pads=pads, mode=mode, value=value))
    # negative pads in reflect/replicate mode crop (torch: pad by the
    # positive amounts, mirroring the uncropped edges, then crop); ranks
    # torch supports, deterministic data
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    for pads, mode in [((-1, 2, 0, 0), "reflect"), ((3, -2, -1, 2), "reflect"),
                       ((-4, -1, 3, -3), "reflect"), ((-1, 2, 0, 0), "replicate"),
                       ((2, -4, -3, 1), "replicate"), ((-2, -2, 5, -1), "replicate")]:
        ref = _np(F.pad(_t(x), pads, mode=mode))
        out.append(Case("pad", [x], [ref], pads=list(pads), mode=mode, value=0.0))
    # circular (Conv2d's padding_mode='circular'): wraps around what the
    # crops keep, at most once
    for pads in [(1, 2, 0, 0), (5, 5, 4, 4), (2, -1, -1, 3), (-2, 3, 0, 1)]:
        ref = _np(F.pad(_t(x), pads, mode="circular"))
        out.append(Case("pad", [x], [ref], pads=list(pads), mode="circular", value=0.0))
    x1 = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    ref = _np(F.pad(_t(x1), (3, 4), mode="circular"))
    out.append(Case("pad", [x1], [ref], pads=[3, 4], mode="circular", value=0.0))
    return out


def _flip_tri_reshape(rng):
    out = []
    for shape, dims in [((2, 3, 4), [0]), ((2, 3, 4), [-1]), ((2, 3, 4), [0, 2]),
                        ((2, 3, 4), [2, 1, 0]), ((2, 3, 4), []), ((5,), [0]),
                        ((0, 3), [1]), ((3, 1), [1, 0])]:
        x = _f32(rng, *shape)
        out.append(Case("flip", [x], [_np(torch.flip(_t(x), dims))], dims=dims))
    for shape, diag in [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 3), -2),
                        ((4, 2), 5), ((0, 3), 0), ((1, 1), 0), ((2, 2, 3, 5), 2)]:
        x = _f32(rng, *shape)
        out.append(Case("tril", [x], [_np(torch.tril(_t(x), diag))], diagonal=diag))
        out.append(Case("triu", [x], [_np(torch.triu(_t(x), diag))], diagonal=diag))
    for shape, new in [((3, 4), [2, 6]), ((3, 4), [-1]), ((2, 3, 4), [4, -1, 1]),
                       ((2, 3, 4), [6, 4]), ((1, 5), [5, 1]), ((0, 4), [0, 2, 2]),
                       ((), [1, 1])]:
        x = _f32(rng, *shape)
        out.append(Case("reshape", [x], [_np(torch.reshape(_t(x), new))], shape=new))
    return out


def _roll(rng):
    out = []
    for shape, shifts, dims in [((2, 3, 4), [1], [0]), ((2, 3, 4), [-5], [-1]),
                                ((2, 3, 4), [2, -1, 7], [0, 1, 2]),
                                ((2, 3, 4), [1, 2], [1, 1]), ((2, 3, 4), [-9], None),
                                ((5,), [12], [0]), ((0, 3), [1, 2], [0, 1]),
                                ((3, 1), [4, 1], [0, 1]), ((), [3], None),
                                ((2, 3, 4), [0, 3], [2, 1])]:
        x = _f32(rng, *shape)
        t = _t(x)
        ref = torch.roll(t, shifts) if dims is None else torch.roll(t, shifts, dims)
        params = {"shifts": shifts} if dims is None else {"shifts": shifts, "dims": dims}
        out.append(Case("roll", [x], [_np(ref)], **params))
    return out


def cases(rng):
    # new families at the end: the cases before keep their numbers and values
    return (_index_select(rng) + _embedding(rng) + _take_along_dim(rng)
            + _concat_stack(rng) + _pad(rng) + _flip_tri_reshape(rng) + _roll(rng))
