/* conv_transpose.c — transposed 2-D convolution as a direct gather loop:
 * each output element sums the inputs whose scattered windows cover it. */
#include "minitensor/conv.h"
#include "internal.h"
#include "unary_ops.h"
#include "window.h"

typedef struct tconv_geometry {
    int64_t n, h, w, cin, cout, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, groups;
    mt_tensor x;  /* the input as an NHWC view */
} tconv_geometry;

static int64_t or_one(int64_t v) { return v == 0 ? 1 : v; }

/* OH = (H - 1) * stride - pads + dilation * (k - 1) + output_padding + 1,
 * overflow-checked; fails when it is < 1 (PyTorch: "Output size is too
 * small") or the parameters are invalid. */
static mt_status tconv_axis(const char *op, const char *axis, int64_t in, int64_t k,
                            int64_t stride, int64_t dil, int64_t pb, int64_t pa, int64_t opad,
                            int64_t *out)
{
    if (stride < 1 || dil < 1 || pb < 0 || pa < 0 || opad < 0 ||
        (opad >= stride && opad >= dil))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s: invalid stride %lld, dilation %lld, "
                       "pads (%lld, %lld) or output_padding %lld (must be >= 0 and smaller "
                       "than the stride or the dilation)", op, axis, (long long)stride,
                       (long long)dil, (long long)pb, (long long)pa, (long long)opad);
    int64_t a, b;
    if (__builtin_mul_overflow(in - 1, stride, &a) || __builtin_mul_overflow(k - 1, dil, &b) ||
        __builtin_add_overflow(a, b, &a) || __builtin_add_overflow(a, opad + 1, &a))
        return mt_fail(MT_ERR_OVERFLOW, "%s: %s: output size overflows (size %lld, kernel "
                       "%lld, stride %lld, dilation %lld)", op, axis, (long long)in,
                       (long long)k, (long long)stride, (long long)dil);
    // a - pb - pa overflowed for pads near INT64_MAX (UBSan)
    int64_t left;
    if (__builtin_sub_overflow(a, pb, &left) || __builtin_sub_overflow(left, pa, &left) ||
        left < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: %s: pads (%lld, %lld) leave no output (%lld before "
                       "them)", op, axis, (long long)pb, (long long)pa, (long long)a);
    *out = left;
    return MT_OK;
}

static mt_status tconv_plan(const char *op, const mt_tensor *input, const mt_tensor *weight,
                            const mt_tensor *bias, const mt_conv_transpose2d_params *p,
                            tconv_geometry *g, int64_t shape[4])
{
    mt_status s;
    if ((s = mt_tensor_check(op, "input", input)) || (s = mt_check_f32(op, input)) ||
        (s = mt_tensor_check(op, "weight", weight)) || (s = mt_check_f32(op, weight)))
        return s;
    if (bias && ((s = mt_tensor_check(op, "bias", bias)) || (s = mt_check_f32(op, bias))))
        return s;
    if (!p)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: params is NULL", op);
    if ((s = mt_check_data_layout(op, p->data_layout)) ||
        (s = mt_activation_check(op, p->activation)))
        return s;
    bool nchw = p->data_layout == MT_DATA_LAYOUT_NCHW;
    if (input->rank != 4 || weight->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s must be %s and weight %s "
                       "[Cin,Cout/groups,kh,kw]", op, MT_SHAPE(input),
                       nchw ? "[N,C,H,W]" : "[N,H,W,C]", MT_SHAPE(weight));
    if (p->groups < 0 || p->stride_h < 0 || p->stride_w < 0 || p->dilation_h < 0 ||
        p->dilation_w < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative groups %lld, stride or dilation",
                       op, (long long)p->groups);
    *g = (tconv_geometry){.groups = or_one(p->groups), .sh = or_one(p->stride_h),
                          .sw = or_one(p->stride_w), .dh = or_one(p->dilation_h),
                          .dw = or_one(p->dilation_w), .pt = p->pad_top, .pl = p->pad_left};
    mt_nhwc_view(input, p->data_layout, &g->x);
    const int64_t *k = weight->shape;
    g->n = g->x.shape[0], g->h = g->x.shape[1], g->w = g->x.shape[2], g->cin = g->x.shape[3];
    g->kh = k[2], g->kw = k[3];
    if (g->cin % g->groups != 0 || k[0] != g->cin)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s must be [%lld,Cout/groups,kh,kw] for "
                       "input %s with groups %lld (dividing the channels)", op,
                       MT_SHAPE(weight), (long long)g->cin, MT_SHAPE(input),
                       (long long)g->groups);
    if (g->kh < 1 || g->kw < 1 || g->h < 1 || g->w < 1 || k[1] < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: input %s and weight %s need height, width, taps "
                       "and output channels >= 1", op, MT_SHAPE(input), MT_SHAPE(weight));
    // only now: groups divides k[0] = Cin, so Cout <= the weight's element count
    g->cout = k[1] * g->groups;
    if ((s = tconv_axis(op, "height", g->h, g->kh, g->sh, g->dh, p->pad_top, p->pad_bottom,
                        p->output_padding_h, &g->oh)) ||
        (s = tconv_axis(op, "width", g->w, g->kw, g->sw, g->dw, p->pad_left, p->pad_right,
                        p->output_padding_w, &g->ow)))
        return s;
    if (bias && (bias->rank != 1 || bias->shape[0] != g->cout))
        return mt_fail(MT_ERR_SHAPE, "%s: bias is %s, expected [%lld]", op, MT_SHAPE(bias),
                       (long long)g->cout);
    mt_layout_shape(p->data_layout, g->n, g->oh, g->ow, g->cout, shape);
    int64_t numel;
    if (!mt_shape_numel(4, shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: output (%lld,%lld) overflows", op,
                       (long long)g->oh, (long long)g->ow);
    return MT_OK;
}

