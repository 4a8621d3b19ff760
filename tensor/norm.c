/* norm.c — layer, RMS, batch (inference) and group normalisation over
 * strided views, statistics in double (semantics in norm.h). */
#include <math.h>

#include "minitensor/norm.h"
#include "internal.h"

/* A block of x normalised with one mean and 1/std: a sub-tensor walked
 * row-major, with the strides of x, out, weight and bias over it (0 where a
 * parameter does not vary). rank >= 1. */
typedef struct region {
    int rank;
    int64_t shape[MT_MAX_RANK];
    int64_t xs[MT_MAX_RANK], os[MT_MAX_RANK], ws[MT_MAX_RANK], bs[MT_MAX_RANK];
    int64_t count;
} region;

static int64_t dot_index(int rank, const int64_t *idx, const int64_t *stride)
{
    int64_t off = 0;
    for (int d = 0; d < rank; d++)
        off += idx[d] * stride[d];
    return off;
}

/* mean and biased variance of x over r, or (rms) 0 and mean(x^2). */
static void region_stats(const float *x, const region *r, bool rms, double *mean,
                         double *var)
{
    int outer = r->rank - 1;
    int64_t n = r->shape[outer], s = r->xs[outer];
    double sum = 0.0, sq = 0.0;
    int64_t idx[MT_MAX_RANK] = {0};
    if (r->count == 0) {
        *mean = *var = NAN;
        return;
    }
    if (!rms)
        do
            sum += mt_run_moment(x + dot_index(outer, idx, r->xs), n, s, 0.0, false);
        while (mt_index_next(outer, r->shape, idx));
    double m = rms ? 0.0 : sum / (double)r->count;
    do
        sq += mt_run_moment(x + dot_index(outer, idx, r->xs), n, s, m, true);
    while (mt_index_next(outer, r->shape, idx));
    *mean = m;
    *var = sq / (double)r->count;
}

/* out = (x - mean) * rstd * w + b over r; w, b may be NULL (1 and 0: read
 * from a constant with stride 0, so the loop has no branch). */
static void region_write(const float *x, float *o, const float *w, const float *b,
                         const region *r, float mean, float rstd)
{
    static const float one = 1.0f, zero = 0.0f;
    if (r->count == 0)
        return;
    int outer = r->rank - 1;
    int64_t n = r->shape[outer];
    int64_t sx = r->xs[outer], so = r->os[outer];
    int64_t sw = w ? r->ws[outer] : 0, sb = b ? r->bs[outer] : 0;
    int64_t idx[MT_MAX_RANK] = {0};
    do {
        const float *px = x + dot_index(outer, idx, r->xs);
        float *po = o + dot_index(outer, idx, r->os);
        const float *pw = w ? w + dot_index(outer, idx, r->ws) : &one;
        const float *pb = b ? b + dot_index(outer, idx, r->bs) : &zero;
        if (sx == 1 && so == 1 && sw == 1 && sb == 1) {   /* the usual layer_norm row */
            for (int64_t i = 0; i < n; i++)
                po[i] = (px[i] - mean) * rstd * pw[i] + pb[i];
        } else if (sx == 1 && so == 1 && sw == 0 && sb == 0) {
            for (int64_t i = 0; i < n; i++)
                po[i] = (px[i] - mean) * rstd * pw[0] + pb[0];
        } else {
            for (int64_t i = 0; i < n; i++)
                po[i * so] = (px[i * sx] - mean) * rstd * pw[i * sw] + pb[i * sb];
        }
    } while (mt_index_next(outer, r->shape, idx));
}

static float rstd_of(double var, float eps) { return (float)(1.0 / sqrt(var + eps)); }

/* ---- checks ----------------------------------------------------------------- */

