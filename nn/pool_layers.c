/* pool_layers.c — GlobalAveragePooling2D and GlobalMaxPooling2D (the mean
 * and the maximum over H and W of NHWC), AdaptiveAvgPool2D, AvgPool2D and Upsample (resizing). */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/pool.h"
#include "minitensor/reduce.h"

static mt_status gap_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    if (in->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "expects NHWC input (4 dims: N,H,W,C), %s gives %d "
                       "dims", from[0], in->rank);
    if (in->dim[1] < 1 || in->dim[2] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects a non-empty image, %s gives %lldx%lld",
                       from[0], (long long)in->dim[1], (long long)in->dim[2]);
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 2, .dim = {in->dim[0], in->dim[3]}};
    return MT_OK;
}

static mt_status gap_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_mean_dims_into(in[0], (const int[]){1, 2}, 2, false, out);
}

static const mt_layer_vtable gap_vtable = {
    .n_inputs = 1,
    .infer = gap_infer,
    .forward = gap_forward,
};

mt_status mt_global_avg_pool2d_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "global_avg_pool2d: out is NULL");
    *out = mt_nn_layer_alloc("global_avg_pool2d", &gap_vtable, MT_LAYER_GLOBAL_AVG_POOL2D,
                             "global_avg_pool2d", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

static mt_status gmp_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_max_dims_into(in[0], (const int[]){1, 2}, 2, false, out);
}

static const mt_layer_vtable gmp_vtable = {
    .n_inputs = 1,
    .infer = gap_infer,
    .forward = gmp_forward,
};

mt_status mt_global_max_pool2d_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "global_max_pool2d: out is NULL");
    *out = mt_nn_layer_alloc("global_max_pool2d", &gmp_vtable, MT_LAYER_GLOBAL_MAX_POOL2D,
                             "global_max_pool2d", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

/* ---- AdaptiveAvgPool2D ------------------------------------------------------------------ */

static mt_status adaptive_infer(const mt_layer *l, int n, const mt_shape *in,
                                const char *const *from, mt_shape *out)
{
    (void)n;
    if (in->rank != 4 || in->dtype != MT_DTYPE_F32 || in->dim[1] < 1 || in->dim[2] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects a non-empty F32 NHWC input (4 dims: N,H,W,C), "
                       "%s gives %d dims", from[0], in->rank);
    *out = *in;
    out->dim[1] = l->info.kernel_h;
    out->dim[2] = l->info.kernel_w;
    return MT_OK;
}

static mt_status adaptive_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                  void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_adaptive_avg_pool2d_into(in[0], l->info.kernel_h, l->info.kernel_w,
                                       MT_DATA_LAYOUT_NHWC, out);
}

static const mt_layer_vtable adaptive_vtable = {
    .n_inputs = 1,
    .infer = adaptive_infer,
    .forward = adaptive_forward,
};

mt_status mt_adaptive_avg_pool2d_new(int64_t out_h, int64_t out_w, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "adaptive_avg_pool2d: out is NULL");
    *out = NULL;
    if (out_h < 1 || out_w < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "adaptive_avg_pool2d: output size "
                       "(%lld,%lld), expected >= 1", (long long)out_h, (long long)out_w);
    char name[64];
    snprintf(name, sizeof name, "adaptive_avg_pool2d %lldx%lld", (long long)out_h,
             (long long)out_w);
    mt_layer *l = mt_nn_layer_alloc("adaptive_avg_pool2d", &adaptive_vtable,
                                    MT_LAYER_ADAPTIVE_AVG_POOL2D, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.kernel_h = out_h;   /* the output size */
    l->info.kernel_w = out_w;
    *out = l;
    return MT_OK;
}

/* ---- AvgPool2D ---------------------------------------------------------------------- */

static mt_status avg_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)n;
    const mt_pool2d_params *p = l->state;
    if (in->rank != 4 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 NHWC input (4 dims: N,H,W,C), %s gives "
                       "%d dims", from[0], in->rank);
    int64_t oh = mt_nn_window_len(in->dim[1], p->pool_h, p->stride_h, 1, p->padding,
                                  p->pad_top, p->pad_bottom, p->ceil_mode);
    int64_t ow = mt_nn_window_len(in->dim[2], p->pool_w, p->stride_w, 1, p->padding,
                                  p->pad_left, p->pad_right, p->ceil_mode);
    if (oh < 0 || ow < 0)
        return mt_fail(MT_ERR_OVERFLOW, "its window %lldx%lld on the %lldx%lld image %s "
                       "gives: a size overflows", (long long)p->pool_h, (long long)p->pool_w,
                       (long long)in->dim[1], (long long)in->dim[2], from[0]);
    if (oh < 1 || ow < 1)
        return mt_fail(MT_ERR_SHAPE, "its window %lldx%lld does not fit the %lldx%lld image "
                       "%s gives", (long long)p->pool_h, (long long)p->pool_w,
                       (long long)in->dim[1], (long long)in->dim[2], from[0]);
    *out = *in;
    out->dim[1] = oh;
    out->dim[2] = ow;
    return MT_OK;
}

static mt_status avg_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_avg_pool2d_into(in[0], l->state, out);
}

static const mt_layer_vtable avg_vtable = {
    .n_inputs = 1,
    .infer = avg_infer,
    .forward = avg_forward,
};

