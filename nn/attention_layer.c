/* attention_layer.c — MultiHeadAttention as PyTorch's nn.MultiheadAttention
 * (batch_first=True) and Keras' MultiHeadAttention compute it: project q,
 * k, v, split them into heads, scaled dot-product attention per head, join
 * the heads, project out. The projections and heads live in the planner's
 * scratch; no copies of F32 weights (PyTorch's (out,in) matrices are used
 * as transposed views, Keras' [in, H, D] kernels as [in, H·D] views).
 * Masks (key padding, attention, query padding: extra graph inputs) are
 * merged into one additive F32 mask [N, 1 or H, Lq, Lk] in the scratch. */
#include <math.h>
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
    int64_t kk, kv;         /* the key and value projections' widths:
                             * kv_heads·key_dim, kv_heads·value_dim */
    int64_t heads, kv_heads;/* kv_heads < heads: grouped-query (Keras'
                             * GroupQueryAttention), query head h reads
                             * key/value head h / (heads / kv_heads) */
    bool causal;
    bool top_left;          /* causal aligned top-left (Keras) when Lq != Lk */
    mt_attention_masks masks;   /* the mask inputs after q (or q, k, v) */
} mha_state;

static const char *const mask_what[3] = {"key_padding", "attn", "query_padding"};

/* The masks' modes in input order: key_padding, attn, query_padding. */
static void mask_modes(const mha_state *st, mt_mask_mode m[3])
{
    m[0] = st->masks.key_padding;
    m[1] = st->masks.attn;
    m[2] = st->masks.query_padding;
}

static int mask_count(const mha_state *st)
{
    mt_mask_mode m[3];
    mask_modes(st, m);
    return (m[0] != MT_MASK_MODE_NONE) + (m[1] != MT_MASK_MODE_NONE) +
           (m[2] != MT_MASK_MODE_NONE);
}

static bool is_float(mt_dtype d)
{
    return d == MT_DTYPE_F32 || d == MT_DTYPE_F16 || d == MT_DTYPE_BF16 || d == MT_DTYPE_F64;
}

/* Mask k (mask_what[k]) of shape m against batch b, lengths lq, lk. */
static mt_status check_mask(const mha_state *st, int k, mt_mask_mode mode, const mt_shape *m,
                            const char *from, int64_t b, int64_t lq, int64_t lk)
{
    if (mode == MT_MASK_MODE_ADD && !is_float(m->dtype))
        return mt_fail(MT_ERR_DTYPE, "expects a float %s mask (MT_MASK_MODE_ADD: added to the "
                       "scores), %s gives %s", mask_what[k], from, mt_dtype_name(m->dtype));
    bool ok;
    if (k == 1)
        ok = (m->rank == 3 && m->dim[0] == b && m->dim[1] == lq && m->dim[2] == lk) ||
             (m->rank == 4 && m->dim[0] == b && (m->dim[1] == st->heads || m->dim[1] == 1) &&
              m->dim[2] == lq && m->dim[3] == lk);
    else
        ok = m->rank == 2 && m->dim[0] == b && m->dim[1] == (k ? lq : lk);
    if (ok)
        return MT_OK;
    char got[160];
    size_t len = (size_t)snprintf(got, sizeof got, "[");
    for (int d = 0; d < m->rank && len < sizeof got; d++)
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%lld", d ? "," : "",
                                (long long)m->dim[d]);
    if (len < sizeof got)
        snprintf(got + len, sizeof got - len, "]");
    if (k == 1)
        return mt_fail(MT_ERR_SHAPE, "expects an attn mask [N,Lq,Lk] = [%lld,%lld,%lld] or "
                       "[N,heads,Lq,Lk] = [%lld,%lld,%lld,%lld], %s gives %s", (long long)b,
                       (long long)lq, (long long)lk, (long long)b, (long long)st->heads,
                       (long long)lq, (long long)lk, from, got);
    return mt_fail(MT_ERR_SHAPE, "expects a %s mask [N,%s] = [%lld,%lld], %s gives %s",
                   mask_what[k], k ? "Lq" : "Lk", (long long)b, (long long)(k ? lq : lk), from,
                   got);
}

