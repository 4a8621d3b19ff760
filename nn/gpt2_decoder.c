/* gpt2_decoder.c — mt_gpt2: a GPT-2-style model fed token by token over a
 * KV cache (gpt2.h). As mt_llama (llama_decoder.c): the library's layers,
 * loaded by their names and run through their vtables into buffers made
 * once for max_len positions, the attention stepping over the cache
 * (mt_nn_llama_attention_step, GPT-2's c_attn read without RoPE), and only
 * the newest token's logits computed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "decoder_internal.h"
#include "minitensor/gpt2.h"
#include "minitensor/memory.h"
#include "minitensor/ops.h"

#define OP "gpt2"
/* Room for names: the prefix, a top name ("transformer.wte"), a block's
 * ("….<int64>.") and a tensor's ("attn.c_attn.weight") */
enum {
    PREFIX_MAX = 256,
    TOP_MAX = PREFIX_MAX + 24,
    BLOCK_MAX = TOP_MAX + 24,
    NAME_MAX_LEN = BLOCK_MAX + 32
};

typedef struct naming {
    const char *wte, *wpe, *layers, *norm, *head;
} naming;

static const naming namings[2] = {
    {"transformer.wte", "transformer.wpe", "transformer.h", "transformer.ln_f", "lm_head"},
    {"wte", "wpe", "h", "ln_f", "lm_head"},   /* GPT2Model's own state_dict */
};

typedef struct top_names {
    char wte[TOP_MAX], wpe[TOP_MAX], layers[TOP_MAX], norm[TOP_MAX], head[TOP_MAX];
} top_names;

typedef struct block {
    mt_layer *ln_1, *attn, *ln_2, *fc, *proj;
} block;

struct mt_gpt2 {
    block *blocks;
    int64_t n_layers;
    mt_layer *wte, *wpe, *norm, *head;
    int64_t e, inner, vocab, max_len, pos;
    int64_t *positions;  /* [max_len]: wpe's ids */
    float *cache;        /* per block: keys, then values, max_len·E each */
    float *h, *x, *a;    /* [max_len, E] each */
    float *f;            /* [max_len, inner] */
    float *att;          /* the attention's scratch: 2·max_len·E */
    float *logits;       /* [vocab] */
    void *scratch;       /* the other layers' */
};

static mt_status infer(const mt_layer *l, const mt_shape *in, mt_shape *out)
{
    return mt_nn_decoder_infer(OP, l, in, out);
}

static mt_status infer_as(const mt_layer *l, const mt_shape *in, int64_t width,
                          const char *what, mt_shape *out)
{
    return mt_nn_decoder_infer_as(OP, l, in, width, what, out);
}

static void grow(size_t *scratch, size_t need)
{
    *scratch = need > *scratch ? need : *scratch;
}

/* Block i's layers, loaded and their shapes chained on [1, max_len, E];
 * *scratch grows to the largest need. */
