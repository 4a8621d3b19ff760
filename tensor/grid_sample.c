/* grid_sample.c — F.affine_grid and F.grid_sample (2-D) on NHWC views,
 * PyTorch's index rules (aten/src/ATen/native/GridSampler.h), computed in
 * float as PyTorch computes them so that nearest picks the same pixel. */
#include <math.h>

#include "minitensor/grid_sample.h"
#include "internal.h"

/* ---- affine_grid ------------------------------------------------------------ */

/* Pixel k of n along an axis in [-1, 1] (linspace_from_neg_one): the
 * centres of the corner pixels at ±1 (align_corners) or of pixels spread
 * over the axis' outer edges at ±1; 0 for n = 1. */
static float base_coord(int64_t k, int64_t n, bool align_corners)
{
    if (n <= 1)
        return 0.0f;
    float v = (float)(-1.0 + 2.0 * (double)k / (double)(n - 1));
    return align_corners ? v : v * (float)(n - 1) / (float)n;
}

static mt_status affine_grid_check(const char *op, const mt_tensor *theta, int64_t h, int64_t w)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "theta", theta)) || (s = mt_check_f32(op, theta)))
        return s;
    if (theta->rank != 3 || theta->shape[1] != 2 || theta->shape[2] != 3)
        return mt_fail(MT_ERR_SHAPE, "%s: theta %s must be [N,2,3]", op, MT_SHAPE(theta));
    if (h < 1 || w < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: size (%lld,%lld) must be >= 1", op,
                       (long long)h, (long long)w);
    int64_t numel;
    if (!mt_shape_numel(4, (int64_t[]){theta->shape[0], h, w, 2}, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: grid [%lld,%lld,%lld,2] overflows", op,
                       (long long)theta->shape[0], (long long)h, (long long)w);
    return MT_OK;
}

static void affine_grid_run(const mt_tensor *theta, bool align_corners, mt_tensor *out)
{
    const float *t = theta->data;
    const int64_t *st = theta->stride, *so = out->stride;
    float *g = out->data;
    for (int64_t n = 0; n < out->shape[0]; n++) {
        float m[2][3];
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 3; c++)
                m[r][c] = t[n * st[0] + r * st[1] + c * st[2]];
        for (int64_t i = 0; i < out->shape[1]; i++) {
            float y = base_coord(i, out->shape[1], align_corners);
            for (int64_t j = 0; j < out->shape[2]; j++) {
                float x = base_coord(j, out->shape[2], align_corners);
                float *p = g + n * so[0] + i * so[1] + j * so[2];
                p[0] = x * m[0][0] + y * m[0][1] + m[0][2];
                p[so[3]] = x * m[1][0] + y * m[1][1] + m[1][2];
            }
        }
    }
}

mt_status mt_affine_grid_into(const mt_tensor *theta, int64_t h, int64_t w,
                              bool align_corners, mt_tensor *out)
{
    const char *op = "affine_grid";
    mt_status s = affine_grid_check(op, theta, h, w);
    if (s || (s = mt_check_out(op, out, MT_DTYPE_F32, 4,
                               (int64_t[]){theta->shape[0], h, w, 2})))
        return s;
    if (mt_tensors_overlap(out, theta))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps theta %s", op,
                       MT_SHAPE(out), MT_SHAPE(theta));
    affine_grid_run(theta, align_corners, out);
    return MT_OK;
}

mt_status mt_affine_grid(const mt_tensor *theta, int64_t h, int64_t w, bool align_corners,
                         mt_tensor **out)
{
    const char *op = "affine_grid";
    mt_status s = affine_grid_check(op, theta, h, w);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){theta->shape[0], h, w, 2}, &t)))
        return s;
    affine_grid_run(theta, align_corners, t);
    *out = t;
    return MT_OK;
}

/* ---- grid_sample ------------------------------------------------------------ */

