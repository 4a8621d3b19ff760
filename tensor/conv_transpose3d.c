/* conv_transpose3d.c — transposed 3-D convolution as GEMM + col2im: per
 * chunk of input voxels and group, cols = x · W ([count, Cin/g] ·
 * [Cin/g, Cout/g·taps]), each cols row then added into the output voxels
 * its taps reach. */
#include "minitensor/conv3d.h"
#include "minitensor/view.h"
#include "internal.h"
#include "unary_ops.h"
#include "volume.h"

/* The cols buffer is kept near 2 MiB (as conv3d's patches). */
#define COLS_CHUNK_FLOATS (512 * 1024)

typedef struct tconv3d_axis {
    int64_t in, k, stride, dil, pad, out;   /* pad: the leading one */
} tconv3d_axis;

typedef struct tconv3d_geometry {
    tconv3d_axis ax[3];   /* depth, height, width */
    int64_t n, cin, cout, groups;
    mt_tensor x;          /* the input as an [N,D,H,W,C] view */
} tconv3d_geometry;

/* 0 means 1; a negative value stays, to be refused by the axis' plan. */
static int64_t or_one(int64_t v) { return v == 0 ? 1 : v; }

/* out = (in - 1)·stride - pads + dilation·(k - 1) + output_padding + 1,
 * overflow-checked; fails on invalid values or a negative size. */
static mt_status tconv3d_axis_plan(const char *op, const char *axis, int64_t pb, int64_t pa,
                                   int64_t opad, tconv3d_axis *a)
{
    if (a->stride < 1 || a->dil < 1 || pb < 0 || pa < 0 || opad < 0 ||
        (opad >= a->stride && opad >= a->dil))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s: invalid stride %lld, dilation %lld, "
                       "pads (%lld, %lld) or output_padding %lld (must be >= 0 and smaller "
                       "than the stride or the dilation)", op, axis, (long long)a->stride,
                       (long long)a->dil, (long long)pb, (long long)pa, (long long)opad);
    int64_t s, t;
    if (__builtin_mul_overflow(a->in - 1, a->stride, &s) ||
        __builtin_mul_overflow(a->k - 1, a->dil, &t) || __builtin_add_overflow(s, t, &s) ||
        __builtin_add_overflow(s, opad + 1, &s))
        return mt_fail(MT_ERR_OVERFLOW, "%s: %s: output size overflows (size %lld, kernel "
                       "%lld, stride %lld, dilation %lld)", op, axis, (long long)a->in,
                       (long long)a->k, (long long)a->stride, (long long)a->dil);
    // s - pb - pa overflowed for pads near INT64_MAX (UBSan)
    int64_t left;
    if (__builtin_sub_overflow(s, pb, &left) || __builtin_sub_overflow(left, pa, &left) ||
        left < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: %s: pads (%lld, %lld) leave no output (%lld before "
                       "them)", op, axis, (long long)pb, (long long)pa, (long long)s);
    a->pad = pb;
    a->out = left;
    return MT_OK;
}

static mt_status tconv3d_plan(const char *op, const mt_tensor *input, const mt_tensor *weight,
                              const mt_tensor *bias, const mt_conv_transpose3d_params *p,
                              tconv3d_geometry *g, int64_t shape[5])
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) ||
        (s = mt_tensor_check(op, "weight", weight)) || (s = mt_check_f32(op, weight)))
        return s;
    if (bias && ((s = mt_tensor_check(op, "bias", bias)) || (s = mt_check_f32(op, bias))))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mt_volume_check_input(op, input, p->data_layout)) ||
        (s = mt_activation_check(op, p->activation)))
        return s;
    if (weight->rank != 5)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s must be [Cin,Cout/groups,kd,kh,kw]", op,
                       MT_SHAPE(weight));
    if (p->groups < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative groups %lld", op,
                       (long long)p->groups);
    *g = (tconv3d_geometry){.groups = or_one(p->groups)};
    mt_ndhwc_view(input, p->data_layout, &g->x);
    const int64_t *k = weight->shape;
    g->n = g->x.shape[0], g->cin = g->x.shape[4];
    if (g->cin % g->groups != 0 || k[0] != g->cin)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s must be [%lld,Cout/groups,kd,kh,kw] for "
                       "input %s with groups %lld (dividing the channels)", op,
                       MT_SHAPE(weight), (long long)g->cin, MT_SHAPE(input),
                       (long long)g->groups);
    if (k[1] < 1 || k[2] < 1 || k[3] < 1 || k[4] < 1 || g->cin < 1 || g->x.shape[1] < 1 ||
        g->x.shape[2] < 1 || g->x.shape[3] < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s and weight %s need depth, height, width, "
                       "channels and taps >= 1", op, MT_SHAPE(input), MT_SHAPE(weight));
    if (__builtin_mul_overflow(k[1], g->groups, &g->cout))
        return mt_fail(MT_ERR_OVERFLOW, "%s: weight %s with groups %lld: channels overflow",
                       op, MT_SHAPE(weight), (long long)g->groups);
    static const char *const names[3] = {"depth", "height", "width"};
    const int64_t stride[3] = {p->stride_d, p->stride_h, p->stride_w};
    const int64_t dil[3] = {p->dilation_d, p->dilation_h, p->dilation_w};
    const int64_t before[3] = {p->pad_front, p->pad_top, p->pad_left};
    const int64_t after[3] = {p->pad_back, p->pad_bottom, p->pad_right};
    const int64_t opad[3] = {p->output_padding_d, p->output_padding_h, p->output_padding_w};
    for (int a = 0; a < 3; a++) {
        g->ax[a] = (tconv3d_axis){.in = g->x.shape[a + 1], .k = k[a + 2],
                                  .stride = or_one(stride[a]), .dil = or_one(dil[a])};
        if ((s = tconv3d_axis_plan(op, names[a], before[a], after[a], opad[a], &g->ax[a])))
            return s;
    }
    if (bias && (bias->rank != 1 || bias->shape[0] != g->cout))
        return mt_fail(MT_ERR_SHAPE, "%s: bias is %s, expected [%lld] (weight %s)", op,
                       MT_SHAPE(bias), (long long)g->cout, MT_SHAPE(weight));
    const int64_t out_dhw[3] = {g->ax[0].out, g->ax[1].out, g->ax[2].out};
    mt_volume_shape(p->data_layout, g->n, out_dhw, g->cout, shape);
    int64_t numel, cols;
    if (!mt_shape_numel(5, shape, &numel) || !mt_shape_numel(4, k + 1, &cols))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output [%lld,%lld,%lld,%lld,%lld] of input %s "
                       "and weight %s overflows", op, (long long)shape[0], (long long)shape[1],
                       (long long)shape[2], (long long)shape[3], (long long)shape[4],
                       MT_SHAPE(input), MT_SHAPE(weight));
    return MT_OK;
}