static mt_status load_block(const mt_state_dict *sd, const top_names *top, int64_t i,
                            const mt_gpt2_options *o, mt_weight_layout layout,
                            mt_activation gelu, mt_gpt2 *m, size_t *scratch)
{
    block *b = &m->blocks[i];
    char p[BLOCK_MAX], name[NAME_MAX_LEN];
    const mt_norm_options ln = {.eps = o->norm_eps != 0.0f ? o->norm_eps : 1e-5f};
    snprintf(p, sizeof p, "%s.%lld.", top->layers, (long long)i);
#define NAME(part) (snprintf(name, sizeof name, "%s%s", p, part), name)
    mt_status s;
    if ((s = mt_layer_norm_load(sd, NAME("ln_1"), &ln, &b->ln_1)) ||
        (s = mt_llama_attention_load(sd, NAME("attn"),
                                     &(mt_llama_attention_options){.n_heads = o->n_heads},
                                     &b->attn)) ||
        (s = mt_layer_norm_load(sd, NAME("ln_2"), &ln, &b->ln_2)) ||
        (s = mt_linear_load(sd, NAME("mlp.c_fc"),
                            &(mt_linear_options){.layout = layout, .act = gelu}, &b->fc)) ||
        (s = mt_linear_load(sd, NAME("mlp.c_proj"), &(mt_linear_options){.layout = layout},
                            &b->proj)))
        return s;
#undef NAME
    mt_shape h = {MT_DTYPE_F32, 3, {1, m->max_len, m->e}}, x, a, f, d;
    if ((s = infer_as(b->ln_1, &h, m->e, "the model's width", &x)) ||
        (s = infer_as(b->attn, &x, m->e, "the model's width: the residual", &a)) ||
        (s = infer_as(b->ln_2, &h, m->e, "the model's width", &x)) ||
        (s = infer(b->fc, &x, &f)) ||
        (s = infer_as(b->proj, &f, m->e, "the model's width: the residual", &d)))
        return s;
    int64_t q_width, kv_width;
    mt_nn_llama_attention_widths(b->attn, &q_width, &kv_width);
    if (q_width != m->e || kv_width != m->e)
        return mt_fail(MT_ERR_SHAPE, OP ": block %lld (%s): q and k/v widths %lld and %lld, "
                       "expected the model's %lld", (long long)i, p, (long long)q_width,
                       (long long)kv_width, (long long)m->e);
    if (i == 0)
        m->inner = f.dim[2];
    else if (f.dim[2] != m->inner)
        return mt_fail(MT_ERR_SHAPE, OP ": block %lld (%s) has an MLP of %lld, block 0 of "
                       "%lld", (long long)i, p, (long long)f.dim[2], (long long)m->inner);
    grow(scratch, mt_nn_decoder_scratch(b->ln_1, &h));
    grow(scratch, mt_nn_decoder_scratch(b->ln_2, &h));
    grow(scratch, mt_nn_decoder_scratch(b->fc, &x));
    grow(scratch, mt_nn_decoder_scratch(b->proj, &f));
    return MT_OK;
}

/* The positions, the cache and the buffers in one allocation. */
static mt_status make_buffers(mt_gpt2 *m, size_t scratch)
{
    int64_t L = m->max_len;
    size_t cache = 0, total;
    bool ok = mt_nn_decoder_add_floats(&cache, 2, L, 1);   /* the int64 positions */
    ok = ok && mt_nn_decoder_add_floats(&cache, 2 * m->n_layers, L, m->e);
    total = cache;
    ok = ok && mt_nn_decoder_add_floats(&total, 5, L, m->e) &&
         mt_nn_decoder_add_floats(&total, 1, L, m->inner) &&
         mt_nn_decoder_add_floats(&total, 1, 1, m->vocab) &&
         mt_nn_decoder_add_floats(&total, 1, 1,
                                  (int64_t)((scratch + sizeof(float) - 1) / sizeof(float)));
    if (!ok)
        return mt_fail(MT_ERR_OVERFLOW, OP ": the KV cache and buffers for max_len %lld "
                       "(%lld blocks, width %lld) overflow", (long long)L,
                       (long long)m->n_layers, (long long)m->e);
    float *p = mt_alloc(total * sizeof(float), 64);
    if (!p)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, OP ": out of memory for the KV cache and buffers "
                       "(%zu bytes for max_len %lld)", total * sizeof(float), (long long)L);
    m->positions = (int64_t *)(void *)p;
    m->cache = p + 2 * L;
    m->h = p + cache;
    m->x = m->h + L * m->e;
    m->a = m->x + L * m->e;
    m->att = m->a + L * m->e;
    m->f = m->att + 2 * L * m->e;
    m->logits = m->f + L * m->inner;
    m->scratch = scratch ? m->logits + m->vocab : NULL;
    return MT_OK;
}

static mt_status check_options(const mt_state_dict *sd, const mt_gpt2_options *o)
{
    if (!sd || !sd->file || !o)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: NULL argument");
    if (sd->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, OP "_load: reads PyTorch's names (set "
                       "MT_FRAMEWORK_PYTORCH)");
    if (o->n_heads < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: n_heads %lld: give the config's "
                       "n_head (>= 1)", (long long)o->n_heads);
    if (!(o->norm_eps >= 0.0f) || isinf(o->norm_eps))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: norm_eps %g: expected finite, > 0 "
                       "(0: 1e-5)", (double)o->norm_eps);
    if (o->gelu < MT_GPT2_GELU_AUTO || o->gelu > MT_GPT2_GELU_EXACT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: gelu %d is not an mt_gpt2_gelu",
                       (int)o->gelu);
    if (o->max_len < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: max_len %lld, expected >= 0 (0: "
                       "wpe's rows)", (long long)o->max_len);
    return MT_OK;
}

