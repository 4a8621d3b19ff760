/* pool.c — max, average, adaptive-average and global-average pooling over
 * NHWC views (NCHW inputs and outputs are permuted views). The channel loop
 * is innermost: contiguous in NHWC. */
#include <math.h>

#include "minitensor/pool.h"
#include "internal.h"
#include "window.h"

typedef struct pool_geometry {
    mt_window_axis ah, aw;
    bool count_include_pad;
    int64_t out_h, out_w;  /* adaptive pooling */
} pool_geometry;

typedef void (*pool_fn)(const pool_geometry *g, const mt_tensor *x, mt_tensor *y);

/* An [N,C] tensor seen as [N,1,1,C], or a 4-D one as NHWC. */
static void nhwc_of(const mt_tensor *t, mt_data_layout layout, mt_tensor *v)
{
    if (t->rank == 4) {
        mt_nhwc_view(t, layout, v);
        return;
    }
    *v = *t;
    v->rank = 4;
    v->shape[3] = t->shape[1], v->stride[3] = t->stride[1];
    v->shape[1] = v->shape[2] = 1;
    v->stride[1] = v->stride[2] = 0;
}

static mt_status check_input(const char *op, const mt_tensor *input, mt_data_layout layout)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) || (s = mt_check_f32(op, input)) ||
        (s = mt_check_data_layout(op, layout)))
        return s;
    if (input->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be %s", op, MT_SHAPE(input),
                       layout == MT_DATA_LAYOUT_NCHW ? "[N,C,H,W]" : "[N,H,W,C]");
    return MT_OK;
}

/* out (the result's shape, any strides, apart from input) gets fn's result. */
static mt_status finish_into(const char *op, const mt_tensor *input, mt_data_layout layout,
                             int rank, const int64_t *shape, pool_fn fn,
                             const pool_geometry *g, mt_tensor *out)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want, x, y;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, rank, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, input %s gives %s", op, MT_SHAPE(out),
                       MT_SHAPE(input), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, rank, shape)))   // an expanded (stride 0) out
        return s;
    if (mt_tensors_overlap(out, input))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input %s", op,
                       MT_SHAPE(out), MT_SHAPE(input));
    mt_nhwc_view(input, layout, &x);
    nhwc_of(out, layout, &y);
    fn(g, &x, &y);
    return MT_OK;
}

static mt_status finish_new(const char *op, const mt_tensor *input, mt_data_layout layout,
                            int rank, const int64_t *shape, pool_fn fn,
                            const pool_geometry *g, mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t, x, y;
    mt_status s = mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t);
    if (s)
        return s;
    mt_nhwc_view(input, layout, &x);
    nhwc_of(t, layout, &y);
    fn(g, &x, &y);
    *out = t;
    return MT_OK;
}

/* ---- max and average pooling ------------------------------------------------ */

