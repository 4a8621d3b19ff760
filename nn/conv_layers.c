/* conv_layers.c — Conv2D: y = act(conv(x, K) + b) on NHWC inputs, with the
 * kernel held in the layout it came in (Keras HWIO or PyTorch OIHW); and
 * MaxPool2D. Both are thin: the work is mt_conv2d_into / mt_max_pool2d_into. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/view.h"

static const char *layout_text(mt_kernel_layout layout)
{
    return layout == MT_KERNEL_HWIO ? "Keras (kh,kw,in,out)" : "PyTorch (out,in,kh,kw)";
}

/* The kernel's (kh, kw, in, out) in either layout. */
typedef struct kdims {
    int64_t kh, kw, in, out;
} kdims;

static kdims kernel_dims(mt_kernel_layout layout, const int64_t *k)
{
    if (layout == MT_KERNEL_HWIO)
        return (kdims){k[0], k[1], k[2], k[3]};
    return (kdims){k[2], k[3], k[1], k[0]};
}

/* The shape a kernel of dims d has in `layout`. */
static void kernel_shape(mt_kernel_layout layout, kdims d, int64_t shape[4])
{
    const int64_t hwio[4] = {d.kh, d.kw, d.in, d.out}, oihw[4] = {d.out, d.in, d.kh, d.kw};
    memcpy(shape, layout == MT_KERNEL_HWIO ? hwio : oihw, sizeof hwio);
}

/* ---- checks ------------------------------------------------------------------ */

static mt_status check_options(const char *name, const mt_conv2d_options *o)
{
    if (o->layout != MT_KERNEL_HWIO && o->layout != MT_KERNEL_OIHW)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown kernel layout %d", name,
                       (int)o->layout);
    if (o->in_channels < 0 || o->out_channels < 0 || o->kernel_h < 0 || o->kernel_w < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative channel count or kernel "
                       "size", name);
    if (o->stride_h < 0 || o->stride_w < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: stride (%lld,%lld) is negative", name,
                       (long long)o->stride_h, (long long)o->stride_w);
    if (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME &&
        o->padding != MT_PADDING_EXPLICIT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown padding %d", name,
                       (int)o->padding);
    bool padded = o->pad_top || o->pad_bottom || o->pad_left || o->pad_right;
    if (o->pad_top < 0 || o->pad_bottom < 0 || o->pad_left < 0 || o->pad_right < 0 ||
        (padded && o->padding != MT_PADDING_EXPLICIT))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pads (top %lld, bottom %lld, left "
                       "%lld, right %lld) must be >= 0 and need MT_PADDING_EXPLICIT", name,
                       (long long)o->pad_top, (long long)o->pad_bottom,
                       (long long)o->pad_left, (long long)o->pad_right);
    if (o->dilation_h < 0 || o->dilation_w < 0 || o->groups < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dilation (%lld,%lld) or groups %lld is "
                       "negative", name, (long long)o->dilation_h, (long long)o->dilation_w,
                       (long long)o->groups);
    if (!mt_activation_name(o->act))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", name,
                       (int)o->act);
    return MT_OK;
}

