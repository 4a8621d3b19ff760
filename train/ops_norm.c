/* ops_norm.c — layer_norm, rms_norm, batch_norm and group_norm on a tape.
 *
 * All four normalise groups of elements of x (seen contiguous) and scale by a
 * per-feature weight and bias:
 *   layer/rms norm  x [.., N…]: a group is one row of the last dims, the
 *                   feature is the position in the row
 *   batch_norm      x [B, C, *]: a group is a channel, the feature too
 *   group_norm      x [B, C, *], G groups: a group is (sample, channel
 *                   group), the feature the channel
 * xhat = (x - mean)·rstd (rms: mean 0), y = xhat·w + b; backward with
 * dxhat = g·w: dx = rstd·(dxhat - mean(dxhat) - xhat·mean(dxhat·xhat)),
 * dw = Σ g·xhat, db = Σ g. Eval-mode batch_norm (running statistics)
 * has dx = rstd·dxhat. */
#include <math.h>

#include "tape_ops_internal.h"

typedef enum { NORM_LAYER, NORM_RMS, NORM_BATCH, NORM_GROUP } norm_kind;

static const char *const norm_names[] = {"tape_layer_norm", "tape_rms_norm",
                                         "tape_batch_norm", "tape_group_norm"};

typedef struct geometry {
    norm_kind kind;
    int64_t n_groups, row;   /* layer/rms: row length */
    int64_t batch, channels, inner, per_group;   /* batch/group norm */
} geometry;

static void geometry_make(norm_kind kind, const mt_tensor *x, int64_t n_groups, geometry *g)
{
    int64_t total = mt_tensor_numel(x);
    g->kind = kind;
    g->n_groups = n_groups;
    g->row = n_groups ? total / n_groups : 0;
    g->batch = x->rank > 0 ? x->shape[0] : 1;
    g->channels = x->rank > 1 ? x->shape[1] : 1;
    g->inner = g->batch * g->channels != 0 ? total / (g->batch * g->channels) : 0;
    int64_t groups_per_sample = kind == NORM_GROUP && g->batch ? n_groups / g->batch : 1;
    g->per_group = groups_per_sample ? g->channels / groups_per_sample : 1;
}

static inline void locate(const geometry *g, int64_t e, int64_t *group, int64_t *feature)
{
    if (g->kind == NORM_LAYER || g->kind == NORM_RMS) {
        *group = e / g->row;
        *feature = e % g->row;
        return;
    }
    int64_t c = e / g->inner % g->channels;
    *feature = c;
    *group = g->kind == NORM_BATCH ? c
             : e / (g->inner * g->channels) * (g->channels / g->per_group) + c / g->per_group;
}

static mt_status norm_backward(mt_tape *tape, const tape_node *n)
{
    mt_value *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const mt_tensor *xhat = n->saved, *rstd_t = n->saved2, *gt = n->out->grad;
    geometry geo;
    geometry_make((norm_kind)(n->i & 0xf), x->data, mt_tensor_numel(rstd_t), &geo);
    bool running = n->i >> 4 & 1;   /* eval-mode batch_norm: statistics are constants */
    int64_t total = mt_tensor_numel(xhat);
    const float *xh = xhat->data, *rstd = rstd_t->data, *g = gt->data;
    const float *pw = w ? w->data->data : NULL;
    mt_tensor *dw = NULL, *db = NULL, *dx = NULL, *sums;
    mt_status s;
    if ((s = mt_grad_target(tape, w, &dw)) || (s = mt_grad_target(tape, b, &db)) ||
        (s = mt_grad_target(tape, x, &dx)) ||
        (s = mt_arena_tensor(tape->arena, MT_DTYPE_F64, 1, (int64_t[]){2 * geo.n_groups},
                             &sums)))
        return s;
    if ((dw && (s = mt_tensor_fill(dw, 0.0f))) || (db && (s = mt_tensor_fill(db, 0.0f))))
        return s;
    double *s1 = sums->data, *s2 = s1 + geo.n_groups;
    for (int64_t e = 0; e < total; e++) {
        int64_t grp, f;
        locate(&geo, e, &grp, &f);
        float dxhat = g[e] * (pw ? pw[f] : 1.0f);
        s1[grp] += dxhat;
        s2[grp] += (double)dxhat * xh[e];
        if (dw)
            ((float *)dw->data)[f] += g[e] * xh[e];
        if (db)
            ((float *)db->data)[f] += g[e];
    }
    if (dx) {
        float *d = dx->data;
        double count = geo.n_groups ? (double)total / (double)geo.n_groups : 1.0;
        bool centred = geo.kind != NORM_RMS;
        for (int64_t e = 0; e < total; e++) {
            int64_t grp, f;
            locate(&geo, e, &grp, &f);
            double dxhat = g[e] * (pw ? pw[f] : 1.0f);
            if (!running)
                dxhat -= (centred ? s1[grp] / count : 0.0) + xh[e] * s2[grp] / count;
            d[e] = (float)(rstd[grp] * dxhat);
        }
    }
    if ((s = mt_grad_commit(tape, w, dw)) || (s = mt_grad_commit(tape, b, db)))
        return s;
    return mt_grad_commit(tape, x, dx);
}