static mt_status pool_plan(const char *op, const mt_tensor *input, const mt_pool2d_params *p,
                           bool avg, pool_geometry *g, int64_t shape[4])
{
    mt_status s = mt_tensor_check(op, "input", input);
    if (s)
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = check_input(op, input, p->data_layout)))
        return s;
    if (p->stride_h < 0 || p->stride_w < 0 || p->dilation_h < 0 || p->dilation_w < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: invalid pool (%lld,%lld), stride "
                       "(%lld,%lld) or dilation (%lld,%lld)", op, (long long)p->pool_h,
                       (long long)p->pool_w, (long long)p->stride_h, (long long)p->stride_w,
                       (long long)p->dilation_h, (long long)p->dilation_w);
    if (avg && (p->dilation_h > 1 || p->dilation_w > 1))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dilation (%lld,%lld) must be 1 for an "
                       "average", op, (long long)p->dilation_h, (long long)p->dilation_w);
    mt_tensor x;
    mt_nhwc_view(input, p->data_layout, &x);
    *g = (pool_geometry){
        .ah = {.in = x.shape[1], .k = p->pool_h, .dilation = p->dilation_h ? p->dilation_h : 1,
               .stride = p->stride_h ? p->stride_h : p->pool_h,
               .pad_before = p->pad_top, .pad_after = p->pad_bottom},
        .aw = {.in = x.shape[2], .k = p->pool_w, .dilation = p->dilation_w ? p->dilation_w : 1,
               .stride = p->stride_w ? p->stride_w : p->pool_w,
               .pad_before = p->pad_left, .pad_after = p->pad_right},
        .count_include_pad = p->count_include_pad,
    };
    if ((s = mt_window_plan(op, "height", p->padding, p->ceil_mode, &g->ah)) ||
        (s = mt_window_plan(op, "width", p->padding, p->ceil_mode, &g->aw)))
        return s;
    for (int a = 0; a < 2; a++) {   // as PyTorch: an empty output is no answer
        const mt_window_axis *ax = a ? &g->aw : &g->ah;
        if (ax->out < 1)
            return mt_fail(MT_ERR_SHAPE, "%s: the window %lld (dilation %lld) is larger than "
                           "the %s %lld of input %s plus its pads (%lld, %lld)", op,
                           (long long)ax->k, (long long)ax->dilation, a ? "width" : "height",
                           (long long)ax->in, MT_SHAPE(input), (long long)ax->pad_before,
                           (long long)ax->pad_after);
    }
    if (p->padding == MT_PADDING_EXPLICIT) {
        // PyTorch's rule (half the undilated window): more could leave a
        // window with nothing but padding
        int64_t hh = g->ah.k / 2, hw = g->aw.k / 2;
        if (p->pad_top > hh || p->pad_bottom > hh || p->pad_left > hw || p->pad_right > hw)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pads (top %lld, bottom %lld, left "
                           "%lld, right %lld) must be at most half the window (%lld, %lld)",
                           op, (long long)p->pad_top, (long long)p->pad_bottom,
                           (long long)p->pad_left, (long long)p->pad_right, (long long)hh,
                           (long long)hw);
    }
    mt_layout_shape(p->data_layout, x.shape[0], g->ah.out, g->aw.out, x.shape[3], shape);
    return MT_OK;
}

/* max(m, v) that propagates NaN: a NaN, once seen, stays. */
static inline float max_nan(float m, float v)
{
    return v > m || v != v ? v : m;
}

static void max_run(const pool_geometry *g, const mt_tensor *in, mt_tensor *out)
{
    const float *x = in->data;
    float *y = out->data;
    const int64_t *si = in->stride, *so = out->stride, ch = out->shape[3];
    const mt_window_axis *ah = &g->ah, *aw = &g->aw;
    for (int64_t n = 0; n < out->shape[0]; n++)
        for (int64_t oy = 0; oy < ah->out; oy++)
            for (int64_t ox = 0; ox < aw->out; ox++) {
                float *py = y + n * so[0] + oy * so[1] + ox * so[2];
                for (int64_t c = 0; c < ch; c++)
                    py[c * so[3]] = -INFINITY;
                const int64_t y0 = oy * ah->stride - ah->pad_before;
                const int64_t x0 = ox * aw->stride - aw->pad_before;
                int64_t i0, i1, j0, j1;
                mt_window_taps(ah, y0, &i0, &i1);
                mt_window_taps(aw, x0, &j0, &j1);
                for (int64_t i = i0; i < i1; i++) {
                    int64_t iy = y0 + i * ah->dilation;
                    for (int64_t j = j0; j < j1; j++) {
                        int64_t ix = x0 + j * aw->dilation;
                        const float *px = x + n * si[0] + iy * si[1] + ix * si[2];
                        if (si[3] == 1 && so[3] == 1)
                            for (int64_t c = 0; c < ch; c++)
                                py[c] = max_nan(py[c], px[c]);
                        else
                            for (int64_t c = 0; c < ch; c++)
                                py[c * so[3]] = max_nan(py[c * so[3]], px[c * si[3]]);
                    }
                }
            }
}

/* Rows [lo, hi) of the window starting at `start` (PyTorch's avg_pool2d):
 * *size counts the pads before and after too, clipped to the padded input. */
static void avg_span(const mt_window_axis *a, int64_t start, int64_t *lo, int64_t *hi,
                     int64_t *size)
{
    int64_t end = start + a->k < a->in + a->pad_after ? start + a->k : a->in + a->pad_after;
    *size = end - start;
    *lo = start < 0 ? 0 : start;
    *hi = end > a->in ? a->in : end;
}