static mt_status check_tensors(const char *name, const mt_tensor *k, const mt_tensor *b,
                               const mt_conv2d_options *o)
{
    char ks[160], bs[160];
    mt_tensor_describe(k, ks, sizeof ks);
    if (k->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected 4 dims (%s)", name, ks,
                       layout_text(o->layout));
    if (b && b->rank != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected 1 dim", name,
                       mt_tensor_describe(b, bs, sizeof bs));
    if (k->dtype >= MT_DTYPE_COUNT || (b && b->dtype >= MT_DTYPE_COUNT))
        return mt_fail(MT_ERR_DTYPE, "%s: invalid dtype", name);
    kdims d = kernel_dims(o->layout, k->shape);
    if (d.kh < 1 || d.kw < 1 || d.in < 1 || d.out < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s is empty (%s)", name, ks,
                       layout_text(o->layout));
    int64_t groups = o->groups ? o->groups : 1;
    if (d.out % groups != 0 || (o->in_channels && o->in_channels % groups != 0))
        return mt_fail(MT_ERR_SHAPE, "%s: groups %lld does not divide the %lld output "
                       "channels of kernel %s (%s) or in_channels %lld", name,
                       (long long)groups, (long long)d.out, ks, layout_text(o->layout),
                       (long long)o->in_channels);
    /* the kernel holds in/groups input channels */
    kdims want = {o->kernel_h ? o->kernel_h : d.kh, o->kernel_w ? o->kernel_w : d.kw,
                  o->in_channels ? o->in_channels / groups : d.in,
                  o->out_channels ? o->out_channels : d.out};
    if (memcmp(&want, &d, sizeof d) != 0) {
        int64_t w[4];
        kernel_shape(o->layout, want, w);
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [%lld,%lld,%lld,%lld] (%s)",
                       name, ks, (long long)w[0], (long long)w[1], (long long)w[2],
                       (long long)w[3], layout_text(o->layout));
    }
    if (b && b->shape[0] != d.out)
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of "
                       "kernel %s, %s)", name, mt_tensor_describe(b, bs, sizeof bs),
                       (long long)d.out, ks, layout_text(o->layout));
    return MT_OK;
}

/* ---- the layer --------------------------------------------------------------- */

typedef struct conv_state {
    mt_tensor *kernel;    /* contiguous F32, as given or converted; one reference */
    mt_tensor *bias;      /* [out] F32 or NULL; one reference */
    mt_conv2d_params params;   /* strides resolved; activation as built */
    bool pooled;               /* a MaxPool2D absorbed (absorb_next): pool applies */
    mt_pool2d_params pool;
    mt_tensor *winograd;       /* frozen, 3×3 under a 2×2 pool: the kernel's
                                * transform (params.winograd points at it) */
} conv_state;

int64_t mt_nn_window_len(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                         mt_padding padding, int64_t before, int64_t after, bool ceil)
{
    int64_t span, dk;
    if (padding == MT_PADDING_SAME)
        return in / stride + (in % stride != 0);
    if (padding == MT_PADDING_VALID)
        before = after = 0;
    if (__builtin_mul_overflow(dilation, k - 1, &dk) ||
        __builtin_add_overflow(in, before, &span) || __builtin_add_overflow(span, after, &span))
        return -1;
    // PyTorch's ceil_mode keeps one window less than a stride wider than the
    // padded input (as mt_window_plan)
    if (span <= dk)
        return ceil && in > 0 && dk - span < stride - 1 ? 1 : 0;
    int64_t q = (span - dk - 1) / stride;
    // PyTorch: rounded up unless the last window would start in the bottom pad
    // (a start past INT64_MAX is past it too)
    int64_t next;
    if (ceil && (span - dk - 1) % stride != 0 &&
        !__builtin_mul_overflow(q + 1, stride, &next) && next < in + before)
        q++;
    return q + 1;
}

mt_status mt_nn_compose_activation(mt_activation own, const mt_layer_epilogue *e,
                                   mt_activation *act)
{
    if (((e->scale || e->shift) && own != MT_ACTIVATION_NONE) ||
        (e->act != MT_ACTIVATION_NONE && own != MT_ACTIVATION_NONE &&
         !(own == MT_ACTIVATION_RELU && e->act == MT_ACTIVATION_RELU)))   /* relu∘relu = relu */
        return MT_ERR_UNSUPPORTED;
    *act = e->act != MT_ACTIVATION_NONE ? e->act : own;
    return MT_OK;
}

mt_status mt_nn_conv_absorb(const mt_tensor *kernel, const mt_tensor *bias,
                            mt_activation own, bool out_first, const mt_layer_epilogue *e,
                            mt_activation *act, mt_tensor **k, mt_tensor **b)
{
    *k = *b = NULL;
    mt_status composed = mt_nn_compose_activation(own, e, act);
    if (composed || !(e->scale || e->shift))
        return composed;
    int r = kernel->rank;
    int64_t c = kernel->shape[out_first ? 0 : r - 1];
    mt_tensor scale;
    mt_status s = MT_OK;
    if (e->scale) {   /* along the out dim: [c] broadcasts over the last, [c,1,…] the first */
        int64_t shape[MT_MAX_RANK] = {c};
        for (int d = 1; d < r; d++)
            shape[d] = 1;
        s = mt_view_into(e->scale, out_first ? r : 1, shape, &scale);
        if (!s)
            s = mt_mul(kernel, &scale, k);
    } else {
        s = mt_tensor_contiguous(kernel, k);
    }
    if (!s && bias)
        s = e->scale ? mt_mul(bias, e->scale, b) : mt_tensor_contiguous(bias, b);
    else if (!s && e->shift)
        s = mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){c}, b);
    if (!s && e->shift)
        s = mt_add_into(*b, e->shift, *b);
    if (!s)
        mt_tensor_name_set(*k, kernel->name);
    else {
        mt_tensor_free(*k);
        mt_tensor_free(*b);
        *k = *b = NULL;
    }
    return s;
}