/* An optional parameter: NULL, or F32 with exactly `rank` dims `shape`. */
static mt_status check_param(const char *op, const char *what, const mt_tensor *p,
                             int rank, const int64_t *shape)
{
    if (!p)
        return MT_OK;
    mt_status s = mt_tensor_check(op, what, p);
    if (s || (s = mt_check_f32(op, p)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, rank, shape, NULL);
    if (!mt_tensor_same_shape(p, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: %s is %s, expected %s", op, what, MT_SHAPE(p),
                       MT_SHAPE(&want));
    return MT_OK;
}

static mt_status check_x(const char *op, const mt_tensor *x, float eps)
{
    mt_status s = mt_tensor_check(op, "x", x);
    if (s || (s = mt_check_f32(op, x)))
        return s;
    if (!(eps >= 0.0f) || isinf(eps))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: eps %g must be finite and >= 0", op,
                       (double)eps);
    return MT_OK;
}

/* out: x's shape, F32, the same view as x or disjoint from x and params. */
static mt_status check_out(const char *op, const mt_tensor *x, const mt_tensor *out,
                           const mt_tensor *const *params, int n_params)
{
    mt_status s = mt_tensor_check(op, "out", out);
    if (s || (s = mt_check_f32(op, out)))
        return s;
    if (!mt_tensor_same_shape(out, x))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, x is %s", op, MT_SHAPE(out),
                       MT_SHAPE(x));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, x->rank, x->shape)))
        return s;   /* a stride-0 out */
    if (!mt_tensors_same_view(out, x) && mt_tensors_overlap(out, x))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s partially overlaps x %s", op,
                       MT_SHAPE(out), MT_SHAPE(x));
    for (int i = 0; i < n_params; i++)
        if (params[i] && mt_tensors_overlap(out, params[i]))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps parameter %s", op,
                           MT_SHAPE(out), MT_SHAPE(params[i]));
    return MT_OK;
}

/* ---- layer norm and RMS norm: the last k dims --------------------------------- */

static mt_status last_dims_check(const char *op, const mt_tensor *x, int k,
                                 const mt_tensor *weight, const mt_tensor *bias,
                                 float eps)
{
    mt_status s = check_x(op, x, eps);
    if (s)
        return s;
    if (k < 1 || k > x->rank)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: normalized_rank %d out of 1..%d "
                       "for x %s", op, k, x->rank, MT_SHAPE(x));
    const int64_t *inner = x->shape + x->rank - k;
    if ((s = check_param(op, "weight", weight, k, inner)) ||
        (s = check_param(op, "bias", bias, k, inner)))
        return s;
    return MT_OK;
}

static void last_dims_apply(bool rms, const mt_tensor *x, int k, const mt_tensor *weight,
                            const mt_tensor *bias, float eps, mt_tensor *out)
{
    int lead = x->rank - k;
    region r = {.rank = k, .count = 1};
    for (int d = 0; d < k; d++) {
        r.shape[d] = x->shape[lead + d];
        r.xs[d] = x->stride[lead + d];
        r.os[d] = out->stride[lead + d];
        r.ws[d] = weight ? weight->stride[d] : 0;
        r.bs[d] = bias ? bias->stride[d] : 0;
        r.count *= r.shape[d];
    }
    int64_t lead_numel = 1;
    for (int d = 0; d < lead; d++)
        lead_numel *= x->shape[d];
    if (lead_numel == 0)
        return;
    int64_t idx[MT_MAX_RANK] = {0};
    do {
        const float *px = (const float *)x->data + dot_index(lead, idx, x->stride);
        float *po = (float *)out->data + dot_index(lead, idx, out->stride);
        double mean, var;
        region_stats(px, &r, rms, &mean, &var);
        region_write(px, po, weight ? weight->data : NULL, bias ? bias->data : NULL, &r,
                     (float)mean, rstd_of(var, eps));
    } while (mt_index_next(lead, x->shape, idx));
}

static mt_status last_dims_into(bool rms, const mt_tensor *x, int k, const mt_tensor *weight,
                                const mt_tensor *bias, float eps, mt_tensor *out)
{
    const char *op = rms ? "rms_norm" : "layer_norm";
    const mt_tensor *params[] = {weight, bias};
    mt_status s = last_dims_check(op, x, k, weight, bias, eps);
    if (s || (s = check_out(op, x, out, params, 2)))
        return s;
    last_dims_apply(rms, x, k, weight, bias, eps, out);
    return MT_OK;
}

static mt_status last_dims_new(bool rms, const mt_tensor *x, int k, const mt_tensor *weight,
                               const mt_tensor *bias, float eps, mt_tensor **out)
{
    const char *op = rms ? "rms_norm" : "layer_norm";
    mt_status s = last_dims_check(op, x, k, weight, bias, eps);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *r;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, x->rank, x->shape, &r)))
        return s;
    last_dims_apply(rms, x, k, weight, bias, eps, r);
    *out = r;
    return MT_OK;
}

