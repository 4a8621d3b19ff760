/* norm_layers.c — BatchNorm at inference: one scale and one shift per
 * channel, computed from the running statistics when the layer is made. It
 * describes itself as an epilogue, so a Linear or Conv2D before it folds it
 * into its weights. LayerNorm, RMSNorm and GroupNorm run on their own. */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/norm.h"
#include "minitensor/view.h"

typedef struct bn_state {
    mt_tensor *scale, *shift;   /* [C], owned */
} bn_state;

static int channel_dim(const mt_layer *l, int rank)
{
    int d = l->info.dim ? l->info.dim : -1;
    return d < 0 ? d + rank : d;
}

static mt_status bn_infer(const mt_layer *l, int n, const mt_shape *in,
                          const char *const *from, mt_shape *out)
{
    (void)n;
    int d = channel_dim(l, in->rank);
    if (d < 0 || d >= in->rank)
        return mt_fail(MT_ERR_SHAPE, "channel dim %d is out of range for the %d dims %s "
                       "gives", l->info.dim ? l->info.dim : -1, in->rank, from[0]);
    if (in->dim[d] != l->info.in_channels)
        return mt_fail(MT_ERR_SHAPE, "expects %lld channels in dim %d, %s gives %lld",
                       (long long)l->info.in_channels, d, from[0], (long long)in->dim[d]);
    *out = *in;
    return MT_OK;
}

static mt_status bn_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                            void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const bn_state *st = l->state;
    const mt_tensor *x = in[0];
    int d = channel_dim(l, x->rank);
    int64_t shape[MT_MAX_RANK];   /* [C,1,…,1]: broadcast along dim d */
    int rank = x->rank - d;
    shape[0] = l->info.in_channels;
    for (int i = 1; i < rank; i++)
        shape[i] = 1;
    mt_tensor scale, shift;
    mt_status s = mt_view_into(st->scale, rank, shape, &scale);
    if (!s)
        s = mt_view_into(st->shift, rank, shape, &shift);
    if (!s)
        s = mt_mul_into(x, &scale, out);
    if (!s)
        s = mt_add_into(out, &shift, out);
    return s;
}

static bool bn_as_epilogue(const mt_layer *l, mt_layer_epilogue *e)
{
    if (l->info.dim != 0 && l->info.dim != -1)   /* the channels are not last */
        return false;
    const bn_state *st = l->state;
    *e = (mt_layer_epilogue){.scale = st->scale, .shift = st->shift};
    return true;
}

static void bn_release(void *state)
{
    bn_state *st = state;
    mt_tensor_free(st->scale);
    mt_tensor_free(st->shift);
}

static const mt_layer_vtable bn_vtable = {
    .n_inputs = 1,
    .infer = bn_infer,
    .forward = bn_forward,
    .as_epilogue = bn_as_epilogue,
    .release = bn_release,
};

/* t as contiguous F32 [c] (a new tensor), or an error naming it. */
static mt_status vector(const char *name, const char *what, const mt_tensor *t, int64_t c,
                        mt_tensor **out)
{
    char ts[160];
    if (t->rank != 1 || t->shape[0] != c)
        return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected [%lld]", name, what,
                       mt_tensor_describe(t, ts, sizeof ts), (long long)c);
    return mt_tensor_to_f32(t, out);
}

