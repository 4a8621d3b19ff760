/* interpolate.c — nearest, bilinear and bicubic resizing, PyTorch's index
 * rules (aten/src/ATen/native/UpSample.h), TensorFlow's bicubic
 * (resize_bicubic with half-pixel centres) and PyTorch's 'area' (its
 * adaptive average pool), over NHWC views. */
#include <float.h>
#include <math.h>

#include "minitensor/pool.h"
#include "internal.h"
#include "window.h"

typedef struct resize_axis {
    int64_t in, out;
    double scale;  /* the caller's scale factor, or 0 if sizes were given */
} resize_axis;

/* PyTorch's nearest: floor(dst * scale) in float, scale = 1 / factor or
 * in / out (the float rounding is PyTorch's, so indices match it). Where
 * the size is kept or doubled, PyTorch's two kernels differ when a scale
 * factor is given: for NCHW tensors it is used as given (width 2 by 1.1:
 * both columns from column 0), for channels-last ones (NHWC, and NCHW
 * with one channel, which is channels-last contiguous too) 'nearest'
 * copies and halves (nearest_idx). `channels_last` picks which. */
static int64_t nearest_index(const resize_axis *a, bool exact, bool channels_last, int64_t dst)
{
    const bool shortcut = a->scale <= 0 || (channels_last && !exact);
    if (shortcut && a->out == a->in)
        return dst;
    if (shortcut && a->out == 2 * a->in)   /* both rules give dst / 2 */
        return dst >> 1;
    float scale = a->scale > 0 ? (float)(1.0 / a->scale) : (float)a->in / (float)a->out;
    int64_t src = (int64_t)floorf(((float)dst + (exact ? 0.5f : 0.0f)) * scale);
    return src < a->in - 1 ? src : a->in - 1;
}

/* Bilinear source position of dst: indices i0 <= i1 and their weights,
 * PyTorch's compute_source_index_and_lambda in float as it computes them
 * for float tensors (in double, a position such as 1.9999999 rounded to 2
 * and picked other pixels: with an inf among them, NaN where PyTorch gives
 * a number). An axis that keeps its size maps dst to itself whatever the
 * scale, with i1 = i0 and weights 1, 0 (so an inf input gives
 * inf·1 + inf·0 = NaN there, as in PyTorch). */
static void linear_source(const resize_axis *a, bool align_corners, int64_t dst, int64_t *i0,
                          int64_t *i1, float w[2])
{
    if (a->out == a->in) {
        *i0 = *i1 = dst;
        w[0] = 1.0f;
        w[1] = 0.0f;
        return;
    }
    float src;
    if (align_corners) {
        float scale = a->out > 1 ? (float)(a->in - 1) / (float)(a->out - 1) : 0.0f;
        src = scale * (float)dst;
    } else {
        float scale = a->scale > 0 ? (float)(1.0 / a->scale) : (float)a->in / (float)a->out;
        /* one rounding, as PyTorch's kernels (compiled for AVX2 or AVX-512:
         * the compiler fuses this into an FMA) give it: 1.5 · (float)(1/3)
         * - 0.5 is 1.5e-8, not 0, and an inf there is weighted, not 0·inf */
        src = fmaf(scale, (float)dst + 0.5f, -0.5f);
        src = src < 0 ? 0 : src;
    }
    *i0 = (int64_t)src;
    if (*i0 > a->in - 1)
        *i0 = a->in - 1;
    *i1 = *i0 < a->in - 1 ? *i0 + 1 : *i0;
    float l = src - (float)*i0;
    w[1] = l < 0.0f ? 0.0f : l > 1.0f ? 1.0f : l;
    w[0] = 1.0f - w[1];
}

/* Bicubic source of dst: the first of the four taps (unclamped) and their
 * weights, PyTorch's cubic convolution with A = -0.75; its source position
 * is not clamped at 0 as bilinear's is. */
static int64_t cubic_source(const resize_axis *a, bool align_corners, int64_t dst,
                            double w[4])
{
    const double A = -0.75;
    double src;
    if (align_corners)
        src = a->out > 1 ? (double)(a->in - 1) / (double)(a->out - 1) * (double)dst : 0.0;
    else
        src = (a->scale > 0 ? 1.0 / a->scale : (double)a->in / (double)a->out) *
                  ((double)dst + 0.5) - 0.5;
    double f = floor(src), t = src - f;
    double near[2] = {t, 1 - t}, far[2] = {t + 1, 2 - t};   /* |distance| to each tap */
    for (int i = 0; i < 2; i++) {
        double x = near[i], y = far[i];
        w[1 + i] = ((A + 2) * x - (A + 3)) * x * x + 1;          /* |x| <= 1 */
        w[3 * i] = ((A * y - 5 * A) * y + 8 * A) * y - 4 * A;    /* 1 < |x| < 2 */
    }
    return (int64_t)f - 1;
}

