/* attention_layer.c — MultiHeadAttention as PyTorch's nn.MultiheadAttention
 * (batch_first=True) and Keras' MultiHeadAttention compute it: project q,
 * k, v, split them into heads, scaled dot-product attention per head, join
 * the heads, project out. The projections and heads live in the planner's
 * scratch; no copies of F32 weights (PyTorch's (out,in) matrices are used
 * as transposed views, Keras' [in, H, D] kernels as [in, H·D] views). */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/attention.h"
#include "minitensor/view.h"

typedef struct mha_state {
    mt_tensor *w[4];        /* q, k, v, out projections in (in, out) layout */
    mt_tensor *b[4];        /* their biases, or NULL */
    int64_t e, kdim, vdim;  /* the widths of query, key and value inputs */
    int64_t qk, vo, eo;     /* heads·key_dim, heads·value_dim, output width */
    int64_t heads;
    bool causal;
    bool top_left;          /* causal aligned top-left (Keras) when Lq != Lk */
} mha_state;

static mt_status mha_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    const mha_state *st = l->state;
    if (n != 1 && n != 3)
        return mt_fail(MT_ERR_SHAPE, "expects 1 input (self-attention) or 3 (query, key, "
                       "value), given %d", n);
    if (n == 1 && (st->kdim != st->e || st->vdim != st->e))
        return mt_fail(MT_ERR_SHAPE, "has kdim %lld and vdim %lld: give it key and value "
                       "inputs", (long long)st->kdim, (long long)st->vdim);
    const int64_t want[3] = {st->e, st->kdim, st->vdim};
    for (int j = 0; j < n; j++)
        if (in[j].dtype != MT_DTYPE_F32 || in[j].rank != 3 ||
            in[j].dim[2] != (n == 1 ? st->e : want[j]))
            return mt_fail(MT_ERR_SHAPE, "expects F32 [N,L,%lld] (batch first), %s gives "
                           "%d dims, last %lld", (long long)(n == 1 ? st->e : want[j]),
                           from[j], in[j].rank,
                           (long long)(in[j].rank ? in[j].dim[in[j].rank - 1] : 0));
    if (n == 3 && (in[1].dim[0] != in[0].dim[0] || in[2].dim[0] != in[0].dim[0] ||
                   in[1].dim[1] != in[2].dim[1]))
        return mt_fail(MT_ERR_SHAPE, "expects one batch size and key and value of one "
                       "length, %s, %s and %s give [%lld,%lld], [%lld,%lld], [%lld,%lld]",
                       from[0], from[1], from[2], (long long)in[0].dim[0],
                       (long long)in[0].dim[1], (long long)in[1].dim[0],
                       (long long)in[1].dim[1], (long long)in[2].dim[0],
                       (long long)in[2].dim[1]);
    *out = in[0];
    out->dim[2] = st->eo;
    return MT_OK;
}

/* Whether the causal mask must be built: Keras' use_causal_mask lets query
 * i see keys j <= i also when Lq != Lk, where attention.h's causal aligns
 * the last query with the last key. */
static bool own_mask(const mha_state *st, int64_t lq, int64_t lk)
{
    return st->causal && st->top_left && lq != lk;
}

/* Q [N,Lq,QK], K [N,Lk,QK], V [N,Lk,VO], the joined heads [N,Lq,VO], and
 * the [Lq,Lk] BOOL mask if own_mask. */
static size_t mha_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    const mha_state *st = l->state;
    int64_t lq = in[0].dim[1], lk = in[n == 3 ? 1 : 0].dim[1];
    bool mask = own_mask(st, lq, lk);
    /* sized in double first: broadcast rows (stride 0) can ask for more than
     * size_t holds, which a 32-bit one wrapped to a small block; SIZE_MAX is
     * refused (graphs: MT_ERR_OVERFLOW, a single layer: out of memory) */
    double bytes = (double)in[0].dim[0] * (double)(lq + lk) * (double)(st->qk + st->vo) *
                   sizeof(float) + (mask ? (double)lq * (double)lk : 0.0);
    if (bytes > (double)(SIZE_MAX / 2))
        return SIZE_MAX;
    return (size_t)(in[0].dim[0] * ((lq + lk) * (st->qk + st->vo))) * sizeof(float) +
           (mask ? (size_t)(lq * lk) : 0);
}

/* t [N,L,E] as heads [N,H,L,D] (a view). */
static mt_status heads(const mt_tensor *t, int64_t h, mt_tensor *out)
{
    mt_tensor split;
    int64_t s[4] = {t->shape[0], t->shape[1], h, t->shape[2] / h};
    mt_status st = mt_view_into(t, 4, s, &split);
    return st ? st : mt_permute_into(&split, (const int[]){0, 2, 1, 3}, out);
}

