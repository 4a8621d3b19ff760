/* flip.c — torch.flip (a copy through negated strides) and tril/triu. */
#include <string.h>

#include "minitensor/index.h"
#include "internal.h"

static mt_status check_in_out(const char *op, const mt_tensor *x, const mt_tensor *out,
                              bool in_place_ok)
{
    mt_status s = mt_check_out(op, out, x->dtype, x->rank, x->shape);
    if (s)
        return s;
    bool same = in_place_ok && out->data == x->data &&
                memcmp(out->stride, x->stride, sizeof x->stride[0] * (size_t)x->rank) == 0;
    if (!same && mt_tensors_overlap(out, x))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps x %s%s", op,
                       MT_SHAPE(out), MT_SHAPE(x), in_place_ok ? " (only out == x may)" : "");
    return MT_OK;
}

/* ---- flip --------------------------------------------------------------------- */

static mt_status flip_prepare(const mt_tensor *x, const int *dims, int n_dims, bool *flip)
{
    const char *op = "flip";
    mt_status s = mt_tensor_check(op, "x", x);
    if (s)
        return s;
    if (n_dims < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: n_dims %d < 0", op, n_dims);
    if (n_dims > 0 && !dims)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dims is NULL (n_dims %d)", op, n_dims);
    for (int d = 0; d < MT_MAX_RANK; d++)
        flip[d] = false;
    for (int i = 0; i < n_dims; i++) {
        int d;
        if (!mt_dim_resolve(dims[i], x->rank, &d))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s", op,
                           dims[i], MT_SHAPE(x));
        if (flip[d])
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d appears twice in dims", op,
                           d);
        flip[d] = true;
    }
    return MT_OK;
}

static void flip_run(const mt_tensor *x, const bool *flip, mt_tensor *out)
{
    if (mt_tensor_numel(x) == 0)
        return;
    /* x read backwards along flipped dims: start at their last element and
     * step by minus the stride (internal only; public strides stay >= 0). */
    int64_t stride[MT_MAX_RANK], start = 0;
    for (int d = 0; d < x->rank; d++) {
        stride[d] = flip[d] ? -x->stride[d] : x->stride[d];
        if (flip[d])
            start += (x->shape[d] - 1) * x->stride[d];
    }
    size_t esize = mt_dtype_size(x->dtype);
    mt_copy_strided(esize, x->rank, x->shape,
                    (const char *)x->data + start * (int64_t)esize, stride,
                    out->data, out->stride);
}

mt_status mt_flip(const mt_tensor *x, const int *dims, int n_dims, mt_tensor **out)
{
    bool flip[MT_MAX_RANK];
    mt_status s = flip_prepare(x, dims, n_dims, flip);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "flip: out is NULL");
    mt_tensor *t;
    if ((s = mt_tensor_alloc("flip", x->dtype, x->rank, x->shape, &t)))
        return s;
    flip_run(x, flip, t);
    *out = t;
    return MT_OK;
}

mt_status mt_flip_into(const mt_tensor *x, const int *dims, int n_dims, mt_tensor *out)
{
    bool flip[MT_MAX_RANK];
    mt_status s = flip_prepare(x, dims, n_dims, flip);
    if (s || (s = check_in_out("flip", x, out, false)))
        return s;
    flip_run(x, flip, out);
    return MT_OK;
}

/* ---- tril / triu -------------------------------------------------------------- */

static mt_status tri_prepare(const char *op, const mt_tensor *x)
{
    mt_status s = mt_tensor_check(op, "x", x);
    if (s)
        return s;
    if (x->rank < 2)
        return mt_fail(MT_ERR_SHAPE, "%s: x %s must have at least 2 dims", op,
                       MT_SHAPE(x));
    return MT_OK;
}

/* Zero bytes (0.0f, 0, false) over n elements of stride `stride` bytes. */
static void zero_run(char *p, int64_t n, int64_t stride, size_t esize)
{
    if (stride == (int64_t)esize) {
        memset(p, 0, (size_t)n * esize);
        return;
    }
    for (int64_t j = 0; j < n; j++)
        memset(p + j * stride, 0, esize);
}

/* Row i keeps columns [lo, hi) and zeroes the rest. */
static void tri_run(const mt_tensor *x, int64_t diagonal, bool lower, mt_tensor *out)
{
    if (mt_tensor_numel(x) == 0)
        return;
    size_t esize = mt_dtype_size(x->dtype);
    int r = x->rank;
    int64_t rows = x->shape[r - 2], cols = x->shape[r - 1];
    /* beyond these bounds every diagonal gives the same result; clamping
     * keeps i + k from overflowing */
    int64_t k = diagonal < -rows ? -rows : diagonal > cols ? cols : diagonal;
    int64_t xs = x->stride[r - 1], os = out->stride[r - 1];
    int64_t ob = os * (int64_t)esize;
    int64_t pos[MT_MAX_RANK] = {0};
    do {   /* pos[r-2] walks the rows; pos[r-1] stays 0 */
        int64_t i = pos[r - 2];
        int64_t lo = lower ? 0 : i + k, hi = lower ? i + k + 1 : cols;
        lo = lo < 0 ? 0 : lo > cols ? cols : lo;
        hi = hi < lo ? lo : hi > cols ? cols : hi;
        const char *src = mt_element_ptr(x, pos);
        char *dst = mt_element_ptr(out, pos);
        zero_run(dst, lo, ob, esize);
        int64_t kept = hi - lo;
        if (src != dst)   /* in place, kept elements are already there */
            mt_copy_strided(esize, 1, &kept, src + lo * xs * (int64_t)esize, &xs,
                            dst + lo * ob, &os);
        zero_run(dst + hi * ob, cols - hi, ob, esize);
    } while (mt_index_next(r - 1, x->shape, pos));
}

static mt_status tri_new(const char *op, const mt_tensor *x, int64_t diagonal, bool lower,
                         mt_tensor **out)
{
    mt_status s = tri_prepare(op, x);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t;
    if ((s = mt_tensor_alloc(op, x->dtype, x->rank, x->shape, &t)))
        return s;
    tri_run(x, diagonal, lower, t);
    *out = t;
    return MT_OK;
}

static mt_status tri_into(const char *op, const mt_tensor *x, int64_t diagonal, bool lower,
                          mt_tensor *out)
{
    mt_status s = tri_prepare(op, x);
    if (s || (s = check_in_out(op, x, out, true)))
        return s;
    tri_run(x, diagonal, lower, out);
    return MT_OK;
}

mt_status mt_tril(const mt_tensor *x, int64_t diagonal, mt_tensor **out)
{ return tri_new("tril", x, diagonal, true, out); }
mt_status mt_tril_into(const mt_tensor *x, int64_t diagonal, mt_tensor *out)
{ return tri_into("tril", x, diagonal, true, out); }
mt_status mt_triu(const mt_tensor *x, int64_t diagonal, mt_tensor **out)
{ return tri_new("triu", x, diagonal, false, out); }
mt_status mt_triu_into(const mt_tensor *x, int64_t diagonal, mt_tensor *out)
{ return tri_into("triu", x, diagonal, false, out); }