/* One axis of `size` pixels as PyTorch's CPU kernel maps it
 * (GridSamplerKernel.cpp, ComputeLocationBase), in float with its order
 * of operations so that nearest and the bicubic taps pick its pixels. */
typedef struct sample_axis {
    float scale, shift;       /* grid -> pixel: (g + 1) * scale - shift */
    float max_val;            /* size - 1 */
    float low, twice_span;    /* reflection: reflected into [low, low + span] */
} sample_axis;

static sample_axis axis_of(int64_t size, bool align_corners)
{
    if (align_corners)   /* -1, +1: the centres of pixels 0 and size-1 */
        return (sample_axis){(float)(size - 1) / 2, 0.0f, (float)(size - 1), 0.0f,
                             (float)(size - 1) * 2};
    /* -1, +1: the outer edges, pixel centres at -0.5 .. size - 0.5 */
    return (sample_axis){(float)size / 2, 0.5f, (float)(size - 1), -0.5f, (float)size * 2};
}

static float unnormalize(const sample_axis *a, float g)
{
    float x = (g + 1) * a->scale;
    return x - a->shift;
}

/* clip_coordinates: into [0, size-1], NaN to 0 (max(x, 0) then min) */
static float clip(const sample_axis *a, float x)
{
    return !(x > 0) ? 0 : x > a->max_val ? a->max_val : x;
}

/* reflect_coordinates: x mirrored at low and low + span until it lands
 * between them, in PyTorch's trunc/abs form. NaN stays NaN, ±inf becomes
 * NaN, and so does everything where there is no span (align_corners with
 * size 1: PyTorch returns 0 there); clip makes NaN 0. */
static float reflect(const sample_axis *a, float x)
{
    float in = fabsf(x - a->low);
    float flips = truncf(in / a->twice_span);
    float prod = flips * a->twice_span;
    float extra = in - prod;
    float mirrored = a->twice_span - extra;
    return (extra < mirrored ? extra : mirrored) + a->low;
}

/* compute_coordinates: the padding applied to a pixel position */
static float pad_coord(const sample_axis *a, mt_grid_sample_padding padding, float x)
{
    if (padding == MT_GRID_SAMPLE_PADDING_BORDER)
        return clip(a, x);
    if (padding == MT_GRID_SAMPLE_PADDING_REFLECTION)
        return clip(a, reflect(a, x));
    return x;
}

/* One output pixel: C channels at py (stride so3) from the image at base
 * (strides si) read at pixel position (x, y), already padded. */
static void sample_pixel(const mt_grid_sample_params *p, const float *base, const int64_t *si,
                         int64_t H, int64_t W, int64_t C, float x, float y, float *py,
                         int64_t so3)
{
    /* PyTorch's bilinear weights of a NaN or infinite point are NaN, and
     * with ZEROS padding nothing clips the point first: NaN out */
    const bool nan_out = p->mode != MT_GRID_SAMPLE_MODE_NEAREST &&
                         p->padding == MT_GRID_SAMPLE_PADDING_ZEROS &&
                         !(isfinite(x) && isfinite(y));
    for (int64_t c = 0; c < C; c++)
        py[c * so3] = nan_out ? NAN : 0.0f;
    /* outside (-1, size) no pixel is read (and floor stays in range) */
    if (!(x > -1 && x < (float)W && y > -1 && y < (float)H))
        return;
    if (p->mode == MT_GRID_SAMPLE_MODE_NEAREST) {
        int64_t ix = (int64_t)nearbyintf(x), iy = (int64_t)nearbyintf(y);
        if (ix < 0 || ix >= W || iy < 0 || iy >= H)
            return;
        const float *px = base + iy * si[1] + ix * si[2];
        for (int64_t c = 0; c < C; c++)
            py[c * so3] = px[c * si[3]];
        return;
    }
    float fx = floorf(x), fy = floorf(y);
    int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
    /* PyTorch's weights of the corners nw, ne, sw, se */
    const float w[4] = {(fx + 1 - x) * (fy + 1 - y), (x - fx) * (fy + 1 - y),
                        (fx + 1 - x) * (y - fy), (x - fx) * (y - fy)};
    for (int k = 0; k < 4; k++) {
        int64_t ix = x0 + (k & 1), iy = y0 + (k >> 1);
        if (ix < 0 || ix >= W || iy < 0 || iy >= H)
            continue;
        const float *px = base + iy * si[1] + ix * si[2];
        for (int64_t c = 0; c < C; c++)
            py[c * so3] += px[c * si[3]] * w[k];
    }
}

