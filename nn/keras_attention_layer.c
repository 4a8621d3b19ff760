/* keras_attention_layer.c — Keras' Attention (Luong: dot-product or
 * "concat" scores) and AdditiveAttention (Bahdanau): attention with no
 * projections, the scores from the query and key themselves. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

typedef struct kattn_state {
    bool additive;                 /* AdditiveAttention: Σ scale_d · tanh(q_d + k_d) */
    mt_keras_attention_options o;
    float scale, concat_weight;    /* Attention's scalars (1 when the layer has none) */
    mt_tensor *scale_vec;          /* AdditiveAttention's scale [dim] (F32, owned) or NULL */
} kattn_state;

/* Where the inputs are: query, value, then the key if given, then the masks. */
typedef struct kattn_slots {
    int n, key, value_mask, query_mask;   /* -1: none */
} kattn_slots;

static kattn_slots kattn_slots_of(const mt_keras_attention_options *o)
{
    kattn_slots s = {2, 1, -1, -1};
    if (o->has_key)
        s.key = s.n++;
    if (o->value_mask != MT_MASK_MODE_NONE)
        s.value_mask = s.n++;
    if (o->query_mask != MT_MASK_MODE_NONE)
        s.query_mask = s.n++;
    return s;
}

static mt_status kattn_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    const kattn_state *st = l->state;
    kattn_slots sl = kattn_slots_of(&st->o);
    char a[160], b[160];
    if (n != sl.n)
        return mt_fail(MT_ERR_SHAPE, "expects %d inputs (query, value%s%s%s), given %d", sl.n,
                       sl.key > 1 ? ", key" : "", sl.value_mask > 0 ? ", value mask" : "",
                       sl.query_mask > 0 ? ", query mask" : "", n);
    const mt_shape *q = &in[0], *v = &in[1], *k = &in[sl.key];
    char c[160];
    for (int j = 0; j < (sl.key > 1 ? 3 : 2); j++)
        if (in[j].dtype != MT_DTYPE_F32 || in[j].rank != 3)
            return mt_fail(in[j].dtype != MT_DTYPE_F32 ? MT_ERR_DTYPE : MT_ERR_SHAPE,
                           "expects F32 [N,T,dim] query, value and key, %s gives %s %s",
                           from[j], mt_dtype_name(in[j].dtype),
                           mt_nn_shape_text(&in[j], a, sizeof a));
    if (v->dim[0] != q->dim[0] || k->dim[0] != q->dim[0] || k->dim[1] != v->dim[1] ||
        k->dim[2] != q->dim[2])
        return mt_fail(MT_ERR_SHAPE, "expects a key [N,Tv,dim] for the query [N,Tq,dim] and "
                       "the value [N,Tv,vdim], %s gives %s, %s gives %s%s%s%s%s", from[0],
                       mt_nn_shape_text(q, a, sizeof a), from[1], mt_nn_shape_text(v, b, sizeof b),
                       sl.key > 1 ? ", the key " : "", sl.key > 1 ? from[sl.key] : "",
                       sl.key > 1 ? " gives " : "", sl.key > 1 ? mt_nn_shape_text(k, c, sizeof c) : "");
    if (st->scale_vec && st->scale_vec->shape[0] != q->dim[2])
        return mt_fail(MT_ERR_SHAPE, "expects dim %lld (its scale %s [%lld]), %s gives %s",
                       (long long)st->scale_vec->shape[0], st->scale_vec->name,
                       (long long)st->scale_vec->shape[0], from[0], mt_nn_shape_text(q, a, sizeof a));
    const int masks[2] = {sl.value_mask, sl.query_mask};
    const int64_t lens[2] = {v->dim[1], q->dim[1]};
    for (int m = 0; m < 2; m++) {
        int j = masks[m];
        if (j > 0 && (in[j].rank != 2 || in[j].dim[0] != q->dim[0] || in[j].dim[1] != lens[m]))
            return mt_fail(MT_ERR_SHAPE, "expects a %s mask [N,%s] = [%lld,%lld], %s gives %s",
                           m ? "query" : "value", m ? "Tq" : "Tv", (long long)q->dim[0],
                           (long long)lens[m], from[j], mt_nn_shape_text(&in[j], b, sizeof b));
    }
    *out = *q;
    out->dim[2] = v->dim[2];
    return MT_OK;
}

/* The scores [N,Tq,Tv], the masks as F32 [N,Tv] and [N,Tq]; SIZE_MAX
 * (refused by the planner) if that does not fit a size_t. */
