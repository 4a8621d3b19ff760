/* test_nn_tutorials.c — models as the official PyTorch and Keras tutorials
 * write them, ported by their checkpoint names the way the docs tell a
 * user to (tests/reference/make_tutorial_refs.py and
 * make_keras_tutorial_refs.py write the references):
 *   - PyTorch's "Language modeling with nn.Transformer": Embedding ·
 *     sqrt(d_model) + the PositionalEncoding's `pe` buffer (in the
 *     state_dict, [max_len, 1, d]: its first L rows as a graph constant
 *     [1, L, d]), a two-layer TransformerEncoder under the tutorial's
 *     square subsequent mask (causal), the Linear decoder;
 *   - PyTorch's seq2seq translation tutorial: the GRU encoder and the
 *     AttnDecoderRNN with Bahdanau attention run one step per graph pass,
 *     its greedy token and new hidden state fed back for 6 steps;
 *   - Keras' "Text classification with Transformer": TokenAndPosition-
 *     Embedding (the position table a graph constant), TransformerBlock,
 *     GlobalAveragePooling1D, Dense head.
 *   - Keras' English-to-Spanish translation Transformer: padded source
 *     and target ids, their masks (PositionalEmbedding.compute_mask) given
 *     to the attentions as Keras 3 applies them — it ignores the
 *     cross-attention's query_mask= (docs/porting-a-keras-model.md) —
 *     checked at every step, padded ones included.
 * Each output must match the framework's within 1e-5 + 1e-4·|ref|. */
#include <math.h>
#include <string.h>
#include "graph_build.h"

static alloc_probe counter;   /* every allocation, installed by main */

/* ---- PyTorch: TransformerModel (ntoken 50, d_model 16, 2 heads, d_hid 32,
 * 2 layers) on ids [N, L] ---------------------------------------------------- */

enum { LM_VOCAB = 50, LM_D = 16, LM_HEADS = 2, LM_L = 10 };

/* nn.TransformerEncoderLayer "p" (post-norm, ReLU, eps 1e-5) on h [N,L,E],
 * with the causal mask of generate_square_subsequent_mask */
static int encoder_layer(mt_graph *g, const mt_state_dict *sd, const char *p, int h)
{
    mt_layer *l = NULL;
    const mt_linear_options relu = {.act = MT_ACTIVATION_RELU};
    int a = node(g, join(p, ".self_attn"),
                 mt_multihead_attention_load(sd, join(p, ".self_attn"), LM_HEADS, true, &l), &l,
                 1, &h);
    h = node(g, join(p, ".add1"), mt_add_new(&l), &l, 2, (int[]){h, a});
    h = node(g, join(p, ".norm1"), mt_layer_norm_load(sd, join(p, ".norm1"), NULL, &l), &l, 1, &h);
    int f = node(g, join(p, ".linear1"), mt_linear_load(sd, join(p, ".linear1"), &relu, &l), &l, 1,
                 &h);
    f = node(g, join(p, ".linear2"), mt_linear_load(sd, join(p, ".linear2"), NULL, &l), &l, 1, &f);
    h = node(g, join(p, ".add2"), mt_add_new(&l), &l, 2, (int[]){h, f});
    return node(g, join(p, ".norm2"), mt_layer_norm_load(sd, join(p, ".norm2"), NULL, &l), &l, 1,
                &h);
}

