/* model.c — loading a nanoGPT character model: metadata, vocabulary and the
 * shape of every tensor, checked before anything runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "utf8.h"

/* Sizes above this are refused outright (the tensors bound them anyway);
 * it keeps 4·n_embd and every product of two sizes far from overflow. */
#define CHARLM_MAX_SIZE ((int64_t)1 << 24)

/* ---- metadata ------------------------------------------------------------------ */

/* A decimal size from `min` to CHARLM_MAX_SIZE: digits only, no sign,
 * spaces or leading zeros ("010" could be meant as octal). */
static mt_status meta_size(const mt_safetensors *f, const char *key, int64_t min, int64_t *out)
{
    const char *v;
    size_t len;
    if (mt_safetensors_metadata_get(f, key, &v, &len))
        return mt_fail(MT_ERR_FORMAT, "metadata: missing '%s' (n_layer, n_head, "
                                      "n_embd, block_size and vocab are needed)", key);
    int64_t n = 0;
    bool ok = len > 0 && len <= 9 && (len == 1 || v[0] != '0');
    for (size_t i = 0; ok && i < len; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        n = n * 10 + (v[i] - '0');
    }
    if (!ok || n < min || n > CHARLM_MAX_SIZE)
        return mt_fail(MT_ERR_FORMAT, "metadata: '%s' is \"%.*s\": expected a "
                                      "decimal integer from %lld to %lld, no leading zeros",
                       key, (int)(len < 40 ? len : 40), v, (long long)min,
                       (long long)CHARLM_MAX_SIZE);
    *out = n;
    return MT_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The vocabulary: decode the metadata string into code points and build the
 * lookup (a table for ASCII, a sorted array for the rest). */
static mt_status load_vocab(const mt_safetensors *f, charlm_model *m)
{
    const char *v;
    size_t len;
    if (mt_safetensors_metadata_get(f, "vocab", &v, &len))
        return mt_fail(MT_ERR_FORMAT, "metadata: missing 'vocab' (the characters "
                                      "of the vocabulary in token-id order)");
    int64_t count = 0;
    for (size_t pos = 0; pos < len; count++) {
        uint32_t cp;
        if (!utf8_next(v, len, &pos, &cp))
            return mt_fail(MT_ERR_FORMAT, "metadata: 'vocab' is not UTF-8 at byte %zu",
                           pos);
    }
    if (count == 0)
        return mt_fail(MT_ERR_FORMAT, "metadata: 'vocab' is empty");
    size_t n = (size_t)count;
    m->vocab = malloc(n * sizeof *m->vocab);
    m->sorted_cp_ = malloc(n * sizeof *m->sorted_cp_);
    m->sorted_id_ = malloc(n * sizeof *m->sorted_id_);
    if (!m->vocab || !m->sorted_cp_ || !m->sorted_id_)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory for a vocab of %zu", n);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        utf8_next(v, len, &pos, &m->vocab[i]);
        m->sorted_cp_[i] = m->vocab[i];
    }
    qsort(m->sorted_cp_, n, sizeof *m->sorted_cp_, cmp_u32);
    for (size_t i = 1; i < n; i++) {
        if (m->sorted_cp_[i] == m->sorted_cp_[i - 1])
            return mt_fail(MT_ERR_FORMAT, "metadata: 'vocab' holds U+%04X twice",
                           (unsigned)m->sorted_cp_[i]);
    }
    for (size_t i = 0; i < 128; i++)
        m->ascii_[i] = -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t *at = bsearch(&m->vocab[i], m->sorted_cp_, n, sizeof *m->sorted_cp_, cmp_u32);
        m->sorted_id_[at - m->sorted_cp_] = (int32_t)i;
        if (m->vocab[i] < 128)
            m->ascii_[m->vocab[i]] = (int32_t)i;
    }
    m->cfg.vocab_size = count;
    return MT_OK;
}

int32_t charlm_token(const charlm_model *m, uint32_t cp)
{
    if (cp < 128)
        return m->ascii_[cp];
    const uint32_t *at = bsearch(&cp, m->sorted_cp_, (size_t)m->cfg.vocab_size,
                                 sizeof *m->sorted_cp_, cmp_u32);
    return at ? m->sorted_id_[at - m->sorted_cp_] : -1;
}

/* ---- tensors --------------------------------------------------------------------- */

static char *shape_str(char *buf, size_t size, size_t rank, const int64_t *dims)
{
    size_t at = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < rank && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? "," : "", (long long)dims[i]);
    if (at < size)
        snprintf(buf + at, size - at, "]");
    return buf;
}

/* The file and the prefix of its tensor names: "" or "_orig_mod.", which
 * nanoGPT's checkpoints carry when the model was trained with torch.compile
 * (its state_dict() is the compiled wrapper's; sample.py strips it). */
typedef struct source {
    const mt_safetensors *f;
    const char *prefix;
} source;

