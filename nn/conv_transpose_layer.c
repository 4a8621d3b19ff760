/* conv_transpose_layer.c — ConvTranspose2D: PyTorch's nn.ConvTranspose2d on
 * NHWC activations, weight [Cin, Cout/groups, kh, kw] as PyTorch stores it.
 * Thin: the work is mt_conv_transpose2d_into. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

typedef struct convt_state {
    mt_tensor *weight;    /* [Cin, Cout/g, kh, kw] F32; one reference */
    mt_tensor *bias;      /* [Cout] F32 or NULL; one reference */
    mt_conv_transpose2d_params params;   /* zeros resolved to their defaults */
} convt_state;

static mt_status convt_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    (void)n;
    const convt_state *st = l->state;
    const mt_conv_transpose2d_params *p = &st->params;
    const int64_t *w = st->weight->shape;
    if (in->rank != 4 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 NHWC input (4 dims: N,H,W,C), %s gives %d "
                       "dims", from[0], in->rank);
    if (in->dim[3] != w[0])
        return mt_fail(MT_ERR_SHAPE, "expects %lld input channels, %s gives %lld%s",
                       (long long)w[0], from[0], (long long)in->dim[3],
                       in->dim[1] == w[0] ? " (NCHW? the layer takes NHWC: permute "
                                            "{0,2,3,1})" : "");
    int64_t oh = 0, ow = 0;
    if ((in->dim[1] >= 1 && !mt_nn_transposed_len(in->dim[1], w[2], p->stride_h, p->dilation_h,
                                                  p->pad_top, p->pad_bottom,
                                                  p->output_padding_h, &oh)) ||
        (in->dim[2] >= 1 && !mt_nn_transposed_len(in->dim[2], w[3], p->stride_w, p->dilation_w,
                                                  p->pad_left, p->pad_right,
                                                  p->output_padding_w, &ow)))
        return mt_fail(MT_ERR_OVERFLOW, "its output size for the %lldx%lld image %s gives "
                       "overflows", (long long)in->dim[1], (long long)in->dim[2], from[0]);
    if (oh < 1 || ow < 1)
        return mt_fail(MT_ERR_SHAPE, "its padding leaves no output for the %lldx%lld image "
                       "%s gives", (long long)in->dim[1], (long long)in->dim[2], from[0]);
    *out = *in;
    out->dim[1] = oh;
    out->dim[2] = ow;
    out->dim[3] = w[1] * p->groups;
    return MT_OK;
}

static mt_status convt_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const convt_state *st = l->state;
    return mt_conv_transpose2d_into(in[0], st->weight, st->bias, &st->params, out);
}

static void convt_release(void *state)
{
    convt_state *st = state;
    mt_tensor_free(st->weight);
    mt_tensor_free(st->bias);
}

/* An activation after it runs in the op (mt_nn_compose_activation); a
 * scale or shift (a BatchNorm) is not absorbed. */
static mt_status convt_absorb(const mt_layer *l, const mt_layer_epilogue *e, mt_layer **fused)
{
    const convt_state *st = l->state;
    if (e->scale || e->shift)
        return MT_ERR_UNSUPPORTED;
    mt_conv_transpose2d_params p = st->params;
    return mt_nn_compose_activation(st->params.activation, e, &p.activation)
               ? MT_ERR_UNSUPPORTED
               : mt_conv_transpose2d_new(st->weight, st->bias, &p, fused);
}

static const mt_layer_vtable convt_vtable = {
    .n_inputs = 1,
    .infer = convt_infer,
    .forward = convt_forward,
    .absorb = convt_absorb,
    .release = convt_release,
};

/* params with zeros resolved, or a failure naming the layer. */
static mt_status check_params(const char *name, const mt_conv_transpose2d_params *in,
                              mt_conv_transpose2d_params *p)
{
    *p = in ? *in : (mt_conv_transpose2d_params){0};
    if (p->data_layout != MT_DATA_LAYOUT_NHWC)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the layer runs on NHWC activations "
                       "(data_layout must be MT_DATA_LAYOUT_NHWC)", name);
    p->stride_h = p->stride_h ? p->stride_h : 1;
    p->stride_w = p->stride_w ? p->stride_w : 1;
    p->dilation_h = p->dilation_h ? p->dilation_h : 1;
    p->dilation_w = p->dilation_w ? p->dilation_w : 1;
    p->groups = p->groups ? p->groups : 1;
    if (!mt_activation_name(p->activation))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", name,
                       (int)p->activation);
    if (p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->groups < 1 || p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 ||
        p->pad_right < 0 || p->output_padding_h < 0 || p->output_padding_w < 0 ||
        (p->output_padding_h >= p->stride_h && p->output_padding_h >= p->dilation_h) ||
        (p->output_padding_w >= p->stride_w && p->output_padding_w >= p->dilation_w))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: stride (%lld,%lld), dilation "
                       "(%lld,%lld), groups %lld, pads or output_padding (%lld,%lld) out of "
                       "range (output_padding below the stride or the dilation)", name,
                       (long long)p->stride_h, (long long)p->stride_w,
                       (long long)p->dilation_h, (long long)p->dilation_w,
                       (long long)p->groups, (long long)p->output_padding_h,
                       (long long)p->output_padding_w);
    return MT_OK;
}

mt_status mt_conv_transpose2d_new(const mt_tensor *weight, const mt_tensor *bias,
                                  const mt_conv_transpose2d_params *params, mt_layer **out)
{
    if (!weight || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv_transpose2d: %s is NULL",
                       weight ? "out" : "weight");
    *out = NULL;
    char name[MT_NAME_MAX + 24], ws[160], bs[160];
    snprintf(name, sizeof name, "conv_transpose2d%s%s", weight->name[0] ? " " : "",
             weight->name);
    mt_conv_transpose2d_params p;
    mt_status s;
    if ((s = mt_nn_check_weight(name, "weight", weight)) ||
        (s = mt_nn_check_weight(name, "bias", bias)) || (s = check_params(name, params, &p)))
        return s;
    mt_tensor_describe(weight, ws, sizeof ws);
    const int64_t *w = weight->shape;
    if (weight->rank != 4 || w[0] < 1 || w[1] < 1 || w[2] < 1 || w[3] < 1 ||
        w[0] % p.groups != 0)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s, expected [in, out/groups, kh, kw] "
                       "(PyTorch) with groups %lld dividing in", name, ws,
                       (long long)p.groups);
    if (bias && (bias->rank != 1 || bias->shape[0] != w[1] * p.groups))
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of "
                       "weight %s, groups %lld)", name, mt_tensor_describe(bias, bs, sizeof bs),
                       (long long)(w[1] * p.groups), ws, (long long)p.groups);
    mt_layer *l = mt_nn_layer_alloc("conv_transpose2d", &convt_vtable, MT_LAYER_CONV_TRANSPOSE2D,
                                    name, sizeof(convt_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    convt_state *st = l->state;
    if ((s = mt_nn_hold_for(name, "weight", weight, false, &st->weight)) ||
        (bias && (s = mt_nn_hold_for(name, "bias", bias, false, &st->bias)))) {
        mt_layer_free(l);
        return s;
    }
    st->params = p;
    mt_layer_info *i = &l->info;
    i->in_channels = w[0];
    i->out_channels = w[1] * p.groups;
    i->kernel_h = w[2];
    i->kernel_w = w[3];
    i->stride_h = p.stride_h;
    i->stride_w = p.stride_w;
    i->padding = MT_PADDING_EXPLICIT;
    i->has_bias = bias != NULL;
    *out = l;
    return MT_OK;
}
