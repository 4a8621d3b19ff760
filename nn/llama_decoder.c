/* llama_decoder.c — mt_llama: a Llama-style model fed token by token over a
 * KV cache (llama.h). Its pieces are the library's layers, loaded by their
 * names and run through their vtables into buffers made once for max_len
 * positions; the attention layer steps over the cache
 * (mt_nn_llama_attention_step). Only the newest token's logits are
 * computed: the head is the largest matmul, and generation reads no other. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder_internal.h"
#include "minitensor/llama.h"
#include "minitensor/memory.h"
#include "minitensor/ops.h"
#include "minitensor/view.h"

#define OP "llama"
/* Room for names: the prefix (at most PREFIX_MAX bytes), then a
 * convention's top name ("model.embed_tokens"), a block's ("….<int64>.")
 * and a tensor's ("post_attention_layernorm.weight") */
enum {
    PREFIX_MAX = 256,
    TOP_MAX = PREFIX_MAX + 32,
    BLOCK_MAX = TOP_MAX + 24,
    NAME_MAX_LEN = BLOCK_MAX + 48
};

/* The names of one convention (the part after the block's prefix for the
 * per-block ones). */
typedef struct naming {
    const char *embed, *layers, *attn_norm, *attn, *q_weight, *mlp_norm, *gate, *up, *down,
        *norm, *head;
} naming;

static const naming namings[3] = {
    {"model.embed_tokens", "model.layers", "input_layernorm", "self_attn",
     "self_attn.q_proj.weight", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
     "mlp.down_proj", "model.norm", "lm_head"},
    {"tok_embeddings", "layers", "attention_norm", "attention", "attention.wq.weight",
     "ffn_norm", "feed_forward.w1", "feed_forward.w3", "feed_forward.w2", "norm", "output"},
    /* LlamaModel's own state_dict (no head, no "model.") */
    {"embed_tokens", "layers", "input_layernorm", "self_attn", "self_attn.q_proj.weight",
     "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "norm",
     "lm_head"},
};

/* The whole names of the parts that are not per block: options.prefix and
 * the convention's. */
typedef struct top_names {
    char embed[TOP_MAX], layers[TOP_MAX], norm[TOP_MAX], head[TOP_MAX];
} top_names;

typedef struct block {
    mt_layer *attn_norm, *attn, *mlp_norm, *gate, *up, *down;
} block;

