/* forward.c — the forward pass: n new tokens against a KV cache.
 *
 * Every buffer lives in the state and is allocated once; each call only
 * makes views (structs on the stack) and runs minitensor ops into them, so
 * generating a token touches no heap. The matmuls use the PyTorch (out,in)
 * weights through transposed views: x (T,in) · W^T (in,out). */
#include <stdlib.h>

#include "model.h"

/* One block's weights as the matmuls take them, and its part of the cache. */
typedef struct layer_views {
    mt_tensor attn, proj, fc, fc2;   /* (C,3C), (C,C), (C,4C), (4C,C) */
    /* (block_size,3C): row t holds c_attn's output for position t, q|k|v, so
     * one matmul per step fills the cache; the keys and values of positions
     * 0..t are strided views of its columns C..2C and 2C..3C. */
    mt_tensor qkv_cache;
} layer_views;

struct charlm_state {
    const charlm_model *m;
    int64_t pos;                 /* positions already in the cache */
    layer_views *layers;         /* [n_layer] */
    mt_tensor head;              /* (C,V) */
    /* (block_size, ·) work buffers; a call uses their first n rows. */
    mt_tensor x, h, y, f, logits;
    float *mem;                  /* the one allocation behind all of them */
};

#define TRY(call)                 \
    do {                          \
        mt_status st_ = (call);   \
        if (st_)                  \
            return st_;           \
    } while (0)

/* (rows, C) -> (n_head, rows, hd): the heads of a (rows, C) block whose
 * columns are contiguous, as a strided view, for attention. */
static mt_status heads(const mt_tensor *t, int64_t n_head, mt_tensor *view)
{
    mt_tensor split;
    int64_t shape[3] = {t->shape[0], n_head, t->shape[1] / n_head};
    TRY(mt_view_into(t, 3, shape, &split));
    return mt_permute_into(&split, (int[]){1, 0, 2}, view);
}

/* ---- the state ---------------------------------------------------------------------- */

/* a·b into *out, false on overflow (sizes are at most 2^24 each). */
static bool mul_ok(int64_t a, int64_t b, int64_t *out)
{
    if (a != 0 && b > INT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

static mt_status wrap(float **at, int64_t rows, int64_t cols, mt_tensor *t)
{
    TRY(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){rows, cols}, *at, t));
    *at += rows * cols;
    return MT_OK;
}

/* The weight views of block b: transposed (out,in) -> (in,out). */
static mt_status make_views(const charlm_block *b, layer_views *L)
{
    TRY(mt_transpose_into(b->attn_w, 0, 1, &L->attn));
    TRY(mt_transpose_into(b->proj_w, 0, 1, &L->proj));
    TRY(mt_transpose_into(b->fc_w, 0, 1, &L->fc));
    return mt_transpose_into(b->fc2_w, 0, 1, &L->fc2);
}

static mt_status state_init(const charlm_model *m, charlm_state *s)
{
    const charlm_config *c = &m->cfg;
    int64_t B = c->block_size, C = c->n_embd, V = c->vocab_size;
    /* Floats: the caches (3·n_layer·B·C), x h y (3·B·C), f (4·B·C),
     * logits (B·V). */
    int64_t BC, cache, total;
    if (!mul_ok(B, C, &BC) || !mul_ok(3 * c->n_layer, BC, &cache) ||
        !mul_ok(B, V, &total) || cache > INT64_MAX / 2 - total - 7 * BC ||
        (uint64_t)(total += cache + 7 * BC) > SIZE_MAX / sizeof(float))
        return mt_fail(MT_ERR_OVERFLOW, "the KV cache and buffers for block_size %lld, "
                                        "n_embd %lld, n_layer %lld overflow", (long long)B,
                       (long long)C, (long long)c->n_layer);
    s->mem = calloc((size_t)total, sizeof(float));
    s->layers = calloc(c->n_layer ? (size_t)c->n_layer : 1, sizeof *s->layers);
    if (!s->mem || !s->layers)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory for the KV cache and "
                                             "buffers (%lld floats)", (long long)total);
    float *at = s->mem;
    for (int64_t l = 0; l < c->n_layer; l++) {
        layer_views *L = &s->layers[l];
        TRY(make_views(&m->blocks[l], L));
        TRY(wrap(&at, B, 3 * C, &L->qkv_cache));
    }
    TRY(mt_transpose_into(m->head, 0, 1, &s->head));
    TRY(wrap(&at, B, C, &s->x));
    TRY(wrap(&at, B, C, &s->h));
    TRY(wrap(&at, B, C, &s->y));
    TRY(wrap(&at, B, 4 * C, &s->f));
    return wrap(&at, B, V, &s->logits);
}

mt_status charlm_state_new(const charlm_model *m, charlm_state **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_state_new: out is NULL");
    *out = NULL;
    if (!m)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_state_new: model is NULL");
    charlm_state *s = calloc(1, sizeof *s);
    if (!s)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory");
    s->m = m;
    mt_status st = state_init(m, s);
    if (st) {
        charlm_state_free(s);
        return st;
    }
    *out = s;
    return MT_OK;
}

void charlm_state_free(charlm_state *s)
{
    if (!s)
        return;
    free(s->layers);
    free(s->mem);
    free(s);
}

void charlm_state_reset(charlm_state *s)
{
    s->pos = 0;
}

const charlm_model *charlm_state_model(const charlm_state *s)
{
    return s->m;
}