mt_status mt_batch_norm_new(const mt_tensor *mean, const mt_tensor *var,
                            const mt_tensor *weight, const mt_tensor *bias,
                            const mt_batch_norm_options *options, mt_layer **out)
{
    if (!out || !mean || !var)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "batch_norm: %s is NULL",
                       !out ? "out" : !mean ? "mean" : "var");
    *out = NULL;
    const mt_batch_norm_options o = options ? *options : (mt_batch_norm_options){0};
    char name[MT_NAME_MAX + 16], ms[160];
    snprintf(name, sizeof name, "batch_norm%s%s", mean->name[0] ? " " : "", mean->name);
    mt_status s;
    if ((s = mt_nn_check_weight(name, "mean", mean)) ||
        (s = mt_nn_check_weight(name, "var", var)) ||
        (s = mt_nn_check_weight(name, "weight", weight)) ||
        (s = mt_nn_check_weight(name, "bias", bias)))
        return s;
    if (!(o.eps >= 0.0f) || isinf(o.eps) || o.channel_dim < -MT_MAX_RANK ||
        o.channel_dim >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: eps %g or channel dim %d is out of "
                       "range", name, (double)o.eps, o.channel_dim);
    if (mean->rank != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: mean %s, expected 1 dim", name,
                       mt_tensor_describe(mean, ms, sizeof ms));
    int64_t c = mean->shape[0];
    float eps = o.eps > 0.0f ? o.eps : 1e-5f;
    mt_tensor *m = NULL, *v = NULL, *w = NULL, *b = NULL;
    s = vector(name, "mean", mean, c, &m);
    if (!s)
        s = vector(name, "var", var, c, &v);
    if (!s && weight)
        s = vector(name, "weight", weight, c, &w);
    if (!s && bias)
        s = vector(name, "bias", bias, c, &b);
    /* a negative variance (corrupt statistics) would give NaN: refuse it */
    for (int64_t i = 0; !s && i < c; i++) {
        double vi = ((const float *)v->data)[i];
        if (!(vi >= 0.0))
            s = mt_fail(MT_ERR_FORMAT, "%s: var %s is %g at index %lld, expected >= 0 (a "
                        "variance)", name, mt_tensor_describe(var, ms, sizeof ms), vi,
                        (long long)i);
    }
    mt_layer *l = NULL;
    if (!s && !(l = mt_nn_layer_alloc("batch_norm", &bn_vtable, MT_LAYER_BATCH_NORM, name,
                                   sizeof(bn_state))))
        s = MT_ERR_OUT_OF_MEMORY;
    bn_state *st = l ? l->state : NULL;
    if (!s && !(s = mt_tensor_zeros(MT_DTYPE_F32, 1, &c, &st->scale)))
        s = mt_tensor_zeros(MT_DTYPE_F32, 1, &c, &st->shift);
    if (!s) {
        /* scale = w / sqrt(var + eps), shift = b - mean * scale, in double */
        float *sc = st->scale->data, *sh = st->shift->data;
        const float *mv = m->data, *vv = v->data;
        for (int64_t i = 0; i < c; i++) {
            double k = (w ? ((const float *)w->data)[i] : 1.0) / sqrt((double)vv[i] + eps);
            sc[i] = (float)k;
            sh[i] = (float)((b ? ((const float *)b->data)[i] : 0.0) - mv[i] * k);
        }
        l->info.in_channels = c;
        l->info.eps = eps;
        l->info.dim = o.channel_dim;
        l->info.has_bias = bias != NULL;
        *out = l;
    } else {
        mt_layer_free(l);
    }
    mt_tensor_free(m);
    mt_tensor_free(v);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

/* ---- LayerNorm and RMSNorm: over the last dims, per sample ---------------------- */

typedef struct ln_state {
    mt_tensor *weight, *bias;   /* [normalized shape] F32 or NULL; owned */
    int64_t shape[MT_MAX_RANK]; /* the normalized shape (if known) */
    bool rms;
} ln_state;