static mt_graph *transformer_lm(const mt_safetensors *st)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    mt_tensor *pe = NULL, *rows = NULL, *batch_first = NULL;
    int h, pos;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "src", MT_DTYPE_I64, 1, (int64_t[]){LM_L}, &h));
    h = node(g, "encoder", mt_embedding_load(&sd, "encoder", &l), &l, 1, &h);
    h = node(g, "* sqrt(d_model)", mt_rescaling_new(sqrtf((float)LM_D), 0, &l), &l, 1, &h);
    /* self.pe[:x.size(0)]: [max_len, 1, d] -> rows [L, 1, d] -> [1, L, d]
     * (views; the graph copies the constant) */
    assert_ok(mt_safetensors_get(st, "pos_encoder.pe", &pe));
    assert_ok(mt_narrow(pe, 0, 0, LM_L, &rows));
    assert_ok(mt_permute(rows, (int[]){1, 0, 2}, &batch_first));
    assert_ok(mt_graph_constant(g, "pos_encoder.pe", batch_first, &pos));
    mt_tensor_free(batch_first);
    mt_tensor_free(rows);
    mt_tensor_free(pe);
    h = node(g, "pos_encoder", mt_add_new(&l), &l, 2, (int[]){h, pos});
    h = encoder_layer(g, &sd, "transformer_encoder.layers.0", h);
    h = encoder_layer(g, &sd, "transformer_encoder.layers.1", h);
    h = node(g, "decoder", mt_linear_load(&sd, "decoder", NULL, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void transformer_lm_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("tutorial_lm.safetensors");
    mt_safetensors *io = ref_open("tutorial_lm_io.safetensors");
    mt_tensor *src = ref_get(io, "src"), *want = ref_get(io, "logits"), *one = NULL;
    mt_graph *g = transformer_lm(st);
    const mt_tensor *y = NULL;
    for (int pass = 0; pass < 2; pass++) {   /* the second without the heap */
        long before = counter.allocations;
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){src}, 1, &y));
        if (pass)
            assert_int_equal(counter.allocations, before);
        ref_assert_matches(io, "logits", y, 1e-5, 1e-4);
    }
    assert_ok(mt_narrow(src, 0, 2, 1, &one));   /* the third sequence alone */
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){one}, 1, &y));
    assert_close((const float *)y->data, (const float *)want->data + 2 * LM_L * LM_VOCAB,
                 LM_L * LM_VOCAB, 1e-5, 1e-4);
    mt_graph_free(g);
    mt_tensor_free(one);
    mt_tensor_free(want);
    mt_tensor_free(src);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* ---- PyTorch: EncoderRNN + AttnDecoderRNN (hidden 16, 9 source tokens,
 * 25 target words) ------------------------------------------------------------- */

enum { S2S_H = 16, S2S_L = 9, S2S_V = 25, S2S_STEPS = 6 };

/* ids [N, L] -> (encoder_outputs [N, L, H], encoder_hidden [N, H]) */
static mt_graph *s2s_encoder(const mt_state_dict *sd)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h, out, hidden;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){S2S_L}, &h));
    h = node(g, "encoder.embedding", mt_embedding_load(sd, "encoder.embedding", &l), &l, 1, &h);
    out = node(g, "encoder.gru", mt_gru_load(sd, "encoder.gru", NULL, &l), &l, 1, &h);
    /* a one-layer GRU's hidden is its last output */
    hidden = node(g, "hidden", mt_last_step_new(MT_MASK_MODE_NONE, &l), &l, 1, &out);
    assert_ok(mt_graph_output(g, out));
    assert_ok(mt_graph_output(g, hidden));
    return g;
}

/* forward_step: (input [N, 1] ids, hidden [N, H], encoder_outputs [N, L, H])
 * -> (log_softmax(output) [N, V], new hidden [N, H]) */