static mt_status mha_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    const mha_state *st = l->state;
    int nm = mask_count(st);
    if (nm && n != 1 + nm && n != 3 + nm)
        return mt_fail(MT_ERR_SHAPE, "expects 1 input (self-attention) or 3 (query, key, "
                       "value), then its %d mask%s, given %d", nm, nm > 1 ? "s" : "", n);
    n -= nm;
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
    mt_mask_mode mode[3];
    mask_modes(st, mode);
    for (int k = 0, j = n; k < 3; k++) {
        if (mode[k] == MT_MASK_MODE_NONE)
            continue;
        mt_status s = check_mask(st, k, mode[k], &in[j], from[j], in[0].dim[0], in[0].dim[1],
                                 in[n == 3 ? 1 : 0].dim[1]);
        if (s)
            return s;
        j++;
    }
    *out = in[0];
    out->dim[2] = st->eo;
    return MT_OK;
}

/* Whether the causal mask must be built: Keras' use_causal_mask lets query
 * i see keys j <= i also when Lq != Lk, where attention.h's causal aligns
 * the last query with the last key. */
static bool own_causal(const mha_state *st, int64_t lq, int64_t lk)
{
    return st->causal && st->top_left && lq != lk;
}

/* The merged mask's heads dim: H for an attn mask [N,H,Lq,Lk], else 1. */
static int64_t mask_heads(const mha_state *st, int n, const mt_shape *in)
{
    if (st->masks.attn == MT_MASK_MODE_NONE)
        return 1;
    const mt_shape *am = &in[n - mask_count(st) + (st->masks.key_padding != MT_MASK_MODE_NONE)];
    return am->rank == 4 ? am->dim[1] : 1;
}

/* Q [N,Lq,QK], K [N,Lk,QK], V [N,Lk,VO], the joined heads [N,Lq,VO]; with
 * masks (or own_causal) the merged F32 mask [N,Hm,Lq,Lk] and the padding
 * masks as F32, [N,Lk] and [N,Lq]. */
static size_t mha_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    const mha_state *st = l->state;
    int nc = n - mask_count(st);
    int64_t b = in[0].dim[0], lq = in[0].dim[1], lk = in[nc == 3 ? 1 : 0].dim[1];
    bool masked = nc != n || own_causal(st, lq, lk);
    int64_t heads = masked ? mask_heads(st, n, in) : 0, pads = masked ? lq + lk : 0;
    /* sized in double first: broadcast rows (stride 0) can ask for more than
     * size_t holds, which a 32-bit one wrapped to a small block; SIZE_MAX is
     * refused (graphs: MT_ERR_OVERFLOW, a single layer: out of memory) */
    double floats = (double)b * ((double)lq * (double)(st->qk + st->vo) +
                                 (double)lk * (double)(st->kk + st->kv) +
                                 (double)heads * (double)lq * (double)lk + (double)pads);
    if (floats * sizeof(float) > (double)(SIZE_MAX / 2))
        return SIZE_MAX;
    int64_t f = b * (lq * (st->qk + st->vo) + lk * (st->kk + st->kv) + heads * lq * lk + pads);
    return (size_t)f * sizeof(float);
}

/* t [N,L,E] as heads [N,H,L,D] (a view); with groups g > 0, the H = kv·g
 * heads as [N,kv,g,L,D], and g = -1 one head of each group, [N,kv,1,L,D]
 * (the key and value heads the g query heads of a group share). */
static mt_status heads(const mt_tensor *t, int64_t h, int64_t g, mt_tensor *out)
{
    mt_tensor split;
    if (g) {
        int64_t kv = g > 0 ? h / g : h, per = g > 0 ? g : 1;
        int64_t s5[5] = {t->shape[0], t->shape[1], kv, per, t->shape[2] / (kv * per)};
        mt_status st = mt_view_into(t, 5, s5, &split);
        return st ? st : mt_permute_into(&split, (const int[]){0, 2, 3, 1, 4}, out);
    }
    int64_t s[4] = {t->shape[0], t->shape[1], h, t->shape[2] / h};
    mt_status st = mt_view_into(t, 4, s, &split);
    return st ? st : mt_permute_into(&split, (const int[]){0, 2, 1, 3}, out);
}

