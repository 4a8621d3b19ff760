/* roll.c — torch.roll: elements shifted cyclically along dims, a copy.
 * Along each rolled dim the output is two runs of the input
 * (out[s..n) = x[0..n-s), out[0..s) = x[n-s..n)), so k rolled dims are
 * 2^k strided block copies; the flattened roll (no dims) walks the
 * output and the input in row-major order from different starts. */
#include <string.h>

#include "minitensor/index.h"
#include "internal.h"

/* ((s mod n) + n) mod n, for n >= 1 */
static int64_t wrap(int64_t s, int64_t n)
{
    int64_t r = s % n;
    return r < 0 ? r + n : r;
}

/* shift[d] (in [0, shape[d])) for every dim; *flat for dims == NULL. */
static mt_status roll_prepare(const mt_tensor *x, int n, const int64_t *shifts,
                              const int *dims, int64_t *shift, bool *flat)
{
    const char *op = "roll";
    mt_status s = mt_tensor_check(op, "x", x);
    if (s)
        return s;
    if (n < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: n %d < 1 (shifts)", op, n);
    if (!shifts)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: shifts is NULL (n %d)", op, n);
    *flat = dims == NULL;
    if (*flat && n != 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d shifts without dims (the flattened "
                       "roll takes one shift)", op, n);
    for (int d = 0; d < MT_MAX_RANK; d++)
        shift[d] = 0;
    if (*flat) {
        int64_t numel = mt_tensor_numel(x);
        shift[0] = numel ? wrap(shifts[0], numel) : 0;
        return MT_OK;
    }
    for (int i = 0; i < n; i++) {
        int d;
        if (!mt_dim_resolve(dims[i], x->rank, &d))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s", op,
                           dims[i], MT_SHAPE(x));
        /* a dim listed twice rolls by the sum, as torch, modulo the dim:
         * a + b for a, b in [0, len) may pass INT64_MAX when len is past
         * 2^62 (a broadcast view), so a + b - len is taken as a - (len - b) */
        int64_t len = x->shape[d];
        if (len) {
            int64_t b = wrap(shifts[i], len);
            shift[d] = shift[d] >= len - b ? shift[d] - (len - b) : shift[d] + b;
        }
    }
    return MT_OK;
}

static void roll_dims(const mt_tensor *x, const int64_t *shift, mt_tensor *out)
{
    size_t esize = mt_dtype_size(x->dtype);
    int rolled[MT_MAX_RANK], k = 0;
    for (int d = 0; d < x->rank; d++)
        if (shift[d])
            rolled[k++] = d;
    /* block b takes, along rolled dim rolled[j], the run of bit j of b */
    for (unsigned b = 0; b < 1u << k; b++) {
        int64_t shape[MT_MAX_RANK];
        int64_t src = 0, dst = 0;
        for (int d = 0; d < x->rank; d++)
            shape[d] = x->shape[d];
        for (int j = 0; j < k; j++) {
            int d = rolled[j];
            int64_t s = shift[d], len = x->shape[d];
            if (b >> j & 1u) {   /* out[0..s) = x[len-s..len) */
                shape[d] = s;
                src += (len - s) * x->stride[d];
            } else {             /* out[s..len) = x[0..len-s) */
                shape[d] = len - s;
                dst += s * out->stride[d];
            }
        }
        mt_copy_strided(esize, x->rank, shape,
                        (const char *)x->data + src * (int64_t)esize, x->stride,
                        (char *)out->data + dst * (int64_t)esize, out->stride);
    }
}

/* out's row-major element i = x's element (i - s) mod numel. */
static void roll_flat(const mt_tensor *x, int64_t s, mt_tensor *out)
{
    int r = x->rank;
    size_t esize = mt_dtype_size(x->dtype);
    int64_t po[MT_MAX_RANK] = {0}, px[MT_MAX_RANK] = {0};
    /* px starts at flat index numel - s (0 for s == 0), unravelled */
    int64_t start = s ? mt_tensor_numel(x) - s : 0;
    for (int d = r - 1; d >= 0; d--) {
        px[d] = start % x->shape[d];
        start /= x->shape[d];
    }
    do {
        memcpy(mt_element_ptr(out, po), mt_element_ptr(x, px), esize);
        if (!mt_index_next(r, x->shape, px))
            memset(px, 0, sizeof px);   /* wrapped past the last element */
    } while (mt_index_next(r, x->shape, po));
}

static void roll_run(const mt_tensor *x, const int64_t *shift, bool flat, mt_tensor *out)
{
    if (mt_tensor_numel(x) == 0)
        return;
    if (flat)
        roll_flat(x, shift[0], out);
    else
        roll_dims(x, shift, out);
}

mt_status mt_roll(const mt_tensor *x, int n, const int64_t *shifts, const int *dims,
                  mt_tensor **out)
{
    int64_t shift[MT_MAX_RANK];
    bool flat;
    mt_status s = roll_prepare(x, n, shifts, dims, shift, &flat);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: out is NULL");
    mt_tensor *t;
    if ((s = mt_tensor_alloc("roll", x->dtype, x->rank, x->shape, &t)))
        return s;
    roll_run(x, shift, flat, t);
    *out = t;
    return MT_OK;
}

mt_status mt_roll_into(const mt_tensor *x, int n, const int64_t *shifts, const int *dims,
                       mt_tensor *out)
{
    int64_t shift[MT_MAX_RANK];
    bool flat;
    mt_status s = roll_prepare(x, n, shifts, dims, shift, &flat);
    if (s || (s = mt_check_out("roll", out, x->dtype, x->rank, x->shape)))
        return s;
    if (mt_tensors_overlap(out, x))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: out %s overlaps x %s", MT_SHAPE(out),
                       MT_SHAPE(x));
    roll_run(x, shift, flat, out);
    return MT_OK;
}
