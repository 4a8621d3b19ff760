/* attention.c — scaled dot-product attention (semantics in attention.h).
 * Two paths with the same results: small problems (a KV-cache step) run one
 * fused pass per query row (a block of scores on the stack, online softmax,
 * v rows accumulated into out: no heap); larger ones run q·kᵀ and p·v
 * through mt_matmul on views with the scores in per-thread scratch. */
#include <math.h>

#include "minitensor/attention.h"
#include "minitensor/ops.h"
#include "internal.h"

static const char *const OP = "scaled_dot_product_attention";

enum { KEY_BLOCK = 64 };   /* scores kept on the stack at a time */
/* Lq*Lk*(E+Ev) up to which the fused rows are faster (bench_attention, 1
 * thread, AVX-512 Zen 4: [1,4,1,16]x[..,128,16] (4096) fused 4.4 us vs 7.2;
 * [1,4,4,16]x[..,64,16] (8192) 9.0 vs 9.0; [1,4,64,16] (131072) 183 vs 89). */
enum { FUSED_MAX_WORK = 8192 };

typedef struct attn_plan {
    int br;                                  /* broadcast leading rank */
    int64_t batch[MT_MAX_RANK];
    int64_t qb[MT_MAX_RANK], kb[MT_MAX_RANK], vb[MT_MAX_RANK], mb[MT_MAX_RANK];
    int64_t lq, lk, e, ev;
    int64_t q_rs, q_cs, k_rs, k_cs, v_rs, v_cs, m_rs, m_cs;
    const mt_tensor *mask;
    bool causal;
    float scale;
    int out_rank;
    int64_t out_shape[MT_MAX_RANK];
} attn_plan;

/* t's stride for dim i of a rank-r shape aligned right; 0 where t broadcasts. */
static int64_t aligned_stride(const mt_tensor *t, int r, int i, int64_t size)
{
    int d = t->rank - r + i;
    return d < 0 || (t->shape[d] == 1 && size != 1) ? 0 : t->stride[d];
}

static mt_status plan_mask(const mt_tensor *m, attn_plan *p)
{
    mt_status s = mt_tensor_check(OP, "mask", m);
    if (s)
        return s;
    if (m->dtype != MT_DTYPE_BOOL && m->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "%s: mask has dtype %s, needs BOOL or F32", OP,
                       mt_dtype_name(m->dtype));
    int r = p->out_rank;
    mt_tensor want;   /* the scores: [..., Lq, Lk] */
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, r, p->out_shape, NULL);
    want.shape[r - 1] = p->lk;
    bool fits = m->rank <= r;
    for (int i = 0; fits && i < m->rank; i++) {
        int64_t n = want.shape[r - m->rank + i];
        fits = m->shape[i] == n || m->shape[i] == 1;
    }
    if (!fits)
        return mt_fail(MT_ERR_SHAPE, "%s: mask %s does not broadcast to the scores %s", OP,
                       MT_SHAPE(m), MT_SHAPE(&want));
    for (int i = 0; i < p->br; i++)
        p->mb[i] = aligned_stride(m, r, i, p->batch[i]);
    p->m_rs = aligned_stride(m, r, r - 2, p->lq);
    p->m_cs = aligned_stride(m, r, r - 1, p->lk);
    p->mask = m;
    return MT_OK;
}

