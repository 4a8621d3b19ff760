/* activation_shrink.c — PyTorch's thresholding activations nn.Hardshrink,
 * nn.Softshrink and nn.Threshold, and the softmax variants nn.Softmin and
 * nn.Softmax2d. The thresholding three copy their input into `out` (the
 * model's contiguous F32 buffer) once, then rewrite it in place with
 * PyTorch 1.13's own comparisons, so that NaN, ±inf and the values exactly
 * at lambd or the threshold come out as PyTorch gives them. */
#include <assert.h>
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/reduce.h"

/* Threshold's value (lambd, or the threshold, is info.rate) */
typedef struct shrink_state {
    float value;
} shrink_state;

static mt_status shrink_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    assert(out->dtype == MT_DTYPE_F32 && mt_tensor_is_contiguous(out));
    mt_status s = mt_tensor_copy_into(in[0], out);
    if (s)
        return s;
    const shrink_state *st = l->state;
    const float at = l->info.rate, value = st->value;
    float *y = out->data;
    int64_t count = mt_tensor_numel(out);
    /* The comparisons as PyTorch 1.13's CPU kernels write them: a NaN
     * fails every one, so Hardshrink and Threshold pass it through and
     * Softshrink gives 0 (the tests hold PyTorch's values). */
    switch (l->info.kind) {
    case MT_LAYER_HARDSHRINK:
        for (int64_t i = 0; i < count; i++)
            y[i] = y[i] >= -at && y[i] <= at ? 0.0f : y[i];
        break;
    case MT_LAYER_SOFTSHRINK:
        for (int64_t i = 0; i < count; i++)
            y[i] = y[i] > at ? y[i] - at : y[i] < -at ? y[i] + at : 0.0f;
        break;
    default:   /* MT_LAYER_THRESHOLD */
        for (int64_t i = 0; i < count; i++)
            y[i] = y[i] <= at ? value : y[i];
        break;
    }
    return MT_OK;
}

static const mt_layer_vtable shrink_vtable = {
    .n_inputs = 1, .infer = mt_nn_infer_same_f32, .forward = shrink_forward};

static mt_status shrink_new(const char *op, mt_layer_kind kind, const char *name, float at,
                            float value, mt_layer **out)
{
    mt_layer *l = mt_nn_layer_alloc(op, &shrink_vtable, kind, name, sizeof(shrink_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(shrink_state *)l->state = (shrink_state){value};
    l->info.rate = at;
    *out = l;
    return MT_OK;
}

mt_status mt_hardshrink_new(float lambd, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "hardshrink: out is NULL");
    *out = NULL;
    if (isnan(lambd))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "hardshrink: lambd is NaN");
    char name[40];
    snprintf(name, sizeof name, "hardshrink %g", (double)lambd);
    return shrink_new("hardshrink", MT_LAYER_HARDSHRINK, name, lambd, 0.0f, out);
}

mt_status mt_softshrink_new(float lambd, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softshrink: out is NULL");
    *out = NULL;
    if (!(lambd >= 0.0f) || isinf(lambd))   /* PyTorch refuses lambd < 0 */
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softshrink: lambd %g, expected finite and "
                       ">= 0", (double)lambd);
    char name[40];
    snprintf(name, sizeof name, "softshrink %g", (double)lambd);
    return shrink_new("softshrink", MT_LAYER_SOFTSHRINK, name, lambd, 0.0f, out);
}

mt_status mt_threshold_new(float threshold, float value, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "threshold: out is NULL");
    *out = NULL;
    if (isnan(threshold))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "threshold: threshold is NaN");
    char name[64];
    snprintf(name, sizeof name, "threshold %g %g", (double)threshold, (double)value);
    return shrink_new("threshold", MT_LAYER_THRESHOLD, name, threshold, value, out);
}

/* ---- Softmin, Softmax2d --------------------------------------------------------------- */

static mt_status softmin_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    mt_status s = mt_nn_check_row_dim(l->info.dim, in, from[0]);
    return s ? s : mt_nn_infer_same_f32(l, n, in, from, out);
}

/* softmax over the channels of [N,H,W,C]: nn.Softmax2d's dim -3 of NCHW */
static mt_status softmax2d_infer(const mt_layer *l, int n, const mt_shape *in,
                                 const char *const *from, mt_shape *out)
{
    if (in->rank != 4) {
        char buf[160];
        return mt_fail(MT_ERR_SHAPE, "expects [N,H,W,C] (rank 4), %s gives %s", from[0],
                       mt_nn_shape_text(in, buf, sizeof buf));
    }
    return mt_nn_infer_same_f32(l, n, in, from, out);
}

/* softmin(x) = softmax(-x) */
static mt_status softmin_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    mt_status s = mt_neg_into(in[0], out);
    return s ? s : mt_softmax_into(out, l->info.dim, out);
}

static mt_status softmax2d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                   void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_softmax_into(in[0], l->info.dim, out);
}

static const mt_layer_vtable softmin_vtable = {
    .n_inputs = 1, .infer = softmin_infer, .forward = softmin_forward};
static const mt_layer_vtable softmax2d_vtable = {
    .n_inputs = 1, .infer = softmax2d_infer, .forward = softmax2d_forward};

mt_status mt_softmin_new(int dim, mt_layer **out)
{
    return mt_nn_dim_layer_new("softmin", &softmin_vtable, MT_LAYER_SOFTMIN, dim, out);
}

mt_status mt_softmax2d_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softmax2d: out is NULL");
    *out = NULL;
    mt_layer *l = mt_nn_layer_alloc("softmax2d", &softmax2d_vtable, MT_LAYER_SOFTMAX2D,
                                    "softmax2d", 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.dim = -1;
    *out = l;
    return MT_OK;
}
