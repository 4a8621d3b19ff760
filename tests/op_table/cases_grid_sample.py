"""affine_grid and grid_sample cases: references from PyTorch
(torch.nn.functional, float64 from the float32 inputs). PyTorch's images
are NCHW: the NHWC inputs are permuted in and the outputs back; grids are
[N,h,w,2] in both. Grid points run past [-1, 1] (and far outside) so that
every padding matters; NaN sits in some images. The first cases (bilinear
and nearest with zeros or border padding) have no NaN in a grid, where
PyTorch's answer for zeros padding depends on its code path; the later
ones (reflection padding, bicubic) do put NaN and ±inf in grids, where
PyTorch answers the same in float32 and float64 (the generator checks
that every reference agrees with PyTorch's float32 result)."""
import warnings

import numpy as np
import torch
import torch.nn.functional as F

import optable


def f32(t):
    return np.ascontiguousarray(t.numpy().astype(np.float32))


# ---- affine_grid ----------------------------------------------------------------

def affine_case(rng, n, h, w, align):
    theta = rng.uniform(-1.5, 1.5, (n, 2, 3)).astype(np.float32)
    # PyTorch refuses N = 0; the grid of no samples is the first zero rows of one
    t = torch.from_numpy(theta if n else rng.uniform(-1, 1, (1, 2, 3))).double()
    with warnings.catch_warnings():   # its note on size-1 grids with align_corners
        warnings.simplefilter("ignore")
        y = F.affine_grid(t, (max(n, 1), 1, h, w), align_corners=align)[:n]
    return optable.Case("affine_grid", inputs=[theta], outputs=[f32(y)], h=h, w=w,
                        align_corners=align)


def affine_cases(rng):
    c = []
    for align in (False, True):
        c.append(affine_case(rng, 2, 4, 5, align))
        c.append(affine_case(rng, 1, 1, 3, align))    # one row: y = 0
        c.append(affine_case(rng, 1, 3, 1, align))    # one column: x = 0
        c.append(affine_case(rng, 1, 1, 1, align))
        c.append(affine_case(rng, 0, 2, 3, align))    # no samples
    return c


# ---- grid_sample ----------------------------------------------------------------

def sample(x, grid, mode, padding, align, dtype):
    t = torch.from_numpy(x).to(dtype).permute(0, 3, 1, 2)
    y = F.grid_sample(t, torch.from_numpy(grid).to(dtype), mode=mode, padding_mode=padding,
                      align_corners=align)
    return y.permute(0, 2, 3, 1)


def sample_case(rng, n, hw, c, ohw, mode, padding, align, grid=None, nan=False,
                grid_nan=False):
    x = rng.standard_normal((n, *hw, c)).astype(np.float32)
    if nan:
        x[..., 1, 1, 0] = np.nan
    if grid is None:   # points past the edges, and two far outside
        grid = rng.uniform(-1.4, 1.4, (n, *ohw, 2)).astype(np.float32)
        if grid.size >= 4:
            grid.reshape(-1, 2)[0] = (-7.5, 0.25)
            grid.reshape(-1, 2)[-1] = (0.5, 30.0)
        if grid_nan:   # NaN, ±inf and exact ±1 (edges / corner centres)
            special = [(np.nan, 0.1), (-0.3, np.nan), (np.inf, 0.3), (0.4, -np.inf),
                       (1.0, -1.0), (-1.0, 1.0)]
            grid.reshape(-1, 2)[1:1 + len(special)] = special
    y = sample(x, grid, mode, padding, align, torch.float64)
    y32 = f32(sample(x, grid, mode, padding, align, torch.float32))
    if mode == "nearest":   # float and double pick the same pixels: no ties
        assert np.array_equal(f32(y), y32, equal_nan=True)
    assert np.allclose(f32(y), y32, rtol=1e-5, atol=1e-5, equal_nan=True)
    return optable.Case("grid_sample", inputs=[x, grid], outputs=[f32(y)], mode=mode,
                        padding=padding, align_corners=align)


def sample_cases(rng):
    c = []
    for mode in ("bilinear", "nearest"):
        for padding in ("zeros", "border"):
            for align in (False, True):
                c.append(sample_case(rng, 2, (5, 6), 3, (4, 7), mode, padding, align))
                c.append(sample_case(rng, 1, (4, 4), 2, (3, 5), mode, padding, align,
                                     nan=True))
            c.append(sample_case(rng, 1, (1, 5), 2, (2, 3), mode, padding, False))   # H = 1
            c.append(sample_case(rng, 0, (3, 4), 2, (2, 2), mode, padding, False))   # N = 0
        # the spatial transformer's pipeline: a grid from affine_grid (shrink, turn, shift)
        theta = torch.tensor([[[0.8, -0.3, 0.1], [0.25, 0.9, -0.2]]], dtype=torch.float64)
        grid = f32(F.affine_grid(theta, (1, 1, 6, 5), align_corners=False))
        c.append(sample_case(rng, 1, (7, 6), 2, None, mode, "zeros", False, grid=grid))
    return c


def more_sample_cases(rng):
    """reflection padding (bilinear, nearest, bicubic) and bicubic with
    every padding: odd sizes, H or W = 1 (reflection at align_corners has
    no span there), N = 0, NaN in images and NaN/±inf in grids."""
    c = []
    combos = [(m, "reflection") for m in ("bilinear", "nearest", "bicubic")]
    combos += [("bicubic", p) for p in ("zeros", "border")]
    for mode, padding in combos:
        for align in (False, True):
            c.append(sample_case(rng, 2, (5, 6), 3, (4, 7), mode, padding, align, grid_nan=True))
            c.append(sample_case(rng, 1, (4, 4), 2, (3, 5), mode, padding, align, nan=True))
            c.append(sample_case(rng, 1, (3, 7), 1, (5, 3), mode, padding, align))   # odd
            c.append(sample_case(rng, 1, (1, 5), 2, (2, 3), mode, padding, align))   # H = 1
            c.append(sample_case(rng, 1, (4, 1), 2, (3, 2), mode, padding, align))   # W = 1
        c.append(sample_case(rng, 0, (3, 4), 2, (2, 2), mode, padding, False))      # N = 0
        theta = torch.tensor([[[1.3, -0.4, 0.2], [0.35, 1.2, -0.3]]], dtype=torch.float64)
        grid = f32(F.affine_grid(theta, (1, 1, 6, 5), align_corners=False))   # past the edges
        c.append(sample_case(rng, 1, (7, 6), 2, None, mode, padding, False, grid=grid))
    return c


def cases(rng):
    return affine_cases(rng) + sample_cases(rng) + more_sample_cases(rng)