typedef struct norm_args {
    int n_dims;                       /* layer/rms: normalised trailing dims */
    int groups;                       /* group_norm */
    mt_tensor *running_mean, *running_var;   /* batch_norm, may be NULL */
    float momentum, eps;
} norm_args;

static mt_status norm(norm_kind kind, mt_tape *tape, mt_value *x, mt_value *w, mt_value *b,
                      const norm_args *a, mt_value **out)
{
    const char *op = norm_names[kind];
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)))
        return s;
    // as the plain ops refuse them; a NaN momentum would also corrupt the
    // caller's running statistics
    if (!(a->eps >= 0.0f) || isinf(a->eps))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: eps %g must be finite and >= 0", op,
                       (double)a->eps);
    if (kind == NORM_BATCH && !(a->momentum >= 0.0f && a->momentum <= 1.0f))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: momentum %g must be in [0, 1]", op,
                       (double)a->momentum);
    const mt_tensor *t = x->data;
    /* the affine parameters' shape: the trailing n_dims (layer/rms), [C] */
    int p_rank = 1;
    const int64_t *p_shape;
    int64_t n_groups;
    if (kind == NORM_LAYER || kind == NORM_RMS) {
        if (a->n_dims < 1 || a->n_dims > t->rank)
            return mt_fail(MT_ERR_SHAPE, "%s: %d normalised dims for %s", op, a->n_dims,
                           MT_SHAPE(t));
        p_rank = a->n_dims;
        p_shape = t->shape + t->rank - a->n_dims;
        n_groups = 1;
        for (int i = 0; i < t->rank - a->n_dims; i++)
            n_groups *= t->shape[i];
    } else {
        if (t->rank < 2)
            return mt_fail(MT_ERR_SHAPE, "%s: x %s must be [N, C, *]", op, MT_SHAPE(t));
        p_shape = t->shape + 1;
        if (kind == NORM_GROUP && (a->groups < 1 || t->shape[1] % a->groups))
            return mt_fail(MT_ERR_SHAPE, "%s: %d groups do not divide the %lld channels of %s",
                           op, a->groups, (long long)t->shape[1], MT_SHAPE(t));
        n_groups = kind == NORM_BATCH ? t->shape[1] : t->shape[0] * a->groups;
    }
    for (int k = 0; k < 2; k++) {
        const mt_value *pv = k ? b : w;
        if (!pv)
            continue;
        bool ok = pv->data && pv->data->rank == p_rank && pv->data->dtype == MT_DTYPE_F32;
        for (int i = 0; ok && i < p_rank; i++)
            ok = pv->data->shape[i] == p_shape[i];
        if (!ok)
            return mt_fail(MT_ERR_SHAPE, "%s: %s %s does not fit x %s", op,
                           k ? "bias" : "weight", pv->data ? MT_SHAPE(pv->data) : "NULL",
                           MT_SHAPE(t));
        if ((s = mt_tape_owns(op, tape, pv, k ? "bias" : "weight")))
            return s;
    }
    bool use_running = kind == NORM_BATCH && !tape->training && a->running_mean &&
                       a->running_var;
    if (kind == NORM_BATCH) {
        /* one alone would be ignored silently; one tensor for both would get
         * the mean and then the variance written into it */
        const mt_tensor *rm = a->running_mean, *rv = a->running_var;
        if (!rm != !rv || (rm && rm->data == rv->data))
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: running_mean %s and running_var %s must be two tensors, or "
                           "both NULL", op, rm ? MT_SHAPE(rm) : "NULL", rv ? MT_SHAPE(rv) : "NULL");
        for (int k = 0; k < 2; k++) {
            const mt_tensor *r = k ? a->running_var : a->running_mean;
            if (r && (r->dtype != MT_DTYPE_F32 || mt_tensor_numel(r) != t->shape[1] ||
                      !mt_tensor_is_contiguous(r)))
                return mt_fail(MT_ERR_SHAPE, "%s: %s %s must be contiguous F32 [%lld]", op,
                               k ? "running_var" : "running_mean", MT_SHAPE(r),
                               (long long)t->shape[1]);
        }
        if (!use_running && mt_tensor_numel(t) / (n_groups ? n_groups : 1) < 2 &&
            tape->training)
            return mt_fail(MT_ERR_SHAPE, "%s: training needs more than one value per "
                           "channel, x is %s", op, MT_SHAPE(t));
    }
    geometry geo;
    geometry_make(kind, t, n_groups, &geo);
    /* without a gradient to record (no_grad, constants) xhat lives in y */
    bool record = tape->grad_enabled && (x->requires_grad || (w && w->requires_grad) ||
                                         (b && b->requires_grad));
    mt_value *v;
    mt_tensor *xc = NULL, *xhat = NULL, *rstd_t, *stats;
    if ((s = mt_tape_value(tape, op, t->rank, t->shape, &v)) ||
        (record && (s = mt_tape_scratch(tape, op, t->rank, t->shape, &xhat))) ||
        (s = mt_tape_scratch(tape, op, 1, &n_groups, &rstd_t)) ||
        (s = mt_arena_tensor(tape->arena, MT_DTYPE_F64, 1, (int64_t[]){2 * n_groups}, &stats)))
        return s;
    /* the passes below read x in row-major order: a strided x is copied once */
    if (!mt_tensor_is_contiguous(t) &&
        ((s = mt_tape_scratch(tape, op, t->rank, t->shape, &xc)) ||
         (s = mt_tensor_copy_into(t, xc))))
        return s;
    int64_t total = mt_tensor_numel(t);
    const float *px = xc ? xc->data : t->data;
    double *mean = stats->data, *sq = mean + n_groups;
    float *rstd = rstd_t->data;
    double count = n_groups ? (double)total / (double)n_groups : 1.0;
    if (use_running) {
        for (int64_t c = 0; c < n_groups; c++) {
            mean[c] = ((const float *)a->running_mean->data)[c];
            rstd[c] = (float)(1.0 / sqrt((double)((const float *)a->running_var->data)[c] +
                                          (double)a->eps));
        }
    } else {
        for (int64_t e = 0; e < total; e++) {
            int64_t grp, f;
            locate(&geo, e, &grp, &f);
            mean[grp] += kind == NORM_RMS ? 0.0 : px[e];
        }
        for (int64_t c = 0; c < n_groups; c++)
            mean[c] /= count;
        for (int64_t e = 0; e < total; e++) {
            int64_t grp, f;
            locate(&geo, e, &grp, &f);
            sq[grp] += (px[e] - mean[grp]) * (px[e] - mean[grp]);
        }
        for (int64_t c = 0; c < n_groups; c++)
            rstd[c] = (float)(1.0 / sqrt(sq[c] / count + (double)a->eps));
    }
    const float *pw = w ? w->data->data : NULL, *pb = b ? b->data->data : NULL;
    float *y = v->data->data, *xh = xhat ? xhat->data : y;
    for (int64_t e = 0; e < total; e++) {
        int64_t grp, f;
        locate(&geo, e, &grp, &f);
        xh[e] = (float)((px[e] - mean[grp]) * rstd[grp]);
        y[e] = xh[e] * (pw ? pw[f] : 1.0f) + (pb ? pb[f] : 0.0f);
    }
    tape_node node = {.op = op, .backward = norm_backward, .out = v, .in = {x, w, b},
                      .saved = xhat, .saved2 = rstd_t, .i = kind | (use_running ? 16 : 0)};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    if (kind == NORM_BATCH && !use_running && tape->training && a->running_mean &&
        a->running_var) {
        /* torch: running = (1 - m)·running + m·batch, the variance unbiased */
        float *rm = a->running_mean->data, *rv = a->running_var->data, m = a->momentum;
        for (int64_t c = 0; c < n_groups; c++) {
            rm[c] = (1.0f - m) * rm[c] + m * (float)mean[c];
            rv[c] = (1.0f - m) * rv[c] + m * (float)(sq[c] / (count - 1.0));
        }
    }
    *out = v;
    return MT_OK;
}

