/* activation_more.c — the activation layers built from ops.h's unary and
 * binary ops (no fused form; they run on their own): SELU, CELU, Mish,
 * Softsign, LogSigmoid, Tanhshrink, LogSoftmax and GLU; and Keras'
 * Rescaling (x·scale + offset). Each writes `out` from its input once,
 * then works on `out` in place (CELU in one loop of its own). */
#include <assert.h>
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/reduce.h"
#include "minitensor/view.h"

/* torch.nn.SELU's constants */
#define SELU_ALPHA 1.6732632423543772848170429916717f
#define SELU_SCALE 1.0507009873554804934193349852946f

static mt_status more_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const mt_tensor *x = in[0];
    mt_status s;
    switch (l->info.kind) {
    case MT_LAYER_SELU:      /* scale·elu(x, alpha) */
        s = mt_elu_into(x, SELU_ALPHA, out);
        return s ? s : mt_mul_scalar_into(out, SELU_SCALE, out);
    case MT_LAYER_MISH:      /* x·tanh(softplus(x)) */
        s = mt_softplus_into(x, out);
        if (!s)
            s = mt_tanh_into(out, out);
        return s ? s : mt_mul_into(out, x, out);
    case MT_LAYER_SOFTSIGN:  /* x / (1 + |x|) */
        s = mt_abs_into(x, out);
        if (!s)
            s = mt_add_scalar_into(out, 1.0f, out);
        return s ? s : mt_div_into(x, out, out);
    case MT_LAYER_LOG_SIGMOID:   /* -softplus(-x) */
        s = mt_neg_into(x, out);
        if (!s)
            s = mt_softplus_into(out, out);
        return s ? s : mt_neg_into(out, out);
    case MT_LAYER_TANHSHRINK:    /* x - tanh(x) */
        s = mt_tanh_into(x, out);
        return s ? s : mt_sub_into(x, out, out);
    case MT_LAYER_LOG_SOFTMAX:
        return mt_log_softmax_into(x, l->info.dim, out);
    default:
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: not an activation of activation_more.c",
                       l->info.name);
    }
}

/* dim (log softmax's, GLU's) within the input's dims; for GLU, even
 * there (GLU may halve the batch: it changes it, so a model runs it in one
 * pass); for log softmax not the batch */
static mt_status dim_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)n;
    int dim = l->info.dim, d = dim < 0 ? dim + in->rank : dim;
    bool glu = l->info.kind == MT_LAYER_GLU;
    mt_status s = glu ? MT_OK : mt_nn_check_row_dim(dim, in, from[0]);
    if (s)
        return s;
    if (d < 0 || d >= in->rank)
        return mt_fail(MT_ERR_SHAPE, "dim %d is out of range for the %d dims %s gives", dim,
                       in->rank, from[0]);
    if (glu && in->dim[d] % 2)
        return mt_fail(MT_ERR_SHAPE, "halves dim %d, %s gives it %lld entries (odd)", dim,
                       from[0], (long long)in->dim[d]);
    *out = *in;
    if (glu)
        out->dim[d] /= 2;
    return MT_OK;
}

/* GLU: a·sigmoid(b), a and b the two halves of x along dim */
static mt_status glu_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const mt_tensor *x = in[0];
    int d = l->info.dim < 0 ? l->info.dim + x->rank : l->info.dim;
    int64_t half = x->shape[d] / 2;
    mt_tensor a, b;
    mt_status s = mt_narrow_into(x, d, 0, half, &a);
    if (!s)
        s = mt_narrow_into(x, d, half, half, &b);
    if (!s)
        s = mt_sigmoid_into(&b, out);
    return s ? s : mt_mul_into(out, &a, out);
}

/* CELU as PyTorch 1.13's ELU kernel computes it: x <= 0 ? (exp(x ·
 * (1/alpha)) - 1) · alpha : x, the branch chosen by x's sign, not by
 * x/alpha's (they differ for alpha < 0), and x passed through as is
 * (x/alpha·alpha overflows for large x and alpha < 1). Copied into `out`
 * (the model's contiguous F32 buffer) once, then rewritten in place. */
