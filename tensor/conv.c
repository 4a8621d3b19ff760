/* conv.c — conv2d as im2col + one fused GEMM per chunk of images; max pool. */
#include <math.h>
#include <string.h>

#include "minitensor/conv.h"
#include "minitensor/view.h"
#include "internal.h"
#include "unary_ops.h"

static _Thread_local mt_scratch patch_scratch;

void mt_conv_release_scratch(void)
{
    mt_dealloc(patch_scratch.p);
    patch_scratch = (mt_scratch){0};
}

/* Patch buffers are kept near 2 MiB so a chunk of them stays in cache. */
#define PATCH_CHUNK_FLOATS (512 * 1024)

mt_status mt_conv_output_size(int64_t in, int64_t k, int64_t stride,
                              mt_padding padding, int64_t *out)
{
    if (!out || in < 0 || k < 1 || stride < 1 ||
        (padding != MT_PADDING_VALID && padding != MT_PADDING_SAME))
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "conv_output_size: invalid in=%lld k=%lld stride=%lld padding=%d",
                       (long long)in, (long long)k, (long long)stride, (int)padding);
    if (padding == MT_PADDING_SAME)
        *out = (in + stride - 1) / stride;
    else
        *out = in < k ? 0 : (in - k) / stride + 1;
    return MT_OK;
}

/* Rows/cols of padding before the first input element (Keras: the extra
 * one goes after). */
static int64_t pad_before(int64_t in, int64_t k, int64_t stride, int64_t out,
                          mt_padding padding)
{
    if (padding == MT_PADDING_VALID)
        return 0;
    int64_t total = (out - 1) * stride + k - in;
    return total > 0 ? total / 2 : 0;
}

/* ---- convolution ----------------------------------------------------------- */

typedef struct conv_geometry {
    int64_t n, h, w, cin, cout, kh, kw, oh, ow, pad_top, pad_left, sh, sw;
    mt_kernel_layout layout;
} conv_geometry;

