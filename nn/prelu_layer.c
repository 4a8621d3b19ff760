/* prelu_layer.c — PReLU with learned slopes: x > 0 ? x : a·x, the slopes
 * broadcast over the sample from its last dim (PyTorch's nn.PReLU on
 * channels-last activations, Keras' PReLU with or without shared_axes). */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"

typedef struct prelu_state {
    mt_tensor *alpha;   /* F32 contiguous, owned: [1], [C] or a sample's shape with 1s */
} prelu_state;

/* in must be F32 with more dims than alpha (the batch comes first) and
 * alpha's dims, aligned with its last ones, equal to them or 1. */
static mt_status prelu_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    (void)n;
    const mt_tensor *a = ((const prelu_state *)l->state)->alpha;
    bool fits = in->dtype == MT_DTYPE_F32 && in->rank > a->rank;
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

mt_status mt_prelu_new(const mt_tensor *weight, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "prelu: out is NULL");
    *out = NULL;
    if (!weight)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "prelu: weight is NULL");
    char name[MT_NAME_MAX + 16], ws[160];
    snprintf(name, sizeof name, "prelu%s%s", weight->name[0] ? " " : "", weight->name);
    if (weight->rank < 1 || weight->rank >= MT_MAX_RANK || mt_tensor_numel(weight) < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s: expected 1 to %d dims, none of them 0",
                       name, mt_tensor_describe(weight, ws, sizeof ws), MT_MAX_RANK - 1);
    mt_status s = mt_nn_check_finite(name, weight);
    if (s)
        return s;
    mt_layer *l = mt_nn_layer_alloc("prelu", &prelu_vtable, MT_LAYER_PRELU, name,
                                    sizeof(prelu_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    if ((s = mt_nn_hold(weight, true, &((prelu_state *)l->state)->alpha))) {
        mt_layer_free(l);
        return s;
    }
    *out = l;
    return MT_OK;
}
