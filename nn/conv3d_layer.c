/* conv3d_layer.c — volumetric layers on channels-last [N,D,H,W,C]: Conv3D
 * (kernel held as it came: Keras DHWIO or PyTorch OIDHW), MaxPool3D,
 * AvgPool3D, GlobalAveragePooling3D and GlobalMaxPooling3D. Thin: the work
 * is mt_conv3d_into, mt_max_pool3d_into, mt_avg_pool3d_into and the
 * reductions. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/conv3d.h"
#include "minitensor/reduce.h"
#include "minitensor/view.h"

static const char *layout_text(mt_kernel_layout layout)
{
    return layout == MT_KERNEL_HWIO ? "Keras (kd,kh,kw,in/groups,out)"
                                    : "PyTorch (out,in/groups,kd,kh,kw)";
}

/* The output shape of windows k[3] (stride, dilation, padding, pads as
 * `before`/`after`) over channels-last `in`, channels `ch` (0: kept);
 * fails naming `from` on a rank other than 5, a wrong channel count
 * (`want_ch`, 0: any) or a window that does not fit. */
static mt_status volume_infer(const char *what, const mt_shape *in, const int64_t k[3],
                              const int64_t stride[3], const int64_t dil[3],
                              mt_padding padding, const int64_t before[3],
                              const int64_t after[3], bool ceil, int64_t want_ch,
                              int64_t ch, const char *from, mt_shape *out)
{
    if (in->rank != 5 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 channels-last volumes [N,D,H,W,C] (5 "
                       "dims), %s gives %s with %d dims", from, mt_dtype_name(in->dtype),
                       in->rank);
    if (want_ch && in->dim[4] != want_ch)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input channels, %s gives %lld%s",
                       (long long)want_ch, from, (long long)in->dim[4],
                       in->dim[1] == want_ch ? " ([N,C,D,H,W]? the layer takes [N,D,H,W,C]: "
                                               "permute {0,2,3,4,1})" : "");
    *out = *in;
    for (int a = 0; a < 3; a++) {
        int64_t len = mt_nn_window_len(in->dim[a + 1], k[a], stride[a], dil[a], padding,
                                       before[a], after[a], ceil);
        if (len < 0)
            return mt_fail(MT_ERR_OVERFLOW, "%s on the volume %s gives: a size overflows",
                           what, from);
        if (len < 1)
            return mt_fail(MT_ERR_SHAPE, "%s %lldx%lldx%lld (dilation %lldx%lldx%lld) does "
                           "not fit the %lldx%lldx%lld volume %s gives", what, (long long)k[0],
                           (long long)k[1], (long long)k[2], (long long)dil[0],
                           (long long)dil[1], (long long)dil[2], (long long)in->dim[1],
                           (long long)in->dim[2], (long long)in->dim[3], from);
        out->dim[a + 1] = len;
    }
    if (ch)
        out->dim[4] = ch;
    return MT_OK;
}

/* ---- Conv3D ------------------------------------------------------------------ */

typedef struct conv3d_state {
    mt_tensor *kernel;          /* F32, as given or converted; one reference */
    mt_tensor *bias;            /* [out] F32 or NULL; one reference */
    mt_conv3d_params params;    /* zeros resolved; NDHWC data */
    int64_t k[3];               /* kd, kh, kw */
} conv3d_state;

static mt_status conv3d_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)n;
    const conv3d_state *st = l->state;
    const mt_conv3d_params *p = &st->params;
    return volume_infer("its kernel", in, st->k,
                        (const int64_t[]){p->stride_d, p->stride_h, p->stride_w},
                        (const int64_t[]){p->dilation_d, p->dilation_h, p->dilation_w},
                        p->padding, (const int64_t[]){p->pad_front, p->pad_top, p->pad_left},
                        (const int64_t[]){p->pad_back, p->pad_bottom, p->pad_right}, false,
                        l->info.in_channels, l->info.out_channels, from[0], out);
}

