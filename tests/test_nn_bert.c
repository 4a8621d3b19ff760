/* test_nn_bert.c — Hugging Face's BertModel (and sentence-transformers'
 * mean pooling, all-MiniLM's head) ported as a graph by its state_dict
 * names, against PyTorch 1.13 (reference/make_bert_refs.py writes BertModel
 * out as modeling_bert.py computes it): a right-padded batch with its
 * attention_mask; last_hidden_state at every position, pooler_output and
 * the masked mean. */
#include "graph_build.h"

enum { E = 32, HEADS = 4, LAYERS = 2, LEN = 8 };

/* Table `name` rows [0, rows) viewed as [1, dims…]: a graph constant. */
static int table_rows(mt_graph *g, const mt_safetensors *st, const char *name, int64_t rows,
                      int rank, const int64_t *shape)
{
    mt_tensor *t = ref_get(st, name), *r = NULL, *v = NULL;
    int id;
    assert_ok(mt_narrow(t, 0, 0, rows, &r));
    assert_ok(mt_view(r, rank, shape, &v));
    assert_ok(mt_graph_constant(g, name, v, &id));
    mt_tensor_free(v);
    mt_tensor_free(r);
    mt_tensor_free(t);
    return id;
}

/* BertModel on (input_ids, attention_mask) [N, LEN] (I64) -> outputs
 * last_hidden_state [N, LEN, E], pooler_output [N, E], mean [N, E]. */
static mt_graph *bert_graph(const mt_safetensors *st)
{
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_norm_options ln = {.eps = 1e-12f};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int ids, mask;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "input_ids", MT_DTYPE_I64, 1, (int64_t[]){LEN}, &ids));
    assert_ok(mt_graph_input(g, "attention_mask", MT_DTYPE_I64, 1, (int64_t[]){LEN}, &mask));
    int h = node(g, "word", mt_embedding_load(&sd, "embeddings.word_embeddings", &l), &l, 1,
                 &ids);
    /* token_type_ids all 0: row 0, broadcast over the steps; positions 0.. */
    int type = table_rows(g, st, "embeddings.token_type_embeddings.weight", 1, 3,
                          (int64_t[]){1, 1, E});
    int pos = table_rows(g, st, "embeddings.position_embeddings.weight", LEN, 3,
                         (int64_t[]){1, LEN, E});
    h = node(g, "+ type", mt_add_new(&l), &l, 2, (int[]){h, type});
    h = node(g, "+ position", mt_add_new(&l), &l, 2, (int[]){h, pos});
    h = node(g, "embeddings.LayerNorm", mt_layer_norm_load(&sd, "embeddings.LayerNorm", &ln, &l),
             &l, 1, &h);
    for (int i = 0; i < LAYERS; i++) {
        char p[32];
        snprintf(p, sizeof p, "encoder.layer.%d", i);
        /* self.query … output.dense; attention_mask 1 = attend: KEEP */
        if (mt_multihead_attention_load(&sd, at(p, "attention"), HEADS, false, &l))
            fail_msg("%s", mt_last_error());
        assert_ok(mt_multihead_attention_masks_set(
            l, &(mt_attention_masks){.key_padding = MT_MASK_MODE_KEEP}));
        int a = node(g, at(p, "attention"), MT_OK, &l, 2, (int[]){h, mask});
        h = node(g, at(p, "+ attention"), mt_add_new(&l), &l, 2, (int[]){a, h});
        h = node(g, at(p, "attention.output.LayerNorm"),
                 mt_layer_norm_load(&sd, at(p, "attention.output.LayerNorm"), &ln, &l), &l, 1,
                 &h);
        int m = node(g, at(p, "intermediate.dense"),
                     mt_linear_load(&sd, at(p, "intermediate.dense"),
                                    &(mt_linear_options){.act = MT_ACTIVATION_GELU}, &l),
                     &l, 1, &h);
        m = node(g, at(p, "output.dense"), mt_linear_load(&sd, at(p, "output.dense"), NULL, &l),
                 &l, 1, &m);
        h = node(g, at(p, "+ output"), mt_add_new(&l), &l, 2, (int[]){m, h});
        h = node(g, at(p, "output.LayerNorm"),
                 mt_layer_norm_load(&sd, at(p, "output.LayerNorm"), &ln, &l), &l, 1, &h);
    }
    int cls = node(g, "h[:, 0]", mt_first_step_new(MT_MASK_MODE_NONE, &l), &l, 1, &h);
    int pooled = node(g, "pooler.dense",
                      mt_linear_load(&sd, "pooler.dense",
                                     &(mt_linear_options){.act = MT_ACTIVATION_TANH}, &l),
                      &l, 1, &cls);
    int mean = node(g, "mean", mt_global_avg_pool1d_new(MT_MASK_MODE_KEEP, &l), &l, 2,
                    (int[]){h, mask});
    assert_ok(mt_graph_output(g, h));
    assert_ok(mt_graph_output(g, pooled));
    assert_ok(mt_graph_output(g, mean));
    return g;
}

static void bert_matches_pytorch(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("bert.safetensors"), *io = ref_open("bert_io.safetensors");
    mt_tensor *ids = ref_get(io, "input_ids"), *mask = ref_get(io, "attention_mask");
    mt_graph *g = bert_graph(st);
    const mt_tensor *y[3] = {0};
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){ids, mask}, 3, y));
    ref_assert_matches(io, "last_hidden_state", y[0], 2e-5, 1e-5);
    ref_assert_matches(io, "pooler_output", y[1], 2e-5, 1e-5);
    ref_assert_matches(io, "mean", y[2], 2e-5, 1e-5);
    mt_graph_free(g);
    mt_tensor_free(mask);
    mt_tensor_free(ids);
    mt_safetensors_close(io);
    mt_safetensors_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bert_matches_pytorch),
    };
    return cmocka_run_group_tests_name("nn_bert", tests, NULL, NULL);
}