mt_status mt_layer_norm(const mt_tensor *x, int normalized_rank, const mt_tensor *weight,
                        const mt_tensor *bias, float eps, mt_tensor **out)
{ return last_dims_new(false, x, normalized_rank, weight, bias, eps, out); }
mt_status mt_layer_norm_into(const mt_tensor *x, int normalized_rank,
                             const mt_tensor *weight, const mt_tensor *bias, float eps,
                             mt_tensor *out)
{ return last_dims_into(false, x, normalized_rank, weight, bias, eps, out); }
mt_status mt_rms_norm(const mt_tensor *x, int normalized_rank, const mt_tensor *weight,
                      float eps, mt_tensor **out)
{ return last_dims_new(true, x, normalized_rank, weight, NULL, eps, out); }
mt_status mt_rms_norm_into(const mt_tensor *x, int normalized_rank, const mt_tensor *weight,
                           float eps, mt_tensor *out)
{ return last_dims_into(true, x, normalized_rank, weight, NULL, eps, out); }

/* ---- batch norm (inference) and group norm: per-channel parameters ----------- */

/* x has rank >= 2 and a channel dim other than the batch dim 0. */
static mt_status channel_check(const char *op, const mt_tensor *x, int channel_dim,
                               float eps, int *c)
{
    mt_status s = check_x(op, x, eps);
    if (s)
        return s;
    if (x->rank < 2)
        return mt_fail(MT_ERR_SHAPE, "%s: x %s needs rank >= 2 ([N,C,...] or [N,...,C])",
                       op, MT_SHAPE(x));
    if (!mt_dim_resolve(channel_dim, x->rank, c) || *c == 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: channel_dim %d is not in 1..%d for "
                       "x %s (dim 0 is the batch)", op, channel_dim, x->rank - 1,
                       MT_SHAPE(x));
    return MT_OK;
}

typedef struct bn_args {
    const mt_tensor *mean, *var, *weight, *bias;
    float eps;
} bn_args;

static mt_status bn_check(const mt_tensor *x, int channel_dim, const bn_args *a, int *c)
{
    const char *op = "batch_norm";
    mt_status s = channel_check(op, x, channel_dim, a->eps, c);
    if (s)
        return s;
    if (!a->mean || !a->var)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "batch_norm: running_%s is NULL",
                       a->mean ? "var" : "mean");
    const int64_t *ch = &x->shape[*c];
    if ((s = check_param(op, "running_mean", a->mean, 1, ch)) ||
        (s = check_param(op, "running_var", a->var, 1, ch)) ||
        (s = check_param(op, "weight", a->weight, 1, ch)) ||
        (s = check_param(op, "bias", a->bias, 1, ch)))
        return s;
    return MT_OK;
}

static float param_at(const mt_tensor *p, int64_t c, float dflt)
{
    return p ? ((const float *)p->data)[c * p->stride[0]] : dflt;
}

/* Rows of the last dim; each element looks its channel's statistics up (no
 * per-channel scratch, so no allocation: a sqrt per element instead). */
static void bn_apply(const mt_tensor *x, int c, const bn_args *a, mt_tensor *out)
{
    if (mt_tensor_numel(x) == 0)
        return;
    int outer = x->rank - 1;
    int64_t n = x->shape[outer], sx = x->stride[outer], so = out->stride[outer];
    int64_t idx[MT_MAX_RANK] = {0};
    do {
        const float *px = (const float *)x->data + dot_index(outer, idx, x->stride);
        float *po = (float *)out->data + dot_index(outer, idx, out->stride);
        for (int64_t i = 0; i < n; i++) {
            int64_t ch = c == outer ? i : idx[c];
            float rstd = rstd_of(param_at(a->var, ch, 0.0f), a->eps);
            float v = (px[i * sx] - param_at(a->mean, ch, 0.0f)) * rstd;
            po[i * so] = v * param_at(a->weight, ch, 1.0f) + param_at(a->bias, ch, 0.0f);
        }
    } while (mt_index_next(outer, x->shape, idx));
}

mt_status mt_batch_norm_into(const mt_tensor *x, int channel_dim,
                             const mt_tensor *running_mean, const mt_tensor *running_var,
                             const mt_tensor *weight, const mt_tensor *bias, float eps,
                             mt_tensor *out)
{
    bn_args a = {running_mean, running_var, weight, bias, eps};
    const mt_tensor *params[] = {running_mean, running_var, weight, bias};
    int c;
    mt_status s = bn_check(x, channel_dim, &a, &c);
    if (s || (s = check_out("batch_norm", x, out, params, 4)))
        return s;
    bn_apply(x, c, &a, out);
    return MT_OK;
}

