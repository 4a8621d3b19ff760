/* swin_v2_layer.c — torchvision 0.14's ShiftedWindowAttentionV2 (Swin V2):
 * the window attention of swin_layers.c with cosine scores and a relative
 * position bias that a small MLP (cpb_mlp) computes from log-spaced
 * relative coordinates. Everything that does not depend on the input is
 * computed once here: the bias table 16·sigmoid(cpb_mlp(coords)) [T, heads],
 * the per-head scale exp(min(logit_scale, ln 100)), and the qkv bias with
 * its k third zeroed (torchvision zeroes it on every call). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minitensor/view.h"
#include "swin_internal.h"

/* torchvision's relative_coords_table [T, 2] for a wh×ww window: the
 * offsets (dh, dw), each divided by window - 1, times 8, then
 * sign·log2(|v| + 1)/3 (computed in float, as torchvision). */
static mt_status coords_table(int64_t wh, int64_t ww, mt_tensor **out)
{
    int64_t t = (2 * wh - 1) * (2 * ww - 1);
    mt_status s = mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){t, 2}, out);
    if (s)
        return s;
    float *c = (*out)->data;
    for (int64_t i = 0; i < 2 * wh - 1; i++)
        for (int64_t j = 0; j < 2 * ww - 1; j++) {
            float v[2] = {(float)(i - (wh - 1)) / (float)(wh - 1) * 8.0f,
                          (float)(j - (ww - 1)) / (float)(ww - 1) * 8.0f};
            for (int k = 0; k < 2; k++) {
                float m = log2f(fabsf(v[k]) + 1.0f) / 3.0f;
                c[(i * (2 * ww - 1) + j) * 2 + k] = v[k] > 0.0f ? m : v[k] < 0.0f ? -m : 0.0f;
            }
        }
    return MT_OK;
}