/* Tensor `name`'s shape as [rows, cols] (false if it is not in f or not a
 * matrix). */
static bool matrix_shape(const mt_safetensors *f, const char *name, uint64_t *rows,
                         uint64_t *cols)
{
    size_t index;
    mt_safetensors_entry en;
    bool ok = !mt_safetensors_find(f, name, &index) && !mt_safetensors_info(f, index, &en) &&
              en.rank == 2;
    mt_clear_error();
    if (ok) {
        *rows = en.shape[0];
        *cols = en.shape[1];
    }
    return ok;
}

/* The weights' layout from block 0's c_attn: Hugging Face's Conv1D
 * [E, 3E] (in, out) or nanoGPT's nn.Linear [3E, E]; E is wte's width. */
static mt_status find_layout(const mt_safetensors *f, const top_names *top, int64_t e,
                             mt_weight_layout *layout)
{
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s.0.attn.c_attn.weight", top->layers);
    const uint64_t E = (uint64_t)e;
    uint64_t r = 0, c = 0;
    bool matrix = matrix_shape(f, name, &r, &c);
    if (matrix && r == E && c == 3 * E)
        *layout = MT_LAYOUT_IN_OUT;
    else if (matrix && r == 3 * E && c == E)
        *layout = MT_LAYOUT_OUT_IN;
    else
        return mt_fail(MT_ERR_SHAPE, OP "_load: %s is %s, expected [%lld, %lld] (Hugging "
                       "Face's Conv1D) or [%lld, %lld] (nanoGPT's nn.Linear) for wte's width "
                       "%lld", name, matrix ? "a matrix of another size" : "not a matrix",
                       (long long)e, (long long)(3 * e), (long long)(3 * e), (long long)e,
                       (long long)e);
    return MT_OK;
}

/* Block i's tensors as the model's are: its weights in `layout` (c_attn
 * and the MLP's, which say it unless square), every LayerNorm weight
 * there, and every bias there if `biased` (block 0's c_attn has one), none
 * if not (nanoGPT's bias=False): a file with a bias missing or left over
 * is not one model. */
static mt_status check_block(const mt_safetensors *f, const top_names *top, int64_t i,
                             int64_t e, mt_weight_layout layout, bool biased)
{
    static const char *const parts[6] = {"ln_1", "attn.c_attn", "attn.c_proj", "ln_2",
                                         "mlp.c_fc", "mlp.c_proj"};
    static const char *const layout_name[2] = {"Hugging Face's Conv1D (in, out)",
                                               "nanoGPT's nn.Linear (out, in)"};
    const bool conv1d = layout == MT_LAYOUT_IN_OUT;
    char name[NAME_MAX_LEN];
    for (int k = 0; k < 6; k++) {
        snprintf(name, sizeof name, "%s.%lld.%s.weight", top->layers, (long long)i, parts[k]);
        if (k % 3 == 0 && !mt_nn_decoder_has(f, name))
            return mt_fail(MT_ERR_NOT_FOUND, OP "_load: %s is not in the file (GPT-2's "
                           "LayerNorms have a weight)", name);
        uint64_t r = 0, c = 0, E = (uint64_t)e;
        // c_attn and c_fc read E: [E, n] as Conv1D, [n, E] as nn.Linear
        // (other shapes fail as they load; c_proj's follow theirs)
        if ((k == 1 || k == 4) && matrix_shape(f, name, &r, &c) && r != c &&
            (conv1d ? c == E && r != E : r == E && c != E))
            return mt_fail(MT_ERR_SHAPE, OP "_load: %s [%llu, %llu] is %s, but block 0's "
                           "c_attn is %s: one layout per file", name, (unsigned long long)r,
                           (unsigned long long)c, layout_name[conv1d], layout_name[!conv1d]);
        snprintf(name, sizeof name, "%s.%lld.%s.bias", top->layers, (long long)i, parts[k]);
        if (mt_nn_decoder_has(f, name) != biased)
            return mt_fail(MT_ERR_FORMAT, OP "_load: %s is %sin the file, but %s.0.attn.c_attn"
                           ".bias is%s: a model has every bias or none (nanoGPT's bias=False)",
                           name, biased ? "not " : "", top->layers, biased ? "" : " not");
    }
    return MT_OK;
}

