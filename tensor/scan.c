/* scan.c — ops along one dim that keep the shape: cumsum, softmax,
 * log_softmax. */
#include <math.h>

#include "minitensor/reduce.h"
#include "internal.h"

typedef enum { SCAN_CUMSUM, SCAN_SOFTMAX, SCAN_LOG_SOFTMAX } scan_op;

static const char *const scan_names[] = {"cumsum", "softmax", "log_softmax"};

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
    if (log_form) {
        for (int64_t i = 0; i < n; i++)
            sum += expf(x[i * s] - m);
        float lse = logf((float)sum);
        for (int64_t i = 0; i < n; i++)
            o[i * so] = x[i * s] - m - lse;
        return;
    }
    /* one expf per element: out holds exp(x - m) until it is scaled (in
     * place works: x[i] is read before o[i] is written) */
    for (int64_t i = 0; i < n; i++) {
        float e = expf(x[i * s] - m);
        o[i * so] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        o[i * so] *= inv;
}

/* Running sum; each element is read before it is written, so in place works. */
static void lane_cumsum(const float *x, int64_t n, int64_t s, float *o, int64_t so)
{
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        acc += x[i * s];
        o[i * so] = (float)acc;
    }
}

static void scan_apply(scan_op op, const mt_tensor *t, int d, mt_tensor *out)
{
    if (mt_tensor_numel(out) == 0)
        return;
    bool scalar = t->rank == 0;   /* one lane of one element */
    int64_t n = scalar ? 1 : t->shape[d], s = scalar ? 0 : t->stride[d];
    int64_t so = scalar ? 0 : out->stride[d];
    int64_t outer[MT_MAX_RANK];
    for (int i = 0; i < t->rank; i++)
        outer[i] = i == d ? 1 : t->shape[i];
    int64_t index[MT_MAX_RANK] = {0};
    do {
        int64_t it = 0, io = 0;
        for (int i = 0; i < t->rank; i++) {
            it += index[i] * t->stride[i];
            io += index[i] * out->stride[i];
        }
        const float *x = (const float *)t->data + it;
        float *o = (float *)out->data + io;
        if (op == SCAN_CUMSUM)
            lane_cumsum(x, n, s, o, so);
        else
            lane_softmax(op == SCAN_LOG_SOFTMAX, x, n, s, o, so);
    } while (mt_index_next(t->rank, outer, index));
}

static mt_status scan_prepare(scan_op op, const mt_tensor *t, int dim, int *d)
{
    const char *name = scan_names[op];
    mt_status s = mt_tensor_check(name, "input", t);
    if (s || (s = mt_check_f32(name, t)))
        return s;
    if (!mt_dim_resolve(dim, t->rank ? t->rank : 1, d))   /* a scalar: 0 or -1 */
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s",
                       name, dim, MT_SHAPE(t));
    return MT_OK;
}

static mt_status scan_into(scan_op op, const mt_tensor *t, int dim, mt_tensor *out)
{
    const char *name = scan_names[op];
    int d = 0;
    mt_status s = scan_prepare(op, t, dim, &d);
    if (s || (s = mt_check_out(name, out, MT_DTYPE_F32, t->rank, t->shape)))
        return s;
    if (!mt_tensors_same_view(out, t) && mt_tensors_overlap(out, t))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s partially overlaps the "
                       "input %s", name, MT_SHAPE(out), MT_SHAPE(t));
    scan_apply(op, t, d, out);
    return MT_OK;
}

static mt_status scan_new(scan_op op, const mt_tensor *t, int dim, mt_tensor **out)
{
    int d = 0;
    mt_status s = scan_prepare(op, t, dim, &d);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", scan_names[op]);
    mt_tensor *r;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, t->rank, t->shape, &r)))
        return s;
    scan_apply(op, t, d, r);
    *out = r;
    return MT_OK;
}

mt_status mt_cumsum(const mt_tensor *t, int dim, mt_tensor **out)
{ return scan_new(SCAN_CUMSUM, t, dim, out); }
mt_status mt_cumsum_into(const mt_tensor *t, int dim, mt_tensor *out)
{ return scan_into(SCAN_CUMSUM, t, dim, out); }
mt_status mt_softmax(const mt_tensor *t, int dim, mt_tensor **out)
{ return scan_new(SCAN_SOFTMAX, t, dim, out); }
mt_status mt_softmax_into(const mt_tensor *t, int dim, mt_tensor *out)
{ return scan_into(SCAN_SOFTMAX, t, dim, out); }
mt_status mt_log_softmax(const mt_tensor *t, int dim, mt_tensor **out)
{ return scan_new(SCAN_LOG_SOFTMAX, t, dim, out); }
mt_status mt_log_softmax_into(const mt_tensor *t, int dim, mt_tensor *out)
{ return scan_into(SCAN_LOG_SOFTMAX, t, dim, out); }