static size_t kattn_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const kattn_state *st = l->state;
    kattn_slots sl = kattn_slots_of(&st->o);
    /* the dims are any int64 a graph input declares: counted without overflow */
    const uint64_t cap = SIZE_MAX / sizeof(float), batch = (uint64_t)in[0].dim[0];
    const uint64_t tq = (uint64_t)in[0].dim[1], tv = (uint64_t)in[1].dim[1];
    const uint64_t rows[2] = {sl.value_mask > 0 ? tv : 0, sl.query_mask > 0 ? tq : 0};
    uint64_t f = tq && tv && batch > cap / tq / tv ? UINT64_MAX : batch * tq * tv;
    for (int m = 0; f <= cap && m < 2; m++)
        f = rows[m] && batch > (cap - f) / rows[m] ? UINT64_MAX : f + batch * rows[m];
    return f > cap ? SIZE_MAX : (size_t)f * sizeof(float);
}

#define AT(t, b, i, d) ((const float *)(t)->data)[(b) * (t)->stride[0] + (i) * (t)->stride[1] + \
                                                  (d) * (t)->stride[2]]

/* The additive or concat score of query row i against key row j of
 * sample b (the dot scores are one batched matmul). */
static float kattn_score(const kattn_state *st, const mt_tensor *q, const mt_tensor *k,
                         int64_t b, int64_t i, int64_t j)
{
    int64_t dim = q->shape[2];
    float acc = 0;
    if (st->additive) {
        const float *w = st->scale_vec ? st->scale_vec->data : NULL;
        for (int64_t d = 0; d < dim; d++)
            acc += (w ? w[d] : 1.0f) * tanhf(AT(q, b, i, d) + AT(k, b, j, d));
    } else {
        for (int64_t d = 0; d < dim; d++)
            acc += tanhf(st->scale * (AT(q, b, i, d) + AT(k, b, j, d)));
        acc *= st->concat_weight;
    }
    return acc;
}

/* scores [N,Tq,Tv] (contiguous): q · kᵀ · scale for dot scores (Keras
 * multiplies the product by its scale), else kattn_score's. */
static mt_status kattn_scores(const kattn_state *st, const mt_tensor *q, const mt_tensor *k,
                              mt_tensor *scores)
{
    const int64_t batch = scores->shape[0], tq = scores->shape[1], tv = scores->shape[2];
    float *p = scores->data;
    if (st->additive || st->o.score_mode == MT_SCORE_MODE_CONCAT) {
        for (int64_t b = 0; b < batch; b++)
            for (int64_t i = 0; i < tq; i++)
                for (int64_t j = 0; j < tv; j++)
                    p[(b * tq + i) * tv + j] = kattn_score(st, q, k, b, i, j);
        return MT_OK;
    }
    mt_tensor kt;
    mt_status s = mt_transpose_into(k, 1, 2, &kt);
    if (s || (s = mt_matmul_into(q, &kt, scores)))
        return s;
    if (st->scale != 1.0f)
        for (int64_t e = 0; e < batch * tq * tv; e++)
            p[e] *= st->scale;
    return MT_OK;
}

static mt_status kattn_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n;
    const kattn_state *st = l->state;
    kattn_slots sl = kattn_slots_of(&st->o);
    const mt_tensor *q = in[0], *v = in[1], *k = in[sl.key];
    int64_t batch = q->shape[0], tq = q->shape[1], tv = v->shape[1], vdim = v->shape[2];
    float *p = scratch, *vm = p + batch * tq * tv;
    float *qm = vm + (sl.value_mask > 0 ? batch * tv : 0);
    mt_tensor scores;
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (const int64_t[]){batch, tq, tv}, p,
                                      &scores);
    if (!s && sl.value_mask > 0)
        s = mt_nn_mask_f32(in[sl.value_mask], vm);
    if (!s && sl.query_mask > 0)
        s = mt_nn_mask_f32(in[sl.query_mask], qm);
    if (s || (s = kattn_scores(st, q, k, &scores)))
        return s;
    bool vkeep = st->o.value_mask == MT_MASK_MODE_KEEP;
    bool qkeep = st->o.query_mask == MT_MASK_MODE_KEEP;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < tq; i++) {
            float *row = p + (b * tq + i) * tv, top = -INFINITY, sum = 0;
            for (int64_t j = 0; j < tv; j++) {
                /* Keras subtracts 1e9 from a masked score rather than dropping
                 * it: a row with every key masked averages all the values */
                bool masked = (st->o.causal && j > i) ||
                              (sl.value_mask > 0 && (vm[b * tv + j] != 0.0f) != vkeep);
                if (masked)
                    row[j] -= 1.0e9f;
                top = fmaxf(top, row[j]);
            }
            for (int64_t j = 0; j < tv; j++)
                sum += (row[j] = expf(row[j] - top));
            for (int64_t j = 0; j < tv; j++)
                row[j] /= sum;
        }
    if ((s = mt_matmul_into(&scores, v, out)))
        return s;
    if (sl.query_mask > 0)
        for (int64_t b = 0; b < batch; b++)
            for (int64_t i = 0; i < tq; i++) {
                /* Keras multiplies a masked query's row by 0: NaN where it
                 * is not finite (an inf or NaN among the values) */
                if ((qm[b * tq + i] != 0.0f) == qkeep)
                    continue;
                float *row = (float *)out->data + b * out->stride[0] + i * out->stride[1];
                for (int64_t d = 0; d < vdim; d++)
                    row[d * out->stride[2]] *= 0.0f;
            }
    return MT_OK;
}