/* ---- running ---------------------------------------------------------------------- */

/* y [N,OD,OH,OW,Cout] (any strides) = the bias, or zeros. */
static void fill_bias(const mt_tensor *bias, mt_tensor *y)
{
    const int64_t *sh = y->shape, *so = y->stride;
    float *py = y->data;
    for (int64_t n = 0; n < sh[0]; n++)
        for (int64_t z = 0; z < sh[1]; z++)
            for (int64_t r = 0; r < sh[2]; r++)
                for (int64_t c = 0; c < sh[3]; c++) {
                    float *v = py + n * so[0] + z * so[1] + r * so[2] + c * so[3];
                    for (int64_t o = 0; o < sh[4]; o++)
                        v[o * so[4]] = bias ? ((const float *)bias->data)[o * bias->stride[0]]
                                            : 0.0f;
                }
}

/* col2im: cols rows [r0, r0 + count) (flat input voxels over N, D, H, W;
 * columns (o, a, i, j) as the weight's [Cout/g, kd, kh, kw]) added into
 * y's channels of group grp at the voxels their taps reach. */
static void col2im3d(const tconv3d_geometry *g, int64_t grp, int64_t r0, int64_t count,
                     const float *cols, mt_tensor *y)
{
    const tconv3d_axis *ad = &g->ax[0], *ah = &g->ax[1], *aw = &g->ax[2];
    const int64_t og = g->cout / g->groups, taps = ad->k * ah->k * aw->k;
    const int64_t *so = y->stride;
    float *py = (float *)y->data + grp * og * so[4];
    for (int64_t r = r0; r < r0 + count; r++) {
        const float *row = cols + (r - r0) * og * taps;
        int64_t t = r;
        const int64_t ix = t % aw->in;
        t /= aw->in;
        const int64_t iy = t % ah->in;
        t /= ah->in;
        const int64_t iz = t % ad->in, n = t / ad->in;
        for (int64_t a = 0; a < ad->k; a++) {
            const int64_t oz = iz * ad->stride - ad->pad + a * ad->dil;
            if (oz < 0 || oz >= ad->out)
                continue;
            for (int64_t i = 0; i < ah->k; i++) {
                const int64_t oy = iy * ah->stride - ah->pad + i * ah->dil;
                if (oy < 0 || oy >= ah->out)
                    continue;
                for (int64_t j = 0; j < aw->k; j++) {
                    const int64_t ox = ix * aw->stride - aw->pad + j * aw->dil;
                    if (ox < 0 || ox >= aw->out)
                        continue;
                    const int64_t tap = (a * ah->k + i) * aw->k + j;
                    float *v = py + n * so[0] + oz * so[1] + oy * so[2] + ox * so[3];
                    for (int64_t o = 0; o < og; o++)
                        v[o * so[4]] += row[o * taps + tap];
                }
            }
        }
    }
}

/* act over y [N,OD,OH,OW,C] (any strides) in place: a [OW, C] block per
 * output row. */
static void activate(mt_activation act, mt_tensor *y)
{
    const int64_t *sh = y->shape, *so = y->stride;
    for (int64_t n = 0; n < sh[0]; n++)
        for (int64_t z = 0; z < sh[1]; z++)
            for (int64_t r = 0; r < sh[2]; r++)
                mt_activation_rows(act, (float *)y->data + n * so[0] + z * so[1] + r * so[2],
                                   sh[3], sh[4], so[3], so[4]);
}

