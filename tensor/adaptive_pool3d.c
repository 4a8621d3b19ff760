/* adaptive_pool3d.c — adaptive average and max pooling over [N,D,H,W,C]
 * views (NCDHW permuted): PyTorch's windows, start floor(i·in/out), end
 * ceil((i+1)·in/out). Channels innermost. */
#include <math.h>

#include "minitensor/conv3d.h"
#include "internal.h"
#include "volume.h"

static mt_status adaptive3d_plan(const char *op, const mt_tensor *input, const int64_t osz[3],
                                 mt_data_layout layout, int64_t shape[5])
{
    mt_status s = mt_volume_check_input(op, input, layout);
    if (s)
        return s;
    mt_tensor x;
    mt_ndhwc_view(input, layout, &x);
    for (int a = 0; a < 3; a++)
        if (osz[a] < 1 || x.shape[a + 1] < 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output size (%lld,%lld,%lld) and "
                           "the depth, height and width of input %s must be >= 1", op,
                           (long long)osz[0], (long long)osz[1], (long long)osz[2],
                           MT_SHAPE(input));
    // (o + 1)·in + out - 1, the largest product the windows compute, must fit
    for (int a = 0; a < 3; a++) {
        int64_t t;
        if (__builtin_mul_overflow(osz[a], x.shape[a + 1], &t) ||
            __builtin_add_overflow(t, osz[a], &t))
            return mt_fail(MT_ERR_OVERFLOW, "%s: output size (%lld,%lld,%lld) for input %s "
                           "overflows", op, (long long)osz[0], (long long)osz[1],
                           (long long)osz[2], MT_SHAPE(input));
    }
    mt_volume_shape(layout, x.shape[0], osz, x.shape[4], shape);
    int64_t numel;
    if (!mt_shape_numel(5, shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output size (%lld,%lld,%lld) for input %s "
                       "overflows", op, (long long)osz[0], (long long)osz[1],
                       (long long)osz[2], MT_SHAPE(input));
    return MT_OK;
}

/* Window [*b, *e) of output index o over `in` of `out` positions. */
static void window(int64_t o, int64_t in, int64_t out, int64_t *b, int64_t *e)
{
    *b = o * in / out;
    *e = ((o + 1) * in + out - 1) / out;
}

/* max(m, v) that propagates NaN: a NaN, once seen, stays. */
static inline float max_nan(float m, float v)
{
    return v > m || v != v ? v : m;
}

static void adaptive3d_run(bool avg, const mt_tensor *x, mt_tensor *y)
{
    const float *px = x->data;
    float *py = y->data;
    const int64_t *si = x->stride, *so = y->stride, ch = y->shape[4];
    const int64_t *in = x->shape + 1, *out = y->shape + 1;
    for (int64_t n = 0; n < y->shape[0]; n++)
        for (int64_t oz = 0; oz < out[0]; oz++)
            for (int64_t oy = 0; oy < out[1]; oy++)
                for (int64_t ox = 0; ox < out[2]; ox++) {
                    float *v = py + n * so[0] + oz * so[1] + oy * so[2] + ox * so[3];
                    int64_t z0, z1, y0, y1, x0, x1;
                    window(oz, in[0], out[0], &z0, &z1);
                    window(oy, in[1], out[1], &y0, &y1);
                    window(ox, in[2], out[2], &x0, &x1);
                    for (int64_t c = 0; c < ch; c++)
                        v[c * so[4]] = avg ? 0.0f : -INFINITY;
                    for (int64_t iz = z0; iz < z1; iz++)
                        for (int64_t iy = y0; iy < y1; iy++)
                            for (int64_t ix = x0; ix < x1; ix++) {
                                const float *u = px + n * si[0] + iz * si[1] + iy * si[2] +
                                                 ix * si[3];
                                for (int64_t c = 0; c < ch; c++)
                                    v[c * so[4]] = avg ? v[c * so[4]] + u[c * si[4]]
                                                       : max_nan(v[c * so[4]], u[c * si[4]]);
                            }
                    if (avg) {
                        const float div = (float)((z1 - z0) * (y1 - y0) * (x1 - x0));
                        for (int64_t c = 0; c < ch; c++)
                            v[c * so[4]] /= div;
                    }
                }
}

/* Both pools, allocating (out_new) or into out_into. */
static mt_status adaptive3d(const char *op, bool avg, const mt_tensor *input,
                            const int64_t osz[3], mt_data_layout layout, mt_tensor *out_into,
                            mt_tensor **out_new)
{
    int64_t shape[5];
    mt_status s = adaptive3d_plan(op, input, osz, layout, shape);
    if (s)
        return s;
    mt_tensor *t;
    if ((s = mt_volume_out(op, input, shape, out_into, out_new, &t)))
        return s;
    mt_tensor x, y;
    mt_ndhwc_view(input, layout, &x);
    mt_ndhwc_view(t, layout, &y);
    adaptive3d_run(avg, &x, &y);
    if (out_new)
        *out_new = t;
    return MT_OK;
}

mt_status mt_adaptive_avg_pool3d_into(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                      int64_t out_w, mt_data_layout layout, mt_tensor *out)
{
    return adaptive3d("adaptive_avg_pool3d", true, input,
                      (const int64_t[]){out_d, out_h, out_w}, layout, out, NULL);
}

mt_status mt_adaptive_avg_pool3d(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                 int64_t out_w, mt_data_layout layout, mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "adaptive_avg_pool3d: out is NULL");
    return adaptive3d("adaptive_avg_pool3d", true, input,
                      (const int64_t[]){out_d, out_h, out_w}, layout, NULL, out);
}

mt_status mt_adaptive_max_pool3d_into(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                      int64_t out_w, mt_data_layout layout, mt_tensor *out)
{
    return adaptive3d("adaptive_max_pool3d", false, input,
                      (const int64_t[]){out_d, out_h, out_w}, layout, out, NULL);
}

mt_status mt_adaptive_max_pool3d(const mt_tensor *input, int64_t out_d, int64_t out_h,
                                 int64_t out_w, mt_data_layout layout, mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "adaptive_max_pool3d: out is NULL");
    return adaptive3d("adaptive_max_pool3d", false, input,
                      (const int64_t[]){out_d, out_h, out_w}, layout, NULL, out);
}