/* out[n, oy, ox, o] = bias[o] + sum over taps (i, j) whose input row
 * iy = (oy + pad_top - i * dh) / sh is whole and inside (likewise ix), and
 * over the group's input channels c, of x[n, iy, ix, c] * w[c, o % og, i, j]. */
static void tconv_run(const tconv_geometry *g, const mt_tensor *weight, const mt_tensor *bias,
                      mt_activation act, mt_tensor *out)
{
    const float *x = g->x.data, *wt = weight->data, *b = bias ? bias->data : NULL;
    float *y = out->data;
    const int64_t *si = g->x.stride, *sw = weight->stride, *so = out->stride;
    const int64_t cg = g->cin / g->groups, og = g->cout / g->groups;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t oy = 0; oy < g->oh; oy++) {
            for (int64_t ox = 0; ox < g->ow; ox++)
                for (int64_t o = 0; o < g->cout; o++) {
                    const int64_t grp = o / og, ol = o % og;
                    float acc = b ? b[o * bias->stride[0]] : 0.0f;
                    for (int64_t i = 0; i < g->kh; i++) {
                        int64_t ty = oy + g->pt - i * g->dh;
                        if (ty < 0 || ty % g->sh != 0 || ty / g->sh >= g->h)
                            continue;
                        for (int64_t j = 0; j < g->kw; j++) {
                            int64_t tx = ox + g->pl - j * g->dw;
                            if (tx < 0 || tx % g->sw != 0 || tx / g->sw >= g->w)
                                continue;
                            const float *px = x + n * si[0] + (ty / g->sh) * si[1] +
                                              (tx / g->sw) * si[2] + grp * cg * si[3];
                            const float *pw = wt + grp * cg * sw[0] + ol * sw[1] +
                                              i * sw[2] + j * sw[3];
                            for (int64_t c = 0; c < cg; c++)
                                acc += px[c * si[3]] * pw[c * sw[0]];
                        }
                    }
                    y[n * so[0] + oy * so[1] + ox * so[2] + o * so[3]] = acc;
                }
            // the finished row [OW, Cout], while it is in cache
            mt_activation_rows(act, y + n * so[0] + oy * so[1], g->ow, g->cout, so[2], so[3]);
        }
}

mt_status mt_conv_transpose2d_into(const mt_tensor *input, const mt_tensor *weight,
                                   const mt_tensor *bias,
                                   const mt_conv_transpose2d_params *params, mt_tensor *out)
{
    const char *op = "conv_transpose2d";
    tconv_geometry g;
    int64_t shape[4];
    mt_status s = tconv_plan(op, input, weight, bias, params, &g, shape);
    if (s || (s = mt_tensor_check(op, "out", out)) || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want, y;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, 4, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, input %s with weight %s gives %s", op,
                       MT_SHAPE(out), MT_SHAPE(input), MT_SHAPE(weight), MT_SHAPE(&want));
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, 4, shape)))   // an expanded (stride 0) out
        return s;
    if (mt_tensors_overlap(out, input) || mt_tensors_overlap(out, weight) ||
        (bias && mt_tensors_overlap(out, bias)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input, weight or "
                       "bias", op, MT_SHAPE(out));
    mt_nhwc_view(out, params->data_layout, &y);
    tconv_run(&g, weight, bias, params->activation, &y);
    return MT_OK;
}

mt_status mt_conv_transpose2d(const mt_tensor *input, const mt_tensor *weight,
                              const mt_tensor *bias, const mt_conv_transpose2d_params *params,
                              mt_tensor **out)
{
    const char *op = "conv_transpose2d";
    tconv_geometry g;
    int64_t shape[4];
    mt_status s = tconv_plan(op, input, weight, bias, params, &g, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t, y;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 4, shape, &t)))
        return s;
    mt_nhwc_view(t, params->data_layout, &y);
    tconv_run(&g, weight, bias, params->activation, &y);
    *out = t;
    return MT_OK;
}