/* ln_f as the blocks' LayerNorms: a weight, and a bias if `biased`. */
static mt_status check_final_norm(const mt_safetensors *f, const top_names *top, bool biased)
{
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s.weight", top->norm);
    if (!mt_nn_decoder_has(f, name))
        return mt_fail(MT_ERR_NOT_FOUND, OP "_load: %s is not in the file (GPT-2's "
                       "LayerNorms have a weight)", name);
    snprintf(name, sizeof name, "%s.bias", top->norm);
    if (mt_nn_decoder_has(f, name) != biased)
        return mt_fail(MT_ERR_FORMAT, OP "_load: %s is %sin the file, but %s.0.attn.c_attn.bias "
                       "is%s: a model has every bias or none (nanoGPT's bias=False)", name,
                       biased ? "not " : "", top->layers, biased ? "" : " not");
    return MT_OK;
}

/* The whole names under options.prefix of the convention whose wte is in
 * the file. */
static mt_status find_names(const mt_safetensors *f, const char *prefix, top_names *top)
{
    char name[NAME_MAX_LEN];
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s%s.weight", prefix, namings[k].wte);
        if (!mt_nn_decoder_has(f, name))
            continue;
        const naming *nm = &namings[k];
        snprintf(top->wte, sizeof top->wte, "%s%s", prefix, nm->wte);
        snprintf(top->wpe, sizeof top->wpe, "%s%s", prefix, nm->wpe);
        snprintf(top->layers, sizeof top->layers, "%s%s", prefix, nm->layers);
        snprintf(top->norm, sizeof top->norm, "%s%s", prefix, nm->norm);
        snprintf(top->head, sizeof top->head, "%s%s", prefix, nm->head);
        return MT_OK;
    }
    return mt_fail(MT_ERR_NOT_FOUND, OP "_load: neither %stransformer.wte.weight "
                   "(GPT2LMHeadModel, nanoGPT) nor %swte.weight (GPT2Model) is in the file",
                   prefix, prefix);
}

/* wte, wpe, ln_f and the head (its own weight, or wte read as one), and
 * max_len from wpe. */
static mt_status load_ends(const mt_state_dict *sd, const top_names *top,
                           const mt_gpt2_options *o, mt_gpt2 *m)
{
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s.bias", top->head);
    if (mt_nn_decoder_has(sd->file, name))
        return mt_fail(MT_ERR_UNSUPPORTED, OP "_load: %s is in the file: the head has no bias "
                       "here (GPT-2's has none)", name);
    snprintf(name, sizeof name, "%s.weight", top->head);
    bool tied = !mt_nn_decoder_has(sd->file, name);
    mt_status s;
    if ((s = mt_embedding_load(sd, top->wte, &m->wte)) ||
        (s = mt_embedding_load(sd, top->wpe, &m->wpe)) ||
        (s = mt_layer_norm_load(sd, top->norm,
                                &(mt_norm_options){.eps = o->norm_eps != 0.0f ? o->norm_eps
                                                                              : 1e-5f},
                                &m->norm)) ||
        (s = mt_linear_load(sd, tied ? top->wte : top->head,
                            &(mt_linear_options){.layout = MT_LAYOUT_OUT_IN}, &m->head)))
        return s;
    m->vocab = m->wte->info.in_features;
    m->e = m->wte->info.out_features;
    int64_t rows = m->wpe->info.in_features;
    if (m->wpe->info.out_features != m->e)
        return mt_fail(MT_ERR_SHAPE, OP "_load: %s.weight is %lld wide, %s.weight %lld",
                       top->wpe, (long long)m->wpe->info.out_features, top->wte,
                       (long long)m->e);
    if (o->max_len > rows)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: max_len %lld, but %s.weight has "
                       "positions 0..%lld only", (long long)o->max_len, top->wpe,
                       (long long)(rows - 1));
    m->max_len = o->max_len ? o->max_len : rows;
    if (m->e % o->n_heads)
        return mt_fail(MT_ERR_SHAPE, OP "_load: n_heads %lld does not divide the width %lld "
                       "(%s.weight)", (long long)o->n_heads, (long long)m->e, top->wte);
    return MT_OK;
}