static mt_status mha_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    const mha_state *st = l->state;
    const mt_tensor *xq = in[0], *xk = in[n == 3 ? 1 : 0], *xv = in[n == 3 ? 2 : 0];
    int64_t b = xq->shape[0], lq = xq->shape[1], lk = xk->shape[1];
    float *q0 = scratch, *k0 = q0 + b * lq * st->qk, *v0 = k0 + b * lk * st->qk,
          *a0 = v0 + b * lk * st->vo;
    mt_tensor q, k, v, a, qh, kh, vh, ah, mask;
    bool masked = own_mask(st, lq, lk);
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lq, st->qk}, q0, &q)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lk, st->qk}, k0, &k)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lk, st->vo}, v0, &v)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lq, st->vo}, a0, &a)) ||
        (masked && (s = mt_tensor_wrap_into(MT_DTYPE_BOOL, 2, (int64_t[]){lq, lk},
                                            a0 + b * lq * st->vo, &mask))))
        return s;
    for (int64_t i = 0; masked && i < lq; i++)
        for (int64_t j = 0; j < lk; j++)
            ((uint8_t *)mask.data)[i * lk + j] = j <= i;
    if ((s = mt_matmul_fused_into(xq, st->w[0], st->b[0], MT_ACTIVATION_NONE, &q)) ||
        (s = mt_matmul_fused_into(xk, st->w[1], st->b[1], MT_ACTIVATION_NONE, &k)) ||
        (s = mt_matmul_fused_into(xv, st->w[2], st->b[2], MT_ACTIVATION_NONE, &v)) ||
        (s = heads(&q, st->heads, &qh)) || (s = heads(&k, st->heads, &kh)) ||
        (s = heads(&v, st->heads, &vh)) || (s = heads(&a, st->heads, &ah)) ||
        (s = mt_scaled_dot_product_attention_into(&qh, &kh, &vh, masked ? &mask : NULL,
                                                  st->causal && !masked, 0.0f, &ah)))
        return s;
    return mt_matmul_fused_into(&a, st->w[3], st->b[3], MT_ACTIVATION_NONE, out);
}

static void mha_release(void *state)
{
    mha_state *st = state;
    for (int i = 0; i < 4; i++) {
        mt_tensor_free(st->w[i]);
        mt_tensor_free(st->b[i]);
    }
}

static const mt_layer_vtable mha_vtable = {
    .n_inputs = 0,
    .infer = mha_infer,
    .forward = mha_forward,
    .scratch_bytes = mha_scratch,
    .release = mha_release,
};

/* w [rows r0.., cols in] of a PyTorch (out,in) matrix as an [in, E] view. */
static mt_status proj(const mt_tensor *w, int64_t r0, int64_t e, mt_tensor **out)
{
    mt_tensor *rows;
    mt_status s = mt_narrow(w, 0, r0, e, &rows);
    if (!s) {
        s = mt_transpose(rows, 0, 1, out);
        mt_tensor_free(rows);
    }
    return s;
}

static mt_status check(const char *name, const char *what, const mt_tensor *t, int rank,
                       int64_t d0, int64_t d1)
{
    char ts[160];
    if (t && t->rank == rank && t->shape[0] == d0 && (rank == 1 || (d1 ? t->shape[1] == d1
                                                                      : t->shape[1] >= 1)))
        return MT_OK;
    if (!t)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is missing", name, what);
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected [%lld%s%s]", name, what,
                   mt_tensor_describe(t, ts, sizeof ts), (long long)d0,
                   rank == 2 ? "," : "", rank == 2 ? (d1 ? "E" : "kdim or vdim") : "");
}