static void avg_run(const pool_geometry *g, const mt_tensor *in, mt_tensor *out)
{
    const float *x = in->data;
    float *y = out->data;
    const int64_t *si = in->stride, *so = out->stride, ch = out->shape[3];
    const mt_window_axis *ah = &g->ah, *aw = &g->aw;
    for (int64_t n = 0; n < out->shape[0]; n++)
        for (int64_t oy = 0; oy < ah->out; oy++)
            for (int64_t ox = 0; ox < aw->out; ox++) {
                float *py = y + n * so[0] + oy * so[1] + ox * so[2];
                int64_t y0, y1, x0, x1, sy, sx;
                avg_span(ah, oy * ah->stride - ah->pad_before, &y0, &y1, &sy);
                avg_span(aw, ox * aw->stride - aw->pad_before, &x0, &x1, &sx);
                for (int64_t c = 0; c < ch; c++)
                    py[c * so[3]] = 0.0f;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        const float *px = x + n * si[0] + iy * si[1] + ix * si[2];
                        for (int64_t c = 0; c < ch; c++)
                            py[c * so[3]] += px[c * si[3]];
                    }
                float div = (float)(g->count_include_pad ? sy * sx
                                                         : (y1 - y0) * (x1 - x0));
                for (int64_t c = 0; c < ch; c++)
                    py[c * so[3]] /= div;
            }
}

mt_status mt_max_pool2d_into(const mt_tensor *input, const mt_pool2d_params *params,
                            mt_tensor *out)
{
    pool_geometry g;
    int64_t shape[4];
    mt_status s = pool_plan("max_pool2d", input, params, false, &g, shape);
    return s ? s : finish_into("max_pool2d", input, params->data_layout, 4, shape, max_run, &g, out);
}

mt_status mt_max_pool2d(const mt_tensor *input, const mt_pool2d_params *params,
                       mt_tensor **out)
{
    pool_geometry g;
    int64_t shape[4];
    mt_status s = pool_plan("max_pool2d", input, params, false, &g, shape);
    return s ? s : finish_new("max_pool2d", input, params->data_layout, 4, shape, max_run, &g, out);
}

mt_status mt_avg_pool2d_into(const mt_tensor *input, const mt_pool2d_params *params,
                             mt_tensor *out)
{
    pool_geometry g;
    int64_t shape[4];
    mt_status s = pool_plan("avg_pool2d", input, params, true, &g, shape);
    return s ? s : finish_into("avg_pool2d", input, params->data_layout, 4, shape, avg_run, &g, out);
}

mt_status mt_avg_pool2d(const mt_tensor *input, const mt_pool2d_params *params,
                        mt_tensor **out)
{
    pool_geometry g;
    int64_t shape[4];
    mt_status s = pool_plan("avg_pool2d", input, params, true, &g, shape);
    return s ? s : finish_new("avg_pool2d", input, params->data_layout, 4, shape, avg_run, &g, out);
}

/* ---- adaptive and global average ------------------------------------------------ */

static mt_status adaptive_plan(const char *op, const mt_tensor *input, int64_t out_h,
                               int64_t out_w, mt_data_layout layout, pool_geometry *g,
                               int64_t shape[4])
{
    mt_status s = check_input(op, input, layout);
    if (s)
        return s;
    mt_tensor x;
    mt_nhwc_view(input, layout, &x);
    if (out_h < 1 || out_w < 1 || x.shape[1] < 1 || x.shape[2] < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output size (%lld,%lld) and the "
                       "height and width of input %s must be >= 1", op, (long long)out_h,
                       (long long)out_w, MT_SHAPE(input));
    // (o + 1) * in + out - 1, the largest index product, must fit
    int64_t t;
    if (__builtin_mul_overflow(out_h, x.shape[1], &t) || __builtin_add_overflow(t, out_h, &t) ||
        __builtin_mul_overflow(out_w, x.shape[2], &t) || __builtin_add_overflow(t, out_w, &t))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output size (%lld,%lld) for input %s overflows",
                       op, (long long)out_h, (long long)out_w, MT_SHAPE(input));
    *g = (pool_geometry){.out_h = out_h, .out_w = out_w};
    mt_layout_shape(layout, x.shape[0], out_h, out_w, x.shape[3], shape);
    return MT_OK;
}