/* 0 where an entry of a KEEP/IGNORE mask lets the key take part, -inf where
 * not; an ADD mask's value as it is. */
static float mask_term(mt_mask_mode mode, float v)
{
    if (mode == MT_MASK_MODE_ADD)
        return v;
    return (v != 0.0f) == (mode == MT_MASK_MODE_KEEP) ? 0.0f : -INFINITY;
}

/* The masks in[0..2] (NULL: absent) merged into the additive mask c
 * [B,Hm,Lq,Lk] (contiguous F32, in the scratch), with the top-left causal
 * mask if `causal`; pad holds B·(Lk+Lq) floats for the padding masks. */
static mt_status merge_masks(const mha_state *st, const mt_tensor *const m[3], bool causal,
                             mt_tensor *c, float *pad)
{
    int64_t b = c->shape[0], hm = c->shape[1], lq = c->shape[2], lk = c->shape[3];
    float *cd = c->data, *kp = pad, *qp = pad + b * lk;
    mt_tensor t;
    mt_status s = MT_OK;
    // each mask converted to F32 as it is copied (any dtype, any strides)
    if (m[1] && m[1]->rank == 4)
        s = mt_tensor_copy_into(m[1], c);
    else if (m[1] && !(s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lq, lk}, cd, &t)))
        s = mt_tensor_copy_into(m[1], &t);
    if (!s && m[0] && !(s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){b, lk}, kp, &t)))
        s = mt_tensor_copy_into(m[0], &t);
    if (!s && m[2] && !(s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){b, lq}, qp, &t)))
        s = mt_tensor_copy_into(m[2], &t);
    if (s)
        return s;
    for (int64_t n = 0; n < b; n++)
        for (int64_t h = 0; h < hm; h++)
            for (int64_t i = 0; i < lq; i++) {
                float *row = cd + ((n * hm + h) * lq + i) * lk;
                float q = m[2] ? mask_term(st->masks.query_padding, qp[n * lq + i]) : 0.0f;
                for (int64_t j = 0; j < lk; j++) {
                    float v = m[1] ? mask_term(st->masks.attn, row[j]) : 0.0f;
                    if (m[0])
                        v += mask_term(st->masks.key_padding, kp[n * lk + j]);
                    row[j] = causal && j > i ? -INFINITY : v + q;
                }
            }
    return MT_OK;
}