bool mt_nn_transposed_len(int64_t in, int64_t k, int64_t stride, int64_t dilation,
                          int64_t before, int64_t after, int64_t output_padding, int64_t *out)
{
    int64_t a, b;
    return !(__builtin_mul_overflow(in - 1, stride, &a) ||
             __builtin_mul_overflow(dilation, k - 1, &b) || __builtin_add_overflow(a, b, out) ||
             __builtin_add_overflow(*out, output_padding + 1, out) ||
             __builtin_sub_overflow(*out, before, out) ||
             __builtin_sub_overflow(*out, after, out));
}

/* The output shape of window p (a kernel, or a pool with its dilation)
 * sliding over NHWC `in`; fails, naming `from`, on a non-NHWC input, the
 * wrong channel count (`channels`, 0: any) or a window that does not fit. */
static mt_status window_infer(const char *what, const mt_shape *in, const mt_pool2d_params *p,
                             int64_t channels, const char *from, mt_shape *out)
{
    if (in->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "expects NHWC input (4 dims: N,H,W,C), %s gives %d "
                       "dims", from, in->rank);
    if (channels && in->dim[3] != channels)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input channels, %s gives %lld%s",
                       (long long)channels, from, (long long)in->dim[3],
                       in->dim[1] == channels ? " (NCHW? the layer takes NHWC: permute "
                                                "{0,2,3,1})" : "");
    int64_t dh = p->dilation_h ? p->dilation_h : 1, dw = p->dilation_w ? p->dilation_w : 1;
    int64_t oh = mt_nn_window_len(in->dim[1], p->pool_h, p->stride_h, dh, p->padding,
                                  p->pad_top, p->pad_bottom, p->ceil_mode);
    int64_t ow = mt_nn_window_len(in->dim[2], p->pool_w, p->stride_w, dw, p->padding,
                                  p->pad_left, p->pad_right, p->ceil_mode);
    if (oh < 0 || ow < 0)
        return mt_fail(MT_ERR_OVERFLOW, "%s on the %lldx%lld image %s gives: a size "
                       "overflows", what, (long long)in->dim[1], (long long)in->dim[2], from);
    char dilated[64] = "";
    if (dh != 1 || dw != 1)
        snprintf(dilated, sizeof dilated, " (dilation %lldx%lld)", (long long)dh,
                 (long long)dw);
    if (oh < 1 || ow < 1)
        return mt_fail(MT_ERR_SHAPE, "%s %lldx%lld%s does not fit the %lldx%lld image %s "
                       "gives (padding %s)", what, (long long)p->pool_h, (long long)p->pool_w,
                       dilated, (long long)in->dim[1], (long long)in->dim[2], from,
                       p->padding == MT_PADDING_EXPLICIT ? "explicit" : "valid");
    *out = *in;
    out->dim[1] = oh;
    out->dim[2] = ow;
    return MT_OK;
}