static int64_t clamp_index(int64_t i, int64_t n)
{
    return i < 0 ? 0 : i > n - 1 ? n - 1 : i;
}

/* One output pixel of a bicubic resize: 4×4 taps, indices clamped to the
 * image (PyTorch's upsample_bicubic2d). */
static void cubic_pixel(const resize_axis *h, const resize_axis *wa, bool align_corners,
                        const float *base, const int64_t *si, int64_t oy, int64_t ox,
                        float *py, int64_t so3, int64_t ch)
{
    double wy[4], wx[4];
    int64_t y0 = cubic_source(h, align_corners, oy, wy);
    int64_t x0 = cubic_source(wa, align_corners, ox, wx);
    for (int64_t c = 0; c < ch; c++) {
        double acc = 0;
        for (int i = 0; i < 4; i++) {
            const float *row = base + clamp_index(y0 + i, h->in) * si[1] + c * si[3];
            double r = 0;
            for (int j = 0; j < 4; j++)
                r += wx[j] * row[clamp_index(x0 + j, wa->in) * si[2]];
            acc += wy[i] * r;
        }
        py[c * so3] = (float)acc;
    }
}

/* ---- TensorFlow's bicubic ----------------------------------------------------- */

/* TensorFlow's resize_bicubic (tf.image.resize 'bicubic', antialias off)
 * weighs taps by Keys' cubic (A = -0.5) read from a table of 1024 steps
 * per pixel: the weights at distance 1 + x and x for x = i / 1024, in
 * double, stored as float (its InitCoeffsTable). */
static float keys_near(int64_t i)
{
    const double A = -0.5;
    double x = (double)(float)((double)i / 1024.0);
    return (float)(((A + 2) * x - (A + 3)) * x * x + 1);
}

static float keys_far(int64_t i)
{
    const double A = -0.5;
    double x = (double)((float)((double)i / 1024.0) + 1.0f);
    return (float)(((A * x - 5 * A) * x + 8 * A) * x - 4 * A);
}

/* The 4 taps of dst (indices clamped to the image) and their weights:
 * half-pixel centres in float, as TensorFlow; a tap outside the image
 * gets weight 0 and the others are scaled to sum to 1 (its
 * GetWeightsAndIndices with Keys' cubic). */
static void tf_cubic_taps(const resize_axis *a, int64_t dst, int64_t idx[4], float w[4])
{
    float scale = (float)a->in / (float)a->out;
    float src = ((float)dst + 0.5f) * scale - 0.5f;
    float f = floorf(src);
    int64_t i0 = (int64_t)f;
    float delta = src - (float)i0;
    int64_t off = (int64_t)lrintf(delta * 1024.0f);
    const float table[4] = {keys_far(off), keys_near(off), keys_near(1024 - off),
                            keys_far(1024 - off)};
    for (int k = 0; k < 4; k++) {
        int64_t i = i0 - 1 + k;
        idx[k] = i < 0 ? 0 : i > a->in - 1 ? a->in - 1 : i;
        w[k] = idx[k] == i ? table[k] : 0.0f;
    }
    float sum = w[0] + w[1] + w[2] + w[3];
    if (fabsf(sum) >= 1000.0f * FLT_MIN) {
        float inv = 1.0f / sum;
        for (int k = 0; k < 4; k++)
            w[k] *= inv;
    }
}

/* One output pixel: down the 4 rows for each of the 4 columns, then
 * across, in float (TensorFlow's order). */
static void tf_cubic_pixel(const resize_axis *h, const resize_axis *wa, const float *base,
                           const int64_t *si, int64_t oy, int64_t ox, float *py, int64_t so3,
                           int64_t ch)
{
    int64_t iy[4], ix[4];
    float wy[4], wx[4];
    tf_cubic_taps(h, oy, iy, wy);
    tf_cubic_taps(wa, ox, ix, wx);
    for (int64_t c = 0; c < ch; c++) {
        float col[4];
        for (int j = 0; j < 4; j++) {
            const float *p = base + ix[j] * si[2] + c * si[3];
            col[j] = p[iy[0] * si[1]] * wy[0] + p[iy[1] * si[1]] * wy[1] +
                     p[iy[2] * si[1]] * wy[2] + p[iy[3] * si[1]] * wy[3];
        }
        py[c * so3] = col[0] * wx[0] + col[1] * wx[1] + col[2] * wx[2] + col[3] * wx[3];
    }
}

/* ---- TensorFlow's area ----------------------------------------------------------- */

/* The input pixels output index dst covers along an axis, TensorFlow's
 * resize_area (in float): [first, end), the first and last weighed by the
 * share of them covered (1 for whole pixels), scale = in / out. */