static mt_status conv_plan(const char *op, const mt_tensor *input, const mt_tensor *kernel,
                           const mt_tensor *bias, const mt_conv2d_params *p,
                           conv_geometry *g)
{
    mt_status s;
    if ((s = mt_check_tensor(op, "input", input)) || (s = mt_check_f32(op, input)) ||
        (s = mt_check_tensor(op, "kernel", kernel)) || (s = mt_check_f32(op, kernel)))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (p->layout != MT_KERNEL_HWIO && p->layout != MT_KERNEL_OIHW)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown kernel layout %d", op,
                       (int)p->layout);
    if ((s = mt_activation_check(op, p->activation)))
        return s;
    if (input->rank != 4 || kernel->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be [N,H,W,C] and kernel %s 4-D",
                       op, MT_SHAPE(input), MT_SHAPE(kernel));
    const int64_t *k = kernel->shape;
    bool hwio = p->layout == MT_KERNEL_HWIO;
    *g = (conv_geometry){
        .n = input->shape[0], .h = input->shape[1], .w = input->shape[2],
        .cin = input->shape[3], .cout = hwio ? k[3] : k[0],
        .kh = hwio ? k[0] : k[2], .kw = hwio ? k[1] : k[3],
        .sh = p->stride_h, .sw = p->stride_w, .layout = p->layout,
    };
    int64_t kernel_cin = hwio ? k[2] : k[1];
    if (kernel_cin != g->cin)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s has %lld channels, kernel %s (%s) "
                       "expects %lld", op, MT_SHAPE(input), (long long)g->cin,
                       MT_SHAPE(kernel), hwio ? "kh,kw,in,out" : "out,in,kh,kw",
                       (long long)kernel_cin);
    if (g->kh < 1 || g->kw < 1 || g->cout < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s is empty", op, MT_SHAPE(kernel));
    if ((s = mt_conv_output_size(g->h, g->kh, g->sh, p->padding, &g->oh)) ||
        (s = mt_conv_output_size(g->w, g->kw, g->sw, p->padding, &g->ow)))
        return mt_fail(s, "%s: invalid stride (%lld,%lld) or padding %d", op,
                       (long long)p->stride_h, (long long)p->stride_w, (int)p->padding);
    g->pad_top = pad_before(g->h, g->kh, g->sh, g->oh, p->padding);
    g->pad_left = pad_before(g->w, g->kw, g->sw, g->ow, p->padding);
    if (bias) {
        if ((s = mt_check_tensor(op, "bias", bias)) || (s = mt_check_f32(op, bias)))
            return s;
        if (bias->rank != 1 || bias->shape[0] != g->cout)
            return mt_fail(MT_ERR_SHAPE, "%s: bias is %s, expected [%lld]", op,
                           MT_SHAPE(bias), (long long)g->cout);
    }
    int64_t numel;
    if (!mt_shape_numel(4, (int64_t[]){g->kh, g->kw, g->cin, g->oh * g->ow}, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: patch size overflows", op);
    return MT_OK;
}

/* The kernel as a [K, Cout] matrix view whose row order matches the patch
 * order: HWIO reshapes, OIHW reshapes to [Cout, K] and transposes. */
static mt_status kernel_matrix(const mt_tensor *kernel, const conv_geometry *g,
                               mt_tensor *km)
{
    int64_t k = g->kh * g->kw * g->cin;
    if (g->layout == MT_KERNEL_HWIO)
        return mt_view_into(kernel, 2, (int64_t[]){k, g->cout}, km);
    mt_tensor oi;
    mt_status s = mt_view_into(kernel, 2, (int64_t[]){g->cout, k}, &oi);
    return s ? s : mt_transpose_into(&oi, 0, 1, km);
}

/* im2col for images [n0, n0+count): one row per output pixel, zeros where
 * the window hangs over the padding. Column order: (i, j, c) for HWIO,
 * (c, i, j) for OIHW. */
static void im2col_general(const mt_tensor *in, const conv_geometry *g, int64_t n0,
                           int64_t count, float *patches)
{
    const float *x = in->data;
    const int64_t *st = in->stride;
    int64_t k = g->kh * g->kw * g->cin;
    float *row = patches;
    for (int64_t n = n0; n < n0 + count; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++, row += k)
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t iy = oy * g->sh - g->pad_top + i;
                    for (int64_t j = 0; j < g->kw; j++) {
                        int64_t ix = ox * g->sw - g->pad_left + j;
                        bool inside = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                        const float *px = x + n * st[0] + iy * st[1] + ix * st[2];
                        for (int64_t c = 0; c < g->cin; c++) {
                            int64_t col = g->layout == MT_KERNEL_HWIO
                                              ? (i * g->kw + j) * g->cin + c
                                              : (c * g->kh + i) * g->kw + j;
                            row[col] = inside ? px[c * st[3]] : 0.0f;
                        }
                    }
                }
}

/* The same for HWIO with each image row's pixels and channels contiguous
 * (a contiguous NHWC input): kernel row i of a patch is then one run of
 * kw·cin input floats, copied as a run, with zeros for the columns over
 * the padding. Plain loops, not memcpy/memset: a 1-channel input's runs
 * are 3 floats, shorter than a call. Per image of examples/fashion (one
 * thread, bench_fashion --conv-compare): conv1 21 -> 15 us, conv2 65 -> 46
 * us against the element-by-element copy. */
static void im2col_rows(const mt_tensor *in, const conv_geometry *g, int64_t n0,
                        int64_t count, float *patches)
{
    const float *x = in->data;
    const int64_t *st = in->stride;
    const int64_t run = g->kw * g->cin, k = g->kh * run;
    float *row = patches;
    for (int64_t n = n0; n < n0 + count; n++)
        for (int64_t oy = 0; oy < g->oh; oy++)
            for (int64_t ox = 0; ox < g->ow; ox++, row += k) {
                const int64_t ix0 = ox * g->sw - g->pad_left;
                // the kernel columns [j0, j1) that fall inside the image
                const int64_t j0 = ix0 < 0 ? -ix0 : 0;
                const int64_t j1 = g->w - ix0 < g->kw ? g->w - ix0 : g->kw;
                for (int64_t i = 0; i < g->kh; i++) {
                    float *dst = row + i * run;
                    const int64_t iy = oy * g->sh - g->pad_top + i;
                    if (iy < 0 || iy >= g->h || j0 >= j1) {
                        memset(dst, 0, (size_t)run * sizeof(float));
                        continue;
                    }
                    const float *src = x + n * st[0] + iy * st[1] + ix0 * st[2];
                    for (int64_t t = 0; t < j0 * g->cin; t++)
                        dst[t] = 0.0f;
                    for (int64_t t = j0 * g->cin; t < j1 * g->cin; t++)
                        dst[t] = src[t];
                    for (int64_t t = j1 * g->cin; t < run; t++)
                        dst[t] = 0.0f;
                }
            }
}

static void im2col(const mt_tensor *in, const conv_geometry *g, int64_t n0,
                   int64_t count, float *patches)
{
    if (g->layout == MT_KERNEL_HWIO && in->stride[3] == 1 && in->stride[2] == g->cin)
        im2col_rows(in, g, n0, count, patches);
    else
        im2col_general(in, g, n0, count, patches);
}

static mt_status conv_run(const char *op, const mt_tensor *input, const mt_tensor *kernel,
                          const mt_tensor *bias, const mt_conv2d_params *p,
                          const conv_geometry *g, mt_tensor *out)
{
    mt_tensor km, out2d;
    mt_status s = kernel_matrix(kernel, g, &km);
    if (s)
        return mt_fail(s, "%s: kernel %s must be contiguous (copy it with "
                       "mt_tensor_contiguous)", op, MT_SHAPE(kernel));
    int64_t rows_per_image = g->oh * g->ow, k = g->kh * g->kw * g->cin;
    if (mt_view_into(out, 2, (int64_t[]){g->n * rows_per_image, g->cout}, &out2d))
        return mt_fail(MT_ERR_SHAPE, "%s: out %s must be contiguous", op, MT_SHAPE(out));
    if (g->n == 0 || rows_per_image == 0)
        return MT_OK;
    int64_t per_chunk = PATCH_CHUNK_FLOATS / (rows_per_image * k);
    per_chunk = per_chunk < 1 ? 1 : per_chunk > g->n ? g->n : per_chunk;
    float *patches = mt_scratch_get(&patch_scratch, (size_t)(per_chunk * rows_per_image * k));
    if (!patches)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the patch buffer", op);
    for (int64_t n0 = 0; n0 < g->n; n0 += per_chunk) {
        int64_t count = g->n - n0 < per_chunk ? g->n - n0 : per_chunk;
        im2col(input, g, n0, count, patches);
        mt_tensor pm, out_rows;
        mt_tensor_init_contiguous(&pm, MT_DTYPE_F32, 2,
                                  (int64_t[]){count * rows_per_image, k}, patches);
        if ((s = mt_narrow_into(&out2d, 0, n0 * rows_per_image, count * rows_per_image,
                                &out_rows)) ||
            (s = mt_matmul_fused_into(&pm, &km, bias, p->activation, &out_rows)))
            return s;
    }
    return MT_OK;
}

mt_status mt_conv2d_into(const mt_tensor *input, const mt_tensor *kernel,
                         const mt_tensor *bias, const mt_conv2d_params *params,
                         mt_tensor *out)
{
    const char *op = "conv2d";
    conv_geometry g;
    mt_status s = conv_plan(op, input, kernel, bias, params, &g);
    if (s || (s = mt_check_tensor(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 4, (int64_t[]){g.n, g.oh, g.ow, g.cout},
                              NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, %s * %s gives %s", op, MT_SHAPE(out),
                       MT_SHAPE(input), MT_SHAPE(kernel), MT_SHAPE(&want));
    if (mt_tensors_overlap(out, input))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out overlaps the input", op);
    return conv_run(op, input, kernel, bias, params, &g, out);
}

mt_status mt_conv2d(const mt_tensor *input, const mt_tensor *kernel, const mt_tensor *bias,
                    const mt_conv2d_params *params, mt_tensor **out)
{
    const char *op = "conv2d";
    conv_geometry g;
    mt_status s = conv_plan(op, input, kernel, bias, params, &g);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){g.n, g.oh, g.ow, g.cout}, &t)))
        return s;
    if ((s = conv_run(op, input, kernel, bias, params, &g, t))) {
        mt_tensor_free(t);
        return s;
    }
    *out = t;
    return MT_OK;
}