static mt_graph *s2s_decoder_step(const mt_state_dict *sd)
{
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int input, hidden, keys;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "input", MT_DTYPE_I64, 1, (int64_t[]){1}, &input));
    assert_ok(mt_graph_input(g, "hidden", MT_DTYPE_F32, 1, (int64_t[]){S2S_H}, &hidden));
    assert_ok(mt_graph_input(g, "encoder_outputs", MT_DTYPE_F32, 2,
                             (int64_t[]){S2S_L, S2S_H}, &keys));
    int emb = node(g, "embedding", mt_embedding_load(sd, "decoder.embedding", &l), &l, 1,
                   &input);                                          /* [N, 1, H] */
    /* query = hidden.permute(1, 0, 2): [N, 1, H] */
    int q = node(g, "query", mt_reshape_new(2, (int64_t[]){1, S2S_H}, &l), &l, 1, &hidden);
    q = node(g, "Wa", mt_linear_load(sd, "decoder.attention.Wa", NULL, &l), &l, 1, &q);
    int k = node(g, "Ua", mt_linear_load(sd, "decoder.attention.Ua", NULL, &l), &l, 1, &keys);
    int s = node(g, "Wa + Ua", mt_add_new(&l), &l, 2, (int[]){q, k});   /* [N, L, H] */
    s = node(g, "tanh", mt_activation_layer_new(MT_ACTIVATION_TANH, &l), &l, 1, &s);
    s = node(g, "Va", mt_linear_load(sd, "decoder.attention.Va", NULL, &l), &l, 1, &s);
    /* scores [N, L, 1]: the softmax over L, then bmm(weights [N,1,L], keys)
     * is the sum over L of weights times keys: Dot over dim 1 of both */
    int w = node(g, "weights", mt_softmax_new(1, &l), &l, 1, &s);
    int ctx = node(g, "bmm", mt_dot_new(1, 1, false, &l), &l, 2, (int[]){w, keys});
    int x = node(g, "cat", mt_concat_new(-1, &l), &l, 2, (int[]){emb, ctx});  /* [N,1,2H] */
    int h = node(g, "gru",
                 mt_gru_load(sd, "decoder.gru",
                             &(mt_rnn_options){.output = MT_RNN_RETURN_FINAL_STATE}, &l),
                 &l, 2, (int[]){x, hidden});
    int o = node(g, "out", mt_linear_load(sd, "decoder.out", NULL, &l), &l, 1, &h);
    o = node(g, "log_softmax", mt_log_softmax_new(-1, &l), &l, 1, &o);
    assert_ok(mt_graph_output(g, o));
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void seq2seq_attention_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("tutorial_s2s.safetensors");
    mt_safetensors *io = ref_open("tutorial_s2s_io.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *ids = ref_get(io, "ids"), *want = ref_get(io, "logp");
    const int64_t n = ids->shape[0];
    mt_graph *enc = s2s_encoder(&sd), *dec = s2s_decoder_step(&sd);
    const mt_tensor *e[2], *d[2];
    assert_ok(mt_graph_forward(enc, 1, (const mt_tensor *[]){ids}, 2, e));
    ref_assert_matches(io, "enc_out", e[0], 1e-5, 1e-4);
    /* the decoder's inputs may not lie in a graph's workspace: copies */
    mt_tensor *hidden = NULL, *keys = NULL, *input = NULL, *logp = NULL;
    assert_ok(mt_tensor_contiguous(e[1], &hidden));
    assert_ok(mt_tensor_contiguous(e[0], &keys));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 2, (int64_t[]){n, 1}, &input));   /* SOS */
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){n, S2S_STEPS, S2S_V}, &logp));
    for (int t = 0; t < S2S_STEPS; t++) {
        assert_ok(mt_graph_forward(dec, 3, (const mt_tensor *[]){input, hidden, keys}, 2, d));
        for (int64_t i = 0; i < n; i++) {
            const float *row = (const float *)d[0]->data + i * S2S_V;
            int64_t best = 0;   /* topk(1): the first of equal maxima */
            for (int64_t v = 0; v < S2S_V; v++)
                best = row[v] > row[best] ? v : best;
            memcpy((float *)logp->data + (i * S2S_STEPS + t) * S2S_V, row,
                   S2S_V * sizeof(float));
            ((int64_t *)input->data)[i] = best;
        }
        assert_ok(mt_tensor_copy_into(d[1], hidden));
    }
    assert_close((const float *)logp->data, (const float *)want->data,
                 (size_t)(n * S2S_STEPS * S2S_V), 1e-5, 1e-4);
    mt_graph_free(dec);
    mt_graph_free(enc);
    mt_tensor_free(logp);
    mt_tensor_free(input);
    mt_tensor_free(keys);
    mt_tensor_free(hidden);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* ---- Keras: text classification with Transformer (maxlen 12, embed 8,
 * 2 heads, ff 16) on ids [N, 12] -------------------------------------------------- */

enum { KT_LEN = 12, KT_E = 8 };