typedef struct area_span {
    int64_t first, end;
    float first_w, last_w;
} area_span;

static float area_share(int64_t v, float lo, float hi, float scale)
{
    float fv = (float)v;
    if (fv < lo)
        return fv + 1 > hi ? scale : fv + 1 - lo;
    return fv + 1 > hi ? hi - fv : 1.0f;
}

static area_span area_span_of(const resize_axis *a, int64_t dst)
{
    float scale = (float)a->in / (float)a->out;
    float lo = (float)dst * scale, hi = (float)(dst + 1) * scale;
    area_span s = {.first = (int64_t)floorf(lo), .end = (int64_t)ceilf(hi)};
    s.first_w = area_share(s.first, lo, hi, scale);
    s.last_w = area_share(s.end - 1, lo, hi, scale);
    return s;
}

/* One output pixel: per row, the first pixel times its share, the whole
 * ones, the last times its share; rows weighed by their share; all times
 * out/in of both axes (TensorFlow's sums, in float). Indices past the
 * image (float rounding) read its edge, as TensorFlow's Bound. */
static void tf_area_pixel(const resize_axis *h, const resize_axis *wa, const float *base,
                          const int64_t *si, int64_t oy, int64_t ox, float *py, int64_t so3,
                          int64_t ch)
{
    const area_span ys = area_span_of(h, oy), xs = area_span_of(wa, ox);
    float hs = (float)h->in / (float)h->out, ws = (float)wa->in / (float)wa->out;
    float scale = (float)(1.0 / (double)(hs * ws));
    float lo = (float)oy * hs, hi = (float)(oy + 1) * hs;
    for (int64_t c = 0; c < ch; c++) {
        float sum = 0;
        for (int64_t i = ys.first; i < ys.end; i++) {
            const float *row = base + clamp_index(i, h->in) * si[1] + c * si[3];
            float sum_y = row[clamp_index(xs.first, wa->in) * si[2]] * xs.first_w;
            if (xs.first + 1 != xs.end) {
                for (int64_t x = xs.first + 1; x < xs.end - 1; x++)
                    sum_y += row[clamp_index(x, wa->in) * si[2]];
                sum_y += row[clamp_index(xs.end - 1, wa->in) * si[2]] * xs.last_w;
            }
            sum += sum_y * area_share(i, lo, hi, hs);
        }
        py[c * so3] = sum * scale;
    }
}

typedef struct resize_plan {
    resize_axis h, w;
    mt_interpolate_mode mode;
    bool align_corners;
    mt_data_layout layout;
} resize_plan;

static mt_status plan_axis(const char *op, const char *axis, int64_t in, int64_t size,
                           double scale, resize_axis *a)
{
    if (size < 0 || !(scale >= 0) || (size > 0) == (scale > 0))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s: give exactly one of an output size "
                       "(%lld) >= 1 and a scale (%g) > 0", op, axis, (long long)size, scale);
    if (size == 0) {
        double out = floor((double)in * scale);
        if (!(out < 9.2e18))
            return mt_fail(MT_ERR_OVERFLOW, "%s: %s: %lld * scale %g overflows", op, axis,
                           (long long)in, scale);
        size = (int64_t)out;
    }
    if (in < 1 || size < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s: input size %lld and output size %lld "
                       "must be >= 1", op, axis, (long long)in, (long long)size);
    *a = (resize_axis){.in = in, .out = size, .scale = scale};
    return MT_OK;
}

static mt_status resize_plan_of(const char *op, const mt_tensor *input,
                                const mt_interpolate_params *p, resize_plan *r,
                                int64_t shape[4])
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) || (s = mt_check_f32(op, input)))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mt_check_data_layout(op, p->data_layout)))
        return s;
    if ((unsigned)p->mode > MT_INTERPOLATE_AREA_TF)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown mode %d", op, (int)p->mode);
    if (p->align_corners && p->mode != MT_INTERPOLATE_BILINEAR &&
        p->mode != MT_INTERPOLATE_BICUBIC)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: align_corners needs bilinear or bicubic "
                       "mode", op);
    if (input->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be %s", op, MT_SHAPE(input),
                       p->data_layout == MT_DATA_LAYOUT_NCHW ? "[N,C,H,W]" : "[N,H,W,C]");
    mt_tensor x;
    mt_nhwc_view(input, p->data_layout, &x);
    *r = (resize_plan){.mode = p->mode, .align_corners = p->align_corners,
                       .layout = p->data_layout};
    if ((s = plan_axis(op, "height", x.shape[1], p->out_h, p->scale_h, &r->h)) ||
        (s = plan_axis(op, "width", x.shape[2], p->out_w, p->scale_w, &r->w)))
        return s;
    int64_t numel;
    mt_layout_shape(p->data_layout, x.shape[0], r->h.out, r->w.out, x.shape[3], shape);
    if (!mt_shape_numel(4, shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output (%lld,%lld) overflows", op,
                       (long long)r->h.out, (long long)r->w.out);
    return MT_OK;
}