static mt_status mha_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    const mha_state *st = l->state;
    int nc = n - mask_count(st);
    const mt_tensor *xq = in[0], *xk = in[nc == 3 ? 1 : 0], *xv = in[nc == 3 ? 2 : 0];
    const mt_tensor *m[3] = {NULL, NULL, NULL};
    mt_mask_mode mode[3];
    mask_modes(st, mode);
    for (int k = 0, j = nc; k < 3; k++)
        if (mode[k] != MT_MASK_MODE_NONE)
            m[k] = in[j++];
    int64_t b = xq->shape[0], lq = xq->shape[1], lk = xk->shape[1];
    int64_t hm = m[1] && m[1]->rank == 4 ? m[1]->shape[1] : 1;
    float *q0 = scratch, *k0 = q0 + b * lq * st->qk, *v0 = k0 + b * lk * st->kk,
          *a0 = v0 + b * lk * st->kv, *c0 = a0 + b * lq * st->vo;
    mt_tensor q, k, v, a, qh, kh, vh, ah, mask, mask5;
    bool causal = own_causal(st, lq, lk), masked = causal || nc != n;
    // grouped query heads: [N,kv,g,L,D] against keys and values [N,kv,1,L,D]
    // (broadcast, no copy), the mask [N,Hm,Lq,Lk] as [N,kv or 1,g or 1,Lq,Lk]
    int64_t g = st->kv_heads < st->heads ? st->heads / st->kv_heads : 0;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lq, st->qk}, q0, &q)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lk, st->kk}, k0, &k)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lk, st->kv}, v0, &v)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, lq, st->vo}, a0, &a)) ||
        (masked && (s = mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){b, hm, lq, lk}, c0,
                                            &mask))) ||
        (masked && (s = merge_masks(st, m, causal, &mask, c0 + b * hm * lq * lk))) ||
        (masked && g && (s = mt_view_into(&mask, 5, (int64_t[]){b, hm > 1 ? st->kv_heads : 1,
                                                                hm > 1 ? g : 1, lq, lk},
                                          &mask5))))
        return s;
    if ((s = mt_matmul_fused_into(xq, st->w[0], st->b[0], MT_ACTIVATION_NONE, &q)) ||
        (s = mt_matmul_fused_into(xk, st->w[1], st->b[1], MT_ACTIVATION_NONE, &k)) ||
        (s = mt_matmul_fused_into(xv, st->w[2], st->b[2], MT_ACTIVATION_NONE, &v)) ||
        (s = heads(&q, st->heads, g, &qh)) || (s = heads(&k, st->kv_heads, g ? -1 : 0, &kh)) ||
        (s = heads(&v, st->kv_heads, g ? -1 : 0, &vh)) || (s = heads(&a, st->heads, g, &ah)) ||
        (s = mt_scaled_dot_product_attention_into(&qh, &kh, &vh,
                                                  masked ? (g ? &mask5 : &mask) : NULL,
                                                  st->causal && !causal, 0.0f, &ah)))
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
    mt_status s = mt_nn_check_weight(name, what, t);
    if (s)
        return s;
    if (t && t->rank == rank && t->shape[0] == d0 && (rank == 1 || (d1 ? t->shape[1] == d1
                                                                      : t->shape[1] >= 1)))
        return MT_OK;
    if (!t)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is missing", name, what);
    // d1, where given, is E: out_weight's size
    char cols[64] = "";
    if (rank == 2 && d1)
        snprintf(cols, sizeof cols, ",%lld] (E = %lld, out_weight's size)", (long long)d1,
                 (long long)d1);
    else
        snprintf(cols, sizeof cols, "%s]", rank == 2 ? ",kdim or vdim" : "");
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected [%lld%s", name, what,
                   mt_tensor_describe(t, ts, sizeof ts), (long long)d0, cols);
}

