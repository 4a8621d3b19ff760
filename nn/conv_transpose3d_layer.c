/* conv_transpose3d_layer.c — ConvTranspose3D (PyTorch's nn.ConvTranspose3d,
 * Keras' Conv3DTranspose through its loader) and AdaptiveAvgPool3D /
 * AdaptiveMaxPool3D, on channels-last volumes [N,D,H,W,C]. Thin: the work
 * is mt_conv_transpose3d_into and mt_adaptive_*_pool3d_into. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/conv3d.h"

/* ---- ConvTranspose3D ------------------------------------------------------------ */

typedef struct convt3d_state {
    mt_tensor *weight;    /* [Cin, Cout/g, kd, kh, kw] F32, contiguous; one reference */
    mt_tensor *bias;      /* [Cout] F32 or NULL; one reference */
    mt_conv_transpose3d_params params;   /* zeros resolved to their defaults */
} convt3d_state;

static mt_status convt3d_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)n;
    const convt3d_state *st = l->state;
    const mt_conv_transpose3d_params *p = &st->params;
    const int64_t *w = st->weight->shape;
    if (in->rank != 5 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 channels-last volumes [N,D,H,W,C] (5 "
                       "dims), %s gives %s with %d dims", from[0], mt_dtype_name(in->dtype),
                       in->rank);
    if (in->dim[4] != w[0])
        return mt_fail(MT_ERR_SHAPE, "expects %lld input channels, %s gives %lld%s",
                       (long long)w[0], from[0], (long long)in->dim[4],
                       in->dim[1] == w[0] ? " ([N,C,D,H,W]? the layer takes [N,D,H,W,C]: "
                                            "permute {0,2,3,4,1})" : "");
    const int64_t stride[3] = {p->stride_d, p->stride_h, p->stride_w};
    const int64_t dil[3] = {p->dilation_d, p->dilation_h, p->dilation_w};
    const int64_t before[3] = {p->pad_front, p->pad_top, p->pad_left};
    const int64_t after[3] = {p->pad_back, p->pad_bottom, p->pad_right};
    const int64_t opad[3] = {p->output_padding_d, p->output_padding_h, p->output_padding_w};
    *out = *in;
    for (int a = 0; a < 3; a++) {
        if (in->dim[a + 1] < 1)
            return mt_fail(MT_ERR_SHAPE, "expects a non-empty volume, %s gives "
                           "%lldx%lldx%lld", from[0], (long long)in->dim[1],
                           (long long)in->dim[2], (long long)in->dim[3]);
        if (!mt_nn_transposed_len(in->dim[a + 1], w[a + 2], stride[a], dil[a], before[a],
                                  after[a], opad[a], &out->dim[a + 1]))
            return mt_fail(MT_ERR_OVERFLOW, "its output size for the %lldx%lldx%lld volume "
                           "%s gives overflows", (long long)in->dim[1], (long long)in->dim[2],
                           (long long)in->dim[3], from[0]);
        if (out->dim[a + 1] < 1)
            return mt_fail(MT_ERR_SHAPE, "its padding leaves no output for the "
                           "%lldx%lldx%lld volume %s gives", (long long)in->dim[1],
                           (long long)in->dim[2], (long long)in->dim[3], from[0]);
    }
    out->dim[4] = w[1] * p->groups;
    return MT_OK;
}

static mt_status convt3d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const convt3d_state *st = l->state;
    return mt_conv_transpose3d_into(in[0], st->weight, st->bias, &st->params, out);
}

static void convt3d_release(void *state)
{
    convt3d_state *st = state;
    mt_tensor_free(st->weight);
    mt_tensor_free(st->bias);
}

/* An activation after it runs in the op (mt_nn_compose_activation); a
 * scale or shift (a BatchNorm) is not absorbed. */
static mt_status convt3d_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                                mt_layer **fused)
{
    const convt3d_state *st = l->state;
    if (e->scale || e->shift)
        return MT_ERR_UNSUPPORTED;
    mt_conv_transpose3d_params p = st->params;
    return mt_nn_compose_activation(st->params.activation, e, &p.activation)
               ? MT_ERR_UNSUPPORTED
               : mt_conv_transpose3d_new(st->weight, st->bias, &p, fused);
}