static void resize_run(const resize_plan *r, const mt_tensor *in, mt_tensor *out)
{
    const float *x = in->data;
    float *y = out->data;
    const int64_t *si = in->stride, *so = out->stride, ch = out->shape[3];
    for (int64_t n = 0; n < out->shape[0]; n++)
        for (int64_t oy = 0; oy < r->h.out; oy++)
            for (int64_t ox = 0; ox < r->w.out; ox++) {
                float *py = y + n * so[0] + oy * so[1] + ox * so[2];
                const float *base = x + n * si[0];
                if (r->mode == MT_INTERPOLATE_BICUBIC) {
                    cubic_pixel(&r->h, &r->w, r->align_corners, base, si, oy, ox, py, so[3],
                                ch);
                    continue;
                }
                if (r->mode == MT_INTERPOLATE_BICUBIC_TF) {
                    tf_cubic_pixel(&r->h, &r->w, base, si, oy, ox, py, so[3], ch);
                    continue;
                }
                if (r->mode == MT_INTERPOLATE_AREA_TF) {
                    tf_area_pixel(&r->h, &r->w, base, si, oy, ox, py, so[3], ch);
                    continue;
                }
                if (r->mode != MT_INTERPOLATE_BILINEAR) {
                    bool exact = r->mode == MT_INTERPOLATE_NEAREST_EXACT;
                    bool nhwc = r->layout == MT_DATA_LAYOUT_NHWC || ch == 1;
                    const float *px = base + nearest_index(&r->h, exact, nhwc, oy) * si[1] +
                                      nearest_index(&r->w, exact, nhwc, ox) * si[2];
                    for (int64_t c = 0; c < ch; c++)
                        py[c * so[3]] = px[c * si[3]];
                    continue;
                }
                int64_t y0, y1, x0, x1;
                float wy[2], wx[2];
                linear_source(&r->h, r->align_corners, oy, &y0, &y1, wy);
                linear_source(&r->w, r->align_corners, ox, &x0, &x1, wx);
                const float *p00 = base + y0 * si[1] + x0 * si[2];
                const float *p01 = base + y0 * si[1] + x1 * si[2];
                const float *p10 = base + y1 * si[1] + x0 * si[2];
                const float *p11 = base + y1 * si[1] + x1 * si[2];
                for (int64_t c = 0; c < ch; c++) {   /* PyTorch's order, in float */
                    int64_t o = c * si[3];
                    float top = p00[o] * wx[0] + p01[o] * wx[1];
                    float bottom = p10[o] * wx[0] + p11[o] * wx[1];
                    py[c * so[3]] = top * wy[0] + bottom * wy[1];
                }
            }
}

mt_status mt_interpolate_into(const mt_tensor *input, const mt_interpolate_params *params,
                              mt_tensor *out)
{
    const char *op = "interpolate";
    resize_plan r;
    int64_t shape[4];
    mt_status s = resize_plan_of(op, input, params, &r, shape);
    if (s || (s = mt_tensor_check(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want, x, y;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 4, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, input %s gives %s", op, MT_SHAPE(out),
                       MT_SHAPE(input), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, 4, shape)))   /* a stride-0 (expanded) out */
        return s;
    if (mt_tensors_overlap(out, input))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input %s", op,
                       MT_SHAPE(out), MT_SHAPE(input));
    if (r.mode == MT_INTERPOLATE_AREA)   /* PyTorch's 'area' is exactly this pool */
        return mt_adaptive_avg_pool2d_into(input, r.h.out, r.w.out, r.layout, out);
    mt_nhwc_view(input, r.layout, &x);
    mt_nhwc_view(out, r.layout, &y);
    resize_run(&r, &x, &y);
    return MT_OK;
}

mt_status mt_interpolate(const mt_tensor *input, const mt_interpolate_params *params,
                         mt_tensor **out)
{
    const char *op = "interpolate";
    resize_plan r;
    int64_t shape[4];
    mt_status s = resize_plan_of(op, input, params, &r, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    if (r.mode == MT_INTERPOLATE_AREA)
        return mt_adaptive_avg_pool2d(input, r.h.out, r.w.out, r.layout, out);
    mt_tensor *t, x, y;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &t)))
        return s;
    mt_nhwc_view(input, r.layout, &x);
    mt_nhwc_view(t, r.layout, &y);
    resize_run(&r, &x, &y);
    *out = t;
    return MT_OK;
}