static mt_status celu_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    assert(out->dtype == MT_DTYPE_F32 && mt_tensor_is_contiguous(out));
    mt_status s = mt_tensor_copy_into(in[0], out);
    if (s)
        return s;
    const float a = l->info.rate;
    const float inv = (float)(1.0 / (double)a);   /* PyTorch's input_scale, as a float */
    float *y = out->data;
    int64_t count = mt_tensor_numel(out);
    for (int64_t i = 0; i < count; i++)
        y[i] = y[i] <= 0.0f ? (expf(y[i] * inv) - 1.0f) * a : y[i];
    return MT_OK;
}

static const mt_layer_vtable celu_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same_f32, .forward = celu_forward};
static const mt_layer_vtable more_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same, .forward = more_forward};
static const mt_layer_vtable log_softmax_vtable = {
    .n_inputs = 1, .infer = dim_infer, .forward = more_forward};
static const mt_layer_vtable glu_vtable = {
    .n_inputs = 1, .infer = dim_infer, .forward = glu_forward};

static mt_status more_new(const char *op, const mt_layer_vtable *vt, mt_layer_kind kind,
                          const char *name, float rate, mt_layer **out)
{
    mt_layer *l = mt_nn_layer_alloc(op, vt, kind, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.rate = rate;
    *out = l;
    return MT_OK;
}

#define MORE_NEW(fn, op, kind)                                                      \
    mt_status fn(mt_layer **out)                                                    \
    {                                                                               \
        if (!out)                                                                   \
            return mt_fail(MT_ERR_INVALID_ARGUMENT, op ": out is NULL");            \
        *out = NULL;                                                                \
        return more_new(op, &more_vtable, kind, op, 0.0f, out);                     \
    }

MORE_NEW(mt_selu_new, "selu", MT_LAYER_SELU)
MORE_NEW(mt_mish_new, "mish", MT_LAYER_MISH)
MORE_NEW(mt_softsign_new, "softsign", MT_LAYER_SOFTSIGN)
MORE_NEW(mt_log_sigmoid_new, "log_sigmoid", MT_LAYER_LOG_SIGMOID)
MORE_NEW(mt_tanhshrink_new, "tanhshrink", MT_LAYER_TANHSHRINK)

mt_status mt_celu_new(float alpha, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "celu: out is NULL");
    *out = NULL;
    /* PyTorch refuses an alpha whose 1/alpha overflows a float too */
    if (!isfinite(alpha) || alpha == 0.0f || !isfinite((float)(1.0 / (double)alpha)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "celu: alpha %g, expected finite, not 0, "
                       "and 1/alpha finite as a float", (double)alpha);
    char name[40];
    snprintf(name, sizeof name, "celu %g", (double)alpha);
    return more_new("celu", &celu_vtable, MT_LAYER_CELU, name, alpha, out);
}

/* ---- Rescaling ---------------------------------------------------------------------- */

typedef struct rescaling_state {
    float scale, offset;
} rescaling_state;

static mt_status rescaling_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                   void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const rescaling_state *st = l->state;
    mt_status s = mt_mul_scalar_into(in[0], st->scale, out);
    return s ? s : mt_add_scalar_into(out, st->offset, out);
}

static const mt_layer_vtable rescaling_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same, .forward = rescaling_forward};

mt_status mt_rescaling_new(float scale, float offset, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "rescaling: out is NULL");
    *out = NULL;
    if (!isfinite(scale) || !isfinite(offset))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "rescaling: scale %g, offset %g: expected "
                       "finite values", (double)scale, (double)offset);
    char name[64];
    snprintf(name, sizeof name, "rescaling %g %+g", (double)scale, (double)offset);
    mt_layer *l = mt_nn_layer_alloc("rescaling", &rescaling_vtable, MT_LAYER_RESCALING, name,
                                    sizeof(rescaling_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(rescaling_state *)l->state = (rescaling_state){scale, offset};
    l->info.rate = scale;
    *out = l;
    return MT_OK;
}

mt_status mt_log_softmax_new(int dim, mt_layer **out)
{
    return mt_nn_dim_layer_new("log_softmax", &log_softmax_vtable, MT_LAYER_LOG_SOFTMAX, dim,
                               out);
}

mt_status mt_glu_new(int dim, mt_layer **out)
{
    return mt_nn_dim_layer_new("glu", &glu_vtable, MT_LAYER_GLU, dim, out);
}