mt_status mt_nn_attention_new(const char *name, mt_tensor *t[8], int64_t heads, bool causal,
                              bool top_left, mt_layer **out)
{
    static const char *const what[4] = {"query", "key", "value", "output"};
    mt_status s = heads < 1 ? mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %lld heads", name,
                                      (long long)heads) : MT_OK;
    for (int i = 0; !s && i < 8; i++)
        if (t[i] && t[i]->dtype != MT_DTYPE_F32) {
            mt_tensor *f;
            if (!(s = mt_tensor_to_f32(t[i], &f))) {
                mt_tensor_name_set(f, t[i]->name);
                mt_tensor_free(t[i]);
                t[i] = f;
            }
        }
    // (in, out) matrices chained q·kᵀ (same out), v (out VO) into output (in VO)
    char ws[4][160];
    for (int i = 0; !s && i < 4; i++)
        if (t[i]->rank != 2 || t[i]->shape[0] < 1 || t[i]->shape[1] < 1)
            s = mt_fail(MT_ERR_SHAPE, "%s: %s projection %s is not a 2-D (in, out) matrix",
                        name, what[i], mt_tensor_describe(t[i], ws[i], sizeof ws[i]));
    if (!s && (t[1]->shape[1] != t[0]->shape[1] || t[3]->shape[0] != t[2]->shape[1] ||
               t[0]->shape[1] % heads || t[2]->shape[1] % heads))
        s = mt_fail(MT_ERR_SHAPE, "%s: projections query %s, key %s, value %s, output %s "
                    "(in, out) do not chain for %lld heads", name,
                    mt_tensor_describe(t[0], ws[0], sizeof ws[0]),
                    mt_tensor_describe(t[1], ws[1], sizeof ws[1]),
                    mt_tensor_describe(t[2], ws[2], sizeof ws[2]),
                    mt_tensor_describe(t[3], ws[3], sizeof ws[3]), (long long)heads);
    for (int i = 0; !s && i < 4; i++)
        if (t[4 + i] && (t[4 + i]->rank != 1 || t[4 + i]->shape[0] != t[i]->shape[1]))
            s = mt_fail(MT_ERR_SHAPE, "%s: %s bias %s, expected [%lld] (the outputs of %s)",
                        name, what[i], mt_tensor_describe(t[4 + i], ws[0], sizeof ws[0]),
                        (long long)t[i]->shape[1],
                        mt_tensor_describe(t[i], ws[1], sizeof ws[1]));
    mt_layer *l = s ? NULL : mt_nn_layer_alloc("multihead_attention", &mha_vtable,
                                               MT_LAYER_MULTIHEAD_ATTENTION, name,
                                               sizeof(mha_state));
    if (!l) {
        for (int i = 0; i < 8; i++)
            mt_tensor_free(t[i]);
        return s ? s : MT_ERR_OUT_OF_MEMORY;
    }
    mha_state *st = l->state;
    for (int i = 0; i < 4; i++) {
        st->w[i] = t[i];
        st->b[i] = t[4 + i];
    }
    st->e = t[0]->shape[0];
    st->kdim = t[1]->shape[0];
    st->vdim = t[2]->shape[0];
    st->qk = t[0]->shape[1];
    st->vo = t[2]->shape[1];
    st->eo = t[3]->shape[1];
    st->heads = heads;
    st->causal = causal;
    st->top_left = top_left;
    l->info.in_features = st->e;
    l->info.out_features = st->eo;
    l->info.has_bias = t[7] != NULL;
    *out = l;
    return MT_OK;
}

mt_status mt_multihead_attention_new(const mt_attention_weights *w, int64_t num_heads,
                                     bool causal, mt_layer **out)
{
    if (!w || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "multihead_attention: NULL argument");
    *out = NULL;
    const mt_tensor *ow = w->out_weight;
    char name[MT_NAME_MAX + 32];
    snprintf(name, sizeof name, "multihead_attention%s%s", ow && ow->name[0] ? " " : "",
             ow ? ow->name : "");
    if (!ow || ow->rank != 2 || ow->shape[0] != ow->shape[1] || ow->shape[0] < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: out_weight must be [E,E]", name);
    int64_t e = ow->shape[0];
    if (num_heads < 1 || e % num_heads)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %lld heads do not divide E = %lld", name,
                       (long long)num_heads, (long long)e);
    bool packed = w->in_proj_weight != NULL;
    mt_status s = MT_OK;
    if (packed)
        s = check(name, "in_proj_weight", w->in_proj_weight, 2, 3 * e, e);
    else if (!(s = check(name, "q_weight", w->q_weight, 2, e, e)) &&
             !(s = check(name, "k_weight", w->k_weight, 2, e, 0)))
        s = check(name, "v_weight", w->v_weight, 2, e, 0);
    if (!s && w->in_proj_bias)
        s = check(name, "in_proj_bias", w->in_proj_bias, 1, 3 * e, 0);
    if (!s && w->out_bias)
        s = check(name, "out_bias", w->out_bias, 1, e, 0);
    if (s)
        return s;
    // PyTorch's (out,in) rows as (in, out) views; the views keep the
    // caller's tensors' memory alive for the layer
    mt_tensor *t[8] = {0};
    const mt_tensor *src[3] = {w->q_weight, w->k_weight, w->v_weight};
    for (int i = 0; !s && i < 3; i++)
        s = packed ? proj(w->in_proj_weight, i * e, e, &t[i]) : proj(src[i], 0, e, &t[i]);
    if (!s)
        s = proj(ow, 0, e, &t[3]);
    for (int i = 0; !s && w->in_proj_bias && i < 3; i++)
        s = mt_narrow(w->in_proj_bias, 0, i * e, e, &t[4 + i]);
    if (!s && w->out_bias)
        s = mt_view(w->out_bias, 1, w->out_bias->shape, &t[7]);
    if (s) {
        for (int i = 0; i < 8; i++)
            mt_tensor_free(t[i]);
        return s;
    }
    return mt_nn_attention_new(name, t, num_heads, causal, false, out);
}