/* The tensor `name` as F32 with exactly shape dims[rank]; *out stays NULL if
 * it is absent and optional. F32 comes zero-copy where aligned, F16, BF16
 * and F64 are converted; other dtypes, and values that are not finite, are
 * refused. */
static mt_status get(const source *src, const char *short_name, size_t rank,
                     const int64_t *dims, bool required, mt_tensor **out)
{
    char want[96], found[96], name[128];
    const mt_safetensors *f = src->f;
    size_t index;
    snprintf(name, sizeof name, "%s%s", src->prefix, short_name);
    if (mt_safetensors_find(f, name, &index)) {
        if (!required)
            return MT_OK;
        return mt_fail(MT_ERR_NOT_FOUND, "missing tensor '%s' (expected %s)", name,
                       shape_str(want, sizeof want, rank, dims));
    }
    mt_safetensors_entry e;
    mt_status s = mt_safetensors_info(f, index, &e);
    if (s)
        return s;
    if (e.dtype != MT_DTYPE_F32 && e.dtype != MT_DTYPE_F16 && e.dtype != MT_DTYPE_BF16 &&
        e.dtype != MT_DTYPE_F64)
        return mt_fail(MT_ERR_DTYPE, "tensor '%s' is %s: expected F32, F16, BF16 "
                                     "or F64", name, e.dtype_name);
    bool same = e.rank == rank;
    for (size_t i = 0; same && i < rank; i++)
        same = e.shape[i] == (uint64_t)dims[i];
    if (!same) {
        int64_t got[MT_MAX_RANK];
        size_t r = e.rank < MT_MAX_RANK ? e.rank : MT_MAX_RANK;
        for (size_t i = 0; i < r; i++)
            got[i] = e.shape[i] > INT64_MAX ? INT64_MAX : (int64_t)e.shape[i];
        /* Hugging Face's GPT-2 stores these (in,out) (its Conv1D) under the
         * same names; nanoGPT's from_pretrained transposes them. */
        bool transposed = rank == 2 && e.rank == 2 && got[0] == dims[1] && got[1] == dims[0];
        return mt_fail(MT_ERR_SHAPE, "tensor '%s': expected %s, found %s%s", name,
                       shape_str(want, sizeof want, rank, dims),
                       shape_str(found, sizeof found, r, got),
                       e.rank > r      ? " (rank > 8)"
                       : transposed ? " (the transpose: PyTorch (out,in) layout is needed, "
                                      "not Hugging Face Conv1D's (in,out))"
                                    : "");
    }
    /* NaN or Inf weights would give NaN logits, and greedy decoding token 0
     * every time: refused here, naming the tensor and the index. */
    s = mt_safetensors_get_f32_at(f, index, out);
    if (!s && (s = mt_tensor_check_finite(*out))) {
        mt_tensor_free(*out);
        *out = NULL;
    }
    return s;
}

static mt_status get_block(const source *f, int64_t i, int64_t C, charlm_block *b)
{
    char name[96];
    mt_status s;
    int64_t C3 = 3 * C, C4 = 4 * C;
#define GET(field, suffix, rank, required, ...)                                        \
    do {                                                                               \
        snprintf(name, sizeof name, "transformer.h.%lld.%s", (long long)i, suffix);    \
        if ((s = get(f, name, rank, (int64_t[]){__VA_ARGS__}, required, &b->field)))   \
            return s;                                                                  \
    } while (0)
    GET(ln_1_w, "ln_1.weight", 1, true, C);
    GET(ln_1_b, "ln_1.bias", 1, false, C);
    GET(attn_w, "attn.c_attn.weight", 2, true, C3, C);
    GET(attn_b, "attn.c_attn.bias", 1, false, C3);
    GET(proj_w, "attn.c_proj.weight", 2, true, C, C);
    GET(proj_b, "attn.c_proj.bias", 1, false, C);
    GET(ln_2_w, "ln_2.weight", 1, true, C);
    GET(ln_2_b, "ln_2.bias", 1, false, C);
    GET(fc_w, "mlp.c_fc.weight", 2, true, C4, C);
    GET(fc_b, "mlp.c_fc.bias", 1, false, C4);
    GET(fc2_w, "mlp.c_proj.weight", 2, true, C, C4);
    GET(fc2_b, "mlp.c_proj.bias", 1, false, C);
#undef GET
    return MT_OK;
}

/* A tensor of block n_layer or later means the metadata undercounts the
 * blocks: refused, rather than running a model cut short. */
