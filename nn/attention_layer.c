/* attention_layer.c — MultiHeadAttention as PyTorch's nn.MultiheadAttention
 * (batch_first=True) computes it: project q, k, v, split E into heads,
 * scaled dot-product attention per head, join the heads, project out. The
 * projections and the heads live in the planner's scratch; no copies of
 * the weights (PyTorch's (out,in) matrices are used as transposed views). */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/attention.h"
#include "minitensor/view.h"

typedef struct mha_state {
    mt_tensor *held[8];          /* the references the layer keeps */
    mt_tensor wq, wk, wv, wo;    /* [in, E] views: x·w is PyTorch's x·Wᵀ */
    mt_tensor bq, bk, bv;        /* [E] views of the biases, if any */
    const mt_tensor *bias[3], *out_bias;
    int64_t e, heads, kdim, vdim;
    bool causal;
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
    out->dim[2] = st->e;
    return MT_OK;
}

/* Q [N,Lq,E], K and V [N,Lk,E], and the joined heads [N,Lq,E]. */
static size_t mha_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    const mha_state *st = l->state;
    int64_t lq = in[0].dim[1], lk = in[n == 3 ? 1 : 0].dim[1];
    return (size_t)(in[0].dim[0] * (2 * lq + 2 * lk) * st->e) * sizeof(float);
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
    int64_t b = xq->shape[0], lq = xq->shape[1], lk = xk->shape[1], e = st->e;
    float *f = scratch;
    mt_tensor q, k, v, a, qh, kh, vh, ah;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lq, e}, f, &q)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lk, e}, f + b * lq * e, &k)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lk, e},
                                 f + b * (lq + lk) * e, &v)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lq, e},
                                 f + b * (lq + 2 * lk) * e, &a)))
        return s;
    if ((s = mt_matmul_fused_into(xq, &st->wq, st->bias[0], MT_ACTIVATION_NONE, &q)) ||
        (s = mt_matmul_fused_into(xk, &st->wk, st->bias[1], MT_ACTIVATION_NONE, &k)) ||
        (s = mt_matmul_fused_into(xv, &st->wv, st->bias[2], MT_ACTIVATION_NONE, &v)) ||
        (s = heads(&q, st->heads, &qh)) || (s = heads(&k, st->heads, &kh)) ||
        (s = heads(&v, st->heads, &vh)) || (s = heads(&a, st->heads, &ah)) ||
        (s = mt_scaled_dot_product_attention_into(&qh, &kh, &vh, NULL, st->causal, 0.0f,
                                                  &ah)))
        return s;
    return mt_matmul_fused_into(&a, &st->wo, st->out_bias, MT_ACTIVATION_NONE, out);
}

static void mha_release(void *state)
{
    mha_state *st = state;
    for (int i = 0; i < 8; i++)
        mt_tensor_free(st->held[i]);
}

static const mt_layer_vtable mha_vtable = {
    .n_inputs = 0,
    .infer = mha_infer,
    .forward = mha_forward,
    .scratch_bytes = mha_scratch,
    .release = mha_release,
};

/* Keep t (F32 as a view, else converted) in slot i; *kept is it. */
static mt_status keep(mha_state *st, int i, const mt_tensor *t, const mt_tensor **kept)
{
    mt_status s = t->dtype == MT_DTYPE_F32 ? mt_view(t, t->rank, t->shape, &st->held[i])
                                           : mt_tensor_to_f32(t, &st->held[i]);
    *kept = st->held[i];
    return s;
}

/* w [rows r0.., cols in] of a PyTorch (out,in) matrix as an [in, E] view. */
static mt_status proj(const mt_tensor *w, int64_t r0, int64_t e, mt_tensor *out)
{
    mt_tensor rows;
    mt_status s = mt_narrow_into(w, 0, r0, e, &rows);
    return s ? s : mt_transpose_into(&rows, 0, 1, out);
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
    mt_layer *l = mt_nn_layer_alloc("multihead_attention", &mha_vtable,
                                    MT_LAYER_MULTIHEAD_ATTENTION, name, sizeof(mha_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    mha_state *st = l->state;
    const mt_tensor *t[8] = {0};
    const mt_tensor *src[5] = {packed ? w->in_proj_weight : w->q_weight, w->k_weight,
                               w->v_weight, w->in_proj_bias, w->out_weight};
    for (int i = 0; !s && i < 5; i++)
        if (src[i] && (i == 0 || i >= 3 || !packed))
            s = keep(st, i, src[i], &t[i]);
    if (!s && w->out_bias)
        s = keep(st, 5, w->out_bias, &st->out_bias);
    if (!s)
        s = packed ? proj(t[0], 0, e, &st->wq) : proj(t[0], 0, e, &st->wq);
    if (!s)
        s = packed ? proj(t[0], e, e, &st->wk) : proj(t[1], 0, e, &st->wk);
    if (!s)
        s = packed ? proj(t[0], 2 * e, e, &st->wv) : proj(t[2], 0, e, &st->wv);
    if (!s)
        s = proj(t[4], 0, e, &st->wo);
    mt_tensor *bq[3] = {&st->bq, &st->bk, &st->bv};
    for (int i = 0; !s && t[3] && i < 3; i++) {
        s = mt_narrow_into(t[3], 0, i * e, e, bq[i]);
        st->bias[i] = bq[i];
    }
    if (s) {
        mt_layer_free(l);
        return s;
    }
    st->e = e;
    st->heads = num_heads;
    st->kdim = st->wk.shape[0];
    st->vdim = st->wv.shape[0];
    st->causal = causal;
    l->info.in_features = e;
    l->info.out_features = e;
    l->info.has_bias = w->out_bias != NULL;
    *out = l;
    return MT_OK;
}