mt_status mt_tape_layer_norm(mt_tape *tape, mt_value *x, int n_dims, mt_value *weight,
                             mt_value *bias, float eps, mt_value **out)
{
    norm_args a = {.n_dims = n_dims, .eps = eps};
    return norm(NORM_LAYER, tape, x, weight, bias, &a, out);
}

mt_status mt_tape_rms_norm(mt_tape *tape, mt_value *x, int n_dims, mt_value *weight, float eps,
                           mt_value **out)
{
    norm_args a = {.n_dims = n_dims, .eps = eps};
    return norm(NORM_RMS, tape, x, weight, NULL, &a, out);
}

mt_status mt_tape_batch_norm(mt_tape *tape, mt_value *x, mt_tensor *running_mean,
                             mt_tensor *running_var, mt_value *weight, mt_value *bias,
                             float momentum, float eps, mt_value **out)
{
    norm_args a = {.running_mean = running_mean, .running_var = running_var,
                   .momentum = momentum, .eps = eps};
    return norm(NORM_BATCH, tape, x, weight, bias, &a, out);
}

mt_status mt_tape_group_norm(mt_tape *tape, mt_value *x, int groups, mt_value *weight,
                             mt_value *bias, float eps, mt_value **out)
{
    norm_args a = {.groups = groups, .eps = eps};
    return norm(NORM_GROUP, tape, x, weight, bias, &a, out);
}