int64_t charlm_state_pos(const charlm_state *s)
{
    return s->pos;
}

/* ---- the pass ----------------------------------------------------------------------- */

/* The first n rows of a work buffer. */
static mt_status rows(const mt_tensor *buf, int64_t start, int64_t n, mt_tensor *view)
{
    return mt_narrow_into(buf, 0, start, n, view);
}

/* x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)) for rows 0..n of the buffers. */
static mt_status block(charlm_state *s, const charlm_block *b, layer_views *L, int64_t n)
{
    int64_t nh = s->m->cfg.n_head, C = s->m->cfg.n_embd, end = s->pos + n;
    mt_tensor x, h, y, f, qkv_new, qkv_all, q, k, v, qh, kh, vh, yh;
    TRY(rows(&s->x, 0, n, &x));
    TRY(rows(&s->h, 0, n, &h));
    TRY(rows(&s->y, 0, n, &y));
    TRY(rows(&s->f, 0, n, &f));
    TRY(rows(&L->qkv_cache, s->pos, n, &qkv_new));
    TRY(rows(&L->qkv_cache, 0, end, &qkv_all));

    TRY(mt_layer_norm_into(&x, 1, b->ln_1_w, b->ln_1_b, CHARLM_LN_EPS, &h));   // (n,C)
    TRY(mt_matmul_fused_into(&h, &L->attn, b->attn_b, MT_ACTIVATION_NONE, &qkv_new));
    /* (nh,n,hd) new queries against (nh,end,hd) keys and values; causal
     * aligned bottom-right: new row i (position pos+i) sees 0..pos+i. */
    TRY(mt_narrow_into(&qkv_new, 1, 0, C, &q));
    TRY(mt_narrow_into(&qkv_all, 1, C, C, &k));
    TRY(mt_narrow_into(&qkv_all, 1, 2 * C, C, &v));
    TRY(heads(&q, nh, &qh));
    TRY(heads(&k, nh, &kh));
    TRY(heads(&v, nh, &vh));
    TRY(heads(&y, nh, &yh));
    TRY(mt_scaled_dot_product_attention_into(&qh, &kh, &vh, NULL, true, 0.0f, &yh));
    TRY(mt_matmul_fused_into(&y, &L->proj, b->proj_b, MT_ACTIVATION_NONE, &h));
    TRY(mt_add_into(&x, &h, &x));

    TRY(mt_layer_norm_into(&x, 1, b->ln_2_w, b->ln_2_b, CHARLM_LN_EPS, &h));
    TRY(mt_matmul_fused_into(&h, &L->fc, b->fc_b, MT_ACTIVATION_GELU, &f));   // (n,4C)
    TRY(mt_matmul_fused_into(&f, &L->fc2, b->fc2_b, MT_ACTIVATION_NONE, &h));  // (n,C)
    return mt_add_into(&x, &h, &x);
}

/* x = wte[tokens] + wpe[pos..pos+n) into the first n rows of s->x. */
static mt_status embed(charlm_state *s, const int32_t *tokens, int64_t n)
{
    mt_tensor ids, x, positions;
    /* tokens is only read: the wrap is BORROWED and never written through. */
    TRY(mt_tensor_wrap_into(MT_DTYPE_I32, 1, &n, (int32_t *)tokens, &ids));
    TRY(rows(&s->x, 0, n, &x));
    TRY(rows(s->m->wpe, s->pos, n, &positions));
    TRY(mt_embedding_into(&ids, s->m->wte, &x));
    return mt_add_into(&x, &positions, &x);
}

mt_status charlm_forward(charlm_state *s, const int32_t *tokens, int64_t n, bool all_logits,
                         const float **logits)
{
    if (!s || !tokens || !logits)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_forward: NULL argument");
    const charlm_model *m = s->m;
    const charlm_config *c = &m->cfg;
    if (n < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_forward: %lld tokens: at least 1 "
                                                "is needed", (long long)n);
    if (n > c->block_size - s->pos)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_forward: %lld tokens at position %lld "
                                                "exceed block_size %lld", (long long)n,
                       (long long)s->pos, (long long)c->block_size);
    for (int64_t t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_forward: token %d at %lld is "
                                                    "outside the vocabulary of %lld",
                           tokens[t], (long long)t, (long long)c->vocab_size);
    }
    TRY(embed(s, tokens, n));
    for (int64_t l = 0; l < c->n_layer; l++)
        TRY(block(s, &m->blocks[l], &s->layers[l], n));

    /* The head: every row, or only the last one when sampling. */
    int64_t first = all_logits ? 0 : n - 1, count = n - first;
    mt_tensor x, h, out;
    TRY(rows(&s->x, first, count, &x));
    TRY(rows(&s->h, 0, count, &h));
    TRY(rows(&s->logits, 0, count, &out));
    TRY(mt_layer_norm_into(&x, 1, m->ln_f_w, m->ln_f_b, CHARLM_LN_EPS, &h));
    TRY(mt_matmul_into(&h, &s->head, &out));                                   // (count,V)
    // finite weights can still overflow float32 (a head of 3e38s): the loss
    // would be NaN and every sample the same
    if (mt_tensor_check_finite(&out))
        return mt_fail(MT_ERR_FORMAT, "the model's output is not finite: its weights overflow "
                       "float32 on this input");
    s->pos += n;
    *logits = out.data;
    return MT_OK;
}