/* ---- max pooling ------------------------------------------------------------- */

static mt_status pool_plan(const char *op, const mt_tensor *input, const mt_pool2d_params *p,
                           int64_t shape[4], int64_t *pad_top, int64_t *pad_left)
{
    mt_status s;
    if ((s = mt_check_tensor(op, "input", input)) || (s = mt_check_f32(op, input)))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if (input->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be [N,H,W,C]", op, MT_SHAPE(input));
    int64_t oh, ow;
    if (mt_conv_output_size(input->shape[1], p->pool_h, p->stride_h, p->padding, &oh) ||
        mt_conv_output_size(input->shape[2], p->pool_w, p->stride_w, p->padding, &ow))
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: invalid pool (%lld,%lld), stride (%lld,%lld) or padding %d", op,
                       (long long)p->pool_h, (long long)p->pool_w, (long long)p->stride_h,
                       (long long)p->stride_w, (int)p->padding);
    shape[0] = input->shape[0];
    shape[1] = oh;
    shape[2] = ow;
    shape[3] = input->shape[3];
    *pad_top = pad_before(input->shape[1], p->pool_h, p->stride_h, oh, p->padding);
    *pad_left = pad_before(input->shape[2], p->pool_w, p->stride_w, ow, p->padding);
    return MT_OK;
}

