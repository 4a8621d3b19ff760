/* norm_layers.c — BatchNorm at inference: one scale and one shift per
 * channel, computed from the running statistics when the layer is made. It
 * describes itself as an epilogue, so a Linear or Conv2D before it folds it
 * into its weights. */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"
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
    if (!(o.eps >= 0.0f) || o.channel_dim < -MT_MAX_RANK || o.channel_dim >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: eps %g or channel dim %d is out of "
                       "range", name, (double)o.eps, o.channel_dim);
    if (mean->rank != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: mean %s, expected 1 dim", name,
                       mt_tensor_describe(mean, ms, sizeof ms));
    int64_t c = mean->shape[0];
    float eps = o.eps > 0.0f ? o.eps : 1e-5f;
    mt_tensor *m = NULL, *v = NULL, *w = NULL, *b = NULL;
    mt_status s = vector(name, "mean", mean, c, &m);
    if (!s)
        s = vector(name, "var", var, c, &v);
    if (!s && weight)
        s = vector(name, "weight", weight, c, &w);
    if (!s && bias)
        s = vector(name, "bias", bias, c, &b);
    mt_layer *l = NULL;
    if (!s && !(l = nn_layer_alloc("batch_norm", &bn_vtable, MT_LAYER_BATCH_NORM, name,
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