static mt_graph *keras_text_transformer(const mt_safetensors *st)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    const char *b = "transformer_block/";
    const mt_norm_options ln = {.eps = 1e-6f};
    const mt_linear_options relu = {.act = MT_ACTIVATION_RELU};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    mt_tensor *table = NULL, *rows = NULL;
    int h, pos;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I32, 1, (int64_t[]){KT_LEN}, &h));
    h = node(g, "token_emb",
             mt_embedding_load(&sd, "token_and_position_embedding/embedding", &l), &l, 1, &h);
    /* pos_emb(arange(maxlen)) is the whole table [maxlen, E]: [1, L, E] */
    assert_ok(mt_safetensors_get(st, "token_and_position_embedding/embedding_1/embeddings",
                                 &table));
    assert_ok(mt_view(table, 3, (int64_t[]){1, KT_LEN, KT_E}, &rows));
    assert_ok(mt_graph_constant(g, "pos_emb", rows, &pos));
    mt_tensor_free(rows);
    mt_tensor_free(table);
    h = node(g, "x + positions", mt_add_new(&l), &l, 2, (int[]){h, pos});
    int a = node(g, "att",
                 mt_multihead_attention_load(&sd, join(b, "multi_head_attention"), 2, false, &l),
                 &l, 1, &h);
    h = node(g, "inputs + attn", mt_add_new(&l), &l, 2, (int[]){h, a});
    h = node(g, "layernorm1", mt_layer_norm_load(&sd, join(b, "layer_normalization"), &ln, &l),
             &l, 1, &h);
    int f = node(g, "ffn.0", mt_linear_load(&sd, join(b, "sequential/dense"), &relu, &l), &l,
                 1, &h);
    f = node(g, "ffn.1", mt_linear_load(&sd, join(b, "sequential/dense_1"), NULL, &l), &l, 1, &f);
    h = node(g, "out1 + ffn", mt_add_new(&l), &l, 2, (int[]){h, f});
    h = node(g, "layernorm2", mt_layer_norm_load(&sd, join(b, "layer_normalization_1"), &ln, &l),
             &l, 1, &h);
    h = node(g, "pool", mt_global_avg_pool1d_new(MT_MASK_MODE_NONE, &l), &l, 1, &h);
    h = node(g, "dense_2", mt_linear_load(&sd, "dense_2", &relu, &l), &l, 1, &h);
    h = node(g, "dense_3", mt_linear_load(&sd, "dense_3", NULL, &l), &l, 1, &h);
    h = node(g, "softmax", mt_softmax_new(-1, &l), &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void keras_text_transformer_matches_keras(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("keras_text_transformer.safetensors");
    mt_safetensors *io = ref_open("keras_text_transformer_io.safetensors");
    mt_tensor *ids = ref_get(io, "ids");
    mt_graph *g = keras_text_transformer(st);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){ids}, 1, &y));
    ref_assert_matches(io, "y", y, 1e-5, 1e-4);
    mt_graph_free(g);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* ---- Keras: the translation Transformer (sequence_length 8, vocab 30,
 * embed 8, latent 16, 2 heads) on (enc, dec) ids [N, 8] ------------------------- */

enum { NMT_LEN = 8, NMT_E = 8 };

/* PositionalEmbedding "p" (tokens `tok`, positions `pos`) on ids */
static int positional_embedding(mt_graph *g, const mt_safetensors *st, const mt_state_dict *sd,
                                const char *p, const char *tok, const char *pos, int ids)
{
    char name[160];
    mt_layer *l = NULL;
    mt_tensor *table = NULL, *rows = NULL;
    int id;
    snprintf(name, sizeof name, "%s/%s", p, tok);
    int h = node(g, name, mt_embedding_load(sd, name, &l), &l, 1, &ids);
    snprintf(name, sizeof name, "%s/%s/embeddings", p, pos);
    assert_ok(mt_safetensors_get(st, name, &table));
    assert_ok(mt_view(table, 3, (int64_t[]){1, NMT_LEN, NMT_E}, &rows));
    assert_ok(mt_graph_constant(g, name, rows, &id));
    mt_tensor_free(rows);
    mt_tensor_free(table);
    return node(g, join(p, " + positions"), mt_add_new(&l), &l, 2, (int[]){h, id});
}

/* x + attention, LayerNormalization "ln" */
static int add_norm(mt_graph *g, const mt_state_dict *sd, const char *ln, int x, int a)
{
    mt_layer *l = NULL;
    int h = node(g, join(ln, " input"), mt_add_new(&l), &l, 2, (int[]){x, a});
    return node(g, ln, mt_layer_norm_load(sd, ln, NULL, &l), &l, 1, &h);
}

/* keras.Sequential([Dense(relu), Dense]) "p/dense_<a>", "p/dense_<b>" */
static int dense_proj(mt_graph *g, const mt_state_dict *sd, const char *p, int a, int b, int h)
{
    char name[160];
    mt_layer *l = NULL;
    snprintf(name, sizeof name, "%s/dense_%d", p, a);
    h = node(g, name, mt_linear_load(sd, name, &(mt_linear_options){.act = MT_ACTIVATION_RELU},
                                     &l), &l, 1, &h);
    snprintf(name, sizeof name, "%s/dense_%d", p, b);
    return node(g, name, mt_linear_load(sd, name, NULL, &l), &l, 1, &h);
}