struct mt_llama {
    block *blocks;
    int64_t n_layers;
    mt_layer *embed, *norm, *head;
    int64_t e, inner, vocab, q_width, kv_width, max_len, pos;
    float *cache;        /* per block: keys, then values, max_len·kv_width each */
    float *h, *x, *a;    /* [max_len, E] each */
    float *g, *u;        /* [max_len, inner] each */
    float *att;          /* the attention's scratch: 2·max_len·q_width */
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

/* Block i's layers, loaded and their shapes chained on [1, max_len, E];
 * *scratch grows to the largest need. */
static mt_status load_block(const mt_state_dict *sd, const naming *nm, const top_names *top,
                            int64_t i, const mt_llama_options *o, mt_llama *m,
                            size_t *scratch)
{
    block *b = &m->blocks[i];
    char p[BLOCK_MAX], name[NAME_MAX_LEN];
    const mt_norm_options rms = {.eps = o->norm_eps};
    mt_llama_attention_options ao = {.n_heads = o->n_heads, .n_kv_heads = o->n_kv_heads,
                                     .rope = o->rope,
                                     .qk_norm_eps = o->qk_norm_eps != 0.0f ? o->qk_norm_eps
                                                                           : o->norm_eps};
    ao.rope.offset = 0;
    snprintf(p, sizeof p, "%s.%lld.", top->layers, (long long)i);
#define NAME(part) (snprintf(name, sizeof name, "%s%s", p, part), name)
    mt_status s;
    if ((s = mt_rms_norm_load(sd, NAME(nm->attn_norm), &rms, &b->attn_norm)) ||
        (s = mt_llama_attention_load(sd, NAME(nm->attn), &ao, &b->attn)) ||
        (s = mt_rms_norm_load(sd, NAME(nm->mlp_norm), &rms, &b->mlp_norm)) ||
        (s = mt_linear_load(sd, NAME(nm->gate), &(mt_linear_options){.act = MT_ACTIVATION_SILU},
                            &b->gate)) ||
        (s = mt_linear_load(sd, NAME(nm->up), NULL, &b->up)) ||
        (s = mt_linear_load(sd, NAME(nm->down), NULL, &b->down)))
        return s;
#undef NAME
    mt_shape h = {MT_DTYPE_F32, 3, {1, m->max_len, m->e}}, x, a, g, u, d;
    if ((s = infer_as(b->attn_norm, &h, m->e, "the model's width", &x)) ||
        (s = infer_as(b->attn, &x, m->e, "the model's width: the residual", &a)) ||
        (s = infer_as(b->mlp_norm, &h, m->e, "the model's width", &x)) ||
        (s = infer(b->gate, &x, &g)) ||
        (s = infer_as(b->up, &x, g.dim[g.rank - 1], "gate's width", &u)) ||
        (s = infer_as(b->down, &g, m->e, "the model's width: the residual", &d)))
        return s;
    int64_t q_width, kv_width;
    mt_nn_llama_attention_widths(b->attn, &q_width, &kv_width);
    if (i == 0) {
        m->inner = g.dim[2];
        m->q_width = q_width;
        m->kv_width = kv_width;
    } else if (g.dim[2] != m->inner || q_width != m->q_width || kv_width != m->kv_width) {
        return mt_fail(MT_ERR_SHAPE, OP ": block %lld (%s) is not as wide as block 0: MLP %lld "
                       "vs %lld, q %lld vs %lld, k/v %lld vs %lld", (long long)i, p,
                       (long long)g.dim[2], (long long)m->inner, (long long)q_width,
                       (long long)m->q_width, (long long)kv_width, (long long)m->kv_width);
    }
    const mt_layer *rest[5] = {b->attn_norm, b->mlp_norm, b->gate, b->up, b->down};
    const mt_shape *rest_in[5] = {&h, &h, &x, &x, &g};
    for (int k = 0; k < 5; k++) {
        size_t need = mt_nn_decoder_scratch(rest[k], rest_in[k]);
        *scratch = need > *scratch ? need : *scratch;
    }
    return MT_OK;
}

/* The cache and buffers in one allocation. */
static mt_status make_buffers(mt_llama *m, size_t scratch)
{
    int64_t L = m->max_len;
    size_t cache = 0, total;
    bool ok = mt_nn_decoder_add_floats(&cache, 2 * m->n_layers, L, m->kv_width);
    total = cache;
    ok = ok && mt_nn_decoder_add_floats(&total, 3, L, m->e) && mt_nn_decoder_add_floats(&total, 2, L, m->inner) &&
         mt_nn_decoder_add_floats(&total, 2, L, m->q_width) && mt_nn_decoder_add_floats(&total, 1, 1, m->vocab) &&
         mt_nn_decoder_add_floats(&total, 1, 1, (int64_t)((scratch + sizeof(float) - 1) / sizeof(float)));
    if (!ok)
        return mt_fail(MT_ERR_OVERFLOW, OP ": the KV cache and buffers for max_len %lld "
                       "(%lld blocks, k/v width %lld) overflow", (long long)L,
                       (long long)m->n_layers, (long long)m->kv_width);
    float *p = mt_alloc(total * sizeof(float), 64);
    if (!p)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, OP ": out of memory for the KV cache and buffers "
                       "(%zu bytes for max_len %lld)", total * sizeof(float), (long long)L);
    m->cache = p;
    m->h = p + cache;
    m->x = m->h + L * m->e;
    m->a = m->x + L * m->e;
    m->g = m->a + L * m->e;
    m->u = m->g + L * m->inner;
    m->att = m->u + L * m->inner;
    m->logits = m->att + 2 * L * m->q_width;
    m->scratch = scratch ? m->logits + m->vocab : NULL;
    return MT_OK;
}

static mt_status check_options(const mt_state_dict *sd, const mt_llama_options *o)
{
    if (!sd || !sd->file || !o)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: NULL argument");
    if (sd->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, OP "_load: reads PyTorch's names (set "
                       "MT_FRAMEWORK_PYTORCH)");
    if (!(o->norm_eps > 0.0f) || isinf(o->norm_eps))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: norm_eps %g: give the config's "
                       "rms_norm_eps (> 0, finite)", (double)o->norm_eps);
    if (o->max_len < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_load: max_len %lld, expected >= 1",
                       (long long)o->max_len);
    return MT_OK;
}