static mt_status conv3d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const conv3d_state *st = l->state;
    return mt_conv3d_into(in[0], st->kernel, st->bias, &st->params, out);
}

static void conv3d_release(void *state)
{
    conv3d_state *st = state;
    mt_tensor_free(st->kernel);
    mt_tensor_free(st->bias);
}

/* The options that build l again (its kernel as held). */
static mt_conv3d_options options_of(const mt_layer *l)
{
    const conv3d_state *st = l->state;
    const mt_conv3d_params *p = &st->params;
    return (mt_conv3d_options){
        .layout = p->kernel_layout, .stride_d = p->stride_d, .stride_h = p->stride_h,
        .stride_w = p->stride_w, .padding = p->padding, .act = p->activation,
        .pad_front = p->pad_front, .pad_back = p->pad_back, .pad_top = p->pad_top,
        .pad_bottom = p->pad_bottom, .pad_left = p->pad_left, .pad_right = p->pad_right,
        .dilation_d = p->dilation_d, .dilation_h = p->dilation_h,
        .dilation_w = p->dilation_w, .groups = p->groups};
}

/* A Conv3D applying e as it writes: a per-channel scale and shift (an
 * inference BatchNorm3d) become a new kernel K·scale (per output channel)
 * and bias b·scale + shift; an activation goes into the GEMM's epilogue. */
static mt_status conv3d_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                               mt_layer **fused)
{
    const conv3d_state *st = l->state;
    mt_conv3d_options o = options_of(l);
    mt_tensor *k, *b;
    mt_status s = mt_nn_conv_absorb(st->kernel, st->bias, st->params.activation,
                                    st->params.kernel_layout == MT_KERNEL_OIHW, e, &o.act, &k,
                                    &b);
    if (!s)
        s = k ? mt_conv3d_new(k, b, &o, fused) : mt_conv3d_new(st->kernel, st->bias, &o, fused);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

static const mt_layer_vtable conv3d_vtable = {
    .n_inputs = 1,
    .infer = conv3d_infer,
    .forward = conv3d_forward,
    .absorb = conv3d_absorb,
    .release = conv3d_release,
};

static mt_status check_options(const char *name, const mt_conv3d_options *o)
{
    if (o->layout != MT_KERNEL_HWIO && o->layout != MT_KERNEL_OIHW)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown kernel layout %d", name,
                       (int)o->layout);
    const int64_t nonneg[] = {o->in_channels, o->out_channels, o->kernel_d, o->kernel_h,
                              o->kernel_w, o->stride_d, o->stride_h, o->stride_w,
                              o->dilation_d, o->dilation_h, o->dilation_w, o->groups};
    for (size_t i = 0; i < sizeof nonneg / sizeof nonneg[0]; i++)
        if (nonneg[i] < 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative channel count, kernel "
                           "size, stride, dilation or groups", name);
    if (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME &&
        o->padding != MT_PADDING_EXPLICIT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown padding %d", name,
                       (int)o->padding);
    const int64_t pads[6] = {o->pad_front, o->pad_back, o->pad_top, o->pad_bottom,
                             o->pad_left, o->pad_right};
    for (int i = 0; i < 6; i++)
        if (pads[i] < 0 || (pads[i] && o->padding != MT_PADDING_EXPLICIT))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pads (front %lld, back %lld, top "
                           "%lld, bottom %lld, left %lld, right %lld) must be >= 0 and need "
                           "MT_PADDING_EXPLICIT", name, (long long)pads[0],
                           (long long)pads[1], (long long)pads[2], (long long)pads[3],
                           (long long)pads[4], (long long)pads[5]);
    if (!mt_activation_name(o->act))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", name,
                       (int)o->act);
    return MT_OK;
}

/* Checks the kernel and bias against o; *d gets (kd, kh, kw, in, out),
 * `in` the input's channels (groups times the kernel's). */
