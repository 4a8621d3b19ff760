/* test_nn_gpt2.c — Hugging Face's GPT-2 ported as a graph by its
 * state_dict names, against PyTorch 1.13 (reference/make_gpt2_refs.py
 * writes GPT2LMHeadModel out as modeling_gpt2.py computes it):
 *   mt_multihead_attention_load reading attn.c_attn and attn.c_proj (Conv1D
 *     weights, (in, out)), the MLP's Conv1Ds as Linears with
 *     MT_LAYOUT_IN_OUT and gelu_new fused, wpe[:L] as a graph constant, the
 *     head tied to wte: logits at every position of 3 sequences;
 *   a shorter prompt (wpe's first rows), which gives those positions'
 *     logits, since each attends only to what came before;
 *   the loader's shape check and its allocation failures. */
#include "graph_build.h"

static alloc_probe counter;   /* every allocation, installed by main */

enum { E = 32, HEADS = 4, LAYERS = 2, VOCAB = 50, LONG = 9 };

/* GPT2LMHeadModel on ids [N, len] (I64) -> logits [N, len, vocab]. */
static mt_graph *gpt2_graph(const mt_safetensors *st, int64_t len)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_norm_options ln = {.eps = 1e-5f};
    const mt_linear_options c_fc = {.layout = MT_LAYOUT_IN_OUT,
                                    .act = MT_ACTIVATION_GELU_TANH};
    const mt_linear_options conv1d = {.layout = MT_LAYOUT_IN_OUT};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int h, pos;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){len}, &h));
    h = node(g, "wte", mt_embedding_load(&sd, "transformer.wte", &l), &l, 1, &h);
    /* wpe(arange(len)): the table's first len rows as [1, len, E] */
    mt_tensor *wpe = ref_get(st, "transformer.wpe.weight"), *rows = NULL, *first = NULL;
    assert_ok(mt_narrow(wpe, 0, 0, len, &rows));
    assert_ok(mt_view(rows, 3, (int64_t[]){1, len, E}, &first));
    assert_ok(mt_graph_constant(g, "wpe", first, &pos));
    mt_tensor_free(first);
    mt_tensor_free(rows);
    mt_tensor_free(wpe);
    h = node(g, "wte + wpe", mt_add_new(&l), &l, 2, (int[]){h, pos});
    for (int i = 0; i < LAYERS; i++) {
        char p[32];
        snprintf(p, sizeof p, "transformer.h.%d", i);
        int a = node(g, at(p, "ln_1"), mt_layer_norm_load(&sd, at(p, "ln_1"), &ln, &l), &l, 1,
                     &h);
        a = node(g, at(p, "attn"), mt_multihead_attention_load(&sd, at(p, "attn"), HEADS, true,
                                                               &l), &l, 1, &a);
        h = node(g, at(p, "+ attn"), mt_add_new(&l), &l, 2, (int[]){h, a});
        int m = node(g, at(p, "ln_2"), mt_layer_norm_load(&sd, at(p, "ln_2"), &ln, &l), &l, 1,
                     &h);
        m = node(g, at(p, "mlp.c_fc"), mt_linear_load(&sd, at(p, "mlp.c_fc"), &c_fc, &l), &l, 1,
                 &m);
        m = node(g, at(p, "mlp.c_proj"), mt_linear_load(&sd, at(p, "mlp.c_proj"), &conv1d, &l),
                 &l, 1, &m);
        h = node(g, at(p, "+ mlp"), mt_add_new(&l), &l, 2, (int[]){h, m});
    }
    h = node(g, "ln_f", mt_layer_norm_load(&sd, "transformer.ln_f", &ln, &l), &l, 1, &h);
    /* lm_head tied: wte [vocab, E] read as a Linear's (out, in) weight */
    h = node(g, "lm_head", mt_linear_load(&sd, "transformer.wte",
                                          &(mt_linear_options){.layout = MT_LAYOUT_OUT_IN}, &l),
             &l, 1, &h);
    assert_ok(mt_graph_output(g, h));
    return g;
}

static void gpt2_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors"), *io = ref_open("gpt2_io.safetensors");
    mt_tensor *ids = ref_get(io, "ids");
    mt_graph *g = gpt2_graph(st, LONG);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){ids}, 1, &y));
    ref_assert_matches(io, "logits", y, 5e-5, 1e-5);
    mt_graph_free(g);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* The first 5 tokens alone: their logits are the full run's first 5
 * positions (causal attention, wpe's first rows). */
static void shorter_prompt_matches(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors"), *io = ref_open("gpt2_io.safetensors");
    mt_tensor *ids = ref_get(io, "ids"), *want = ref_get(io, "logits"), *prompt = NULL;
    assert_ok(mt_narrow(ids, 1, 0, 5, &prompt));
    mt_graph *g = gpt2_graph(st, 5);
    const mt_tensor *y = NULL;
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *[]){prompt}, 1, &y));
    assert_int_equal(y->shape[1], 5);
    const float *got = y->data, *all = want->data;
    for (int64_t n = 0; n < 3; n++)
        for (int64_t t = 0; t < 5; t++)
            assert_close(got + (n * 5 + t) * VOCAB, all + (n * LONG + t) * VOCAB, VOCAB, 5e-5,
                         1e-5);
    mt_graph_free(g);
    mt_tensor_free(prompt);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

/* GPT-2's second attention from the state_dict ctx, for
 * assert_oom_makes_nothing */
static mt_status make_attention(const void *ctx, void **made)
{
    mt_layer *l = NULL;
    mt_status s = mt_multihead_attention_load(ctx, "transformer.h.1.attn", HEADS, true, &l);
    *made = l;
    return s;
}

static void release_layer(void *l) { mt_layer_free(l); }

/* c_attn and c_proj that do not fit [E, 3E] and [E, E] are refused with
 * the file's shapes; a failed allocation anywhere in the load is a clear
 * failure with nothing made and nothing leaked. */
static void loader_errors(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("gpt2.safetensors"), *io = ref_open("gpt2_io.safetensors");
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_multihead_attention_load(&(mt_state_dict){io, MT_FRAMEWORK_PYTORCH},
                                             "bad.attn", HEADS, true, &l), MT_ERR_SHAPE,
                 "multihead_attention bad.attn: bad.attn.c_attn.weight [32,64] and "
                 "bad.attn.c_proj.weight [32,32], expected [E, 3E] and [E, E] (GPT-2's Conv1D "
                 "weights, (in, out))");
    assert_null(l);
    /* 5 heads do not divide E = 32: MultiheadAttention's own check */
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    assert_fails(mt_multihead_attention_load(&sd, "transformer.h.0.attn", 5, true, &l),
                 MT_ERR_INVALID_ARGUMENT, "5 heads do not divide E = 32");
    assert_oom_makes_nothing(make_attention, release_layer, &sd, 100);
    probe_install(&counter, -1);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

int main(void)
{
    probe_install(&counter, -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpt2_matches_pytorch),
        cmocka_unit_test(shorter_prompt_matches),
        cmocka_unit_test(loader_errors),
    };
    return cmocka_run_group_tests_name("nn_gpt2", tests, NULL, NULL);
}