static mt_status plan_attention(const mt_tensor *q, const mt_tensor *k, const mt_tensor *v,
                                const mt_tensor *mask, bool causal, float scale,
                                attn_plan *p)
{
    const mt_tensor *in[] = {q, k, v};
    const char *names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        mt_status s = mt_tensor_check(OP, names[i], in[i]);
        if (s || (s = mt_check_f32(OP, in[i])))
            return s;
        if (in[i]->rank < 2)
            return mt_fail(MT_ERR_SHAPE, "%s: %s %s needs rank >= 2 ([..., L, E])", OP,
                           names[i], MT_SHAPE(in[i]));
    }
    if (!isfinite(scale))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: scale %g is not finite", OP,
                       (double)scale);
    *p = (attn_plan){.causal = causal};
    p->lq = q->shape[q->rank - 2];
    p->e = q->shape[q->rank - 1];
    p->lk = k->shape[k->rank - 2];
    p->ev = v->shape[v->rank - 1];
    if (k->shape[k->rank - 1] != p->e || v->shape[v->rank - 2] != p->lk)
        return mt_fail(MT_ERR_SHAPE, "%s: q %s, k %s, v %s: need q [...,Lq,E], k [...,Lk,E], "
                       "v [...,Lk,Ev]", OP, MT_SHAPE(q), MT_SHAPE(k), MT_SHAPE(v));
    // broadcast operands can be that long: the Lq x Lk scores must be countable
    int64_t scores;
    if (__builtin_mul_overflow(p->lq, p->lk, &scores))
        return mt_fail(MT_ERR_OVERFLOW, "%s: %lld x %lld scores overflow", OP,
                       (long long)p->lq, (long long)p->lk);
    for (int i = 0; i < 3; i++)
        p->br = in[i]->rank - 2 > p->br ? in[i]->rank - 2 : p->br;
    for (int i = 0; i < p->br; i++) {
        int64_t size = 1;
        for (int t = 0; t < 3; t++) {
            int d = in[t]->rank - 2 - p->br + i;
            int64_t n = d >= 0 ? in[t]->shape[d] : 1;
            if (n != 1 && size != 1 && n != size)
                return mt_fail(MT_ERR_SHAPE, "%s: leading dims of q %s, k %s, v %s do not "
                               "broadcast", OP, MT_SHAPE(q), MT_SHAPE(k), MT_SHAPE(v));
            size = n != 1 ? n : size;
        }
        p->batch[i] = size;
        p->out_shape[i] = size;
    }
    p->out_rank = p->br + 2;
    p->out_shape[p->br] = p->lq;
    p->out_shape[p->br + 1] = p->ev;
    for (int i = 0; i < p->br; i++) {
        p->qb[i] = aligned_stride(q, p->br + 2, i, p->batch[i]);
        p->kb[i] = aligned_stride(k, p->br + 2, i, p->batch[i]);
        p->vb[i] = aligned_stride(v, p->br + 2, i, p->batch[i]);
    }
    p->q_rs = q->stride[q->rank - 2], p->q_cs = q->stride[q->rank - 1];
    p->k_rs = k->stride[k->rank - 2], p->k_cs = k->stride[k->rank - 1];
    p->v_rs = v->stride[v->rank - 2], p->v_cs = v->stride[v->rank - 1];
    p->scale = scale != 0.0f ? scale : p->e > 0 ? (float)(1.0 / sqrt((double)p->e)) : 1.0f;
    return mask ? plan_mask(mask, p) : MT_OK;
}

/* ---- the row kernel ---------------------------------------------------------- */