/* ---- bicubic ---------------------------------------------------------------- */

/* The cubic convolution weights (A = -0.75, PyTorch's) of the taps at
 * distance 1 + t, t, 1 - t and 2 - t from a point t past its floor. */
static void cubic_weights(float t, float w[4])
{
    const float A = -0.75f;
    float d[4] = {t + 1, t, 1 - t, 2 - t};
    for (int k = 0; k < 4; k += 3)   /* 1 < d < 2 */
        w[k] = ((A * d[k] - 5 * A) * d[k] + 8 * A) * d[k] - 4 * A;
    for (int k = 1; k < 3; k++)      /* d <= 1 */
        w[k] = ((A + 2) * d[k] - (A + 3)) * d[k] * d[k] + 1;
}

/* The 4 taps around position x (unpadded): their pixel indices after the
 * padding, each tap on its own (so a reflected tap may land on another
 * tap's pixel), -1 for a tap outside with ZEROS padding; and weights. */
static void cubic_taps(const sample_axis *a, mt_grid_sample_padding padding, int64_t size,
                       float x, int64_t idx[4], float w[4])
{
    float fx = floorf(x);
    cubic_weights(x - fx, w);
    for (int k = 0; k < 4; k++) {
        float t = pad_coord(a, padding, fx + (float)(k - 1));
        /* a NaN or far tap is outside: PyTorch's int32 index fails its range check */
        idx[k] = t > -1 && t < (float)size ? (int64_t)t : -1;
    }
}

/* One output pixel of bicubic sampling at grid point (gx, gy): 16 taps
 * summed in float in PyTorch's order (4 rows across x, then down y); a tap
 * outside reads 0 with its weight, so a NaN weight (NaN or ±inf grid
 * point) gives NaN, as PyTorch. */
static void bicubic_pixel(const sample_axis *ax, const sample_axis *ay,
                          mt_grid_sample_padding padding, const float *base, const int64_t *si,
                          int64_t H, int64_t W, int64_t C, float gx, float gy, float *py,
                          int64_t so3)
{
    int64_t ix[4], iy[4];
    float wx[4], wy[4];
    cubic_taps(ax, padding, W, unnormalize(ax, gx), ix, wx);
    cubic_taps(ay, padding, H, unnormalize(ay, gy), iy, wy);
    for (int64_t c = 0; c < C; c++) {
        float acc = 0.0f;
        for (int i = 0; i < 4; i++) {
            float r = 0.0f;
            for (int j = 0; j < 4; j++) {
                float v = iy[i] >= 0 && ix[j] >= 0
                              ? base[iy[i] * si[1] + ix[j] * si[2] + c * si[3]] : 0.0f;
                r = j ? r + wx[j] * v : wx[j] * v;   /* PyTorch's sum, -0 kept */
            }
            acc = i ? acc + wy[i] * r : wy[i] * r;
        }
        py[c * so3] = acc;
    }
}

