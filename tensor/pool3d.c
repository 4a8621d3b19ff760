/* pool3d.c — max and average pooling over [N,D,H,W,C] views (NCDHW inputs
 * and outputs are permuted views). The channel loop is innermost:
 * contiguous channels last. */
#include <math.h>

#include "minitensor/conv3d.h"
#include "internal.h"
#include "volume.h"

static mt_status pool3d_plan(const char *op, const mt_tensor *input,
                             const mt_pool3d_params *p, bool avg, mt_window_axis ax[3],
                             int64_t shape[5])
{
    mt_status s = mt_tensor_check(op, "input", input);
    if (s)
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mt_volume_check_input(op, input, p->data_layout)))
        return s;
    if (p->ceil_mode && p->padding == MT_PADDING_SAME)   // SAME has no rounding to choose
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: ceil_mode with MT_PADDING_SAME (PyTorch's "
                       "ceil_mode goes with explicit pads, Keras' 'same' has none)", op);
    const int64_t pool[3] = {p->pool_d, p->pool_h, p->pool_w};
    const int64_t stride[3] = {p->stride_d, p->stride_h, p->stride_w};
    const int64_t dil[3] = {p->dilation_d, p->dilation_h, p->dilation_w};
    const int64_t before[3] = {p->pad_front, p->pad_top, p->pad_left};
    const int64_t after[3] = {p->pad_back, p->pad_bottom, p->pad_right};
    for (int a = 0; a < 3; a++) {
        if (stride[a] < 0 || dil[a] < 0 || (avg && dil[a] > 1))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: stride (%lld,%lld,%lld) or dilation "
                           "(%lld,%lld,%lld) is negative%s", op, (long long)stride[0],
                           (long long)stride[1], (long long)stride[2], (long long)dil[0],
                           (long long)dil[1], (long long)dil[2],
                           avg ? ", or dilation is not 1 for an average" : "");
        // PyTorch's rule (half the undilated window): more could leave a
        // window with nothing but padding
        if (p->padding == MT_PADDING_EXPLICIT && pool[a] >= 1 &&
            (before[a] > pool[a] / 2 || after[a] > pool[a] / 2))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pads (%lld,%lld) of axis %d must be "
                           "at most half the window %lld", op, (long long)before[a],
                           (long long)after[a], a, (long long)pool[a]);
    }
    mt_tensor x;
    mt_ndhwc_view(input, p->data_layout, &x);
    for (int a = 0; a < 3; a++)
        ax[a] = (mt_window_axis){.in = x.shape[a + 1], .k = pool[a],
                                 .stride = stride[a] ? stride[a] : pool[a],
                                 .dilation = dil[a] ? dil[a] : 1,
                                 .pad_before = before[a], .pad_after = after[a]};
    if ((s = mt_volume_plan(op, "pool window", input, p->padding, p->ceil_mode, ax)))
        return s;
    const int64_t out_dhw[3] = {ax[0].out, ax[1].out, ax[2].out};
    mt_volume_shape(p->data_layout, x.shape[0], out_dhw, x.shape[4], shape);
    return MT_OK;
}

/* max(m, v) that propagates NaN: a NaN, once seen, stays. */
static inline float max_nan(float m, float v)
{
    return v > m || v != v ? v : m;
}

/* Positions [lo, hi) of the window starting at `start` that lie in the
 * input; *size counts the pads too, clipped to the padded input (PyTorch's
 * divisor with count_include_pad). Dilation 1. */
static void avg_span(const mt_window_axis *a, int64_t start, int64_t *lo, int64_t *hi,
                     int64_t *size)
{
    int64_t end = start + a->k < a->in + a->pad_after ? start + a->k : a->in + a->pad_after;
    *size = end - start;
    *lo = start < 0 ? 0 : start;
    *hi = end > a->in ? a->in : end;
}