static void adaptive_run(const pool_geometry *g, const mt_tensor *in, mt_tensor *out)
{
    const float *x = in->data;
    float *y = out->data;
    const int64_t *si = in->stride, *so = out->stride, ch = out->shape[3];
    const int64_t h = in->shape[1], w = in->shape[2];
    for (int64_t n = 0; n < out->shape[0]; n++)
        for (int64_t oy = 0; oy < g->out_h; oy++)
            for (int64_t ox = 0; ox < g->out_w; ox++) {
                float *py = y + n * so[0] + oy * so[1] + ox * so[2];
                int64_t y0 = oy * h / g->out_h, y1 = ((oy + 1) * h + g->out_h - 1) / g->out_h;
                int64_t x0 = ox * w / g->out_w, x1 = ((ox + 1) * w + g->out_w - 1) / g->out_w;
                for (int64_t c = 0; c < ch; c++)
                    py[c * so[3]] = 0.0f;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++) {
                        const float *px = x + n * si[0] + iy * si[1] + ix * si[2];
                        for (int64_t c = 0; c < ch; c++)
                            py[c * so[3]] += px[c * si[3]];
                    }
                float div = (float)((y1 - y0) * (x1 - x0));
                for (int64_t c = 0; c < ch; c++)
                    py[c * so[3]] /= div;
            }
}

mt_status mt_adaptive_avg_pool2d_into(const mt_tensor *input, int64_t out_h, int64_t out_w,
                                      mt_data_layout layout, mt_tensor *out)
{
    const char *op = "adaptive_avg_pool2d";
    pool_geometry g;
    int64_t shape[4];
    mt_status s = adaptive_plan(op, input, out_h, out_w, layout, &g, shape);
    return s ? s : finish_into(op, input, layout, 4, shape, adaptive_run, &g, out);
}

mt_status mt_adaptive_avg_pool2d(const mt_tensor *input, int64_t out_h, int64_t out_w,
                                 mt_data_layout layout, mt_tensor **out)
{
    const char *op = "adaptive_avg_pool2d";
    pool_geometry g;
    int64_t shape[4];
    mt_status s = adaptive_plan(op, input, out_h, out_w, layout, &g, shape);
    return s ? s : finish_new(op, input, layout, 4, shape, adaptive_run, &g, out);
}

/* The mean over the whole image: H*W == 0 gives 0/0 = NaN, as torch.mean. */
static void global_run(const pool_geometry *g, const mt_tensor *in, mt_tensor *out)
{
    (void)g;
    const float *x = in->data;
    float *y = out->data;
    const int64_t *si = in->stride, *so = out->stride, ch = out->shape[3];
    const int64_t h = in->shape[1], w = in->shape[2];
    for (int64_t n = 0; n < out->shape[0]; n++) {
        float *py = y + n * so[0];
        for (int64_t c = 0; c < ch; c++)
            py[c * so[3]] = 0.0f;
        for (int64_t iy = 0; iy < h; iy++)
            for (int64_t ix = 0; ix < w; ix++) {
                const float *px = x + n * si[0] + iy * si[1] + ix * si[2];
                for (int64_t c = 0; c < ch; c++)
                    py[c * so[3]] += px[c * si[3]];
            }
        float div = (float)(h * w);
        for (int64_t c = 0; c < ch; c++)
            py[c * so[3]] /= div;
    }
}

static mt_status global_plan(const char *op, const mt_tensor *input, mt_data_layout layout,
                             bool keepdims, int *rank, int64_t shape[4])
{
    mt_status s = check_input(op, input, layout);
    if (s)
        return s;
    mt_tensor x;
    mt_nhwc_view(input, layout, &x);
    if (keepdims) {
        *rank = 4;
        mt_layout_shape(layout, x.shape[0], 1, 1, x.shape[3], shape);
    } else {
        *rank = 2;
        shape[0] = x.shape[0], shape[1] = x.shape[3];
    }
    return MT_OK;
}

mt_status mt_global_avg_pool2d_into(const mt_tensor *input, mt_data_layout layout,
                                    bool keepdims, mt_tensor *out)
{
    const char *op = "global_avg_pool2d";
    int rank;
    int64_t shape[4];
    mt_status s = global_plan(op, input, layout, keepdims, &rank, shape);
    return s ? s : finish_into(op, input, layout, rank, shape, global_run, NULL, out);
}

mt_status mt_global_avg_pool2d(const mt_tensor *input, mt_data_layout layout, bool keepdims,
                               mt_tensor **out)
{
    const char *op = "global_avg_pool2d";
    int rank;
    int64_t shape[4];
    mt_status s = global_plan(op, input, layout, keepdims, &rank, shape);
    return s ? s : finish_new(op, input, layout, rank, shape, global_run, NULL, out);
}
