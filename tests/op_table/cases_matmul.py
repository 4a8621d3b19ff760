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
    return out + einsum_cases(rng)


# torch.einsum on float64 copies: (equation, operand shapes)
EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]),
    ("ij,kj", [(3, 4), (5, 4)]), ("ba,cb", [(4, 3), (5, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("bij,bjk->bki", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("bhqk,bhkd->bqhd", [(2, 3, 4, 6), (2, 3, 6, 5)]),
    ("ij->ji", [(3, 4)]), ("ij->i", [(3, 4)]), ("ij->j", [(3, 4)]), ("ij->", [(3, 4)]),
    ("ij", [(3, 4)]), ("ji", [(3, 4)]), ("ii->i", [(4, 4)]), ("ii", [(4, 4)]),
    ("iij->ji", [(3, 3, 2)]), ("ijkj->ik", [(2, 3, 2, 3)]), ("i,j->ij", [(3,), (4,)]),
    ("i,j", [(3,), (4,)]), ("i,i->", [(5,), (5,)]), ("i,i", [(5,), (5,)]), ("i,i->i", [(5,), (5,)]),
    ("i,i->i", [(1,), (4,)]), ("ij,jk", [(3, 1), (2, 4)]), ("bij,bjk", [(1, 3, 4), (3, 4, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("b...d,bd->b...", [(2, 3, 4, 5), (2, 5)]), ("...ij->...ji", [(2, 3, 4)]),
    ("...ij->ij", [(2, 3, 4)]), ("...ij->...", [(2, 3, 4)]), ("...,...", [(2, 3), (3,)]),
    ("i...->...", [(3, 2, 2)]), ("...", [()]), ("->", [()]), ("i,->i", [(3,), ()]),
    (",->", [(), ()]), (" i j , j k -> i k ", [(3, 4), (4, 2)]), ("Ab,bA->Ab", [(3, 4), (4, 3)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]), ("ijk,ij->k", [(2, 3, 4), (2, 3)]),
    ("abc,cd->dab", [(2, 3, 4), (4, 5)]), ("abc,bd->adc", [(2, 3, 4), (3, 5)]),
    ("ij,kl->ijkl", [(2, 3), (2, 2)]), ("ijk,ikl->", [(2, 3, 4), (2, 4, 2)]),
    ("ii,ij->j", [(3, 3), (3, 4)]), ("i,ii->i", [(3,), (1, 1)]),
    ("ijk,kl->jli", [(2, 3, 4), (4, 5)]),
    ("ij,jk->ik", [(0, 4), (4, 5)]),
    ("ij,jk->ik", [(3, 0), (0, 5)]), ("ij->i", [(3, 0)]), ("ij->j", [(0, 3)]),
    ("bij,bjk->bik", [(0, 3, 4), (0, 4, 5)]), ("i,i->", [(0,), (0,)]),
    ("ij,ij->", [(1, 4), (3, 1)]), ("i,i->i", [(1,), (0,)]),
    ("abcdefg,abcdefg->abcdefg", [(1, 2, 1, 2, 1, 2, 2), (2, 1, 2, 1, 2, 1, 2)]),
    ("abcdefgh,abcdefgh->abcdefgh", [(2, 1, 2, 1, 2, 1, 2, 1), (1, 2, 1, 2, 1, 2, 1, 2)]),
    ("abcdefgh,abcdefgh->hgfedcba", [(2, 1, 2, 1, 2, 1, 2, 1), (1, 2, 1, 2, 1, 2, 1, 2)]),
    # three or more operands (contracted in pairs, left to right)
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]), ("ij,jk,kl", [(3, 4), (4, 5), (5, 2)]),
    ("bi,ij,bj->b", [(2, 3), (3, 4), (2, 4)]), ("i,i,i->", [(5,), (5,), (5,)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]), ("i,j,k", [(2,), (3,), (4,)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 2), (2, 5)]),
    ("bij,bjk,bkl->bil", [(2, 3, 4), (2, 4, 5), (2, 5, 3)]),
    ("...ij,...jk,...kl->...il", [(2, 3, 4), (2, 4, 5), (5, 2)]),
    ("...i,...i,i->", [(2, 3), (2, 3), (3,)]), ("...i,i,i", [(2, 3), (3,), (3,)]),
    ("ii,ij,jk->k", [(3, 3), (3, 4), (4, 2)]), ("Ab,bC,Cd", [(2, 3), (3, 4), (4, 5)]),
    ("ij,kj,kl->li", [(3, 4), (5, 4), (5, 2)]), ("ij,ij,ij->ij", [(3, 1), (1, 4), (3, 4)]),
    ("a,ab,bc,c->", [(3,), (3, 4), (4, 5), (5,)]),
    ("ij,jk,kl->il", [(3, 0), (0, 5), (5, 2)]),
    # left to right would hold a 10- or 11-dim intermediate (more than
    # MT_MAX_RANK): contracted in another order
    ("abcde,fghij,af,bg,ch,di,ej->", [(2, 2, 2, 2, 2), (2, 2, 2, 2, 2)] + [(2, 2)] * 5),
    ("abcde,fghij,af,bg,ch,di,ej->aj", [(2, 3, 2, 2, 2), (2, 2, 2, 3, 2)] + [(2, 2), (3, 2), (2, 2), (2, 3), (2, 2)]),
    ("...abcde,fghij,af,bg,ch,di,ej->...e", [(3, 2, 2, 2, 2, 2), (2, 2, 2, 2, 2)] + [(2, 2)] * 5),
]


def einsum_cases(rng):
    out = []
    for eq, shapes in EINSUM:
        xs = [_f32(rng, *s) for s in shapes]
        ref = torch.einsum(eq, *[torch.from_numpy(x).double() for x in xs])
        out.append(Case("einsum", xs, [ref.float().numpy()], eq=eq))
    return out