static mt_status no_block_past(const source *src, int64_t n_layer)
{
    char prefix[32];
    size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%stransformer.h.", src->prefix);
    for (size_t i = 0, n = mt_safetensors_count(src->f); i < n; i++) {
        mt_safetensors_entry e;
        mt_status s = mt_safetensors_info(src->f, i, &e);
        if (s)
            return s;
        if (strncmp(e.name, prefix, plen) != 0)
            continue;
        const char *at = e.name + plen;
        // every digit is read (an index past int64 saturates: past n_layer too)
        int64_t block = 0;
        size_t digits = 0;
        for (; at[digits] >= '0' && at[digits] <= '9'; digits++)
            block = block > (INT64_MAX - 9) / 10 ? INT64_MAX : block * 10 + (at[digits] - '0');
        if (digits > 0 && at[digits] == '.' && block >= n_layer)
            return mt_fail(MT_ERR_FORMAT, "tensor '%s' belongs to block %.*s, but metadata "
                                          "'n_layer' is %lld", e.name, (int)digits, at,
                           (long long)n_layer);
    }
    return MT_OK;
}

static bool block_has_bias(const charlm_block *b)
{
    return b->ln_1_b || b->attn_b || b->proj_b || b->ln_2_b || b->fc_b || b->fc2_b;
}

static mt_status load(const mt_safetensors *f, charlm_model *m)
{
    charlm_config *c = &m->cfg;
    mt_status s;
    size_t at;
    source src = {f, ""};
    if (mt_safetensors_find(f, "transformer.wpe.weight", &at) &&
        !mt_safetensors_find(f, "_orig_mod.transformer.wpe.weight", &at))
        src.prefix = "_orig_mod.";
    /* n_layer may be 0: embeddings, ln_f and the head (nanoGPT builds it). */
    if ((s = meta_size(f, "n_layer", 0, &c->n_layer)) ||
        (s = meta_size(f, "n_head", 1, &c->n_head)) ||
        (s = meta_size(f, "n_embd", 1, &c->n_embd)) ||
        (s = meta_size(f, "block_size", 1, &c->block_size)) || (s = load_vocab(f, m)) ||
        (s = no_block_past(&src, c->n_layer)))
        return s;
    if (c->n_embd % c->n_head)
        return mt_fail(MT_ERR_FORMAT, "metadata: n_embd %lld is not a multiple of "
                                      "n_head %lld", (long long)c->n_embd, (long long)c->n_head);
    int64_t V = c->vocab_size, C = c->n_embd;
    /* wte may be missing if lm_head.weight is there: safetensors.torch's
     * save_model keeps one name of a tied pair, the first in sorted order. */
    char head[32];
    snprintf(head, sizeof head, "%slm_head.weight", src.prefix);
    bool has_head = !mt_safetensors_find(f, head, &at);
    if ((s = get(&src, "transformer.wte.weight", 2, (int64_t[]){V, C}, !has_head, &m->wte)) ||
        (s = get(&src, "transformer.wpe.weight", 2, (int64_t[]){c->block_size, C}, true,
                 &m->wpe)))
        return s;
    m->blocks = calloc(c->n_layer ? (size_t)c->n_layer : 1, sizeof *m->blocks);
    if (!m->blocks)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory for %lld blocks",
                       (long long)c->n_layer);
    for (int64_t i = 0; i < c->n_layer; i++) {
        if ((s = get_block(&src, i, C, &m->blocks[i])))
            return s;
        m->has_bias |= block_has_bias(&m->blocks[i]);
    }
    if ((s = get(&src, "transformer.ln_f.weight", 1, (int64_t[]){C}, true, &m->ln_f_w)) ||
        (s = get(&src, "transformer.ln_f.bias", 1, (int64_t[]){C}, false, &m->ln_f_b)) ||
        (s = get(&src, "lm_head.weight", 2, (int64_t[]){V, C}, false, &m->head)))
        return s;
    m->has_bias |= m->ln_f_b != NULL;
    m->tied = m->head == NULL || m->wte == NULL;
    if (!m->head)
        m->head = m->wte;
    if (!m->wte)
        m->wte = m->head;
    return MT_OK;
}

mt_status charlm_model_new(const mt_safetensors *weights, charlm_model **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_model_new: out is NULL");
    *out = NULL;
    if (!weights)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "charlm_model_new: weights is NULL");
    charlm_model *m = calloc(1, sizeof *m);
    if (!m)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory");
    mt_status s = load(weights, m);
    if (s) {
        charlm_model_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

static void free_block(charlm_block *b)
{
    mt_tensor *t[] = {b->ln_1_w, b->ln_1_b, b->attn_w, b->attn_b, b->proj_w, b->proj_b,
                      b->ln_2_w, b->ln_2_b, b->fc_w,   b->fc_b,   b->fc2_w,  b->fc2_b};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        mt_tensor_free(t[k]);
}

void charlm_model_free(charlm_model *m)
{
    if (!m)
        return;
    if (m->blocks) {
        for (int64_t i = 0; i < m->cfg.n_layer; i++)
            free_block(&m->blocks[i]);
        free(m->blocks);
    }
    if (m->head != m->wte)
        mt_tensor_free(m->head);
    mt_tensor_free(m->wte);
    mt_tensor_free(m->wpe);
    mt_tensor_free(m->ln_f_w);
    mt_tensor_free(m->ln_f_b);
    free(m->vocab);
    free(m->sorted_cp_);
    free(m->sorted_id_);
    free(m);
}