static mt_status check_tensors(const char *name, const mt_tensor *k, const mt_tensor *b,
                               const mt_conv3d_options *o, int64_t d[5])
{
    char ks[160], bs[160];
    mt_tensor_describe(k, ks, sizeof ks);
    bool hwio = o->layout == MT_KERNEL_HWIO;
    if (k->rank != 5)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected 5 dims (%s)", name, ks,
                       layout_text(o->layout));
    if (b && b->rank != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected 1 dim", name,
                       mt_tensor_describe(b, bs, sizeof bs));
    const int64_t *s = k->shape;
    int64_t groups = o->groups ? o->groups : 1;
    int64_t kd = hwio ? s[0] : s[2], kh = hwio ? s[1] : s[3], kw = hwio ? s[2] : s[4];
    int64_t kin = hwio ? s[3] : s[1], kout = hwio ? s[4] : s[0];
    // kin · groups, the input's channels, must fit int64_t (a broadcast kernel
    // view may claim kout = groups near INT64_MAX)
    if (kd < 1 || kh < 1 || kw < 1 || kin < 1 || kout < 1 || kout % groups != 0 ||
        kin > INT64_MAX / groups ||
        (o->kernel_d && o->kernel_d != kd) || (o->kernel_h && o->kernel_h != kh) ||
        (o->kernel_w && o->kernel_w != kw) ||
        (o->in_channels && o->in_channels != kin * groups) ||
        (o->out_channels && o->out_channels != kout))
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s does not fit %s with groups %lld, "
                       "kernel %lldx%lldx%lld, in %lld, out %lld (0: any)", name, ks,
                       layout_text(o->layout), (long long)groups, (long long)o->kernel_d,
                       (long long)o->kernel_h, (long long)o->kernel_w,
                       (long long)o->in_channels, (long long)o->out_channels);
    if (b && b->shape[0] != kout)
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of "
                       "kernel %s, %s)", name, mt_tensor_describe(b, bs, sizeof bs),
                       (long long)kout, ks, layout_text(o->layout));
    d[0] = kd, d[1] = kh, d[2] = kw, d[3] = kin * groups, d[4] = kout;
    return MT_OK;
}

static int64_t or_one(int64_t v) { return v ? v : 1; }