mt_status mt_llama_load(const mt_state_dict *weights, const mt_llama_options *options,
                        mt_llama **out)
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
    const naming *nm = NULL;
    char name[NAME_MAX_LEN];
    for (int k = 0; !nm && k < 3; k++) {
        snprintf(name, sizeof name, "%s%s.weight", prefix, namings[k].embed);
        nm = mt_nn_decoder_has(f, name) ? &namings[k] : NULL;
    }
    if (!nm)
        return mt_fail(MT_ERR_NOT_FOUND, OP "_load: none of %smodel.embed_tokens.weight "
                       "(Hugging Face), %stok_embeddings.weight (Meta, llama2.c) and "
                       "%sembed_tokens.weight (LlamaModel) is in the file", prefix, prefix,
                       prefix);
    top_names top;
    snprintf(top.embed, sizeof top.embed, "%s%s", prefix, nm->embed);
    snprintf(top.layers, sizeof top.layers, "%s%s", prefix, nm->layers);
    snprintf(top.norm, sizeof top.norm, "%s%s", prefix, nm->norm);
    snprintf(top.head, sizeof top.head, "%s%s", prefix, nm->head);
    int64_t n_layers = 0;
    if ((s = mt_nn_decoder_count_blocks(OP, f, top.layers, nm->q_weight, &n_layers)))
        return s;
    // a head's bias with no head weight would be dropped by the tied head
    snprintf(name, sizeof name, "%s.bias", top.head);
    if (mt_nn_decoder_has(f, name))
        return mt_fail(MT_ERR_UNSUPPORTED, OP "_load: %s is in the file: the head has no bias "
                       "here (a Llama's has none)", name);
    mt_llama *m = mt_alloc(sizeof *m, _Alignof(mt_llama));
    block *blocks = n_layers ? mt_alloc((size_t)n_layers * sizeof *blocks, _Alignof(block))
                             : NULL;
    if (!m || (n_layers && !blocks)) {
        mt_dealloc(m);
        mt_dealloc(blocks);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, OP "_load: out of memory for %lld blocks",
                       (long long)n_layers);
    }
    memset(m, 0, sizeof *m);
    if (blocks)
        memset(blocks, 0, (size_t)n_layers * sizeof *blocks);
    m->blocks = blocks;
    m->max_len = options->max_len;
    // the head: its own weight, or the embedding read as one (tied)
    snprintf(name, sizeof name, "%s.weight", top.head);
    bool tied = !mt_nn_decoder_has(f, name);
    s = mt_embedding_load(weights, top.embed, &m->embed);
    if (!s)
        s = mt_rms_norm_load(weights, top.norm, &(mt_norm_options){.eps = options->norm_eps},
                             &m->norm);
    if (!s)
        s = mt_linear_load(weights, tied ? top.embed : top.head,
                           &(mt_linear_options){.layout = MT_LAYOUT_OUT_IN}, &m->head);
    size_t scratch = 0;
    if (!s) {
        m->vocab = m->embed->info.in_features;
        m->e = m->embed->info.out_features;
        for (int64_t i = 0; !s && i < n_layers; i++, m->n_layers = i)
            s = load_block(weights, nm, &top, i, options, m, &scratch);
    }
    mt_shape h = {MT_DTYPE_F32, 3, {1, 1, m->e}}, x, logits;
    if (!s && !(s = infer_as(m->norm, &h, m->e, "the model's width", &x)) &&
        !(s = infer(m->head, &x, &logits))) {
        // the head's rows are the logits: as many as the embedding's, or a
        // token could be sampled that cannot be fed back
        if (logits.dim[2] != m->vocab)
            s = mt_fail(MT_ERR_SHAPE, OP "_load: the head %s gives %lld logits, the "
                        "embedding has %lld tokens", m->head->name, (long long)logits.dim[2],
                        (long long)m->vocab);
        // (none of the three needs scratch today; the buffer follows if one does)
        const mt_shape ids = {MT_DTYPE_I64, 2, {1, m->max_len}},
                       rows = {MT_DTYPE_F32, 3, {1, m->max_len, m->e}};
        const size_t need[3] = {mt_nn_decoder_scratch(m->embed, &ids), mt_nn_decoder_scratch(m->norm, &rows),
                                mt_nn_decoder_scratch(m->head, &rows)};
        for (int k = 0; k < 3; k++)
            scratch = need[k] > scratch ? need[k] : scratch;
    }
    if (!s)
        s = make_buffers(m, scratch);
    if (s) {
        mt_llama_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

/* x [1, n, in] -> out [1, n, width] through layer l's vtable. */
static mt_status run(const mt_llama *m, const mt_layer *l, const mt_tensor *x, float *out,
                     int64_t width, mt_tensor *y)
{
    return mt_nn_decoder_run(l, x, out, width, m->scratch, y);
}

static mt_status run_block(mt_llama *m, int64_t i, mt_tensor *h, int64_t n)
{
    const block *b = &m->blocks[i];
    float *keys = m->cache + 2 * i * m->max_len * m->kv_width;
    float *values = keys + m->max_len * m->kv_width;
    mt_tensor x, a, g, u;
    mt_status s;
    if ((s = run(m, b->attn_norm, h, m->x, m->e, &x)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){1, n, m->e}, m->a, &a)) ||
        (s = mt_nn_llama_attention_step(b->attn, &x, keys, values, m->pos, m->att, &a)) ||
        (s = mt_add_into(h, &a, h)) || (s = run(m, b->mlp_norm, h, m->x, m->e, &x)) ||
        (s = run(m, b->gate, &x, m->g, m->inner, &g)) ||
        (s = run(m, b->up, &x, m->u, m->inner, &u)) || (s = mt_mul_into(&g, &u, &g)) ||
        (s = run(m, b->down, &g, m->a, m->e, &a)))
        return s;
    return mt_add_into(h, &a, h);
}