mt_status mt_gpt2_load(const mt_state_dict *weights, const mt_gpt2_options *options,
                       mt_gpt2 **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: out is NULL");
    *out = NULL;
    mt_status s = check_options(weights, options);
    if (s)
        return s;
    const mt_safetensors *f = weights->file;
    const char *prefix = options->prefix ? options->prefix : "";
    if (strlen(prefix) > PREFIX_MAX)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: prefix of %zu bytes, at most %d",
                       strlen(prefix), PREFIX_MAX);
    top_names top;
    int64_t n_layers = 0;
    if ((s = find_names(f, prefix, &top)) ||
        (s = mt_nn_decoder_count_blocks(OP, f, top.layers, "attn.c_attn.weight", &n_layers)))
        return s;
    mt_gpt2 *m = mt_alloc(sizeof *m, _Alignof(mt_gpt2));
    block *blocks = mt_alloc((size_t)n_layers * sizeof *blocks, _Alignof(block));
    if (!m || !blocks) {
        mt_dealloc(m);
        mt_dealloc(blocks);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, OP "_load: out of memory for %lld blocks",
                       (long long)n_layers);
    }
    memset(m, 0, sizeof *m);
    memset(blocks, 0, (size_t)n_layers * sizeof *blocks);
    m->blocks = blocks;
    mt_weight_layout layout = MT_LAYOUT_AUTO;
    s = load_ends(weights, &top, options, m);
    if (!s)
        s = find_layout(f, &top, m->e, &layout);
    // the file is one model: one layout, every bias or none
    // (no lookup after a failure: a lookup clears the error message)
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, "%s.0.attn.c_attn.bias", top.layers);
    const bool biased = !s && mt_nn_decoder_has(f, name);
    if (!s)
        s = check_final_norm(f, &top, biased);
    for (int64_t i = 0; !s && i < n_layers; i++)
        s = check_block(f, &top, i, m->e, layout, biased);
    mt_gpt2_gelu gelu = options->gelu != MT_GPT2_GELU_AUTO ? options->gelu
                        : layout == MT_LAYOUT_IN_OUT       ? MT_GPT2_GELU_TANH
                                                           : MT_GPT2_GELU_EXACT;
    mt_activation act = gelu == MT_GPT2_GELU_TANH ? MT_ACTIVATION_GELU_TANH : MT_ACTIVATION_GELU;
    size_t scratch = 0;
    for (int64_t i = 0; !s && i < n_layers; i++, m->n_layers = i)
        s = load_block(weights, &top, i, options, layout, act, m, &scratch);
    mt_shape h = {MT_DTYPE_F32, 3, {1, 1, m->e}}, x, logits;
    if (!s && !(s = infer_as(m->norm, &h, m->e, "the model's width", &x)) &&
        !(s = infer(m->head, &x, &logits)) && logits.dim[2] != m->vocab)
        // a head with other rows than wte's could sample a token that
        // cannot be fed back
        s = mt_fail(MT_ERR_SHAPE, OP "_load: the head %s gives %lld logits, wte has %lld "
                    "tokens", m->head->name, (long long)logits.dim[2], (long long)m->vocab);
    if (!s) {
        const mt_shape ids = {MT_DTYPE_I64, 2, {1, m->max_len}},
                       rows = {MT_DTYPE_F32, 3, {1, m->max_len, m->e}};
        grow(&scratch, mt_nn_decoder_scratch(m->wte, &ids));
        grow(&scratch, mt_nn_decoder_scratch(m->wpe, &ids));
        grow(&scratch, mt_nn_decoder_scratch(m->norm, &rows));
        grow(&scratch, mt_nn_decoder_scratch(m->head, &rows));
        s = make_buffers(m, scratch);
    }
    if (s) {
        mt_gpt2_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

static mt_status run(const mt_gpt2 *m, const mt_layer *l, const mt_tensor *x, float *out,
                     int64_t width, mt_tensor *y)
{
    return mt_nn_decoder_run(l, x, out, width, m->scratch, y);
}

static mt_status run_block(mt_gpt2 *m, int64_t i, mt_tensor *h, int64_t n)
{
    const block *b = &m->blocks[i];
    float *keys = m->cache + 2 * i * m->max_len * m->e;
    float *values = keys + m->max_len * m->e;
    mt_tensor x, a, f;
    mt_status s;
    if ((s = run(m, b->ln_1, h, m->x, m->e, &x)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){1, n, m->e}, m->a, &a)) ||
        (s = mt_nn_llama_attention_step(b->attn, &x, keys, values, m->pos, m->att, &a)) ||
        (s = mt_add_into(h, &a, h)) || (s = run(m, b->ln_2, h, m->x, m->e, &x)) ||
        (s = run(m, b->fc, &x, m->f, m->inner, &f)) ||
        (s = run(m, b->proj, &f, m->a, m->e, &a)))
        return s;
    return mt_add_into(h, &a, h);
}