static mt_status ln_infer(const mt_layer *l, int n, const mt_shape *in,
                          const char *const *from, mt_shape *out)
{
    (void)n;
    const ln_state *st = l->state;
    int k = l->info.dim;   /* normalized rank */
    bool fits = in->rank >= k && in->dtype == MT_DTYPE_F32;
    for (int d = 0; fits && st->weight && d < k; d++)
        fits = in->dim[in->rank - k + d] == st->shape[d];
    if (!fits) {
        char want[160] = "", got[160] = "";
        size_t a = 0, b = 0;
        for (int d = 0; d < k && st->weight; d++)
            a += (size_t)snprintf(want + a, sizeof want - a, "%s%lld", d ? "," : "",
                                  (long long)st->shape[d]);
        for (int d = 0; d < in->rank && b < sizeof got; d++)
            b += (size_t)snprintf(got + b, sizeof got - b, "%s%lld", d ? "," : "",
                                  (long long)in->dim[d]);
        return mt_fail(MT_ERR_SHAPE, "expects F32 [..., %s] (%d normalized dims), %s gives "
                       "%s [%s]", want, k, from[0], mt_dtype_name(in->dtype), got);
    }
    *out = *in;
    return MT_OK;
}

static mt_status ln_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                            void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const ln_state *st = l->state;
    if (st->rms)
        return mt_rms_norm_into(in[0], l->info.dim, st->weight, l->info.eps, out);
    return mt_layer_norm_into(in[0], l->info.dim, st->weight, st->bias, l->info.eps, out);
}

static void ln_release(void *state)
{
    ln_state *st = state;
    mt_tensor_free(st->weight);
    mt_tensor_free(st->bias);
}

static const mt_layer_vtable ln_vtable = {
    .n_inputs = 1,
    .infer = ln_infer,
    .forward = ln_forward,
    .release = ln_release,
};

static mt_status norm_new(const char *op, bool rms, const mt_tensor *weight,
                          const mt_tensor *bias, const mt_norm_options *options,
                          mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    const mt_norm_options o = options ? *options : (mt_norm_options){0};
    const mt_tensor *ref = weight ? weight : bias;
    char name[MT_NAME_MAX + 16], ws[160], bs[160];
    snprintf(name, sizeof name, "%s%s%s", op, ref && ref->name[0] ? " " : "",
             ref ? ref->name : "");
    mt_status s;
    if ((s = mt_nn_check_weight(name, "weight", weight)) ||
        (s = mt_nn_check_weight(name, "bias", bias)))
        return s;
    int k = o.normalized_rank ? o.normalized_rank : ref ? ref->rank : 1;
    if (!(o.eps >= 0.0f) || isinf(o.eps) || k < 1 || k > MT_MAX_RANK ||
        (ref && ref->rank != k))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: eps %g or normalized rank %d does not "
                       "fit (weight/bias of rank %d)", name, (double)o.eps, k,
                       ref ? ref->rank : 0);
    if (weight && bias && !mt_tensor_same_shape(weight, bias))
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s and bias %s differ", name,
                       mt_tensor_describe(weight, ws, sizeof ws),
                       mt_tensor_describe(bias, bs, sizeof bs));
    mt_layer *l = mt_nn_layer_alloc(op, &ln_vtable, rms ? MT_LAYER_RMS_NORM : MT_LAYER_LAYER_NORM,
                                    name, sizeof(ln_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    ln_state *st = l->state;
    st->rms = rms;
    s = MT_OK;
    if (weight)
        s = mt_tensor_to_f32(weight, &st->weight);
    if (!s && bias)
        s = mt_tensor_to_f32(bias, &st->bias);
    if (s) {
        mt_layer_free(l);
        return s;
    }
    if (ref)
        for (int d = 0; d < k; d++)
            st->shape[d] = ref->shape[d];
    /* PyTorch's defaults: LayerNorm 1e-5; RMSNorm(eps=None) float32's epsilon */
    l->info.eps = o.eps > 0.0f ? o.eps : rms ? 1.1920929e-07f : 1e-5f;
    l->info.dim = k;
    l->info.has_bias = bias != NULL;
    *out = l;
    return MT_OK;
}

mt_status mt_layer_norm_new(const mt_tensor *weight, const mt_tensor *bias,
                            const mt_norm_options *options, mt_layer **out)
{
    return norm_new("layer_norm", false, weight, bias, options, out);
}

mt_status mt_rms_norm_new(const mt_tensor *weight, const mt_norm_options *options,
                          mt_layer **out)
{
    return norm_new("rms_norm", true, weight, NULL, options, out);
}

/* ---- GroupNorm: channels last, per sample and group ------------------------------- */

typedef struct gn_state {
    mt_tensor *weight, *bias;   /* [C] F32 or NULL; owned */
} gn_state;

static mt_status gn_infer(const mt_layer *l, int n, const mt_shape *in,
                          const char *const *from, mt_shape *out)
{
    (void)n;
    int64_t c = in->rank >= 2 ? in->dim[in->rank - 1] : 0, groups = l->info.dim;
    int64_t want = l->info.in_channels;
    if (in->dtype != MT_DTYPE_F32 || in->rank < 2 || c < 1 || c % groups != 0 ||
        (want && c != want))
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,...,C] with C %s%lld, %s gives %s with "
                       "%d dims and C = %lld", want ? "= " : "a multiple of ",
                       (long long)(want ? want : groups), from[0], mt_dtype_name(in->dtype),
                       in->rank, (long long)c);
    *out = *in;
    return MT_OK;
}

