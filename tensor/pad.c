/* pad.c — torch.nn.functional.pad: constant, reflect, replicate and circular
 * modes over any number of trailing dims. */
#include "minitensor/index.h"
#include "internal.h"

typedef struct pad_plan {
    int64_t left[MT_MAX_RANK];   /* per dim of x, 0 where not padded */
    int64_t right[MT_MAX_RANK];
    int64_t shape[MT_MAX_RANK];  /* result */
} pad_plan;

static mt_status pad_prepare(const mt_tensor *x, int n_pads, const int64_t *pads,
                             mt_pad_mode mode, pad_plan *p)
{
    const char *op = "pad";
    mt_status s = mt_tensor_check(op, "x", x);
    if (s || (s = mt_check_f32(op, x)))
        return s;
    if ((unsigned)mode > MT_PAD_CIRCULAR)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: invalid mode %d", op, (int)mode);
    if (n_pads < 0 || n_pads % 2 || n_pads / 2 > x->rank)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d pads for %s: need an even count, "
                       "at most 2 per dim", op, n_pads, MT_SHAPE(x));
    if (n_pads > 0 && !pads)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pads is NULL", op);
    for (int d = 0; d < x->rank; d++) {
        p->left[d] = p->right[d] = 0;
        p->shape[d] = x->shape[d];
    }
    for (int i = 0; i < n_pads / 2; i++) {
        int d = x->rank - 1 - i;   /* the first pair pads the last dim */
        int64_t l = pads[2 * i], r = pads[2 * i + 1], n = x->shape[d];
        if (mode == MT_PAD_REFLECT && (l >= n || r >= n))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: reflect pads (%lld,%lld) must be "
                           "less than dim %d's size %lld in %s", op, (long long)l,
                           (long long)r, d, (long long)n, MT_SHAPE(x));
        if (mode == MT_PAD_REPLICATE && n == 0 && (l > 0 || r > 0))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: replicate cannot pad empty dim %d "
                           "of %s", op, d, MT_SHAPE(x));
        /* l, r >= -n first: -INT64_MIN overflows, and so may the sum */
        if (l < -n || r < -n || (l < 0 ? -l : 0) > n - (r < 0 ? -r : 0))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pads (%lld,%lld) crop more than "
                           "dim %d's size %lld in %s", op, (long long)l, (long long)r, d,
                           (long long)n, MT_SHAPE(x));
        /* circular wraps what is left after the crops, at most once (PyTorch) */
        int64_t kept = n - (l < 0 ? -l : 0) - (r < 0 ? -r : 0);
        if (mode == MT_PAD_CIRCULAR && (l > kept || r > kept))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: circular pads (%lld,%lld) wrap "
                           "more than once around dim %d's %lld kept entries in %s", op,
                           (long long)l, (long long)r, d, (long long)kept, MT_SHAPE(x));
        if (l > INT64_MAX / 4 || r > INT64_MAX / 4)
            return mt_fail(MT_ERR_OVERFLOW, "%s: pads (%lld,%lld) too large", op,
                           (long long)l, (long long)r);
        /* n may be near INT64_MAX (a broadcast view): n + l + r may wrap */
        if (__builtin_add_overflow(n, l, &p->shape[d]) ||
            __builtin_add_overflow(p->shape[d], r, &p->shape[d]))
            return mt_fail(MT_ERR_OVERFLOW, "%s: pads (%lld,%lld) on dim %d's size %lld in %s "
                           "overflow", op, (long long)l, (long long)r, d, (long long)n,
                           MT_SHAPE(x));
        p->left[d] = l;
        p->right[d] = r;
    }
    int64_t numel;
    if (!mt_shape_numel(x->rank, p->shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: element count overflows", op);
    return MT_OK;
}

/* Source index along dim d (size n) for result index j, or -1 for `value`. */
static int64_t pad_source(mt_pad_mode mode, int64_t j, const pad_plan *p, int d, int64_t n)
{
    int64_t left = p->left[d], i = j - left;
    if (i >= 0 && i < n)
        return i;
    switch (mode) {
    case MT_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case MT_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case MT_PAD_CIRCULAR: {   /* around the entries the crops keep */
        int64_t cut = left < 0 ? -left : 0, right = p->right[d];
        int64_t kept = n - cut - (right < 0 ? -right : 0);
        int64_t k = j - (left > 0 ? left : 0);
        return (k < 0 ? k + kept : k - kept) + cut;
    }
    default: return -1;
    }
}

static void pad_run(const mt_tensor *x, const pad_plan *p, mt_pad_mode mode, float value,
                    mt_tensor *out)
{
    int rank = out->rank;
    if (mt_tensor_numel(out) == 0)
        return;
    if (rank == 0) {
        *(float *)out->data = *(const float *)x->data;
        return;
    }
    const float *xd = x->data;
    float *od = out->data;
    int inner = rank - 1;
    int64_t n = out->shape[inner];
    int64_t pos[MT_MAX_RANK] = {0};
    do {
        int64_t xo = 0, oo = 0;
        bool outside = false;
        for (int d = 0; d < inner; d++) {
            int64_t i = pad_source(mode, pos[d], p, d, x->shape[d]);
            outside |= i < 0;
            xo += i * x->stride[d];
            oo += pos[d] * out->stride[d];
        }
        for (int64_t j = 0; j < n; j++) {
            int64_t i = outside ? -1 : pad_source(mode, j, p, inner, x->shape[inner]);
            od[oo + j * out->stride[inner]] = i < 0 ? value : xd[xo + i * x->stride[inner]];
        }
    } while (mt_index_next(inner, out->shape, pos));
}

mt_status mt_pad(const mt_tensor *x, int n_pads, const int64_t *pads, mt_pad_mode mode,
                 float value, mt_tensor **out)
{
    pad_plan p;
    mt_status s = pad_prepare(x, n_pads, pads, mode, &p);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pad: out is NULL");
    mt_tensor *t;
    if ((s = mt_tensor_alloc("pad", MT_DTYPE_F32, x->rank, p.shape, &t)))
        return s;
    pad_run(x, &p, mode, value, t);
    *out = t;
    return MT_OK;
}

mt_status mt_pad_into(const mt_tensor *x, int n_pads, const int64_t *pads,
                      mt_pad_mode mode, float value, mt_tensor *out)
{
    pad_plan p;
    mt_status s = pad_prepare(x, n_pads, pads, mode, &p);
    if (s || (s = mt_check_out("pad", out, MT_DTYPE_F32, x->rank, p.shape)))
        return s;
    if (mt_tensors_overlap(out, x))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pad: out %s overlaps x %s", MT_SHAPE(out),
                       MT_SHAPE(x));
    pad_run(x, &p, mode, value, out);
    return MT_OK;
}