static void kattn_release(void *state)
{
    mt_tensor_free(((kattn_state *)state)->scale_vec);
}

static const mt_layer_vtable kattn_vtable = {
    .n_inputs = 0,
    .infer = kattn_infer,
    .forward = kattn_forward,
    .scratch_bytes = kattn_scratch,
    .release = kattn_release,
};

static mt_status kattn_check(const char *op, const mt_keras_attention_options *o)
{
    if (o && ((o->value_mask != MT_MASK_MODE_NONE && o->value_mask != MT_MASK_MODE_KEEP &&
               o->value_mask != MT_MASK_MODE_IGNORE) ||
              (o->query_mask != MT_MASK_MODE_NONE && o->query_mask != MT_MASK_MODE_KEEP &&
               o->query_mask != MT_MASK_MODE_IGNORE) ||
              (o->score_mode != MT_SCORE_MODE_DOT && o->score_mode != MT_SCORE_MODE_CONCAT)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: masks must be NONE, KEEP or IGNORE and "
                       "score_mode DOT or CONCAT (given %d, %d, %d)", op, (int)o->value_mask,
                       (int)o->query_mask, (int)o->score_mode);
    return MT_OK;
}

static mt_status kattn_new(const char *op, bool additive, float scale, float concat_weight,
                           const mt_tensor *scale_vec, const mt_keras_attention_options *o,
                           mt_layer **out)
{
    mt_status s = kattn_check(op, o);
    if (s)
        return s;
    if (additive && o && o->score_mode != MT_SCORE_MODE_DOT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: score_mode %d: AdditiveAttention has one "
                       "score (leave score_mode DOT)", op, (int)o->score_mode);
    if (!isfinite(scale) || !isfinite(concat_weight))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: scale %g, concat weight %g: not finite",
                       op, (double)scale, (double)concat_weight);
    mt_tensor *vec = NULL;
    if (scale_vec) {
        if ((s = mt_nn_check_weight(op, "scale", scale_vec)))
            return s;
        if (scale_vec->rank != 1)
            return mt_fail(MT_ERR_SHAPE, "%s: scale %s must be [dim], is rank %d", op,
                           scale_vec->name, scale_vec->rank);
        if ((s = mt_nn_hold_for(op, "scale", scale_vec, true, &vec)) ||
            (s = mt_nn_check_finite(op, vec))) {
            mt_tensor_free(vec);
            return s;
        }
    }
    char name[64];
    snprintf(name, sizeof name, "%s%s", op, o && o->causal ? " causal" : "");
    mt_layer *l = mt_nn_layer_alloc(op, &kattn_vtable,
                                    additive ? MT_LAYER_ADDITIVE_ATTENTION
                                             : MT_LAYER_DOT_ATTENTION,
                                    name, sizeof(kattn_state));
    if (!l) {
        mt_tensor_free(vec);
        return MT_ERR_OUT_OF_MEMORY;
    }
    kattn_state *st = l->state;
    st->additive = additive;
    if (o)
        st->o = *o;
    st->scale = scale;
    st->concat_weight = concat_weight;
    st->scale_vec = vec;
    *out = l;
    return MT_OK;
}

mt_status mt_dot_attention_new(float scale, float concat_weight,
                               const mt_keras_attention_options *options, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dot_attention: out is NULL");
    *out = NULL;
    return kattn_new("dot_attention", false, scale, concat_weight, NULL, options, out);
}

mt_status mt_additive_attention_new(const mt_tensor *scale,
                                    const mt_keras_attention_options *options, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "additive_attention: out is NULL");
    *out = NULL;
    return kattn_new("additive_attention", true, 1.0f, 1.0f, scale, options, out);
}