mt_status mt_conv3d_new(const mt_tensor *kernel, const mt_tensor *bias,
                        const mt_conv3d_options *options, mt_layer **out)
{
    if (!kernel || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv3d: %s is NULL",
                       kernel ? "out" : "kernel");
    *out = NULL;
    mt_conv3d_options o = options ? *options : (mt_conv3d_options){0};
    if (o.layout == MT_KERNEL_AUTO)   // as Conv2D: the zero default is Keras'
        o.layout = MT_KERNEL_HWIO;
    char name[MT_NAME_MAX + 16];
    snprintf(name, sizeof name, "conv3d%s%s", kernel->name[0] ? " " : "", kernel->name);
    int64_t d[5] = {0};
    mt_status s;
    if ((s = mt_nn_check_weight(name, "kernel", kernel)) ||
        (s = mt_nn_check_weight(name, "bias", bias)) || (s = check_options(name, &o)) ||
        (s = check_tensors(name, kernel, bias, &o, d)))
        return s;
    mt_layer *l = mt_nn_layer_alloc("conv3d", &conv3d_vtable, MT_LAYER_CONV3D, name,
                                    sizeof(conv3d_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    conv3d_state *st = l->state;
    if ((s = mt_nn_hold_for(name, "kernel", kernel, true, &st->kernel)) ||
        (bias && (s = mt_nn_hold_for(name, "bias", bias, false, &st->bias)))) {
        mt_layer_free(l);
        return s;
    }
    st->params = (mt_conv3d_params){
        .kernel_layout = o.layout, .stride_d = or_one(o.stride_d),
        .stride_h = or_one(o.stride_h), .stride_w = or_one(o.stride_w),
        .padding = o.padding, .pad_front = o.pad_front, .pad_back = o.pad_back,
        .pad_top = o.pad_top, .pad_bottom = o.pad_bottom, .pad_left = o.pad_left,
        .pad_right = o.pad_right, .dilation_d = or_one(o.dilation_d),
        .dilation_h = or_one(o.dilation_h), .dilation_w = or_one(o.dilation_w),
        .groups = or_one(o.groups), .activation = o.act};
    st->k[0] = d[0], st->k[1] = d[1], st->k[2] = d[2];
    mt_layer_info *i = &l->info;
    i->kernel_layout = o.layout;
    i->kernel_h = d[1];
    i->kernel_w = d[2];
    i->in_channels = d[3];
    i->out_channels = d[4];
    i->stride_h = st->params.stride_h;
    i->stride_w = st->params.stride_w;
    i->padding = o.padding;
    i->has_bias = bias != NULL;
    i->act = o.act;
    *out = l;
    return MT_OK;
}

/* ---- MaxPool3D, AvgPool3D ------------------------------------------------------- */

static mt_status pool3d_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)n;
    const mt_pool3d_params *p = l->state;
    return volume_infer("its pool window", in,
                        (const int64_t[]){p->pool_d, p->pool_h, p->pool_w},
                        (const int64_t[]){p->stride_d, p->stride_h, p->stride_w},
                        (const int64_t[]){p->dilation_d, p->dilation_h, p->dilation_w},
                        p->padding, (const int64_t[]){p->pad_front, p->pad_top, p->pad_left},
                        (const int64_t[]){p->pad_back, p->pad_bottom, p->pad_right},
                        p->ceil_mode, 0, 0, from[0], out);
}

static mt_status pool3d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return l->info.kind == MT_LAYER_MAX_POOL3D ? mt_max_pool3d_into(in[0], l->state, out)
                                               : mt_avg_pool3d_into(in[0], l->state, out);
}

static const mt_layer_vtable pool3d_vtable = {
    .n_inputs = 1, .infer = pool3d_infer, .forward = pool3d_forward};

static mt_status pool3d_new(const char *op, mt_layer_kind kind, const mt_pool3d_options *o,
                            mt_layer **out)
{
    if (!o || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, out ? "options" : "out");
    *out = NULL;
    const int64_t pool[3] = {o->pool_d, o->pool_h, o->pool_w};
    const int64_t stride[3] = {o->stride_d, o->stride_h, o->stride_w};
    const int64_t pad[3] = {o->pad_d, o->pad_h, o->pad_w};
    const int64_t dil[3] = {o->dilation_d, o->dilation_h, o->dilation_w};
    bool padded = false;
    for (int a = 0; a < 3; a++) {
        if (pool[a] < 1 || stride[a] < 0 || pad[a] < 0 || pad[a] > pool[a] / 2 ||
            dil[a] < 0 || (kind == MT_LAYER_AVG_POOL3D && dil[a] > 1))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pool (%lld,%lld,%lld), stride "
                           "(%lld,%lld,%lld), pad (%lld,%lld,%lld) or dilation "
                           "(%lld,%lld,%lld) out of range (pool >= 1, stride and dilation "
                           ">= 0, pad at most half the window, an average's dilation 1)",
                           op, (long long)pool[0], (long long)pool[1], (long long)pool[2],
                           (long long)stride[0], (long long)stride[1], (long long)stride[2],
                           (long long)pad[0], (long long)pad[1], (long long)pad[2],
                           (long long)dil[0], (long long)dil[1], (long long)dil[2]);
        padded = padded || pad[a] > 0;
    }
    if (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: padding %d, expected MT_PADDING_VALID or "
                       "MT_PADDING_SAME (PyTorch's padding: .pad_d/_h/_w)", op,
                       (int)o->padding);
    // Keras' 'same' rounds its own way: PyTorch's ceil_mode would be ignored
    if (o->padding == MT_PADDING_SAME && !padded && o->ceil_mode)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: ceil_mode with MT_PADDING_SAME (ceil_mode "
                       "is PyTorch's, with .pad_d/_h/_w or VALID)", op);
    char name[96];
    snprintf(name, sizeof name, "%s %lldx%lldx%lld", op, (long long)pool[0],
             (long long)pool[1], (long long)pool[2]);
    mt_layer *l = mt_nn_layer_alloc(op, &pool3d_vtable, kind, name, sizeof(mt_pool3d_params));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    mt_pool3d_params *p = l->state;
    *p = (mt_pool3d_params){
        .pool_d = pool[0], .pool_h = pool[1], .pool_w = pool[2],
        .stride_d = stride[0] ? stride[0] : pool[0],
        .stride_h = stride[1] ? stride[1] : pool[1],
        .stride_w = stride[2] ? stride[2] : pool[2],
        .padding = padded ? MT_PADDING_EXPLICIT : o->padding,
        .pad_front = pad[0], .pad_back = pad[0], .pad_top = pad[1], .pad_bottom = pad[1],
        .pad_left = pad[2], .pad_right = pad[2],
        .dilation_d = or_one(dil[0]), .dilation_h = or_one(dil[1]),
        .dilation_w = or_one(dil[2]), .ceil_mode = o->ceil_mode,
        .count_include_pad = o->count_include_pad};
    l->info.kernel_h = p->pool_h;
    l->info.kernel_w = p->pool_w;
    l->info.stride_h = p->stride_h;
    l->info.stride_w = p->stride_w;
    l->info.padding = p->padding;
    *out = l;
    return MT_OK;
}

