/* reduce.c — ops along one dim: sum, max, argmax, softmax, log_softmax. */
#include <math.h>

#include "minitensor/ops.h"
#include "internal.h"

typedef enum { RED_SUM, RED_MAX, RED_ARGMAX, RED_SOFTMAX, RED_LOG_SOFTMAX } lane_op;

static const char *const lane_names[] = {"sum", "max", "argmax", "softmax", "log_softmax"};

static bool is_reduction(lane_op op) { return op <= RED_ARGMAX; }

/* Result shape of op over t along d. */
static void result_shape(lane_op op, const mt_tensor *t, int d, bool keepdim,
                         int *rank, int64_t *shape)
{
    int r = 0;
    for (int i = 0; i < t->rank; i++) {
        if (i == d && is_reduction(op)) {
            if (keepdim)
                shape[r++] = 1;
        } else {
            shape[r++] = t->shape[i];
        }
    }
    *rank = r;
}

/* Index of the first maximum; a NaN counts as the maximum (as NumPy). */
static int64_t lane_argmax(const float *x, int64_t n, int64_t s)
{
    int64_t best = 0;
    float bv = x[0];
    if (isnan(bv))
        return 0;
    for (int64_t i = 1; i < n; i++) {
        float v = x[i * s];
        if (isnan(v))
            return i;
        if (v > bv) {
            bv = v;
            best = i;
        }
    }
    return best;
}

/* Softmax (or log-softmax) of one lane; the max is subtracted first so
 * exp never overflows. */
static void lane_softmax(bool log_form, const float *x, int64_t n, int64_t s,
                         float *o, int64_t so)
{
    if (n == 0)
        return;
    /* expf/logf, not exp/log: as accurate for F32 results (the sum is still
     * accumulated in double), and their tables are 0.5 KB rather than 6 KB
     * in a wasm module (minitensor-mnist.wasm's size budget). */
    float m = x[lane_argmax(x, n, s) * s];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += expf(x[i * s] - m);
    if (log_form) {
        float lse = logf((float)sum);
        for (int64_t i = 0; i < n; i++)
            o[i * so] = x[i * s] - m - lse;
    } else {
        for (int64_t i = 0; i < n; i++)
            o[i * so] = (float)(expf(x[i * s] - m) / sum);
    }
}

static void lane_apply(lane_op op, const mt_tensor *t, int d, mt_tensor *out)
{
    int64_t n = t->shape[d], s = t->stride[d];
    /* out dims aligned to t's: the reduced dim has out stride 0 (removed) */
    int64_t ostride[MT_MAX_RANK];
    for (int i = 0, o = 0; i < t->rank; i++) {
        if (i == d && is_reduction(op)) {
            ostride[i] = 0;
            o += out->rank == t->rank;   /* keepdim: skip the kept 1 */
        } else {
            ostride[i] = out->stride[o++];
        }
    }
    int64_t outer[MT_MAX_RANK];
    for (int i = 0; i < t->rank; i++)
        outer[i] = i == d ? 1 : t->shape[i];
    if (mt_tensor_numel(out) == 0)
        return;
    int64_t index[MT_MAX_RANK] = {0};
    do {
        int64_t it = 0, io = 0;
        for (int i = 0; i < t->rank; i++) {
            it += index[i] * t->stride[i];
            io += index[i] * ostride[i];
        }
        const float *x = (const float *)t->data + it;
        switch (op) {
        case RED_SUM: {
            float acc = 0.0f;
            for (int64_t i = 0; i < n; i++)
                acc += x[i * s];
            ((float *)out->data)[io] = acc;
            break;
        }
        case RED_MAX:
            ((float *)out->data)[io] = x[lane_argmax(x, n, s) * s];
            break;
        case RED_ARGMAX:
            ((int64_t *)out->data)[io] = lane_argmax(x, n, s);
            break;
        case RED_SOFTMAX:
        case RED_LOG_SOFTMAX:
            lane_softmax(op == RED_LOG_SOFTMAX, x, n, s, (float *)out->data + io,
                         out->stride[d]);
            break;
        }
    } while (mt_index_next(t->rank, outer, index));
}

static mt_status lane_prepare(lane_op op, const mt_tensor *t, int dim, bool keepdim,
                              int *d, int *rank, int64_t *shape)
{
    const char *name = lane_names[op];
    mt_status s = mt_check_tensor(name, "input", t);
    if (s || (s = mt_check_f32(name, t)))
        return s;
    if (!mt_dim_resolve(dim, t->rank, d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s",
                       name, dim, MT_SHAPE(t));
    if ((op == RED_MAX || op == RED_ARGMAX) && t->shape[*d] == 0)
        return mt_fail(MT_ERR_SHAPE, "%s: dim %d of %s is empty", name, dim, MT_SHAPE(t));
    result_shape(op, t, *d, keepdim, rank, shape);
    return MT_OK;
}

static mt_dtype result_dtype(lane_op op)
{
    return op == RED_ARGMAX ? MT_DTYPE_I64 : MT_DTYPE_F32;
}

static mt_status lane_into(lane_op op, const mt_tensor *t, int dim, bool keepdim,
                           mt_tensor *out)
{
    const char *name = lane_names[op];
    int d = 0, rank = 0;
    int64_t shape[MT_MAX_RANK];
    mt_status s = lane_prepare(op, t, dim, keepdim, &d, &rank, shape);
    if (s || (s = mt_check_tensor(name, "out", out)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, result_dtype(op), rank, shape, NULL);
    if (out->dtype != want.dtype)
        return mt_fail(MT_ERR_DTYPE, "%s: out has dtype %s, needs %s", name,
                       mt_dtype_name(out->dtype), mt_dtype_name(want.dtype));
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, result is %s", name,
                       MT_SHAPE(out), MT_SHAPE(&want));
    lane_apply(op, t, d, out);
    return MT_OK;
}

static mt_status lane_new(lane_op op, const mt_tensor *t, int dim, bool keepdim,
                          mt_tensor **out)
{
    int d = 0, rank = 0;
    int64_t shape[MT_MAX_RANK];
    mt_status s = lane_prepare(op, t, dim, keepdim, &d, &rank, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", lane_names[op]);
    mt_tensor *r;
    if ((s = mt_tensor_zeros(result_dtype(op), rank, shape, &r)))
        return s;
    lane_apply(op, t, d, r);
    *out = r;
    return MT_OK;
}

mt_status mt_sum(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return lane_new(RED_SUM, t, dim, keepdim, out); }
mt_status mt_sum_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return lane_into(RED_SUM, t, dim, keepdim, out); }
mt_status mt_max(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return lane_new(RED_MAX, t, dim, keepdim, out); }
mt_status mt_max_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return lane_into(RED_MAX, t, dim, keepdim, out); }
mt_status mt_argmax(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return lane_new(RED_ARGMAX, t, dim, keepdim, out); }
mt_status mt_argmax_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return lane_into(RED_ARGMAX, t, dim, keepdim, out); }
mt_status mt_softmax(const mt_tensor *t, int dim, mt_tensor **out)
{ return lane_new(RED_SOFTMAX, t, dim, false, out); }
mt_status mt_softmax_into(const mt_tensor *t, int dim, mt_tensor *out)
{ return lane_into(RED_SOFTMAX, t, dim, false, out); }
mt_status mt_log_softmax(const mt_tensor *t, int dim, mt_tensor **out)
{ return lane_new(RED_LOG_SOFTMAX, t, dim, false, out); }
mt_status mt_log_softmax_into(const mt_tensor *t, int dim, mt_tensor *out)
{ return lane_into(RED_LOG_SOFTMAX, t, dim, false, out); }
