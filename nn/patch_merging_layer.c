/* patch_merging_layer.c — Swin's PatchMerging on channels-last [N,H,W,C],
 * as torchvision 0.14: H, W zero-padded to even, the 2×2 neighbours
 * concatenated (x0, x1, x2, x3 = (0,0), (1,0), (0,1), (1,1)), LayerNorm,
 * Linear without bias; Swin V2's PatchMergingV2 puts the norm after the
 * Linear. The merged pixels live in the planner's scratch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minitensor/norm.h"
#include "minitensor/view.h"
#include "swin_internal.h"

typedef struct merge_state {
    mt_tensor *norm_w, *norm_b;   /* [4C] or NULL */
    mt_tensor *red_w;             /* (in, out) [4C, out] view */
    float eps;
    int64_t c, co;
    bool post_norm;               /* Swin V2: the norm [out] after the reduction */
} merge_state;

static mt_status merge_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    (void)n;
    const merge_state *st = l->state;
    char got[160];
    if (in->dtype != MT_DTYPE_F32 || in->rank != 4 || in->dim[3] != st->c ||
        in->dim[1] > (int64_t)1 << 40 || in->dim[2] > (int64_t)1 << 40)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,H,W,%lld] (channels last, H, W <= 2^40), "
                       "%s gives %s %s", (long long)st->c, from[0], mt_dtype_name(in->dtype),
                       mt_nn_shape_text(in, got, sizeof got));
    *out = *in;
    out->dim[1] = (in->dim[1] + 1) / 2;
    out->dim[2] = (in->dim[2] + 1) / 2;
    out->dim[3] = st->co;
    return MT_OK;
}

/* the merged [N, H/2, W/2, 4C] */
static size_t merge_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const merge_state *st = l->state;
    mt_shape s = *in;
    s.dim[1] = (in->dim[1] + 1) / 2;
    s.dim[2] = (in->dim[2] + 1) / 2;
    s.dim[3] = 4 * st->c;
    return mt_nn_shape_bytes(&s);
}

static mt_status merge_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n;
    const merge_state *st = l->state;
    const mt_tensor *x = in[0];
    int64_t b = x->shape[0], h = x->shape[1], w = x->shape[2], c = st->c;
    int64_t h2 = (h + 1) / 2, w2 = (w + 1) / 2;
    const int64_t *xs = x->stride;
    const float *xd = x->data;
    float *z = scratch;
    // torchvision's order: x0 = (0,0), x1 = (1,0), x2 = (0,1), x3 = (1,1)
    static const int64_t dh[4] = {0, 1, 0, 1}, dw[4] = {0, 0, 1, 1};
    for (int64_t i = 0; i < b * h2 * w2; i++) {
        int64_t bn = i / (h2 * w2), y = 2 * (i / w2 % h2), xx = 2 * (i % w2);
        for (int q = 0; q < 4; q++) {
            float *dst = z + (i * 4 + q) * c;
            int64_t hy = y + dh[q], wx = xx + dw[q];
            if (hy >= h || wx >= w) {   /* the zero padding to even H, W */
                memset(dst, 0, (size_t)c * sizeof *dst);
                continue;
            }
            const float *src = xd + bn * xs[0] + hy * xs[1] + wx * xs[2];
            for (int64_t k = 0; k < c; k++)
                dst[k] = src[k * xs[3]];
        }
    }
    mt_tensor tz, o2;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){b * h2 * w2, 4 * c}, z, &tz)) ||
        (s = mt_view_into(out, 2, (int64_t[]){b * h2 * w2, st->co}, &o2)) ||
        (!st->post_norm && (s = mt_layer_norm_into(&tz, 1, st->norm_w, st->norm_b, st->eps,
                                                   &tz))) ||
        (s = mt_matmul_fused_into(&tz, st->red_w, NULL, MT_ACTIVATION_NONE, &o2)))
        return s;
    return st->post_norm ? mt_layer_norm_into(&o2, 1, st->norm_w, st->norm_b, st->eps, &o2)
                         : MT_OK;
}

static void merge_release(void *state)
{
    merge_state *st = state;
    mt_tensor_free(st->norm_w);
    mt_tensor_free(st->norm_b);
    mt_tensor_free(st->red_w);
}

static const mt_layer_vtable merge_vtable = {
    .n_inputs = 1,
    .infer = merge_infer,
    .forward = merge_forward,
    .scratch_bytes = merge_scratch,
    .release = merge_release,
};

/* PatchMerging, or with post_norm Swin V2's PatchMergingV2. */
static mt_status merge_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                           const mt_tensor *reduction_weight, const mt_norm_options *options,
                           bool post_norm, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "patch_merging: out is NULL");
    *out = NULL;
    if (!reduction_weight)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "patch_merging: reduction_weight is NULL");
    char name[MT_NAME_MAX + 32];
    snprintf(name, sizeof name, "patch_merging%s%s", reduction_weight->name[0] ? " " : "",
             reduction_weight->name);
    const mt_tensor *rw = reduction_weight;
    char ts[160];
    if (rw->rank != 2 || rw->shape[0] < 1 || rw->shape[1] < 4 || rw->shape[1] % 4)
        return mt_fail(MT_ERR_SHAPE, "%s: reduction weight %s, expected [out, 4C] (PyTorch's "
                       "(out, in))", name, mt_tensor_describe(rw, ts, sizeof ts));
    int64_t c4 = rw->shape[1], cn = post_norm ? rw->shape[0] : c4;
    char want[64];
    snprintf(want, sizeof want, "[%lld] (%s)", (long long)cn,
             post_norm ? "the reduction's outputs" : "4C, the reduction's inputs");
    mt_status s = MT_OK;
    if (norm_weight)
        s = mt_nn_check_shape(name, norm_weight, 1, cn, 0, want);
    if (!s && norm_bias)
        s = mt_nn_check_shape(name, norm_bias, 1, cn, 0, want);
    mt_norm_options o = options ? *options : (mt_norm_options){0};
    if (!s && (!(o.eps >= 0.0f && isfinite(o.eps)) || o.normalized_rank < 0 ||
               o.normalized_rank > 1))
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: eps %g (>= 0, finite) or normalized rank "
                    "%d (0 or 1) out of range", name, (double)o.eps, o.normalized_rank);
    if (s)
        return s;
    mt_layer *l = mt_nn_layer_alloc("patch_merging", &merge_vtable, MT_LAYER_PATCH_MERGING,
                                    name, sizeof(merge_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    merge_state *st = l->state;
    st->c = c4 / 4, st->co = rw->shape[0], st->eps = o.eps > 0.0f ? o.eps : 1e-5f;
    st->post_norm = post_norm;
    if ((s = mt_nn_hold_transposed(rw, &st->red_w)) ||
        (norm_weight && (s = mt_nn_hold(norm_weight, true, &st->norm_w))) ||
        (norm_bias && (s = mt_nn_hold(norm_bias, true, &st->norm_b)))) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = st->c;
    l->info.out_features = st->co;
    *out = l;
    return MT_OK;
}

mt_status mt_patch_merging_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                               const mt_tensor *reduction_weight,
                               const mt_norm_options *options, mt_layer **out)
{
    return merge_new(norm_weight, norm_bias, reduction_weight, options, false, out);
}

mt_status mt_patch_merging_v2_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                                  const mt_tensor *reduction_weight,
                                  const mt_norm_options *options, mt_layer **out)
{
    return merge_new(norm_weight, norm_bias, reduction_weight, options, true, out);
}
