"""matmul cases: numpy.matmul semantics (batched, broadcast, 1-D promotion)."""
import numpy as np
import torch
import torch.nn.functional as F

from optable import Case


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _matmul(a, b):
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)


def cases(rng):
    out = []
    shapes = [((3, 4), (4, 5)), ((1, 7), (7, 1)), ((4,), (4, 3)), ((3, 4), (4,)),
              ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (5, 4, 2)), ((0, 3), (3, 2)),
              ((2, 0), (0, 3)), ((6,), (6,))]
    for sa, sb in shapes:
        a, b = _f32(rng, *sa), _f32(rng, *sb)
        out.append(Case("matmul", [a, b], [_matmul(a, b)]))
    # act(A·B + bias), computed by PyTorch in float64
    acts = {"none": lambda x: x, "relu": torch.relu, "gelu": F.gelu,
            "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "tanh": torch.tanh,
            "sigmoid": torch.sigmoid, "silu": F.silu}
    for act, fn in acts.items():
        a, b, bias = _f32(rng, 5, 6), _f32(rng, 6, 7), _f32(rng, 7)
        ref = torch.from_numpy(a).double() @ torch.from_numpy(b).double() \
            + torch.from_numpy(bias).double()
        out.append(Case("matmul_fused", [a, b, bias], [fn(ref).float().numpy()], act=act))
    return out