mt_status mt_max_pool3d_new(const mt_pool3d_options *options, mt_layer **out)
{
    return pool3d_new("max_pool3d", MT_LAYER_MAX_POOL3D, options, out);
}

mt_status mt_avg_pool3d_new(const mt_pool3d_options *options, mt_layer **out)
{
    return pool3d_new("avg_pool3d", MT_LAYER_AVG_POOL3D, options, out);
}

/* ---- GlobalAveragePooling3D, GlobalMaxPooling3D ------------------------------------ */

static mt_status global3d_infer(const mt_layer *l, int n, const mt_shape *in,
                                const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    if (in->rank != 5 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 channels-last volumes [N,D,H,W,C] (5 "
                       "dims), %s gives %s with %d dims", from[0], mt_dtype_name(in->dtype),
                       in->rank);
    if (in->dim[1] < 1 || in->dim[2] < 1 || in->dim[3] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects a non-empty volume, %s gives %lldx%lldx%lld",
                       from[0], (long long)in->dim[1], (long long)in->dim[2],
                       (long long)in->dim[3]);
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 2, .dim = {in->dim[0], in->dim[4]}};
    return MT_OK;
}

static mt_status global3d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                  void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const int dims[3] = {1, 2, 3};
    return l->info.kind == MT_LAYER_GLOBAL_MAX_POOL3D
               ? mt_max_dims_into(in[0], dims, 3, false, out)
               : mt_mean_dims_into(in[0], dims, 3, false, out);
}

static const mt_layer_vtable global3d_vtable = {
    .n_inputs = 1, .infer = global3d_infer, .forward = global3d_forward};

mt_status mt_global_avg_pool3d_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "global_avg_pool3d: out is NULL");
    *out = mt_nn_layer_alloc("global_avg_pool3d", &global3d_vtable,
                             MT_LAYER_GLOBAL_AVG_POOL3D, "global_avg_pool3d", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

mt_status mt_global_max_pool3d_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "global_max_pool3d: out is NULL");
    *out = mt_nn_layer_alloc("global_max_pool3d", &global3d_vtable,
                             MT_LAYER_GLOBAL_MAX_POOL3D, "global_max_pool3d", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}