static const mt_layer_vtable convt3d_vtable = {
    .n_inputs = 1,
    .infer = convt3d_infer,
    .forward = convt3d_forward,
    .absorb = convt3d_absorb,
    .release = convt3d_release,
};

/* params with zeros resolved, or a failure naming the layer. */
static mt_status check_params(const char *name, const mt_conv_transpose3d_params *in,
                              mt_conv_transpose3d_params *p)
{
    *p = in ? *in : (mt_conv_transpose3d_params){0};
    if (p->data_layout != MT_DATA_LAYOUT_NHWC)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the layer runs on channels-last "
                       "volumes (data_layout must be MT_DATA_LAYOUT_NHWC)", name);
    int64_t *stride[3] = {&p->stride_d, &p->stride_h, &p->stride_w};
    int64_t *dil[3] = {&p->dilation_d, &p->dilation_h, &p->dilation_w};
    const int64_t pads[6] = {p->pad_front, p->pad_back, p->pad_top, p->pad_bottom,
                             p->pad_left, p->pad_right};
    const int64_t opad[3] = {p->output_padding_d, p->output_padding_h, p->output_padding_w};
    p->groups = p->groups ? p->groups : 1;
    bool ok = p->groups >= 1;
    for (int a = 0; a < 3; a++) {
        *stride[a] = *stride[a] ? *stride[a] : 1;
        *dil[a] = *dil[a] ? *dil[a] : 1;
        ok = ok && *stride[a] >= 1 && *dil[a] >= 1 && pads[2 * a] >= 0 &&
             pads[2 * a + 1] >= 0 && opad[a] >= 0 &&
             (opad[a] < *stride[a] || opad[a] < *dil[a]);
    }
    if (!mt_activation_name(p->activation))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", name,
                       (int)p->activation);
    if (!ok)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: stride (%lld,%lld,%lld), dilation "
                       "(%lld,%lld,%lld), groups %lld, pads or output_padding "
                       "(%lld,%lld,%lld) out of range (output_padding below the stride or "
                       "the dilation)", name, (long long)p->stride_d, (long long)p->stride_h,
                       (long long)p->stride_w, (long long)p->dilation_d,
                       (long long)p->dilation_h, (long long)p->dilation_w,
                       (long long)p->groups, (long long)opad[0], (long long)opad[1],
                       (long long)opad[2]);
    return MT_OK;
}

