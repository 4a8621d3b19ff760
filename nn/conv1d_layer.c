/* conv1d_layer.c — Conv1D: PyTorch's nn.Conv1d and Keras' Conv1D on
 * channels-last sequences [N,L,C], the kernel held in the layout it came in
 * (PyTorch (out, in/groups, k), Keras (k, in/groups, out)). Thin: the work
 * is mt_conv1d_into. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

typedef struct conv1d_state {
    mt_tensor *kernel;          /* F32, as given or converted; one reference */
    mt_tensor *bias;            /* [out] F32 or NULL; one reference */
    mt_conv2d_params params;    /* the _w fields for the length; zeros resolved */
} conv1d_state;

static mt_status conv1d_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)n;
    const conv1d_state *st = l->state;
    const mt_conv2d_params *p = &st->params;
    const mt_layer_info *i = &l->info;
    if (in->rank != 3 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,L,C] input (3 dims), %s gives %d dims",
                       from[0], in->rank);
    if (in->dim[2] != i->in_channels)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input channels, %s gives %lld%s",
                       (long long)i->in_channels, from[0], (long long)in->dim[2],
                       in->dim[1] == i->in_channels ? " ([N,C,L]? the layer takes [N,L,C]: "
                                                      "permute {0,2,1})" : "");
    int64_t len = mt_nn_window_len(in->dim[1], i->kernel_w, p->stride_w, p->dilation_w,
                                   p->padding, p->pad_left, p->pad_right, false);
    if (len < 0)
        return mt_fail(MT_ERR_OVERFLOW, "the length %s gives overflows with its kernel",
                       from[0]);
    if (len < 1)
        return mt_fail(MT_ERR_SHAPE, "its kernel %lld (dilation %lld) does not fit the "
                       "length %lld %s gives", (long long)i->kernel_w,
                       (long long)p->dilation_w, (long long)in->dim[1], from[0]);
    *out = *in;
    out->dim[1] = len;
    out->dim[2] = i->out_channels;
    return MT_OK;
}

static mt_status conv1d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const conv1d_state *st = l->state;
    return mt_conv1d_into(in[0], st->kernel, st->bias, &st->params, out);
}

static void conv1d_release(void *state)
{
    conv1d_state *st = state;
    mt_tensor_free(st->kernel);
    mt_tensor_free(st->bias);
}

static const mt_layer_vtable conv1d_vtable = {
    .n_inputs = 1,
    .infer = conv1d_infer,
    .forward = conv1d_forward,
    .release = conv1d_release,
};

/* Checks o (the _h fields unset, the rest as mt_conv2d_new's) and the
 * kernel against it; fills the layer's params and its (k, in, out). */
static mt_status check(const char *name, const mt_tensor *k, const mt_tensor *b,
                       const mt_conv2d_options *o, mt_conv2d_params *p, int64_t dims[3])
{
    char ks[160], bs[160];
    mt_tensor_describe(k, ks, sizeof ks);
    bool oihw = o->layout == MT_KERNEL_OIHW;
    if (o->layout != MT_KERNEL_HWIO && o->layout != MT_KERNEL_OIHW)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown kernel layout %d", name,
                       (int)o->layout);
    if (o->kernel_h || o->stride_h || o->pad_top || o->pad_bottom || o->dilation_h ||
        o->stride_w < 0 || o->dilation_w < 0 || o->groups < 0 || o->pad_left < 0 ||
        o->pad_right < 0 || o->in_channels < 0 || o->out_channels < 0 || o->kernel_w < 0 ||
        (o->padding != MT_PADDING_EXPLICIT && (o->pad_left || o->pad_right)) ||
        (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME &&
         o->padding != MT_PADDING_EXPLICIT) || !mt_activation_name(o->act))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: options out of range (the _h fields "
                       "must be 0; the _w ones, >= 0, give the length axis; pads need "
                       "MT_PADDING_EXPLICIT)", name);
    if (k->rank != 3)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected 3 dims (%s)", name, ks,
                       oihw ? "PyTorch (out,in/groups,k)" : "Keras (k,in/groups,out)");
    int64_t groups = o->groups ? o->groups : 1;
    int64_t kk = oihw ? k->shape[2] : k->shape[0], kin = k->shape[1];
    int64_t kout = oihw ? k->shape[0] : k->shape[2];
    if (kk < 1 || kin < 1 || kout < 1 || kout % groups != 0 ||
        (o->kernel_w && o->kernel_w != kk) ||
        (o->in_channels && o->in_channels != kin * groups) ||
        (o->out_channels && o->out_channels != kout))
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s does not fit %s with groups %lld, "
                       "kernel size %lld, in %lld, out %lld (0: any)", name, ks,
                       oihw ? "PyTorch (out,in/groups,k)" : "Keras (k,in/groups,out)",
                       (long long)groups, (long long)o->kernel_w, (long long)o->in_channels,
                       (long long)o->out_channels);
    if (b && (b->rank != 1 || b->shape[0] != kout))
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of "
                       "kernel %s)", name, mt_tensor_describe(b, bs, sizeof bs),
                       (long long)kout, ks);
    *p = (mt_conv2d_params){.kernel_layout = o->layout,
                            .stride_w = o->stride_w ? o->stride_w : 1,
                            .padding = o->padding, .pad_left = o->pad_left,
                            .pad_right = o->pad_right,
                            .dilation_w = o->dilation_w ? o->dilation_w : 1,
                            .groups = groups, .activation = o->act};
    dims[0] = kk, dims[1] = kin * groups, dims[2] = kout;
    return MT_OK;
}

mt_status mt_conv1d_new(const mt_tensor *kernel, const mt_tensor *bias,
                        const mt_conv2d_options *options, mt_layer **out)
{
    if (!kernel || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv1d: %s is NULL",
                       kernel ? "out" : "kernel");
    *out = NULL;
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout == MT_KERNEL_AUTO)   // as Conv2D: the zero default is Keras'
        o.layout = MT_KERNEL_HWIO;
    char name[MT_NAME_MAX + 16];
    snprintf(name, sizeof name, "conv1d%s%s", kernel->name[0] ? " " : "", kernel->name);
    mt_conv2d_params p;
    int64_t dims[3] = {0};
    mt_status s;
    if ((s = mt_nn_check_weight(name, "kernel", kernel)) ||
        (s = mt_nn_check_weight(name, "bias", bias)) ||
        (s = check(name, kernel, bias, &o, &p, dims)))
        return s;
    mt_layer *l = mt_nn_layer_alloc("conv1d", &conv1d_vtable, MT_LAYER_CONV1D, name,
                                    sizeof(conv1d_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    conv1d_state *st = l->state;
    if ((s = mt_nn_hold_for(name, "kernel", kernel, false, &st->kernel)) ||
        (bias && (s = mt_nn_hold_for(name, "bias", bias, false, &st->bias)))) {
        mt_layer_free(l);
        return s;
    }
    st->params = p;
    mt_layer_info *i = &l->info;
    i->kernel_layout = o.layout;
    i->kernel_h = 1;
    i->kernel_w = dims[0];
    i->in_channels = dims[1];
    i->out_channels = dims[2];
    i->stride_h = 1;
    i->stride_w = p.stride_w;
    i->padding = p.padding;
    i->has_bias = bias != NULL;
    i->act = o.act;
    *out = l;
    return MT_OK;
}