/* MultiHeadAttention "p" on inputs[0..n-1] (query [, key, value], masks) */
static int attention(mt_graph *g, const mt_state_dict *sd, const char *p, bool causal,
                     mt_attention_masks masks, int n, const int *inputs)
{
    mt_layer *l = NULL;
    mt_status s = mt_multihead_attention_load(sd, p, 2, causal, &l);
    if (!s)
        s = mt_multihead_attention_masks_set(l, &masks);
    if (s)
        mt_layer_free(l);
    return node(g, p, s, &l, n, inputs);
}

static mt_graph *keras_translation_transformer(const mt_safetensors *st)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    const char *te = "transformer_encoder", *td = "transformer_decoder";
    const mt_attention_masks keys_and_queries = {.key_padding = MT_MASK_MODE_KEEP,
                                                 .query_padding = MT_MASK_MODE_KEEP};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int enc_ids, dec_ids;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "enc", MT_DTYPE_I32, 1, (int64_t[]){NMT_LEN}, &enc_ids));
    assert_ok(mt_graph_input(g, "dec", MT_DTYPE_I32, 1, (int64_t[]){NMT_LEN}, &dec_ids));
    /* compute_mask: ids != 0 */
    int enc_mask = node(g, "enc_mask", mt_padding_mask_new(0, MT_MASK_MODE_KEEP, &l), &l, 1,
                        &enc_ids);
    int dec_mask = node(g, "dec_mask", mt_padding_mask_new(0, MT_MASK_MODE_KEEP, &l), &l, 1,
                        &dec_ids);
    /* encoder: attention_mask = the key mask; Keras adds the query's and
     * the value's masks (both the source's) */
    int e = positional_embedding(g, st, &sd, "positional_embedding", "embedding_2",
                                 "embedding_3", enc_ids);
    int a = attention(g, &sd, join(te, "/multi_head_attention_1"), false, keys_and_queries, 3,
                      (int[]){e, enc_mask, enc_mask});
    e = add_norm(g, &sd, join(te, "/layer_normalization_2"), e, a);
    e = add_norm(g, &sd, join(te, "/layer_normalization_3"), e,
                 dense_proj(g, &sd, join(te, "/sequential_1"), 4, 5, e));
    /* decoder: causal self-attention with the target's masks */
    int d = positional_embedding(g, st, &sd, "positional_embedding_1", "embedding_4",
                                 "embedding_5", dec_ids);
    a = attention(g, &sd, join(td, "/multi_head_attention_2"), true, keys_and_queries, 3,
                  (int[]){d, dec_mask, dec_mask});
    d = add_norm(g, &sd, join(td, "/layer_normalization_4"), d, a);
    /* cross-attention: out_1 carries no Keras mask, so Keras drops its
     * query_mask= argument: the source's key mask only */
    a = attention(g, &sd, join(td, "/multi_head_attention_3"), false,
                  (mt_attention_masks){.key_padding = MT_MASK_MODE_KEEP}, 4,
                  (int[]){d, e, e, enc_mask});
    d = add_norm(g, &sd, join(td, "/layer_normalization_5"), d, a);
    d = add_norm(g, &sd, join(td, "/layer_normalization_6"), d,
                 dense_proj(g, &sd, join(td, "/sequential_2"), 6, 7, d));
    d = node(g, "dense_8", mt_linear_load(&sd, "dense_8", NULL, &l), &l, 1, &d);
    d = node(g, "softmax", mt_softmax_new(-1, &l), &l, 1, &d);
    assert_ok(mt_graph_output(g, d));
    return g;
}

static void keras_translation_transformer_matches_keras(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("keras_nmt_transformer.safetensors");
    mt_safetensors *io = ref_open("keras_nmt_transformer_io.safetensors");
    mt_tensor *enc = ref_get(io, "enc"), *dec = ref_get(io, "dec");
    mt_graph *g = keras_translation_transformer(st);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){enc, dec}, 1, &y));
    ref_assert_matches(io, "y", y, 1e-5, 1e-4);
    mt_graph_free(g);
    mt_tensor_free(dec);
    mt_tensor_free(enc);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transformer_lm_matches_pytorch),
        cmocka_unit_test(seq2seq_attention_matches_pytorch),
        cmocka_unit_test(keras_text_transformer_matches_keras),
        cmocka_unit_test(keras_translation_transformer_matches_keras),
    };
    return cmocka_run_group_tests_name("nn_tutorials", tests, NULL, NULL);
}