/* tokens[0..n) through the blocks at positions pos..; then rows first..n-1
 * of the result through the final norm and the head into `out` ([1, n -
 * first, vocab] floats); pos advances only when all went well. */
static mt_status feed(mt_llama *m, const char *op, int64_t n, const int64_t *tokens,
                      int64_t first, float *out)
{
    mt_status s = mt_nn_decoder_check_feed(op, "mt_llama_reset", n, tokens, m->pos, m->max_len,
                                           m->vocab);
    if (s)
        return s;
    mt_tensor ids, h;
    s = mt_tensor_wrap_into(MT_DTYPE_I64, 2, (int64_t[]){1, n}, (void *)tokens, &ids);
    if (!s)
        s = run(m, m->embed, &ids, m->h, m->e, &h);
    for (int64_t i = 0; !s && i < m->n_layers; i++)
        s = run_block(m, i, &h, n);
    if (!s)
        s = mt_nn_decoder_logits(m->norm, m->head, m->h, n, first, m->e, m->vocab, m->x,
                                 m->scratch, out);
    if (!s)
        m->pos += n;
    return s;
}

mt_status mt_llama_forward(mt_llama *model, int64_t n, const int64_t *tokens,
                           const float **logits)
{
    if (!model || !tokens || !logits)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_forward: NULL argument");
    // only the newest position goes through the final norm and the head
    mt_status s = feed(model, OP "_forward", n, tokens, n > 1 ? n - 1 : 0, model->logits);
    if (!s)
        *logits = model->logits;
    return s;
}

mt_status mt_llama_forward_all(mt_llama *model, int64_t n, const int64_t *tokens,
                               float *logits)
{
    if (!model || !tokens || !logits)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, OP "_forward_all: NULL argument");
    return feed(model, OP "_forward_all", n, tokens, 0, logits);
}

void mt_llama_reset(mt_llama *model)
{
    if (model)
        model->pos = 0;
}

int64_t mt_llama_position(const mt_llama *model) { return model ? model->pos : 0; }
int64_t mt_llama_vocab(const mt_llama *model) { return model ? model->vocab : 0; }
int64_t mt_llama_layers(const mt_llama *model) { return model ? model->n_layers : 0; }

void mt_llama_free(mt_llama *model)
{
    if (!model)
        return;
    for (int64_t i = 0; i < model->n_layers; i++) {
        block *b = &model->blocks[i];
        mt_layer *all[6] = {b->attn_norm, b->attn, b->mlp_norm, b->gate, b->up, b->down};
        for (int k = 0; k < 6; k++)
            mt_layer_free(all[k]);
    }
    mt_layer_free(model->embed);
    mt_layer_free(model->norm);
    mt_layer_free(model->head);
    mt_dealloc(model->cache);
    mt_dealloc(model->blocks);
    mt_dealloc(model);
}