static mt_status conv_infer(const mt_layer *l, int n, const mt_shape *in,
                            const char *const *from, mt_shape *out)
{
    (void)n;
    const mt_layer_info *i = &l->info;
    const conv_state *st = l->state;
    const mt_conv2d_params *c = &st->params;
    const mt_pool2d_params kernel = {
        .pool_h = i->kernel_h, .pool_w = i->kernel_w, .stride_h = c->stride_h,
        .stride_w = c->stride_w, .padding = c->padding, .pad_top = c->pad_top,
        .pad_bottom = c->pad_bottom, .pad_left = c->pad_left, .pad_right = c->pad_right,
        .dilation_h = c->dilation_h, .dilation_w = c->dilation_w};
    // a grouped kernel loaded without its groups reads as too few channels
    if (in->rank == 4 && c->groups <= 1 && i->in_channels < in->dim[3] &&
        in->dim[3] % i->in_channels == 0)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input channels, %s gives %lld (if the "
                       "conv is grouped, as Keras' groups= or a depthwise kernel, set "
                       ".groups = %lld)",
                       (long long)i->in_channels, from[0], (long long)in->dim[3],
                       (long long)(in->dim[3] / i->in_channels));
    mt_status s = window_infer("its kernel", in, &kernel, i->in_channels, from[0], out);
    if (!s)
        out->dim[3] = i->out_channels;
    if (!s && st->pooled) {
        mt_shape conv_out = *out;
        s = window_infer("its pool window", &conv_out, &st->pool, 0, from[0], out);
    }
    return s;
}

static mt_status conv_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const conv_state *st = l->state;
    if (st->pooled)
        return mt_conv2d_max_pool2d_into(in[0], st->kernel, st->bias, &st->params, &st->pool,
                                        out);
    return mt_conv2d_into(in[0], st->kernel, st->bias, &st->params, out);
}

/* The options that build l again (its kernel as held, its activation). */
static mt_conv2d_options options_of(const mt_layer *l)
{
    const conv_state *st = l->state;
    const mt_conv2d_params *c = &st->params;
    return (mt_conv2d_options){.layout = l->info.kernel_layout, .stride_h = c->stride_h,
                               .stride_w = c->stride_w, .padding = c->padding,
                               .act = c->activation, .pad_top = c->pad_top,
                               .pad_bottom = c->pad_bottom, .pad_left = c->pad_left,
                               .pad_right = c->pad_right, .dilation_h = c->dilation_h,
                               .dilation_w = c->dilation_w, .groups = c->groups};
}

/* A Conv2D applying e as it writes: a per-channel scale and shift (an
 * inference BatchNorm) become a new kernel K·scale (per output channel) and
 * bias b·scale + shift; an activation goes into the GEMM's epilogue. */