static mt_status grid_sample_check(const char *op, const mt_tensor *input, const mt_tensor *grid,
                                   const mt_grid_sample_params *p, int64_t shape[4])
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) || (s = mt_check_f32(op, input)) ||
        (s = mt_tensor_check(op, "grid", grid)) || (s = mt_check_f32(op, grid)))
        return s;
    if ((unsigned)p->mode > MT_GRID_SAMPLE_MODE_BICUBIC)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown mode %d", op, (int)p->mode);
    if ((unsigned)p->padding > MT_GRID_SAMPLE_PADDING_REFLECTION)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown padding %d", op, (int)p->padding);
    if (input->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be [N,H,W,C]", op, MT_SHAPE(input));
    if (grid->rank != 4 || grid->shape[3] != 2 || grid->shape[0] != input->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: grid %s must be [N,OH,OW,2] with the input's N (%s)",
                       op, MT_SHAPE(grid), MT_SHAPE(input));
    /* PyTorch refuses these too: no pixel to read, not even for BORDER */
    if (input->shape[1] == 0 || input->shape[2] == 0)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s has an empty H or W", op, MT_SHAPE(input));
    shape[0] = input->shape[0];
    shape[1] = grid->shape[1];
    shape[2] = grid->shape[2];
    shape[3] = input->shape[3];
    int64_t numel;
    if (!mt_shape_numel(4, shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output of grid %s and input %s overflows", op,
                       MT_SHAPE(grid), MT_SHAPE(input));
    return MT_OK;
}

static void grid_sample_run(const mt_tensor *input, const mt_tensor *grid,
                            const mt_grid_sample_params *p, mt_tensor *out)
{
    const int64_t *si = input->stride, *sg = grid->stride, *so = out->stride;
    const int64_t H = input->shape[1], W = input->shape[2], C = input->shape[3];
    const sample_axis ax = axis_of(W, p->align_corners), ay = axis_of(H, p->align_corners);
    const float *g = grid->data;
    for (int64_t n = 0; n < out->shape[0]; n++)
        for (int64_t i = 0; i < out->shape[1]; i++)
            for (int64_t j = 0; j < out->shape[2]; j++) {
                const float *pg = g + n * sg[0] + i * sg[1] + j * sg[2];
                const float *base = (const float *)input->data + n * si[0];
                float *py = (float *)out->data + n * so[0] + i * so[1] + j * so[2];
                if (p->mode == MT_GRID_SAMPLE_MODE_BICUBIC) {
                    bicubic_pixel(&ax, &ay, p->padding, base, si, H, W, C, pg[0], pg[sg[3]],
                                  py, so[3]);
                    continue;
                }
                float x = pad_coord(&ax, p->padding, unnormalize(&ax, pg[0]));
                float y = pad_coord(&ay, p->padding, unnormalize(&ay, pg[sg[3]]));
                sample_pixel(p, base, si, H, W, C, x, y, py, so[3]);
            }
}

mt_status mt_grid_sample_into(const mt_tensor *input, const mt_tensor *grid,
                              const mt_grid_sample_params *params, mt_tensor *out)
{
    const char *op = "grid_sample";
    const mt_grid_sample_params p = params ? *params : (mt_grid_sample_params){0};
    int64_t shape[4];
    mt_status s = grid_sample_check(op, input, grid, &p, shape);
    if (s || (s = mt_check_out(op, out, MT_DTYPE_F32, 4, shape)))
        return s;
    if (mt_tensors_overlap(out, input) || mt_tensors_overlap(out, grid))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input %s or the "
                       "grid %s", op, MT_SHAPE(out), MT_SHAPE(input), MT_SHAPE(grid));
    grid_sample_run(input, grid, &p, out);
    return MT_OK;
}

mt_status mt_grid_sample(const mt_tensor *input, const mt_tensor *grid,
                         const mt_grid_sample_params *params, mt_tensor **out)
{
    const char *op = "grid_sample";
    const mt_grid_sample_params p = params ? *params : (mt_grid_sample_params){0};
    int64_t shape[4];
    mt_status s = grid_sample_check(op, input, grid, &p, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &t)))
        return s;
    grid_sample_run(input, grid, &p, t);
    *out = t;
    return MT_OK;
}