/* t [T, heads] = 16·sigmoid(relu(coords·w0ᵀ + b0)·w2ᵀ) */
static mt_status bias_table(const char *name, const mt_window_attention_v2_weights *w,
                            int64_t wh, int64_t ww, int64_t heads, mt_tensor **t)
{
    int64_t rows = (2 * wh - 1) * (2 * ww - 1);
    const mt_tensor *w0 = w->cpb_mlp0_weight, *b0 = w->cpb_mlp0_bias, *w2 = w->cpb_mlp2_weight;
    const mt_tensor *ct = w->relative_coords_table;
    char ts[3][160];
    if (w0->rank != 2 || w0->shape[1] != 2 || w0->shape[0] < 1 ||
        (b0 && (b0->rank != 1 || b0->shape[0] != w0->shape[0])) || w2->rank != 2 ||
        w2->shape[0] != heads || w2->shape[1] != w0->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: cpb_mlp weights %s, bias %s, %s, expected [hidden, "
                       "2], [hidden], [%lld, hidden] (heads)", name,
                       mt_tensor_describe(w0, ts[0], sizeof ts[0]),
                       b0 ? mt_tensor_describe(b0, ts[1], sizeof ts[1]) : "none",
                       mt_tensor_describe(w2, ts[2], sizeof ts[2]), (long long)heads);
    if (ct && mt_tensor_numel(ct) != rows * 2)
        return mt_fail(MT_ERR_SHAPE, "%s: relative_coords_table %s, expected %lld entries "
                       "((2·%lld-1)·(2·%lld-1)·2)", name,
                       mt_tensor_describe(ct, ts[0], sizeof ts[0]), (long long)(rows * 2),
                       (long long)wh, (long long)ww);
    // (the weights as F32 copies: they may be stored as F16 or BF16)
    mt_tensor *c = NULL, *c2 = NULL, *f[3] = {0}, *w0t = NULL, *w2t = NULL, *h = NULL;
    mt_status s = ct ? mt_tensor_to_f32(ct, &c) : coords_table(wh, ww, &c);
    if (!s && !(s = mt_view(c, 2, (int64_t[]){rows, 2}, &c2)) &&
        !(s = mt_tensor_to_f32(w0, &f[0])) && !(s = mt_tensor_to_f32(w2, &f[2])) &&
        !(b0 && (s = mt_tensor_to_f32(b0, &f[1]))) &&
        !(s = mt_transpose(f[0], 0, 1, &w0t)) && !(s = mt_transpose(f[2], 0, 1, &w2t)) &&
        !(s = mt_matmul_fused(c2, w0t, f[1], MT_ACTIVATION_RELU, &h)))
        s = mt_matmul(h, w2t, t);
    mt_tensor_free(h);
    mt_tensor_free(w2t);
    mt_tensor_free(w0t);
    for (int i = 0; i < 3; i++)
        mt_tensor_free(f[i]);
    mt_tensor_free(c2);
    mt_tensor_free(c);
    if (s)
        return s;
    float *v = (*t)->data;
    for (int64_t i = 0; i < rows * heads; i++)
        v[i] = 16.0f / (1.0f + expf(-v[i]));
    return MT_OK;
}

mt_status mt_shifted_window_attention_v2_new(const mt_window_attention_v2_weights *w,
                                             const mt_window_attention_options *options,
                                             mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "shifted_window_attention_v2: out is NULL");
    *out = NULL;
    if (!w || !options || !w->qkv_weight || !w->proj_weight || !w->logit_scale ||
        !w->cpb_mlp0_weight || !w->cpb_mlp2_weight)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "shifted_window_attention_v2: weights, "
                       "options, qkv_weight, proj_weight, logit_scale or a cpb_mlp weight is "
                       "NULL");
    const mt_window_attention_options *o = options;
    char name[MT_NAME_MAX + 40];
    snprintf(name, sizeof name, "shifted_window_attention_v2%s%s",
             w->qkv_weight->name[0] ? " " : "", w->qkv_weight->name);
    // torchvision divides the coordinates by window - 1
    if (o->window_h < 2 || o->window_w < 2 || o->window_h > 1024 || o->window_w > 1024 ||
        o->num_heads < 1 || o->num_heads > 1 << 20)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: window %lldx%lld (2..1024) or %lld heads "
                       "(>= 1)", name, (long long)o->window_h, (long long)o->window_w,
                       (long long)o->num_heads);
    char ts[160];
    if (mt_tensor_numel(w->logit_scale) != o->num_heads)
        return mt_fail(MT_ERR_SHAPE, "%s: logit_scale %s, expected %lld entries (heads)", name,
                       mt_tensor_describe(w->logit_scale, ts, sizeof ts),
                       (long long)o->num_heads);
    mt_tensor *table = NULL, *ls = NULL, *scale = NULL, *qb = NULL;
    mt_status s = bias_table(name, w, o->window_h, o->window_w, o->num_heads, &table);
    if (!s && !(s = mt_tensor_to_f32(w->logit_scale, &ls)) &&
        !(s = mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){o->num_heads}, &scale))) {
        const float *l = ls->data;
        float *v = scale->data;
        // torch.clamp(max=): a NaN stays NaN (fminf would drop it)
        for (int64_t h = 0; h < o->num_heads; h++)
            v[h] = expf(l[h] > logf(100.0f) ? logf(100.0f) : l[h]);
    }
    // the k third of the qkv bias is zeroed (a bias of another size is
    // left for the shape check to name)
    if (!s && w->qkv_bias && !(s = mt_tensor_to_f32(w->qkv_bias, &qb)) &&
        qb->rank == 1 && qb->shape[0] % 3 == 0) {
        int64_t third = qb->shape[0] / 3;
        memset((float *)qb->data + third, 0, (size_t)third * sizeof(float));
        mt_tensor_name_set(qb, w->qkv_bias->name);
    }
    if (!s)
        s = mt_nn_swa_new(&(mt_window_attention_weights){
                              .qkv_weight = w->qkv_weight, .qkv_bias = qb,
                              .proj_weight = w->proj_weight, .proj_bias = w->proj_bias,
                              .relative_position_bias_table = table,
                              .relative_position_index = w->relative_position_index},
                          o, scale, "shifted_window_attention_v2", out);
    mt_tensor_free(qb);
    mt_tensor_free(scale);
    mt_tensor_free(ls);
    mt_tensor_free(table);
    return s;
}