mt_status mt_conv_transpose3d_new(const mt_tensor *weight, const mt_tensor *bias,
                                  const mt_conv_transpose3d_params *params, mt_layer **out)
{
    if (!weight || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv_transpose3d: %s is NULL",
                       weight ? "out" : "weight");
    *out = NULL;
    char name[MT_NAME_MAX + 24], ws[160], bs[160];
    snprintf(name, sizeof name, "conv_transpose3d%s%s", weight->name[0] ? " " : "",
             weight->name);
    mt_conv_transpose3d_params p;
    mt_status s;
    if ((s = mt_nn_check_weight(name, "weight", weight)) ||
        (s = mt_nn_check_weight(name, "bias", bias)) || (s = check_params(name, params, &p)))
        return s;
    mt_tensor_describe(weight, ws, sizeof ws);
    const int64_t *w = weight->shape;
    int64_t cout;
    if (weight->rank != 5 || w[0] < 1 || w[1] < 1 || w[2] < 1 || w[3] < 1 || w[4] < 1 ||
        w[0] % p.groups != 0 || __builtin_mul_overflow(w[1], p.groups, &cout))
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s, expected [in, out/groups, kd, kh, kw] "
                       "(PyTorch) with groups %lld dividing in", name, ws,
                       (long long)p.groups);
    if (bias && (bias->rank != 1 || bias->shape[0] != cout))
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of "
                       "weight %s, groups %lld)", name, mt_tensor_describe(bias, bs, sizeof bs),
                       (long long)cout, ws, (long long)p.groups);
    mt_layer *l = mt_nn_layer_alloc("conv_transpose3d", &convt3d_vtable,
                                    MT_LAYER_CONV_TRANSPOSE3D, name, sizeof(convt3d_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    convt3d_state *st = l->state;
    // contiguous: a Keras kernel comes as a permuted view, and the op
    // would copy it on every call
    if ((s = mt_nn_hold_for(name, "weight", weight, true, &st->weight)) ||
        (bias && (s = mt_nn_hold_for(name, "bias", bias, false, &st->bias)))) {
        mt_layer_free(l);
        return s;
    }
    st->params = p;
    mt_layer_info *i = &l->info;
    i->in_channels = w[0];
    i->out_channels = cout;
    i->kernel_h = w[3];
    i->kernel_w = w[4];
    i->stride_h = p.stride_h;
    i->stride_w = p.stride_w;
    i->padding = MT_PADDING_EXPLICIT;
    i->has_bias = bias != NULL;
    *out = l;
    return MT_OK;
}

/* ---- AdaptiveAvgPool3D, AdaptiveMaxPool3D ------------------------------------------ */

typedef struct adaptive3d_state {
    int64_t size[3];   /* out_d, out_h, out_w */
} adaptive3d_state;

static mt_status adaptive3d_infer(const mt_layer *l, int n, const mt_shape *in,
                                  const char *const *from, mt_shape *out)
{
    (void)n;
    const adaptive3d_state *st = l->state;
    if (in->rank != 5 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 channels-last volumes [N,D,H,W,C] (5 "
                       "dims), %s gives %s with %d dims", from[0], mt_dtype_name(in->dtype),
                       in->rank);
    if (in->dim[1] < 1 || in->dim[2] < 1 || in->dim[3] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects a non-empty volume, %s gives %lldx%lldx%lld",
                       from[0], (long long)in->dim[1], (long long)in->dim[2],
                       (long long)in->dim[3]);
    *out = *in;
    for (int a = 0; a < 3; a++)
        out->dim[a + 1] = st->size[a];
    return MT_OK;
}

static mt_status adaptive3d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                    void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const int64_t *sz = ((const adaptive3d_state *)l->state)->size;
    return l->info.kind == MT_LAYER_ADAPTIVE_MAX_POOL3D
               ? mt_adaptive_max_pool3d_into(in[0], sz[0], sz[1], sz[2], MT_DATA_LAYOUT_NHWC,
                                             out)
               : mt_adaptive_avg_pool3d_into(in[0], sz[0], sz[1], sz[2], MT_DATA_LAYOUT_NHWC,
                                             out);
}

static const mt_layer_vtable adaptive3d_vtable = {
    .n_inputs = 1, .infer = adaptive3d_infer, .forward = adaptive3d_forward};

static mt_status adaptive3d_new(const char *op, mt_layer_kind kind, int64_t d, int64_t h,
                                int64_t w, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (d < 1 || h < 1 || w < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output size (%lld,%lld,%lld), expected "
                       ">= 1", op, (long long)d, (long long)h, (long long)w);
    char name[96];
    snprintf(name, sizeof name, "%s %lldx%lldx%lld", op, (long long)d, (long long)h,
             (long long)w);
    mt_layer *l = mt_nn_layer_alloc(op, &adaptive3d_vtable, kind, name,
                                    sizeof(adaptive3d_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    adaptive3d_state *st = l->state;
    st->size[0] = d, st->size[1] = h, st->size[2] = w;
    l->info.kernel_h = h;   /* the output size, as AdaptiveAvgPool2D's */
    l->info.kernel_w = w;
    *out = l;
    return MT_OK;
}

mt_status mt_adaptive_avg_pool3d_new(int64_t out_d, int64_t out_h, int64_t out_w,
                                     mt_layer **out)
{
    return adaptive3d_new("adaptive_avg_pool3d", MT_LAYER_ADAPTIVE_AVG_POOL3D, out_d, out_h,
                          out_w, out);
}

mt_status mt_adaptive_max_pool3d_new(int64_t out_d, int64_t out_h, int64_t out_w,
                                     mt_layer **out)
{
    return adaptive3d_new("adaptive_max_pool3d", MT_LAYER_ADAPTIVE_MAX_POOL3D, out_d, out_h,
                          out_w, out);
}