static mt_status gn_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                            void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const gn_state *st = l->state;
    return mt_group_norm_into(in[0], l->info.dim, -1, st->weight, st->bias, l->info.eps, out);
}

static void gn_release(void *state)
{
    gn_state *st = state;
    mt_tensor_free(st->weight);
    mt_tensor_free(st->bias);
}

static const mt_layer_vtable gn_vtable = {
    .n_inputs = 1,
    .infer = gn_infer,
    .forward = gn_forward,
    .release = gn_release,
};

mt_status mt_group_norm_new(int num_groups, const mt_tensor *weight, const mt_tensor *bias,
                            const mt_norm_options *options, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "group_norm: out is NULL");
    *out = NULL;
    const mt_norm_options o = options ? *options : (mt_norm_options){0};
    const mt_tensor *ref = weight ? weight : bias;
    char name[MT_NAME_MAX + 16], ws[160], bs[160];
    snprintf(name, sizeof name, "group_norm%s%s", ref && ref->name[0] ? " " : "",
             ref ? ref->name : "");
    mt_status s;
    if ((s = mt_nn_check_weight(name, "weight", weight)) ||
        (s = mt_nn_check_weight(name, "bias", bias)))
        return s;
    if (num_groups < 1 || !(o.eps >= 0.0f) || isinf(o.eps) || o.normalized_rank != 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: num_groups %d, eps %g or normalized "
                       "rank %d out of range (groups >= 1, eps >= 0, rank 0)", name,
                       num_groups, (double)o.eps, o.normalized_rank);
    if ((weight && weight->rank != 1) || (bias && bias->rank != 1) ||
        (weight && bias && weight->shape[0] != bias->shape[0]) ||
        (ref && ref->shape[0] % num_groups != 0))
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s and bias %s must be the same [C], C a "
                       "multiple of num_groups %d", name,
                       weight ? mt_tensor_describe(weight, ws, sizeof ws) : "none",
                       bias ? mt_tensor_describe(bias, bs, sizeof bs) : "none", num_groups);
    mt_layer *l = mt_nn_layer_alloc("group_norm", &gn_vtable, MT_LAYER_GROUP_NORM, name,
                                    sizeof(gn_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    gn_state *st = l->state;
    s = MT_OK;
    if (weight)
        s = mt_tensor_to_f32(weight, &st->weight);
    if (!s && bias)
        s = mt_tensor_to_f32(bias, &st->bias);
    if (s) {
        mt_layer_free(l);
        return s;
    }
    l->info.eps = o.eps > 0.0f ? o.eps : 1e-5f;
    l->info.dim = num_groups;
    l->info.in_channels = ref ? ref->shape[0] : 0;
    l->info.has_bias = bias != NULL;
    *out = l;
    return MT_OK;
}