mt_status mt_avg_pool2d_new(const mt_avg_pool2d_options *options, mt_layer **out)
{
    if (!options || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "avg_pool2d: %s is NULL",
                       out ? "options" : "out");
    *out = NULL;
    const mt_avg_pool2d_options *o = options;
    if (o->pool_h < 1 || o->pool_w < 1 || o->stride_h < 0 || o->stride_w < 0 ||
        o->pad_h < 0 || o->pad_w < 0 || 2 * o->pad_h > o->pool_h || 2 * o->pad_w > o->pool_w)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "avg_pool2d: pool (%lld,%lld), stride "
                       "(%lld,%lld) or pads (%lld,%lld) out of range (pads at most half the "
                       "window)", (long long)o->pool_h, (long long)o->pool_w,
                       (long long)o->stride_h, (long long)o->stride_w, (long long)o->pad_h,
                       (long long)o->pad_w);
    if (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "avg_pool2d: unknown padding %d",
                       (int)o->padding);
    char name[64];
    snprintf(name, sizeof name, "avg_pool2d %lldx%lld", (long long)o->pool_h,
             (long long)o->pool_w);
    mt_layer *l = mt_nn_layer_alloc("avg_pool2d", &avg_vtable, MT_LAYER_AVG_POOL2D, name,
                                    sizeof(mt_pool2d_params));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    mt_pool2d_params *p = l->state;
    bool pads = o->pad_h || o->pad_w;
    *p = (mt_pool2d_params){.pool_h = o->pool_h, .pool_w = o->pool_w,
                            .stride_h = o->stride_h ? o->stride_h : o->pool_h,
                            .stride_w = o->stride_w ? o->stride_w : o->pool_w,
                            .padding = pads ? MT_PADDING_EXPLICIT : o->padding,
                            .pad_top = o->pad_h, .pad_bottom = o->pad_h,
                            .pad_left = o->pad_w, .pad_right = o->pad_w,
                            .count_include_pad = o->count_include_pad,
                            .ceil_mode = o->ceil_mode};
    l->info.kernel_h = p->pool_h;
    l->info.kernel_w = p->pool_w;
    l->info.stride_h = p->stride_h;
    l->info.stride_w = p->stride_w;
    l->info.padding = p->padding;
    *out = l;
    return MT_OK;
}

/* ---- Upsample ------------------------------------------------------------------------- */

static mt_status up_infer(const mt_layer *l, int n, const mt_shape *in,
                          const char *const *from, mt_shape *out)
{
    (void)n;
    const mt_interpolate_params *p = l->state;
    if (in->rank != 4 || in->dtype != MT_DTYPE_F32 || in->dim[1] < 1 || in->dim[2] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects a non-empty F32 NHWC input (4 dims: "
                       "N,H,W,C), %s gives %d dims", from[0], in->rank);
    double oh = p->out_h ? (double)p->out_h : floor((double)in->dim[1] * p->scale_h);
    double ow = p->out_w ? (double)p->out_w : floor((double)in->dim[2] * p->scale_w);
    if (!(oh < 0x1p62 && ow < 0x1p62))   /* before the casts, which would overflow */
        return mt_fail(MT_ERR_OVERFLOW, "scales (%g,%g) make the %lldx%lld image %s gives "
                       "too large", p->scale_h, p->scale_w, (long long)in->dim[1],
                       (long long)in->dim[2], from[0]);
    *out = *in;
    out->dim[1] = (int64_t)oh;
    out->dim[2] = (int64_t)ow;
    if (out->dim[1] < 1 || out->dim[2] < 1)
        return mt_fail(MT_ERR_SHAPE, "scales (%g,%g) leave nothing of the %lldx%lld image "
                       "%s gives", p->scale_h, p->scale_w, (long long)in->dim[1],
                       (long long)in->dim[2], from[0]);
    return MT_OK;
}

static mt_status up_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                            void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_interpolate_into(in[0], l->state, out);
}

static const mt_layer_vtable up_vtable = {
    .n_inputs = 1,
    .infer = up_infer,
    .forward = up_forward,
};

mt_status mt_upsample_new(const mt_interpolate_params *params, mt_layer **out)
{
    if (!params || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "upsample: %s is NULL",
                       out ? "params" : "out");
    *out = NULL;
    const mt_interpolate_params *p = params;
    bool sizes = p->out_h >= 1 && p->out_w >= 1 && p->scale_h == 0 && p->scale_w == 0;
    bool scales = !p->out_h && !p->out_w && p->scale_h > 0 && p->scale_w > 0 &&
                  isfinite(p->scale_h) && isfinite(p->scale_w);
    if ((!sizes && !scales) || p->data_layout != MT_DATA_LAYOUT_NHWC)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "upsample: give an output size or positive "
                       "scales (not both), NHWC");
    if ((unsigned)p->mode > MT_INTERPOLATE_AREA_TF)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "upsample: unknown mode %d", (int)p->mode);
    if (p->align_corners && p->mode != MT_INTERPOLATE_BILINEAR &&
        p->mode != MT_INTERPOLATE_BICUBIC)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "upsample: align_corners needs bilinear or "
                       "bicubic mode (mode %d)", (int)p->mode);
    mt_layer *l = mt_nn_layer_alloc("upsample", &up_vtable, MT_LAYER_UPSAMPLE, "upsample",
                                    sizeof(mt_interpolate_params));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(mt_interpolate_params *)l->state = *p;
    *out = l;
    return MT_OK;
}