mt_status mt_batch_norm(const mt_tensor *x, int channel_dim, const mt_tensor *running_mean,
                        const mt_tensor *running_var, const mt_tensor *weight,
                        const mt_tensor *bias, float eps, mt_tensor **out)
{
    bn_args a = {running_mean, running_var, weight, bias, eps};
    int c;
    mt_status s = bn_check(x, channel_dim, &a, &c);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "batch_norm: out is NULL");
    mt_tensor *r;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, x->rank, x->shape, &r)))
        return s;
    bn_apply(x, c, &a, r);
    *out = r;
    return MT_OK;
}

static mt_status gn_check(const mt_tensor *x, int num_groups, int channel_dim,
                          const mt_tensor *weight, const mt_tensor *bias, float eps, int *c)
{
    const char *op = "group_norm";
    mt_status s = channel_check(op, x, channel_dim, eps, c);
    if (s)
        return s;
    int64_t ch = x->shape[*c];
    if (num_groups < 1 || ch % num_groups != 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "group_norm: %d groups do not divide the "
                       "%lld channels of x %s", num_groups, (long long)ch, MT_SHAPE(x));
    if ((s = check_param(op, "weight", weight, 1, &ch)) ||
        (s = check_param(op, "bias", bias, 1, &ch)))
        return s;
    return MT_OK;
}

/* Each (sample, group): a region over dims 1.. of x with the channel dim
 * narrowed to the group's channels. */
static void gn_apply(const mt_tensor *x, int num_groups, int c, const mt_tensor *weight,
                     const mt_tensor *bias, float eps, mt_tensor *out)
{
    if (mt_tensor_numel(x) == 0)   // nothing to write; its data may be NULL
        return;
    int64_t per = x->shape[c] / num_groups;
    region r = {.rank = x->rank - 1, .count = 1};
    for (int d = 1; d < x->rank; d++) {
        r.shape[d - 1] = d == c ? per : x->shape[d];
        r.xs[d - 1] = x->stride[d];
        r.os[d - 1] = out->stride[d];
        r.ws[d - 1] = d == c && weight ? weight->stride[0] : 0;
        r.bs[d - 1] = d == c && bias ? bias->stride[0] : 0;
        r.count *= r.shape[d - 1];
    }
    for (int64_t n = 0; n < x->shape[0]; n++)
        for (int g = 0; g < num_groups; g++) {
            int64_t first = g * per;
            const float *px = (const float *)x->data + n * x->stride[0] + first * x->stride[c];
            float *po = (float *)out->data + n * out->stride[0] + first * out->stride[c];
            const float *pw = weight ? (const float *)weight->data + first * weight->stride[0]
                                     : NULL;
            const float *pb = bias ? (const float *)bias->data + first * bias->stride[0] : NULL;
            double mean, var;
            region_stats(px, &r, false, &mean, &var);
            region_write(px, po, pw, pb, &r, (float)mean, rstd_of(var, eps));
        }
}

mt_status mt_group_norm_into(const mt_tensor *x, int num_groups, int channel_dim,
                             const mt_tensor *weight, const mt_tensor *bias, float eps,
                             mt_tensor *out)
{
    const mt_tensor *params[] = {weight, bias};
    int c;
    mt_status s = gn_check(x, num_groups, channel_dim, weight, bias, eps, &c);
    if (s || (s = check_out("group_norm", x, out, params, 2)))
        return s;
    gn_apply(x, num_groups, c, weight, bias, eps, out);
    return MT_OK;
}

mt_status mt_group_norm(const mt_tensor *x, int num_groups, int channel_dim,
                        const mt_tensor *weight, const mt_tensor *bias, float eps,
                        mt_tensor **out)
{
    int c;
    mt_status s = gn_check(x, num_groups, channel_dim, weight, bias, eps, &c);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "group_norm: out is NULL");
    mt_tensor *r;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, x->rank, x->shape, &r)))
        return s;
    gn_apply(x, num_groups, c, weight, bias, eps, r);
    *out = r;
    return MT_OK;
}