/* y (the output seen [N,OD,OH,OW,Cout], shape checked) = the planned
 * transposed conv. The copies, the cols buffer and the first GEMM come
 * before y's first write: a failure there leaves y untouched. */
static mt_status tconv3d_run(const char *op, const mt_tensor *weight, const mt_tensor *bias,
                             mt_activation act, const tconv3d_geometry *g, mt_tensor *y)
{
    const int64_t cg = g->cin / g->groups, og = g->cout / g->groups;
    const int64_t ncols = og * g->ax[0].k * g->ax[1].k * g->ax[2].k;
    const int64_t m = g->n * g->ax[0].in * g->ax[1].in * g->ax[2].in;
    if (m == 0)   /* no samples: an empty output */
        return MT_OK;
    mt_tensor xm, wm;
    mt_tensor *xcopy = NULL, *wcopy = NULL;
    mt_status s = MT_OK;
    if (mt_view_into(&g->x, 2, (int64_t[]){m, g->cin}, &xm)) {   /* voxels not rows */
        mt_clear_error();
        if ((s = mt_tensor_contiguous(&g->x, &xcopy)) ||
            (s = mt_view_into(xcopy, 2, (int64_t[]){m, g->cin}, &xm)))
            goto done;
    }
    if (mt_view_into(weight, 2, (int64_t[]){g->cin, ncols}, &wm)) {   /* a strided weight */
        mt_clear_error();
        if ((s = mt_tensor_contiguous(weight, &wcopy)) ||
            (s = mt_view_into(wcopy, 2, (int64_t[]){g->cin, ncols}, &wm)))
            goto done;
    }
    int64_t per_chunk = COLS_CHUNK_FLOATS / ncols;
    per_chunk = per_chunk < 1 ? 1 : per_chunk > m ? m : per_chunk;
    float *cols = mt_scratch_floats(MT_SCRATCH_CONV_PATCHES, per_chunk * ncols);
    if (!cols) {
        s = mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the cols buffer (%lld x %lld "
                    "floats)", op, (long long)per_chunk, (long long)ncols);
        goto done;
    }
    for (int64_t r0 = 0; r0 < m; r0 += per_chunk) {
        const int64_t count = m - r0 < per_chunk ? m - r0 : per_chunk;
        for (int64_t grp = 0; grp < g->groups; grp++) {
            mt_tensor xc, xg, wg, cm;
            mt_tensor_init_contiguous(&cm, MT_DTYPE_F32, 2, (int64_t[]){count, ncols}, cols);
            if ((s = mt_narrow_into(&xm, 0, r0, count, &xc)) ||
                (s = mt_narrow_into(&xc, 1, grp * cg, cg, &xg)) ||
                (s = mt_narrow_into(&wm, 0, grp * cg, cg, &wg)) ||
                (s = mt_matmul_into(&xg, &wg, &cm)))
                goto done;
            // y's first write: after the first GEMM, which made every check
            // and allocation the later ones (no larger, same strides) need
            if (r0 == 0 && grp == 0)
                fill_bias(bias, y);
            col2im3d(g, grp, r0, count, cols, y);
        }
    }
    // each output voxel sums taps from several input voxels (chunks): the
    // activation waits for the last
    if (act != MT_ACTIVATION_NONE)
        activate(act, y);
done:
    mt_tensor_free(xcopy);
    mt_tensor_free(wcopy);
    return s;
}

mt_status mt_conv_transpose3d_into(const mt_tensor *input, const mt_tensor *weight,
                                   const mt_tensor *bias,
                                   const mt_conv_transpose3d_params *params, mt_tensor *out)
{
    const char *op = "conv_transpose3d";
    tconv3d_geometry g;
    int64_t shape[5];
    mt_status s = tconv3d_plan(op, input, weight, bias, params, &g, shape);
    if (s || (s = mt_tensor_check(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want, y;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 5, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, input %s with weight %s gives %s", op,
                       MT_SHAPE(out), MT_SHAPE(input), MT_SHAPE(weight), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, 5, shape)))   // an expanded (stride 0) out
        return s;
    if (mt_tensors_overlap(out, input) || mt_tensors_overlap(out, weight) ||
        (bias && mt_tensors_overlap(out, bias)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input, weight or "
                       "bias", op, MT_SHAPE(out));
    mt_ndhwc_view(out, params->data_layout, &y);
    return tconv3d_run(op, weight, bias, params->activation, &g, &y);
}

mt_status mt_conv_transpose3d(const mt_tensor *input, const mt_tensor *weight,
                              const mt_tensor *bias, const mt_conv_transpose3d_params *params,
                              mt_tensor **out)
{
    const char *op = "conv_transpose3d";
    tconv3d_geometry g;
    int64_t shape[5];
    mt_status s = tconv3d_plan(op, input, weight, bias, params, &g, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t, y;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 5, shape, &t)))
        return s;
    mt_ndhwc_view(t, params->data_layout, &y);
    if ((s = tconv3d_run(op, weight, bias, params->activation, &g, &y))) {
        mt_tensor_free(t);
        return s;
    }
    *out = t;
    return MT_OK;
}