mt_status mt_nn_attention_new(const char *name, mt_tensor *t[8], int64_t heads,
                              int64_t kv_heads, bool causal, bool top_left, mt_layer **out)
{
    static const char *const what[4] = {"query", "key", "value", "output"};
    mt_status s = heads < 1 || kv_heads < 1 || heads % kv_heads
                      ? mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %lld heads, %lld key/value "
                                "heads", name, (long long)heads, (long long)kv_heads)
                      : MT_OK;
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
    // per head: query and key of one width, value and output of another;
    // query and output over all heads, key and value over the kv heads
    if (!s && (t[0]->shape[1] % heads || t[3]->shape[0] % heads ||
               t[1]->shape[1] * heads != t[0]->shape[1] * kv_heads ||
               t[2]->shape[1] * heads != t[3]->shape[0] * kv_heads))
        s = mt_fail(MT_ERR_SHAPE, "%s: projections query %s, key %s, value %s, output %s "
                    "(in, out) do not chain for %lld heads%s", name,
                    mt_tensor_describe(t[0], ws[0], sizeof ws[0]),
                    mt_tensor_describe(t[1], ws[1], sizeof ws[1]),
                    mt_tensor_describe(t[2], ws[2], sizeof ws[2]),
                    mt_tensor_describe(t[3], ws[3], sizeof ws[3]), (long long)heads,
                    kv_heads < heads ? " (grouped: fewer key/value heads)" : "");
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
    st->vo = t[3]->shape[0];
    st->kk = t[1]->shape[1];
    st->kv = t[2]->shape[1];
    st->eo = t[3]->shape[1];
    st->heads = heads;
    st->kv_heads = kv_heads;
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
    mt_status s = mt_nn_check_weight(name, "out_weight", ow);
    if (s)
        return s;
    if (!ow || ow->rank != 2 || ow->shape[0] != ow->shape[1] || ow->shape[0] < 1) {
        char ts[160];
        return mt_fail(MT_ERR_SHAPE, "%s: out_weight %s, expected [E,E]", name,
                       ow ? mt_tensor_describe(ow, ts, sizeof ts) : "missing");
    }
    int64_t e = ow->shape[0];
    if (num_heads < 1 || e % num_heads)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %lld heads do not divide E = %lld", name,
                       (long long)num_heads, (long long)e);
    bool packed = w->in_proj_weight != NULL;
    if (packed)
        s = check(name, "in_proj_weight", w->in_proj_weight, 2, 3 * e, e);
    else if (!(s = check(name, "q_weight", w->q_weight, 2, e, e)) &&
             !(s = check(name, "k_weight", w->k_weight, 2, e, 0)))
        s = check(name, "v_weight", w->v_weight, 2, e, 0);
    const mt_tensor *bias[3] = {w->q_bias, w->k_bias, w->v_bias};
    static const char *const bias_name[3] = {"q_bias", "k_bias", "v_bias"};
    if (w->in_proj_bias && (bias[0] || bias[1] || bias[2]))
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: in_proj_bias and q_bias/k_bias/v_bias given: "
                    "give one or the other", name);
    if (!s && w->in_proj_bias)
        s = check(name, "in_proj_bias", w->in_proj_bias, 1, 3 * e, 0);
    for (int i = 0; !s && i < 3; i++)
        if (bias[i])
            s = check(name, bias_name[i], bias[i], 1, e, 0);
    if (!s && w->out_bias)
        s = check(name, "out_bias", w->out_bias, 1, e, 0);
    if (!s && (w->q_norm_weight || w->k_norm_weight))
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: q_norm_weight/k_norm_weight given: "
                    "MultiheadAttention has no q/k norm (mt_llama_attention_new has)", name);
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
    for (int i = 0; !s && i < 3; i++)
        if (w->in_proj_bias)
            s = mt_narrow(w->in_proj_bias, 0, i * e, e, &t[4 + i]);
        else if (bias[i])
            s = mt_view(bias[i], 1, bias[i]->shape, &t[4 + i]);
    if (!s && w->out_bias)
        s = mt_view(w->out_bias, 1, w->out_bias->shape, &t[7]);
    if (s) {
        for (int i = 0; i < 8; i++)
            mt_tensor_free(t[i]);
        return s;
    }
    return mt_nn_attention_new(name, t, num_heads, num_heads, causal, false, out);
}

mt_status mt_multihead_attention_masks_set(mt_layer *layer, const mt_attention_masks *masks)
{
    if (!layer)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "multihead_attention_masks_set: layer is NULL");
    if (layer->vt != &mha_vtable)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "multihead_attention_masks_set: layer '%s' is "
                       "not a MultiHeadAttention", layer->name);
    if (layer->in_model)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "multihead_attention_masks_set: %s belongs to "
                       "a model already: set its masks before adding it", layer->name);
    mt_attention_masks m = masks ? *masks : (mt_attention_masks){0};
    const mt_mask_mode mode[3] = {m.key_padding, m.attn, m.query_padding};
    for (int k = 0; k < 3; k++)
        if ((unsigned)mode[k] > MT_MASK_MODE_ADD || (k == 2 && mode[k] == MT_MASK_MODE_ADD))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "multihead_attention_masks_set: %s: %s "
                           "mode %d is not %s", layer->name, mask_what[k], (int)mode[k],
                           k == 2 ? "NONE, KEEP or IGNORE" : "NONE, KEEP, IGNORE or ADD");
    ((mha_state *)layer->state)->masks = m;
    return MT_OK;
}

mt_status mt_multihead_attention_masks_get(const mt_layer *layer, mt_attention_masks *masks)
{
    if (!layer || !masks)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "multihead_attention_masks_get: NULL argument");
    if (layer->vt != &mha_vtable)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "multihead_attention_masks_get: layer '%s' is "
                       "not a MultiHeadAttention", layer->name);
    *masks = ((const mha_state *)layer->state)->masks;
    return MT_OK;
}