/* max(m, v) that propagates NaN: a NaN, once seen, stays. */
static inline float max_nan(float m, float v)
{
    return v > m || v != v ? v : m;
}

/* One output pixel: the max over the part of its window inside the image
 * (padding never wins) of every channel, channels in the innermost loop
 * (contiguous in NHWC: vectorised). */
static void pool_pixel(const float *x, const int64_t *si, int64_t h, int64_t w,
                       int64_t y0, int64_t x0, int64_t ph, int64_t pw, int64_t channels,
                       float *y, int64_t yc)
{
    for (int64_t c = 0; c < channels; c++)
        y[c * yc] = -INFINITY;
    for (int64_t iy = y0 < 0 ? 0 : y0; iy < y0 + ph && iy < h; iy++)
        for (int64_t ix = x0 < 0 ? 0 : x0; ix < x0 + pw && ix < w; ix++) {
            const float *px = x + iy * si[1] + ix * si[2];
            if (si[3] == 1 && yc == 1)
                for (int64_t c = 0; c < channels; c++)
                    y[c] = max_nan(y[c], px[c]);
            else
                for (int64_t c = 0; c < channels; c++)
                    y[c * yc] = max_nan(y[c * yc], px[c * si[3]]);
        }
}

static void pool_run(const mt_tensor *in, const mt_pool2d_params *p, int64_t pad_top,
                     int64_t pad_left, mt_tensor *out)
{
    const float *x = in->data;
    float *y = out->data;
    const int64_t *si = in->stride, *so = out->stride;
    for (int64_t n = 0; n < out->shape[0]; n++)
        for (int64_t oy = 0; oy < out->shape[1]; oy++)
            for (int64_t ox = 0; ox < out->shape[2]; ox++)
                pool_pixel(x + n * si[0], si, in->shape[1], in->shape[2],
                           oy * p->stride_h - pad_top, ox * p->stride_w - pad_left,
                           p->pool_h, p->pool_w, out->shape[3],
                           y + n * so[0] + oy * so[1] + ox * so[2], so[3]);
}

mt_status mt_maxpool2d_into(const mt_tensor *input, const mt_pool2d_params *params,
                            mt_tensor *out)
{
    const char *op = "maxpool2d";
    int64_t shape[4], pt, pl;
    mt_status s = pool_plan(op, input, params, shape, &pt, &pl);
    if (s || (s = mt_check_tensor(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 4, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, result is %s", op, MT_SHAPE(out),
                       MT_SHAPE(&want));
    if (mt_tensors_overlap(out, input))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out overlaps the input", op);
    pool_run(input, params, pt, pl, out);
    return MT_OK;
}

mt_status mt_maxpool2d(const mt_tensor *input, const mt_pool2d_params *params,
                       mt_tensor **out)
{
    const char *op = "maxpool2d";
    int64_t shape[4], pt, pl;
    mt_status s = pool_plan(op, input, params, shape, &pt, &pl);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &t)))
        return s;
    pool_run(input, params, pt, pl, t);
    *out = t;
    return MT_OK;
}