/* One output voxel (n, o[3]) of channels ch: y = max or mean over its window. */
static void pool_voxel(const mt_window_axis ax[3], bool avg, bool include_pad,
                       const mt_tensor *in, int64_t n, const int64_t o[3], int64_t ch,
                       float *py, int64_t so)
{
    const float *x = in->data;
    const int64_t *si = in->stride;
    for (int64_t c = 0; c < ch; c++)
        py[c * so] = avg ? 0.0f : -INFINITY;
    int64_t lo[3], hi[3], size[3] = {0, 0, 0}, step[3];
    for (int a = 0; a < 3; a++) {
        int64_t start = o[a] * ax[a].stride - ax[a].pad_before;
        if (avg) {
            avg_span(&ax[a], start, &lo[a], &hi[a], &size[a]);
            step[a] = 1;
        } else {
            // the taps start, start + dil, … inside [0, in)
            int64_t d = ax[a].dilation, i0, i1;
            mt_window_taps(&ax[a], start, &i0, &i1);
            lo[a] = start + i0 * d;
            hi[a] = i1 > i0 ? start + (i1 - 1) * d + 1 : lo[a];
            step[a] = d;
        }
    }
    for (int64_t iz = lo[0]; iz < hi[0]; iz += step[0])
        for (int64_t iy = lo[1]; iy < hi[1]; iy += step[1])
            for (int64_t ix = lo[2]; ix < hi[2]; ix += step[2]) {
                const float *px = x + n * si[0] + iz * si[1] + iy * si[2] + ix * si[3];
                if (avg)
                    for (int64_t c = 0; c < ch; c++)
                        py[c * so] += px[c * si[4]];
                else
                    for (int64_t c = 0; c < ch; c++)
                        py[c * so] = max_nan(py[c * so], px[c * si[4]]);
            }
    if (!avg)
        return;
    // in double: three hostile window sizes could overflow int64_t
    double count = 1.0;
    for (int a = 0; a < 3; a++)
        count *= (double)(include_pad ? size[a] : hi[a] - lo[a]);
    for (int64_t c = 0; c < ch; c++)
        py[c * so] = (float)(py[c * so] / count);
}

static void pool_run(const mt_window_axis ax[3], bool avg, bool include_pad,
                     const mt_tensor *in, mt_tensor *out)
{
    const int64_t *so = out->stride, ch = out->shape[4];
    float *y = out->data;
    int64_t o[3];
    for (int64_t n = 0; n < out->shape[0]; n++)
        for (o[0] = 0; o[0] < ax[0].out; o[0]++)
            for (o[1] = 0; o[1] < ax[1].out; o[1]++)
                for (o[2] = 0; o[2] < ax[2].out; o[2]++)
                    pool_voxel(ax, avg, include_pad, in, n, o, ch,
                               y + n * so[0] + o[0] * so[1] + o[1] * so[2] + o[2] * so[3],
                               so[4]);
}

/* Plans, checks or allocates the output, runs. Exactly one of out_into
 * (the caller's tensor) and out_new is given. */
static mt_status pool3d(const char *op, bool avg, const mt_tensor *input,
                        const mt_pool3d_params *p, mt_tensor *out_into, mt_tensor **out_new)
{
    mt_window_axis ax[3];
    int64_t shape[5];
    mt_status s = pool3d_plan(op, input, p, avg, ax, shape);
    if (s)
        return s;
    mt_tensor *t;
    if ((s = mt_volume_out(op, input, shape, out_into, out_new, &t)))
        return s;
    mt_tensor x, y;
    mt_ndhwc_view(input, p->data_layout, &x);
    mt_ndhwc_view(t, p->data_layout, &y);
    pool_run(ax, avg, p->count_include_pad, &x, &y);
    if (out_new)
        *out_new = t;
    return MT_OK;
}

mt_status mt_max_pool3d_into(const mt_tensor *input, const mt_pool3d_params *params,
                             mt_tensor *out)
{
    return pool3d("max_pool3d", false, input, params, out, NULL);
}

mt_status mt_max_pool3d(const mt_tensor *input, const mt_pool3d_params *params,
                        mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "max_pool3d: out is NULL");
    return pool3d("max_pool3d", false, input, params, NULL, out);
}

mt_status mt_avg_pool3d_into(const mt_tensor *input, const mt_pool3d_params *params,
                             mt_tensor *out)
{
    return pool3d("avg_pool3d", true, input, params, out, NULL);
}

mt_status mt_avg_pool3d(const mt_tensor *input, const mt_pool3d_params *params,
                        mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "avg_pool3d: out is NULL");
    return pool3d("avg_pool3d", true, input, params, NULL, out);
}