/* As llama_decoder.c's feed: tokens through the blocks at positions pos..,
 * rows first..n-1 through ln_f and the head into `out`; pos advances only
 * when all went well. */
static mt_status feed(mt_gpt2 *m, const char *op, int64_t n, const int64_t *tokens,
                      int64_t first, float *out)
{
    mt_status s = mt_nn_decoder_check_feed(op, "mt_gpt2_reset", n, tokens, m->pos, m->max_len,
                                           m->vocab);
    if (s)
        return s;
    for (int64_t i = 0; i < n; i++)
        m->positions[i] = m->pos + i;
    mt_tensor ids, at, h, p;
    s = mt_tensor_wrap_into(MT_DTYPE_I64, 2, (int64_t[]){1, n}, (void *)tokens, &ids);
    if (!s && !(s = mt_tensor_wrap_into(MT_DTYPE_I64, 2, (int64_t[]){1, n}, m->positions,
                                        &at)) &&
        !(s = run(m, m->wte, &ids, m->h, m->e, &h)) &&
        !(s = run(m, m->wpe, &at, m->x, m->e, &p)))
        s = mt_add_into(&h, &p, &h);
    for (int64_t i = 0; !s && i < m->n_layers; i++)
        s = run_block(m, i, &h, n);
    if (!s)
        s = mt_nn_decoder_logits(m->norm, m->head, m->h, n, first, m->e, m->vocab, m->x,
                                 m->scratch, out);
    if (!s)
        m->pos += n;
    return s;
}

mt_status mt_gpt2_forward(mt_gpt2 *model, int64_t n, const int64_t *tokens,
                          const float **logits)
{
    if (!model || !tokens || !logits)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_forward: NULL argument");
    mt_status s = feed(model, OP "_forward", n, tokens, n > 1 ? n - 1 : 0, model->logits);
    if (!s)
        *logits = model->logits;
    return s;
}

mt_status mt_gpt2_forward_all(mt_gpt2 *model, int64_t n, const int64_t *tokens,
                              float *logits)
{
    if (!model || !tokens || !logits)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_forward_all: NULL argument");
    return feed(model, OP "_forward_all", n, tokens, 0, logits);
}

void mt_gpt2_reset(mt_gpt2 *model)
{
    if (model)
        model->pos = 0;
}

int64_t mt_gpt2_position(const mt_gpt2 *model) { return model ? model->pos : 0; }
int64_t mt_gpt2_vocab(const mt_gpt2 *model) { return model ? model->vocab : 0; }
int64_t mt_gpt2_layers(const mt_gpt2 *model) { return model ? model->n_layers : 0; }
int64_t mt_gpt2_max_len(const mt_gpt2 *model) { return model ? model->max_len : 0; }

void mt_gpt2_free(mt_gpt2 *model)
{
    if (!model)
        return;
    for (int64_t i = 0; i < model->n_layers; i++) {
        block *b = &model->blocks[i];
        mt_layer *all[5] = {b->ln_1, b->attn, b->ln_2, b->fc, b->proj};
        for (int k = 0; k < 5; k++)
            mt_layer_free(all[k]);
    }
    mt_layer_free(model->wte);
    mt_layer_free(model->wpe);
    mt_layer_free(model->norm);
    mt_layer_free(model->head);
    mt_dealloc(model->positions);
    mt_dealloc(model->blocks);
    mt_dealloc(model);
}