static mt_status conv_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                             mt_layer **fused)
{
    const conv_state *st = l->state;
    const mt_layer_info *i = &l->info;
    if (st->pooled)
        return MT_ERR_UNSUPPORTED;
    mt_conv2d_options o = options_of(l);
    mt_tensor *k, *b;
    mt_status s = mt_nn_conv_absorb(st->kernel, st->bias, st->params.activation,
                                    i->kernel_layout == MT_KERNEL_OIHW, e, &o.act, &k, &b);
    if (!s)
        s = k ? mt_conv2d_new(k, b, &o, fused) : mt_conv2d_new(st->kernel, st->bias, &o, fused);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

static const mt_layer_vtable pool_vtable;

/* A Conv2D followed by a VALID MaxPool2D: one layer whose forward is
 * mt_conv2d_max_pool2d_into, so the conv's full-size output is never
 * stored (the Fashion CNN: 26x26x32 floats per image before its first
 * pool). */
static mt_status conv_absorb_next(const mt_layer *l, const mt_layer *next, mt_layer **fused)
{
    const conv_state *st = l->state;
    if (st->pooled || next->vt != &pool_vtable)
        return MT_ERR_UNSUPPORTED;
    const mt_pool2d_params *p = next->state;
    // elsewhere mt_conv2d_max_pool2d_into would allocate a temporary per pass
    if (p->padding != MT_PADDING_VALID || p->ceil_mode || st->params.groups != 1 ||
        st->params.dilation_w != 1)
        return MT_ERR_UNSUPPORTED;
    mt_conv2d_options o = options_of(l);
    mt_status s = mt_conv2d_new(st->kernel, st->bias, &o, fused);
    if (s)
        return s;
    conv_state *fs = (*fused)->state;
    fs->pooled = true;
    fs->pool = *p;
    return MT_OK;
}

static void conv_release(void *state)
{
    conv_state *st = state;
    mt_tensor_free(st->kernel);
    mt_tensor_free(st->bias);
    mt_tensor_free(st->winograd);
}

/* Frozen: private copies of the kernel and bias, and for a 3×3 stride-1
 * conv under a pool the kernel's Winograd transform, kept so
 * that Winograd pays at any batch size (at batch 1 the per-call transform
 * cost more than it saved). */
static mt_status conv_freeze(const mt_layer *l, mt_layer **frozen)
{
    const conv_state *st = l->state;
    const mt_layer_info *i = &l->info;
    mt_tensor *k = NULL, *b = NULL;
    mt_status s = mt_tensor_contiguous(st->kernel, &k);
    if (!s && st->bias)
        s = mt_tensor_contiguous(st->bias, &b);
    if (!s) {
        mt_tensor_name_set(k, st->kernel->name);
        mt_conv2d_options o = options_of(l);
        s = mt_conv2d_new(k, b, &o, frozen);
    }
    if (!s) {
        conv_state *fs = (*frozen)->state;
        fs->pooled = st->pooled;
        fs->pool = st->pool;
        // the op decides whether Winograd applies (the pool's shape, the
        // padding); where it does not, the kept transform is only unused memory
        if (st->pooled && i->kernel_h == 3 && i->kernel_w == 3 && i->stride_h == 1 &&
            i->stride_w == 1 && st->params.groups == 1 && st->params.dilation_h == 1 &&
            st->params.dilation_w == 1) {
            s = mt_conv2d_winograd_kernel(k, i->kernel_layout, &fs->winograd);
            fs->params.winograd = fs->winograd;
        }
        snprintf((*frozen)->name, sizeof (*frozen)->name, "%s", l->name);
        if (s) {
            mt_layer_free(*frozen);
            *frozen = NULL;
        }
    }
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

static const mt_layer_vtable conv_vtable = {
    .n_inputs = 1,
    .infer = conv_infer,
    .forward = conv_forward,
    .absorb = conv_absorb,
    .release = conv_release,
    .absorb_next = conv_absorb_next,
    .freeze = conv_freeze,
};

mt_status mt_conv2d_new(const mt_tensor *kernel, const mt_tensor *bias,
                        const mt_conv2d_options *options, mt_layer **out)
{
    if (!kernel || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv2d: %s is NULL",
                       kernel ? "out" : "kernel");
    *out = NULL;
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout == MT_KERNEL_AUTO)  // the layer's zero default stays Keras' HWIO
        o.layout = MT_KERNEL_HWIO;
    char name[MT_NAME_MAX + 16];
    snprintf(name, sizeof name, "conv2d%s%s", kernel->name[0] ? " " : "", kernel->name);
    mt_status s;
    if ((s = mt_nn_check_weight(name, "kernel", kernel)) ||
        (s = mt_nn_check_weight(name, "bias", bias)) || (s = check_options(name, &o)) ||
        (s = check_tensors(name, kernel, bias, &o)))
        return s;
    mt_layer *l = mt_nn_layer_alloc("conv2d", &conv_vtable, MT_LAYER_CONV2D, name,
                                    sizeof(conv_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    conv_state *st = l->state;
    if ((s = mt_nn_hold_for(name, "kernel", kernel, true, &st->kernel)) ||
        (bias && (s = mt_nn_hold_for(name, "bias", bias, true, &st->bias)))) {
        mt_layer_free(l);
        return s;
    }
    kdims d = kernel_dims(o.layout, kernel->shape);
    mt_layer_info *i = &l->info;
    int64_t groups = o.groups ? o.groups : 1;
    i->in_channels = d.in * groups;
    i->out_channels = d.out;
    i->kernel_layout = o.layout;
    i->kernel_h = d.kh;
    i->kernel_w = d.kw;
    i->stride_h = o.stride_h ? o.stride_h : 1;
    i->stride_w = o.stride_w ? o.stride_w : 1;
    i->padding = o.padding;
    i->has_bias = bias != NULL;
    i->act = o.act;
    st->params = (mt_conv2d_params){
        .kernel_layout = o.layout, .stride_h = i->stride_h, .stride_w = i->stride_w,
        .padding = o.padding, .pad_top = o.pad_top, .pad_bottom = o.pad_bottom,
        .pad_left = o.pad_left, .pad_right = o.pad_right,
        .dilation_h = o.dilation_h ? o.dilation_h : 1,
        .dilation_w = o.dilation_w ? o.dilation_w : 1, .groups = groups, .activation = o.act};
    *out = l;
    return MT_OK;
}

mt_status mt_conv2d_from_safetensors(const mt_safetensors *file, const char *kernel_name,
                                     const char *bias_name,
                                     const mt_conv2d_options *options, mt_layer **out)
{
    if (!file || !kernel_name || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv2d_from_safetensors: NULL argument");
    *out = NULL;
    char layer[MT_NAME_MAX + 16];
    snprintf(layer, sizeof layer, "conv2d %s", kernel_name);
    mt_tensor *k = NULL, *b = NULL;
    mt_status s = mt_nn_get(file, layer, kernel_name, &k);
    if (!s && bias_name)
        s = mt_nn_get(file, layer, bias_name, &b);
    if (!s)
        s = mt_conv2d_new(k, b, options, out);
    if (!s && ((s = mt_nn_check_finite(layer, k)) || (b && (s = mt_nn_check_finite(layer, b))))) {
        mt_layer_free(*out);
        *out = NULL;
    }
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

/* ---- MaxPool2D ------------------------------------------------------------------ */

static mt_status pool_infer(const mt_layer *l, int n, const mt_shape *in,
                            const char *const *from, mt_shape *out)
{
    (void)n;
    return window_infer("its window", in, l->state, 0, from[0], out);
}

static mt_status pool_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_max_pool2d_into(in[0], l->state, out);
}

static const mt_layer_vtable pool_vtable = {
    .n_inputs = 1,
    .infer = pool_infer,
    .forward = pool_forward,
};

mt_status mt_max_pool2d_new(const mt_max_pool2d_options *options, mt_layer **out)
{
    if (!options || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "max_pool2d: %s is NULL",
                       out ? "options" : "out");
    *out = NULL;
    const mt_max_pool2d_options *o = options;
    if (o->pool_h < 1 || o->pool_w < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "max_pool2d: pool size (%lld,%lld), "
                       "expected >= 1", (long long)o->pool_h, (long long)o->pool_w);
    if (o->stride_h < 0 || o->stride_w < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "max_pool2d: stride (%lld,%lld) is negative",
                       (long long)o->stride_h, (long long)o->stride_w);
    if (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "max_pool2d: unknown padding %d",
                       (int)o->padding);
    if (o->pad_h < 0 || o->pad_w < 0 || 2 * o->pad_h > o->pool_h || 2 * o->pad_w > o->pool_w)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "max_pool2d: pads (%lld,%lld) for pool size "
                       "(%lld,%lld), expected >= 0 and at most half the window",
                       (long long)o->pad_h, (long long)o->pad_w, (long long)o->pool_h,
                       (long long)o->pool_w);
    bool padded = o->pad_h || o->pad_w;
    char name[64];
    snprintf(name, sizeof name, "max_pool2d %lldx%lld", (long long)o->pool_h,
             (long long)o->pool_w);
    mt_layer *l = mt_nn_layer_alloc("max_pool2d", &pool_vtable, MT_LAYER_MAXPOOL2D, name,
                                    sizeof(mt_pool2d_params));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    mt_pool2d_params *p = l->state;
    *p = (mt_pool2d_params){.pool_h = o->pool_h, .pool_w = o->pool_w,
                                 .stride_h = o->stride_h ? o->stride_h : o->pool_h,
                                 .stride_w = o->stride_w ? o->stride_w : o->pool_w,
                                 .padding = padded ? MT_PADDING_EXPLICIT : o->padding,
                                 .pad_top = o->pad_h, .pad_bottom = o->pad_h,
                                 .pad_left = o->pad_w, .pad_right = o->pad_w,
                                 .ceil_mode = o->ceil_mode};
    l->info.kernel_h = o->pool_h;
    l->info.kernel_w = o->pool_w;
    l->info.stride_h = p->stride_h;
    l->info.stride_w = p->stride_w;
    l->info.padding = p->padding;
    *out = l;
    return MT_OK;
}
