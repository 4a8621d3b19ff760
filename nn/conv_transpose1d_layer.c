/* conv_transpose1d_layer.c — ConvTranspose1D: PyTorch's nn.ConvTranspose1d
 * on channels-last sequences [N,L,C], weight [Cin, Cout/groups, k] as PyTorch
 * stores it. A ConvTranspose2D layer on the [N,1,L,C] view of the input, its
 * weight viewed as [Cin, Cout/groups, 1, k]. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

typedef struct convt1d_state {
    mt_layer *inner;   /* the ConvTranspose2D; owned */
} convt1d_state;

static mt_status convt1d_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    const mt_layer *inner = ((const convt1d_state *)l->state)->inner;
    if (in->rank != 3 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 channels-last sequences [N,L,C] (3 dims), "
                       "%s gives %s with %d dims", from[0], mt_dtype_name(in->dtype), in->rank);
    mt_shape image = {.dtype = in->dtype, .rank = 4,
                      .dim = {in->dim[0], 1, in->dim[1], in->dim[2]}};
    mt_status s = inner->vt->infer(inner, n, &image, from, out);
    if (s)
        return s;
    *out = (mt_shape){.dtype = out->dtype, .rank = 3,
                      .dim = {out->dim[0], out->dim[2], out->dim[3]}};
    return MT_OK;
}

static mt_status convt1d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    const mt_layer *inner = ((const convt1d_state *)l->state)->inner;
    mt_tensor x4, y4;   /* [N,1,L,C], [N,1,OL,Cout] */
    mt_status s = mt_unsqueeze_into(in[0], 1, &x4);
    if (!s)
        s = mt_unsqueeze_into(out, 1, &y4);
    return s ? s : inner->vt->forward(inner, n, (const mt_tensor *const[]){&x4}, scratch, &y4);
}

static void convt1d_release(void *state)
{
    mt_layer_free(((convt1d_state *)state)->inner);
}

static mt_status convt1d_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                                mt_layer **fused);

static const mt_layer_vtable convt1d_vtable = {
    .n_inputs = 1,
    .infer = convt1d_infer,
    .forward = convt1d_forward,
    .absorb = convt1d_absorb,
    .release = convt1d_release,
};

/* The 1-D layer `name` around the ConvTranspose2D `inner` (owned from
 * here, also on failure). */
static mt_status convt1d_wrap(const char *name, mt_layer *inner, mt_layer **out)
{
    mt_layer *l = mt_nn_layer_alloc("conv_transpose1d", &convt1d_vtable,
                                    MT_LAYER_CONV_TRANSPOSE1D, name, sizeof(convt1d_state));
    if (!l) {
        mt_layer_free(inner);
        return MT_ERR_OUT_OF_MEMORY;
    }
    ((convt1d_state *)l->state)->inner = inner;
    l->info = inner->info;
    l->info.kind = MT_LAYER_CONV_TRANSPOSE1D;
    l->info.name = l->name;
    l->info.kernel_h = 0;
    l->info.stride_h = 0;
    *out = l;
    return MT_OK;
}

/* An activation after it: the inner ConvTranspose2D's absorb, wrapped. */
static mt_status convt1d_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                                mt_layer **fused)
{
    const mt_layer *inner = ((const convt1d_state *)l->state)->inner;
    mt_layer *fi = NULL;
    mt_status s = inner->vt->absorb(inner, e, &fi);
    return s ? s : convt1d_wrap(l->name, fi, fused);
}

mt_status mt_conv_transpose1d_new(const mt_tensor *weight, const mt_tensor *bias,
                                  const mt_conv_transpose2d_params *params, mt_layer **out)
{
    if (!weight || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv_transpose1d: %s is NULL",
                       weight ? "out" : "weight");
    *out = NULL;
    char name[MT_NAME_MAX + 24], ws[160];
    snprintf(name, sizeof name, "conv_transpose1d%s%s", weight->name[0] ? " " : "",
             weight->name);
    const mt_conv_transpose2d_params p = params ? *params : (mt_conv_transpose2d_params){0};
    mt_status s;
    if ((s = mt_nn_check_weight(name, "weight", weight)) ||
        (s = mt_nn_check_weight(name, "bias", bias)))
        return s;
    if (p.stride_h || p.pad_top || p.pad_bottom || p.output_padding_h || p.dilation_h)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the length takes the _w fields (stride_w, "
                       "pad_left, pad_right, output_padding_w, dilation_w); the _h ones must "
                       "be 0", name);
    if (weight->rank != 3)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s, expected [in, out/groups, k] (PyTorch)",
                       name, mt_tensor_describe(weight, ws, sizeof ws));
    mt_tensor *w4 = NULL;
    mt_layer *inner = NULL;
    s = mt_unsqueeze(weight, 2, &w4);
    if (!s)
        s = mt_tensor_name_set(w4, weight->name);
    if (!s)
        s = mt_conv_transpose2d_new(w4, bias, &p, &inner);
    mt_tensor_free(w4);
    if (s) {   /* "conv_transpose2d w: weight w [2,3,1,4] …": say which layer */
        char why[512];
        snprintf(why, sizeof why, "%s", mt_last_error());
        return mt_fail(s, "%s: %s", name, why);
    }
    return convt1d_wrap(name, inner, out);
}
