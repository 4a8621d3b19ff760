/* broadcast_layers.c — layers with one learned tensor broadcast over each
 * sample from its last dim: PReLU (x > 0 ? x : a·x; PyTorch's nn.PReLU on
 * channels-last activations, Keras' PReLU with or without shared_axes),
 * Scale (x·w: ConvNeXt's and CaiT's layer scale) and Bias (x + w: a
 * learned position embedding). */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"

typedef struct prelu_state {
    mt_tensor *alpha;   /* F32 contiguous, owned: [1], [C] or a sample's shape with 1s;
                           Scale, Bias: their weight */
} prelu_state;

/* in must be F32 with more dims than alpha (the batch comes first; a
 * leading 1 of alpha may stand for it) and alpha's dims, aligned with its
 * last ones, equal to them or 1. */
static mt_status prelu_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    (void)n;
    const mt_tensor *a = ((const prelu_state *)l->state)->alpha;
    bool fits = in->dtype == MT_DTYPE_F32 &&
                (in->rank > a->rank || (in->rank == a->rank && a->shape[0] == 1));
    for (int d = 0; fits && d < a->rank; d++) {
        int64_t got = in->dim[in->rank - a->rank + d];
        fits = a->shape[d] == 1 || a->shape[d] == got;
    }
    if (!fits) {
        char want[160], got[160] = "N";   /* the batch: 1 when the layer is added */
        size_t at = 1;
        for (int d = 1; d < in->rank && at < sizeof got; d++)
            at += (size_t)snprintf(got + at, sizeof got - at, ",%lld", (long long)in->dim[d]);
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N, …] whose last dims fit weight %s "
                       "(each equal or 1; PyTorch's [C] is the channels, last in NHWC), %s "
                       "gives %s [%s]", mt_tensor_describe(a, want, sizeof want), from[0],
                       mt_dtype_name(in->dtype), got);
    }
    *out = in[0];
    return MT_OK;
}

static size_t prelu_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)l, (void)n;
    size_t count = 1;
    for (int d = 0; d < in->rank; d++)
        count *= (size_t)in->dim[d];
    return count * sizeof(float);
}

/* out = max(x, 0) + alpha·min(x, 0); the positive part waits in scratch */
static mt_status prelu_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n;
    const prelu_state *st = l->state;
    mt_tensor pos;
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, out->rank, out->shape, scratch, &pos);
    if (!s)
        s = mt_relu_into(in[0], &pos);
    if (!s)
        s = mt_clamp_into(in[0], -INFINITY, 0.0f, out);
    if (!s)
        s = mt_mul_into(out, st->alpha, out);
    return s ? s : mt_add_into(out, &pos, out);
}

static void prelu_release(void *state)
{
    mt_tensor_free(((prelu_state *)state)->alpha);
}

static const mt_layer_vtable prelu_vtable = {
    .n_inputs = 1,
    .infer = prelu_infer,
    .forward = prelu_forward,
    .scratch_bytes = prelu_scratch,
    .release = prelu_release,
};

/* x·w, x + w */
static mt_status scale_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const mt_tensor *w = ((const prelu_state *)l->state)->alpha;
    return l->info.kind == MT_LAYER_SCALE ? mt_mul_into(in[0], w, out)
                                          : mt_add_into(in[0], w, out);
}

static const mt_layer_vtable scale_vtable = {
    .n_inputs = 1,
    .infer = prelu_infer,
    .forward = scale_forward,
    .release = prelu_release,
};

/* A layer of `kind` holding weight (checked: 1..7 dims, none 0, finite) */
static mt_status weight_layer_new(const char *op, const mt_layer_vtable *vt, mt_layer_kind kind,
                                  const mt_tensor *weight, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (!weight)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: weight is NULL", op);
    char name[MT_NAME_MAX + 16], ws[160];
    snprintf(name, sizeof name, "%s%s%s", op, weight->name[0] ? " " : "", weight->name);
    if (weight->rank < 1 || weight->rank >= MT_MAX_RANK || mt_tensor_numel(weight) < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s: expected 1 to %d dims, none of them 0",
                       name, mt_tensor_describe(weight, ws, sizeof ws), MT_MAX_RANK - 1);
    mt_status s = mt_nn_check_finite(name, weight);
    if (s)
        return s;
    mt_layer *l = mt_nn_layer_alloc(op, vt, kind, name, sizeof(prelu_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    if ((s = mt_nn_hold_for(name, "weight", weight, true,
                              &((prelu_state *)l->state)->alpha))) {
        mt_layer_free(l);
        return s;
    }
    *out = l;
    return MT_OK;
}

mt_status mt_prelu_new(const mt_tensor *weight, mt_layer **out)
{
    return weight_layer_new("prelu", &prelu_vtable, MT_LAYER_PRELU, weight, out);
}

mt_status mt_scale_new(const mt_tensor *weight, mt_layer **out)
{
    return weight_layer_new("scale", &scale_vtable, MT_LAYER_SCALE, weight, out);
}

mt_status mt_bias_new(const mt_tensor *weight, mt_layer **out)
{
    return weight_layer_new("bias", &scale_vtable, MT_LAYER_BIAS, weight, out);
}