static float dot(const float *a, int64_t sa, const float *b, int64_t sb, int64_t n)
{
    float acc[4] = {0};   /* four chains: the adds do not wait on each other */
    int64_t i = 0;
    if (sa == 1 && sb == 1) {
        for (; i + 4 <= n; i += 4)
            for (int j = 0; j < 4; j++)
                acc[j] += a[i + j] * b[i + j];
    }
    for (; i < n; i++)
        acc[0] += a[i * sa] * b[i * sb];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* o += w * x over n elements. */
static void axpy(float *o, int64_t so, float w, const float *x, int64_t sx, int64_t n)
{
    if (so == 1 && sx == 1) {
        for (int64_t i = 0; i < n; i++)
            o[i] += w * x[i];
        return;
    }
    for (int64_t i = 0; i < n; i++)
        o[i * so] += w * x[i * sx];
}

static void scale_row(float *o, int64_t so, float f, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        o[i * so] *= f;
}

/* Score of key j for the query row (-inf: the key does not take part). */
static float score(const attn_plan *p, const float *qr, const float *k, const void *mrow,
                   int64_t j)
{
    const mt_tensor *m = p->mask;
    if (m && m->dtype == MT_DTYPE_BOOL && !((const uint8_t *)mrow)[j * p->m_cs])
        return -INFINITY;
    float s = dot(qr, p->q_cs, k + j * p->k_rs, p->k_cs, p->e) * p->scale;
    if (m && m->dtype == MT_DTYPE_F32)
        s += ((const float *)mrow)[j * p->m_cs];
    return s;
}

/* One output row: softmax over keys 0..n_keys-1 of scale*q·k + mask, times v. */
static void attend_row(const attn_plan *p, const float *qr, const float *k, const float *v,
                       const void *mrow, int64_t n_keys, float *o, int64_t o_cs)
{
    float sc[KEY_BLOCK];
    float m = -INFINITY, l = 0.0f;
    for (int64_t c = 0; c < p->ev; c++)
        o[c * o_cs] = 0.0f;
    for (int64_t j0 = 0; j0 < n_keys; j0 += KEY_BLOCK) {
        int64_t nb = n_keys - j0 < KEY_BLOCK ? n_keys - j0 : KEY_BLOCK;
        float bm = -INFINITY;
        for (int64_t j = 0; j < nb; j++) {
            sc[j] = score(p, qr, k, mrow, j0 + j);
            bm = sc[j] > bm ? sc[j] : bm;
        }
        if (bm > m) {   /* a new maximum: rescale what was summed so far */
            float f = expf(m - bm);
            scale_row(o, o_cs, f, p->ev);
            l *= f;
            m = bm;
        }
        for (int64_t j = 0; j < nb; j++) {
            if (sc[j] == -INFINITY)
                continue;
            float w = expf(sc[j] - m);   /* NaN scores make NaN rows, as torch */
            l += w;
            axpy(o, o_cs, w, v + (j0 + j) * p->v_rs, p->v_cs, p->ev);
        }
    }
    if (l != 0.0f)   /* l == 0: every key masked out, the row stays 0 */
        scale_row(o, o_cs, 1.0f / l, p->ev);
}

/* Keys query row i sees: all, or with causal j <= i + (Lk - Lq) (bottom-right). */
static int64_t keys_seen(const attn_plan *p, int64_t i)
{
    if (!p->causal)
        return p->lk;
    int64_t last = i + p->lk - p->lq;
    return last < 0 ? 0 : last + 1 < p->lk ? last + 1 : p->lk;
}

/* The fused rows of one leading index. */
static void attend_fused(const attn_plan *p, const float *q, const float *k, const float *v,
                         const char *mask, float *o, int64_t o_rs, int64_t o_cs)
{
    size_t msize = p->mask ? mt_dtype_size(p->mask->dtype) : 0;
    for (int64_t i = 0; i < p->lq; i++)
        attend_row(p, q + i * p->q_rs, k, v,
                   mask ? mask + i * p->m_rs * (int64_t)msize : NULL, keys_seen(p, i),
                   o + i * o_rs, o_cs);
}

/* ---- larger problems: q·kᵀ and p·v through mt_matmul on views ---------------- */

static mt_tensor view2(const float *data, int64_t rows, int64_t cols, int64_t rs,
                       int64_t cs)
{
    mt_tensor t = {.dtype = MT_DTYPE_F32, .rank = 2, .shape = {rows, cols},
                   .stride = {rs, cs}, .data = (void *)data,
                   .ownership = MT_OWNERSHIP_BORROWED};
    return t;
}

/* Row i of the scores in place: scale, mask, causal limit, stable softmax;
 * a row with no key taking part becomes 0. */
static void softmax_row(const attn_plan *p, float *s, const void *mrow, int64_t n_keys)
{
    const mt_tensor *m = p->mask;
    float mx = -INFINITY;
    for (int64_t j = 0; j < p->lk; j++) {
        float v = s[j] * p->scale;
        if (j >= n_keys || (m && m->dtype == MT_DTYPE_BOOL &&
                            !((const uint8_t *)mrow)[j * p->m_cs]))
            v = -INFINITY;
        else if (m && m->dtype == MT_DTYPE_F32)
            v += ((const float *)mrow)[j * p->m_cs];
        s[j] = v;
        mx = v > mx ? v : mx;
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < p->lk; j++) {
        /* -inf keys give 0; with every key -inf (mx -inf) the row is 0 */
        float e = s[j] == -INFINITY ? 0.0f : expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    float inv = sum != 0.0f ? 1.0f / sum : 0.0f;
    for (int64_t j = 0; j < p->lk; j++)
        s[j] *= inv;
}

static mt_status attend_matmul(const attn_plan *p, const float *q, const float *k,
                               const float *v, const char *mask, float *o, int64_t o_rs,
                               int64_t o_cs)
{
    float *s = mt_scratch_floats(MT_SCRATCH_ATTENTION_SCORES, p->lq * p->lk);
    if (!s)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld x %lld scores", OP,
                       (long long)p->lq, (long long)p->lk);
    mt_tensor qv = view2(q, p->lq, p->e, p->q_rs, p->q_cs);
    mt_tensor ktv = view2(k, p->e, p->lk, p->k_cs, p->k_rs);   /* kᵀ: strides swapped */
    mt_tensor sv = view2(s, p->lq, p->lk, p->lk, 1);
    mt_tensor vv = view2(v, p->lk, p->ev, p->v_rs, p->v_cs);
    mt_tensor ov = view2(o, p->lq, p->ev, o_rs, o_cs);
    mt_status st = mt_matmul_into(&qv, &ktv, &sv);
    if (st)
        return st;
    size_t msize = p->mask ? mt_dtype_size(p->mask->dtype) : 0;
    for (int64_t i = 0; i < p->lq; i++)
        softmax_row(p, s + i * p->lk, mask ? mask + i * p->m_rs * (int64_t)msize : NULL,
                    keys_seen(p, i));
    return mt_matmul_into(&sv, &vv, &ov);
}

/* ---- dispatch ---------------------------------------------------------------- */

static mt_status attend(const attn_plan *p, const mt_tensor *q, const mt_tensor *k,
                        const mt_tensor *v, mt_tensor *out)
{
    if (mt_tensor_numel(out) == 0)
        return MT_OK;
    int br = p->br;
    size_t msize = p->mask ? mt_dtype_size(p->mask->dtype) : 0;
    int64_t o_rs = out->stride[br], o_cs = out->stride[br + 1];
    /* The fused rows win for a small KV-cache step (no scores matrix, no
     * heap); beyond, matmul's SIMD kernels pay for the scores round trip. */
    // (in double: broadcast operands may be too large for the product)
    bool fused = (double)p->lq * (double)p->lk * ((double)p->e + (double)p->ev) <=
                 FUSED_MAX_WORK;
    int64_t idx[MT_MAX_RANK] = {0};
    do {
        int64_t oq = 0, ok = 0, ov = 0, om = 0, oo = 0;
        for (int d = 0; d < br; d++) {
            oq += idx[d] * p->qb[d];
            ok += idx[d] * p->kb[d];
            ov += idx[d] * p->vb[d];
            om += idx[d] * p->mb[d];
            oo += idx[d] * out->stride[d];
        }
        const float *qb = (const float *)q->data + oq, *kb = (const float *)k->data + ok;
        const float *vb = (const float *)v->data + ov;
        const char *mb = p->mask ? (const char *)p->mask->data + om * (int64_t)msize : NULL;
        float *ob = (float *)out->data + oo;
        if (fused) {
            attend_fused(p, qb, kb, vb, mb, ob, o_rs, o_cs);
        } else {
            mt_status s = attend_matmul(p, qb, kb, vb, mb, ob, o_rs, o_cs);
            if (s)
                return s;
        }
    } while (mt_index_next(br, p->batch, idx));
    return MT_OK;
}

/* ---- entry points -------------------------------------------------------------- */

mt_status mt_scaled_dot_product_attention_into(const mt_tensor *q, const mt_tensor *k,
                                               const mt_tensor *v, const mt_tensor *mask,
                                               bool causal, float scale, mt_tensor *out)
{
    attn_plan p;
    mt_status s = plan_attention(q, k, v, mask, causal, scale, &p);
    if (s || (s = mt_check_out(OP, out, MT_DTYPE_F32, p.out_rank, p.out_shape)))
        return s;
    if (mt_tensors_overlap(out, q) || mt_tensors_overlap(out, k) ||
        mt_tensors_overlap(out, v) || (mask && mt_tensors_overlap(out, mask)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps an input", OP,
                       MT_SHAPE(out));
    return attend(&p, q, k, v, out);
}

mt_status mt_scaled_dot_product_attention(const mt_tensor *q, const mt_tensor *k,
                                          const mt_tensor *v, const mt_tensor *mask,
                                          bool causal, float scale, mt_tensor **out)
{
    attn_plan p;
    mt_status s = plan_attention(q, k, v, mask, causal, scale, &p);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", OP);
    mt_tensor *r;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, p.out_rank, p.out_shape, &r)))
        return s;
    if ((s = attend(&p, q, k, v, r))) {
        mt_tensor_free(r);
        return s;
    }
    *out = r;
    return MT_OK;
}
