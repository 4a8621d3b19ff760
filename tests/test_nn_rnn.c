/* test_nn_rnn.c — LSTM, GRU and RNN layers (rnn.h) against PyTorch's and
 * Keras' own outputs (reference/make_rnn_refs.py -> reference/rnn_torch.
 * safetensors, rnn_keras.safetensors): 1 and 2 layers, bidirectional,
 * sequence / final state / last step, batch_first=False data as a view, batch 1
 * and 3, a non-contiguous input, no bias, F16 weights, Keras' GRU with
 * reset_after True and False, Bidirectional, PyTorch's cells looped, a
 * stack in a Sequential, an Embedding -> LSTM -> Linear character model
 * (PyTorch) and an Embedding -> Bidirectional(GRU) -> SimpleRNN -> Dense
 * classifier (Keras) in graphs; edge cases (reference/make_rnn_edge_refs.py:
 * H = 1, L = 1, a transposed input, a ReLU stack from given states, a Keras
 * Bidirectional GRU with reset_after=False); and the errors (missing tensors, wrong shapes, proj_size, bad
 * options, bad inputs). */
#include "test_util.h"

/* y equals the reference `name` in shape and values (rows r0 … r0+rows-1
 * of its dim 0 when rows > 0). */
static void assert_rows(const mt_safetensors *st, const char *name, const mt_tensor *y,
                        int64_t r0, int64_t rows)
{
    mt_tensor *want = ref_get(st, name);
    assert_int_equal(y->rank, want->rank);
    int64_t row = mt_tensor_numel(want) / want->shape[0];
    assert_int_equal(y->shape[0], rows ? rows : want->shape[0]);
    for (int i = 1; i < y->rank; i++)
        assert_int_equal(y->shape[i], want->shape[i]);
    assert_true(mt_tensor_is_contiguous(y));
    assert_close((const float *)y->data, (const float *)want->data + r0 * row,
                 (size_t)mt_tensor_numel(y), 1e-5, 1e-4);
    mt_tensor_free(want);
}

static void assert_matches(const mt_safetensors *st, const char *name, const mt_tensor *y)
{
    assert_rows(st, name, y, 0, 0);
}

typedef mt_status (*loader_fn)(const mt_state_dict *, const char *, const mt_rnn_options *,
                               mt_layer **);

/* Layer `prefix` of sd with options o (output replaced by each of the
 * three) run on x_<prefix> alone, against y_<prefix>_seq, _final and
 * (if last) _last. */
static void check_case(const mt_state_dict *sd, loader_fn load, const char *prefix,
                       mt_rnn_options o, bool last)
{
    static const char *const what[3] = {"seq", "final", "last"};
    static const mt_rnn_return outputs[3] = {MT_RNN_RETURN_SEQUENCES,
                                             MT_RNN_RETURN_FINAL_STATE,
                                             MT_RNN_RETURN_LAST_STEP};
    char name[128];
    snprintf(name, sizeof name, "x_%s", prefix);
    mt_tensor *x = ref_get(sd->file, name);
    for (int i = 0; i < (last ? 3 : 2); i++) {
        mt_layer *l = NULL;
        mt_tensor *y = NULL;
        o.output = outputs[i];
        assert_ok(load(sd, prefix, &o, &l));
        assert_ok(mt_layer_forward(l, x, &y));
        snprintf(name, sizeof name, "y_%s_%s", prefix, what[i]);
        assert_matches(sd->file, name, y);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    mt_tensor_free(x);
}

/* ---- PyTorch ----------------------------------------------------------------------- */

static void torch_lstm(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    check_case(&sd, mt_lstm_load, "lstm1", (mt_rnn_options){0}, true);
    check_case(&sd, mt_lstm_load, "lstm2bi", (mt_rnn_options){0}, true);
    check_case(&sd, mt_lstm_load, "lstm3", (mt_rnn_options){0}, true);
    check_case(&sd, mt_lstm_load, "lstm_nobias", (mt_rnn_options){0}, true);
    check_case(&sd, mt_lstm_load, "lstm_f16", (mt_rnn_options){0}, true);
    // the options the file implies, given: the same
    check_case(&sd, mt_lstm_load, "lstm2bi",
               (mt_rnn_options){.input_size = 3, .hidden_size = 4, .num_layers = 2,
                                .bidirectional = true}, true);
    mt_layer *l;
    mt_layer_info info;
    assert_ok(mt_lstm_load(&sd, "lstm2bi", NULL, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.kind, MT_LAYER_LSTM);
    assert_int_equal(info.in_features, 3);
    assert_int_equal(info.out_features, 8);
    assert_true(info.has_bias);
    assert_string_equal(info.name, "lstm lstm2bi");
    mt_layer_free(l);
    mt_safetensors_close(st);
}

/* Batch 1 (row 0 alone), and the batch as a non-contiguous view (the
 * [F,L,N]-contiguous copy permuted back). */
static void torch_batch_one_and_strided(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_lstm2bi"), *row, *p, *pc, *strided, *y;
    mt_layer *l;
    assert_ok(mt_lstm_load(&sd, "lstm2bi", NULL, &l));
    assert_ok(mt_narrow(x, 0, 0, 1, &row));
    assert_ok(mt_layer_forward(l, row, &y));
    assert_rows(st, "y_lstm2bi_seq", y, 0, 1);
    mt_tensor_free(y);
    assert_ok(mt_narrow(x, 0, 2, 1, &p));
    assert_ok(mt_layer_forward(l, p, &y));
    assert_rows(st, "y_lstm2bi_seq", y, 2, 1);
    mt_tensor_free(y);
    mt_tensor_free(p);
    mt_tensor_free(row);

    assert_ok(mt_permute(x, (const int[]){2, 1, 0}, &p));
    assert_ok(mt_tensor_contiguous(p, &pc));
    assert_ok(mt_permute(pc, (const int[]){2, 1, 0}, &strided));
    assert_false(mt_tensor_is_contiguous(strided));
    assert_ok(mt_layer_forward(l, strided, &y));
    assert_matches(st, "y_lstm2bi_seq", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(strided);
    mt_tensor_free(pc);
    mt_tensor_free(p);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

static void torch_gru_rnn(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    check_case(&sd, mt_gru_load, "gru1", (mt_rnn_options){0}, true);
    check_case(&sd, mt_gru_load, "gru2", (mt_rnn_options){0}, true);
    check_case(&sd, mt_gru_load, "grubi", (mt_rnn_options){0}, true);
    check_case(&sd, mt_rnn_load, "rnn_tanh", (mt_rnn_options){0}, true);
    check_case(&sd, mt_rnn_load, "rnn_tanh", (mt_rnn_options){.act = MT_ACTIVATION_TANH}, true);
    check_case(&sd, mt_rnn_load, "rnn_relu2bi", (mt_rnn_options){.act = MT_ACTIVATION_RELU},
               true);
    // batch_first=False: [L,N,F] data read through a [N,L,F] view, the
    // sequence [N,L,H·D] against PyTorch's [L,N,H·D] (permuted)
    mt_tensor *x = ref_get(st, "x_gru_tm"), *xv, *want = ref_get(st, "y_gru_tm_seq"), *wv, *wc, *y;
    mt_layer *l;
    assert_ok(mt_permute(x, (const int[]){1, 0, 2}, &xv));
    assert_ok(mt_permute(want, (const int[]){1, 0, 2}, &wv));
    assert_ok(mt_tensor_contiguous(wv, &wc));
    assert_ok(mt_gru_load(&sd, "gru_tm", NULL, &l));
    assert_ok(mt_layer_forward(l, xv, &y));
    assert_int_equal(y->shape[0], wc->shape[0]);
    assert_int_equal(y->shape[1], wc->shape[1]);
    assert_int_equal(y->shape[2], wc->shape[2]);
    assert_close((const float *)y->data, (const float *)wc->data,
                 (size_t)mt_tensor_numel(wc), 1e-5, 1e-4);
    mt_tensor_free(y);
    mt_layer_free(l);
    assert_ok(mt_gru_load(&sd, "gru_tm", &(mt_rnn_options){.output =
                                                          MT_RNN_RETURN_FINAL_STATE}, &l));
    assert_ok(mt_layer_forward(l, xv, &y));
    assert_matches(st, "y_gru_tm_final", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(wc);
    mt_tensor_free(wv);
    mt_tensor_free(want);
    mt_tensor_free(xv);
    mt_tensor_free(x);
    // nn.LSTMCell / nn.GRUCell looped over the steps
    check_case(&sd, mt_lstm_load, "lstmcell", (mt_rnn_options){0}, false);
    check_case(&sd, mt_gru_load, "grucell", (mt_rnn_options){0}, false);
    mt_safetensors_close(st);
}

/* PyTorch's Embedding(7, 5) -> LSTM(5, 6, num_layers=2) -> Linear(6, 7)
 * on ids [2,6]: the logits of every step. */
static void torch_char_model(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g;
    mt_layer *l;
    int ids, a, b, c;
    const mt_tensor *y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){6}, &ids));
    assert_ok(mt_embedding_load(&sd, "char.emb", &l));
    assert_ok(mt_graph_add(g, "emb", l, 1, &ids, &a));
    assert_ok(mt_lstm_load(&sd, "char.rnn", NULL, &l));
    assert_ok(mt_graph_add(g, "rnn", l, 1, &a, &b));
    assert_ok(mt_linear_load(&sd, "char.head", NULL, &l));
    assert_ok(mt_graph_add(g, "head", l, 1, &b, &c));
    assert_ok(mt_graph_output(g, c));
    mt_tensor *x = ref_get(st, "x_char");
    for (int pass = 0; pass < 2; pass++) {
        assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const[]){x}, 1, &y));
        assert_matches(st, "y_char_logits", y);
    }
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* The constructor from PyTorch's tensors as views (a transposed copy
 * transposed back), F16 and F32 mixed: the same numbers as the loader. */
static void torch_constructor(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    static const char *const names[4] = {"gru1.weight_ih_l0", "gru1.weight_hh_l0",
                                         "gru1.bias_ih_l0", "gru1.bias_hh_l0"};
    mt_tensor *t[4], *tt, *wv, *x = ref_get(st, "x_gru1"), *y;
    for (int i = 0; i < 4; i++)
        t[i] = ref_get(st, names[i]);
    assert_ok(mt_transpose(t[0], 0, 1, &tt));
    assert_ok(mt_tensor_contiguous(tt, &wv));
    mt_tensor_free(tt);
    assert_ok(mt_transpose(wv, 0, 1, &tt));   // [12,3] with strides (1, 12)
    mt_tensor_name_set(tt, "w_ih");
    mt_layer *l;
    assert_ok(mt_gru_new(1, &(mt_rnn_weights){tt, t[1], t[2], t[3], NULL},
                         &(mt_rnn_options){.output = MT_RNN_RETURN_FINAL_STATE}, &l));
    assert_string_equal(mt_layer_name(l), "gru w_ih");
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_gru1_final", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(tt);
    mt_tensor_free(wv);
    for (int i = 0; i < 4; i++)
        mt_tensor_free(t[i]);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* In a Sequential (workspace planned, reused on the second pass) and in a
 * graph beside a Linear. */
static void torch_in_models(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_lstm2bi");
    mt_sequential *m;
    mt_layer *l;
    const mt_tensor *y;
    assert_ok(mt_sequential_new(2, (int64_t[]){5, 3}, &m));
    assert_ok(mt_lstm_load(&sd, "lstm2bi",
                           &(mt_rnn_options){.output = MT_RNN_RETURN_LAST_STEP}, &l));
    assert_ok(mt_sequential_add(m, l));
    // the second pass allocates nothing (the probe goes in first: installing
    // an allocator drops cached buffers, which the first pass makes again)
    alloc_probe probe;
    probe_install(&probe, -1);
    mt_status s = mt_sequential_forward(m, x, &y);
    assert_int_equal(s, MT_OK);
    assert_matches(st, "y_lstm2bi_last", y);
    long before = probe.allocations;
    s = mt_sequential_forward(m, x, &y);
    probe_remove();
    assert_int_equal(s, MT_OK);
    assert_int_equal(probe.allocations - before, 0);
    assert_matches(st, "y_lstm2bi_last", y);
    assert_ok(mt_sequential_freeze(m));   // nothing to freeze: the same numbers
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_matches(st, "y_lstm2bi_last", y);
    mt_sequential_free(m);

    mt_graph *g;
    int in, a;
    const mt_tensor *out = NULL;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 3}, &in));
    assert_ok(mt_gru_load(&sd, "grubi", NULL, &l));
    assert_ok(mt_graph_add(g, "gru", l, 1, &in, &a));
    assert_ok(mt_graph_output(g, a));
    mt_tensor *gx = ref_get(st, "x_grubi");
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const[]){gx}, 1, &out));
    assert_matches(st, "y_grubi_seq", out);
    mt_graph_free(g);
    mt_tensor_free(gx);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* The same character model run one token at a time, as text generation
 * does: its h_n and c_n ([N, 2, 6]) fed back as the next step's h0 and
 * c0; each step's logits are PyTorch's for that position. */
static void torch_char_model_stepwise(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_graph *g;
    mt_layer *l;
    int in[3], e, y, hn, cn, logits;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){1}, &in[0]));
    assert_ok(mt_graph_input(g, "h", MT_DTYPE_F32, 2, (int64_t[]){2, 6}, &in[1]));
    assert_ok(mt_graph_input(g, "c", MT_DTYPE_F32, 2, (int64_t[]){2, 6}, &in[2]));
    assert_ok(mt_embedding_load(&sd, "char.emb", &l));
    assert_ok(mt_graph_add(g, "emb", l, 1, &in[0], &e));
    const int rin[3] = {e, in[1], in[2]};
    assert_ok(mt_lstm_load(&sd, "char.rnn", NULL, &l));
    assert_ok(mt_graph_add(g, "rnn", l, 3, rin, &y));
    assert_ok(mt_lstm_load(&sd, "char.rnn", &(mt_rnn_options){.output = MT_RNN_RETURN_H_N}, &l));
    assert_ok(mt_graph_add(g, "h_n", l, 3, rin, &hn));
    assert_ok(mt_lstm_load(&sd, "char.rnn", &(mt_rnn_options){.output = MT_RNN_RETURN_C_N}, &l));
    assert_ok(mt_graph_add(g, "c_n", l, 3, rin, &cn));
    assert_ok(mt_linear_load(&sd, "char.head", NULL, &l));
    assert_ok(mt_graph_add(g, "head", l, 1, &y, &logits));
    assert_ok(mt_graph_output(g, logits));
    assert_ok(mt_graph_output(g, hn));
    assert_ok(mt_graph_output(g, cn));
    mt_tensor *ids = ref_get(st, "x_char"), *want = ref_get(st, "y_char_logits"), *h, *c, *tok;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 2, 6}, &h));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 2, 6}, &c));
    for (int64_t t = 0; t < 6; t++) {
        const mt_tensor *out[3];
        assert_ok(mt_narrow(ids, 1, t, 1, &tok));   // [2,1], strided
        assert_ok(mt_graph_forward(g, 3, (const mt_tensor *const[]){tok, h, c}, 3, out));
        for (int64_t n = 0; n < 2; n++)
            assert_close((const float *)out[0]->data + n * 7,
                         (const float *)want->data + (n * 6 + t) * 7, 7, 1e-5, 1e-4);
        assert_ok(mt_tensor_copy_into(out[1], h));   // outputs live in the workspace
        assert_ok(mt_tensor_copy_into(out[2], c));
        mt_tensor_free(tok);
    }
    mt_tensor_free(c);
    mt_tensor_free(h);
    mt_tensor_free(want);
    mt_tensor_free(ids);
    mt_graph_free(g);
    mt_safetensors_close(st);
}

/* Layer l in a graph on inputs in[0..n-1] (samples of shapes[i], ranks
 * ranks[i]); its output against `want`; the graph frees l. */
static void graph_matches(const mt_safetensors *st, mt_layer *l, int n,
                          const mt_tensor *const *in, const char *want)
{
    mt_graph *g;
    int ids[3], y;
    const mt_tensor *out;
    static const char *const names[3] = {"x", "h0", "c0"};
    assert_ok(mt_graph_new(&g));
    for (int i = 0; i < n; i++)
        assert_ok(mt_graph_input(g, names[i], MT_DTYPE_F32, in[i]->rank - 1, in[i]->shape + 1,
                                 &ids[i]));
    assert_ok(mt_graph_add(g, "rnn", l, n, ids, &y));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_forward(g, n, in, 1, &out));
    assert_matches(st, want, out);
    mt_graph_free(g);
}

/* PyTorch's h0 and c0 [layers·D, N, H] as [N, layers·D, H] views; a
 * one-layer GRU's h0 also as [N, H]. Every output, the LSTM's c_n too. */
static void torch_initial_states(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_lstm_h0"), *h0 = ref_get(st, "h0_lstm_h0"), *c0 = ref_get(st, "c0_lstm_h0");
    mt_tensor *hv, *cv;
    assert_ok(mt_permute(h0, (const int[]){1, 0, 2}, &hv));
    assert_ok(mt_permute(c0, (const int[]){1, 0, 2}, &cv));
    static const char *const what[6] = {"seq", "final", "last", "cell", "hn", "cn"};
    for (int i = 0; i < 6; i++) {
        mt_layer *l;
        char name[64];
        assert_ok(mt_lstm_load(&sd, "lstm_h0", &(mt_rnn_options){.output = (mt_rnn_return)i},
                               &l));
        snprintf(name, sizeof name, "y_lstm_h0_%s", what[i]);
        graph_matches(st, l, 3, (const mt_tensor *const[]){x, hv, cv}, name);
    }
    mt_tensor_free(cv);
    mt_tensor_free(hv);
    mt_tensor_free(c0);
    mt_tensor_free(h0);
    mt_tensor_free(x);

    x = ref_get(st, "x_gru_h0");
    h0 = ref_get(st, "h0_gru_h0");
    assert_ok(mt_permute(h0, (const int[]){1, 0, 2}, &hv));
    assert_ok(mt_view(h0, 2, (int64_t[]){3, 4}, &cv));   // [1,N,H] as [N,H]
    for (int i = 0; i < 3; i++) {
        mt_layer *l;
        char name[64];
        snprintf(name, sizeof name, "y_gru_h0_%s", what[i]);
        assert_ok(mt_gru_load(&sd, "gru_h0", &(mt_rnn_options){.output = (mt_rnn_return)i},
                              &l));
        graph_matches(st, l, 2, (const mt_tensor *const[]){x, hv}, name);
        assert_ok(mt_gru_load(&sd, "gru_h0", &(mt_rnn_options){.output = (mt_rnn_return)i},
                              &l));
        graph_matches(st, l, 2, (const mt_tensor *const[]){x, cv}, name);
    }
    mt_tensor_free(cv);
    mt_tensor_free(hv);
    mt_tensor_free(h0);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* A batch large enough for a Sequential to run it in passes (its
 * activations pass 2 MiB): PyTorch's 3 samples repeated 10000 times. */
static void torch_batch_in_passes(void **state)
{
    (void)state;
    enum { REPEAT = 10000 };
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_lstm2bi"), *want = ref_get(st, "y_lstm2bi_seq"), *big;
    size_t xs = (size_t)mt_tensor_numel(x), ys = (size_t)mt_tensor_numel(want);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){3 * REPEAT, 5, 3}, &big));
    for (size_t r = 0; r < REPEAT; r++)
        memcpy((float *)big->data + r * xs, x->data, xs * sizeof(float));
    mt_sequential *m;
    mt_layer *l;
    const mt_tensor *y;
    size_t bytes = 0;
    assert_ok(mt_sequential_new(2, (int64_t[]){5, 3}, &m));
    assert_ok(mt_lstm_load(&sd, "lstm2bi", NULL, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_sequential_bytes_needed(m, 3 * REPEAT, &bytes));
    assert_true(bytes > 0);
    assert_ok(mt_sequential_forward(m, big, &y));
    assert_int_equal(y->shape[0], 3 * REPEAT);
    for (size_t r = 0; r < REPEAT; r++)
        assert_close((const float *)y->data + r * ys, (const float *)want->data, ys, 1e-5,
                     1e-4);
    mt_sequential_free(m);
    mt_tensor_free(big);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* ---- Keras -------------------------------------------------------------------------- */

static void keras_layers(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    check_case(&sd, mt_lstm_load, "k_lstm", (mt_rnn_options){0}, false);
    check_case(&sd, mt_gru_load, "k_gru", (mt_rnn_options){0}, false);
    check_case(&sd, mt_gru_load, "k_gru_ra0", (mt_rnn_options){0}, false);   // from [3H]
    check_case(&sd, mt_gru_load, "k_gru_nb", (mt_rnn_options){.reset_before = true}, false);
    check_case(&sd, mt_rnn_load, "k_rnn", (mt_rnn_options){0}, false);
    check_case(&sd, mt_rnn_load, "k_rnn_relu", (mt_rnn_options){.act = MT_ACTIVATION_RELU},
               false);
    check_case(&sd, mt_lstm_load, "k_bilstm", (mt_rnn_options){0}, false);
    check_case(&sd, mt_gru_load, "k_bigru", (mt_rnn_options){.bidirectional = true}, false);
    check_case(&sd, mt_lstm_load, "k_bi_own", (mt_rnn_options){0}, false);   // backward_layer=b1
    // the cell's own path works too
    mt_layer *l;
    mt_tensor *x = ref_get(st, "x_k_lstm"), *y;
    assert_ok(mt_lstm_load(&sd, "k_lstm/lstm_cell", NULL, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_k_lstm_seq", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Keras 2's (tf.keras) variable names end in ":0": the Bidirectional
 * LSTM's six tensors renamed so. */
static void keras2_names(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_keras.safetensors");
    static const char *const names[6] = {
        "k_bilstm/forward_enc/lstm_cell/kernel", "k_bilstm/forward_enc/lstm_cell/recurrent_kernel",
        "k_bilstm/forward_enc/lstm_cell/bias", "k_bilstm/backward_enc/lstm_cell/kernel",
        "k_bilstm/backward_enc/lstm_cell/recurrent_kernel", "k_bilstm/backward_enc/lstm_cell/bias"};
    char renamed[6][96];
    mt_tensor *t[6];
    mt_safetensors_item items[6];
    for (int i = 0; i < 6; i++) {
        t[i] = ref_get(st, names[i]);
        snprintf(renamed[i], sizeof renamed[i], "%s:0", names[i]);
        items[i] = (mt_safetensors_item){renamed[i], strlen(renamed[i]), t[i]};
    }
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *k2 = NULL;
    assert_ok(mt_safetensors_serialize(items, 6, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &k2));
    const mt_state_dict sd = {k2, MT_FRAMEWORK_KERAS};
    mt_layer *l;
    mt_tensor *x = ref_get(st, "x_k_bilstm"), *y;
    assert_ok(mt_lstm_load(&sd, "k_bilstm", NULL, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_k_bilstm_seq", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_safetensors_close(k2);
    mt_safetensors_buffer_free(buf);
    for (int i = 0; i < 6; i++)
        mt_tensor_free(t[i]);
    mt_safetensors_close(st);
}

/* Keras' Sequential([LSTM(4, return_sequences=True), GRU(3)]). */
static void keras_stack(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_sequential *m;
    mt_layer *l;
    const mt_tensor *y;
    mt_tensor *x = ref_get(st, "x_stack");
    assert_ok(mt_sequential_new(2, (int64_t[]){5, 3}, &m));
    assert_ok(mt_lstm_load(&sd, "stack/s_lstm", NULL, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_gru_load(&sd, "stack/s_gru",
                          &(mt_rnn_options){.output = MT_RNN_RETURN_FINAL_STATE}, &l));
    assert_ok(mt_sequential_add(m, l));
    assert_ok(mt_sequential_forward(m, x, &y));
    assert_matches(st, "y_stack_final", y);
    mt_sequential_free(m);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Keras' Sequential([Embedding(7, 5), Bidirectional(GRU(4,
 * return_sequences=True)), SimpleRNN(3), Dense(2)]) on ids [2,6]. */
static void keras_classifier(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_graph *g;
    mt_layer *l;
    int ids, a, b, c, d;
    const mt_tensor *y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "ids", MT_DTYPE_I64, 1, (int64_t[]){6}, &ids));
    assert_ok(mt_embedding_load(&sd, "clf/emb", &l));
    assert_ok(mt_graph_add(g, "emb", l, 1, &ids, &a));
    assert_ok(mt_gru_load(&sd, "clf/bi", NULL, &l));
    assert_ok(mt_graph_add(g, "bi", l, 1, &a, &b));
    assert_ok(mt_rnn_load(&sd, "clf/rnn", &(mt_rnn_options){.output =
                                                             MT_RNN_RETURN_FINAL_STATE}, &l));
    assert_ok(mt_graph_add(g, "rnn", l, 1, &b, &c));
    assert_ok(mt_linear_load(&sd, "clf/out", NULL, &l));
    assert_ok(mt_graph_add(g, "out", l, 1, &c, &d));
    assert_ok(mt_graph_output(g, d));
    mt_tensor *x = ref_get(st, "x_clf");
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const[]){x}, 1, &y));
    assert_matches(st, "y_clf_logits", y);
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Keras' seq2seq: LSTM(4, return_state=True) encodes, its h and c start
 * LSTM(4, return_sequences=True) decoding, Dense(2) on every step. The
 * encoder's h and c from two layers, and from one with MT_RNN_RETURN_ALL. */
static void keras_seq2seq(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *xe = ref_get(st, "x_s2s_enc"), *xd = ref_get(st, "x_s2s_dec");
    // the encoder loaded once per state, then once with MT_RNN_RETURN_ALL
    for (int once = 0; once < 2; once++) {
        mt_graph *g;
        mt_layer *l, *o;
        int enc, dec, h, c, y, z, all;
        const mt_tensor *out;
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "enc", MT_DTYPE_F32, 2, (int64_t[]){5, 3}, &enc));
        assert_ok(mt_graph_input(g, "dec", MT_DTYPE_F32, 2, (int64_t[]){4, 3}, &dec));
        if (once) {
            assert_ok(mt_lstm_load(&sd, "enc", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL},
                                   &l));
            assert_ok(mt_graph_add(g, "encoder", l, 1, &enc, &all));
            assert_ok(mt_rnn_output_new(l, MT_RNN_RETURN_FINAL_STATE, MT_RNN_DIRECTION_BOTH,
                                        &o));
            assert_ok(mt_graph_add(g, "enc_h", o, 1, &all, &h));
            assert_ok(mt_rnn_output_new(l, MT_RNN_RETURN_CELL_STATE, MT_RNN_DIRECTION_BOTH,
                                        &o));
            assert_ok(mt_graph_add(g, "enc_c", o, 1, &all, &c));
        } else {
            assert_ok(mt_lstm_load(&sd, "enc", &(mt_rnn_options){
                                       .output = MT_RNN_RETURN_FINAL_STATE}, &l));
            assert_ok(mt_graph_add(g, "enc_h", l, 1, &enc, &h));
            assert_ok(mt_lstm_load(&sd, "enc", &(mt_rnn_options){
                                       .output = MT_RNN_RETURN_CELL_STATE}, &l));
            assert_ok(mt_graph_add(g, "enc_c", l, 1, &enc, &c));
        }
        assert_ok(mt_lstm_load(&sd, "dec", NULL, &l));
        assert_ok(mt_graph_add(g, "decoder", l, 3, (int[]){dec, h, c}, &y));
        assert_ok(mt_linear_load(&sd, "head", NULL, &l));
        assert_ok(mt_graph_add(g, "head", l, 1, &y, &z));
        assert_ok(mt_graph_output(g, z));
        assert_ok(mt_graph_forward(g, 2, (const mt_tensor *const[]){xe, xd}, 1, &out));
        assert_matches(st, "y_s2s_logits", out);
        mt_graph_free(g);
    }
    mt_tensor_free(xd);
    mt_tensor_free(xe);
    mt_safetensors_close(st);
}

/* ---- errors --------------------------------------------------------------------------- */

/* Cases the other references leave out (reference/make_rnn_edge_refs.py):
 * a GRU with H = 1 on batch 7 of length 1 (PyTorch and Keras), a 2-layer
 * bidirectional LSTM fed a transposed view (sequence, h_n, c_n), a 3-layer
 * bidirectional ReLU RNN from given states in a graph, a Keras
 * Bidirectional GRU with reset_after=False on batch 7. */
static void edge_cases_match_frameworks(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_edge_torch.safetensors");
    mt_safetensors *ks = ref_open("rnn_edge_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH}, kd = {ks, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    mt_tensor *y = NULL, *x = ref_get(st, "x_g1");
    assert_ok(mt_gru_load(&sd, "g1", NULL, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_g1", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);

    mt_tensor *nfl = ref_get(st, "x_lt_nfl"), *xt = NULL;
    assert_ok(mt_transpose(nfl, 1, 2, &xt));   // [N,F,L] -> the view [N,L,F]
    static const char *const refs[3] = {"y_lt", "hn_lt", "cn_lt"};
    static const mt_rnn_return outs[3] = {MT_RNN_RETURN_SEQUENCES, MT_RNN_RETURN_H_N,
                                          MT_RNN_RETURN_C_N};
    for (int i = 0; i < 3; i++) {
        assert_ok(mt_lstm_load(&sd, "lt", &(mt_rnn_options){.output = outs[i]}, &l));
        assert_ok(mt_layer_forward(l, xt, &y));
        assert_matches(st, refs[i], y);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    mt_tensor_free(xt);
    mt_tensor_free(nfl);

    mt_graph *g = NULL;
    int in[2], seq, hn;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){4, 2}, &in[0]));
    assert_ok(mt_graph_input(g, "h0", MT_DTYPE_F32, 2, (int64_t[]){6, 3}, &in[1]));
    assert_ok(mt_rnn_load(&sd, "r3", &(mt_rnn_options){.act = MT_ACTIVATION_RELU}, &l));
    assert_ok(mt_graph_add(g, "seq", l, 2, in, &seq));
    assert_ok(mt_rnn_load(&sd, "r3", &(mt_rnn_options){.act = MT_ACTIVATION_RELU,
                                                       .output = MT_RNN_RETURN_H_N}, &l));
    assert_ok(mt_graph_add(g, "hn", l, 2, in, &hn));
    assert_ok(mt_graph_output(g, seq));
    assert_ok(mt_graph_output(g, hn));
    mt_tensor *x3 = ref_get(st, "x_r3"), *h0 = ref_get(st, "h0_r3");
    const mt_tensor *ys[2];
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *[]){x3, h0}, 2, ys));
    assert_matches(st, "y_r3", ys[0]);
    assert_matches(st, "hn_r3", ys[1]);
    mt_graph_free(g);
    mt_tensor_free(h0);
    mt_tensor_free(x3);

    static const char *const kcases[2] = {"kb", "k1"};
    for (int c = 0; c < 2; c++) {
        char name[32];
        snprintf(name, sizeof name, "x_%s", kcases[c]);
        x = ref_get(ks, name);
        for (int fin = 0; fin < 2; fin++) {
            assert_ok(mt_gru_load(&kd, kcases[c], &(mt_rnn_options){
                .output = fin ? MT_RNN_RETURN_FINAL_STATE : MT_RNN_RETURN_SEQUENCES}, &l));
            assert_ok(mt_layer_forward(l, x, &y));
            snprintf(name, sizeof name, "y_%s_%s", kcases[c], fin ? "final" : "seq");
            assert_matches(ks, name, y);
            mt_tensor_free(y);
            mt_layer_free(l);
        }
        mt_tensor_free(x);
    }
    mt_safetensors_close(ks);
    mt_safetensors_close(st);
}

static void errors_loaders(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_torch.safetensors");
    mt_safetensors *ks = ref_open("rnn_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH}, kd = {ks, MT_FRAMEWORK_KERAS};
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_lstm_load(&sd, "nope", NULL, &l), MT_ERR_NOT_FOUND, "nope.weight_ih_l0");
    assert_null(l);
    assert_fails(mt_gru_load(&sd, "proj", NULL, &l), MT_ERR_FORMAT,
                 "gru proj: proj.weight_hr_l0 found: a projection (proj_size) is an LSTM's");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.num_layers = 2}, &l),
                 MT_ERR_NOT_FOUND, "lstm1.weight_ih_l1");
    assert_fails(mt_lstm_load(&sd, "lstm2bi", &(mt_rnn_options){.num_layers = 1}, &l),
                 MT_ERR_SHAPE, "the file holds 2 layers");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.bidirectional = true}, &l),
                 MT_ERR_NOT_FOUND, "lstm1.weight_ih_l0_reverse");
    // a GRU's weights read as an LSTM's: w_hh [12,4] says H = 4, and is not [16,4]
    assert_fails(mt_lstm_load(&sd, "gru1", NULL, &l), MT_ERR_SHAPE,
                 "lstm gru1: w_hh gru1.weight_hh_l0 [12,4], expected [16,4]");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.hidden_size = 5}, &l),
                 MT_ERR_SHAPE, "lstm1.weight_hh_l0 [16,4], expected [20,5]");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.input_size = 4}, &l),
                 MT_ERR_SHAPE, "lstm1.weight_ih_l0 [16,3], expected [16,4]");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.act = MT_ACTIVATION_RELU}, &l),
                 MT_ERR_UNSUPPORTED, "LSTM and GRU use tanh and sigmoid");
    assert_fails(mt_rnn_load(&sd, "rnn_tanh", &(mt_rnn_options){.act = MT_ACTIVATION_GELU},
                             &l), MT_ERR_UNSUPPORTED, "an RNN takes tanh or relu");
    assert_fails(mt_lstm_load(&sd, "lstmcell", &(mt_rnn_options){.bidirectional = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "lstmcell.weight_ih is a cell's");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.hidden_size = INT64_MAX}, &l),
                 MT_ERR_INVALID_ARGUMENT, "options out of range");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.num_layers = -1}, &l),
                 MT_ERR_INVALID_ARGUMENT, "num_layers -1 is negative");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.output = 7}, &l),
                 MT_ERR_INVALID_ARGUMENT, "output 7");
    assert_fails(mt_lstm_load(&sd, "lstm1", &(mt_rnn_options){.reset_before = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "reset_before is a GRU option");
    assert_fails(mt_lstm_load(&(mt_state_dict){st, 0}, "lstm1", NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "unknown framework");
    assert_fails(mt_lstm_load(NULL, "lstm1", NULL, &l), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_fails(mt_lstm_load(&sd, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_fails(mt_lstm_load(&sd, "lstm1", NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out");
    assert_null(l);

    assert_fails(mt_lstm_load(&kd, "k_gru", NULL, &l), MT_ERR_NOT_FOUND,
                 "no tensor k_gru/lstm_cell/kernel");
    assert_fails(mt_lstm_load(&kd, "k_lstm", &(mt_rnn_options){.bidirectional = true}, &l),
                 MT_ERR_NOT_FOUND, "k_lstm/forward_*/lstm_cell/kernel");
    assert_fails(mt_gru_load(&kd, "k_gru", &(mt_rnn_options){.reset_before = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "reset_after=True GRU's [2, 3H]");
    assert_fails(mt_lstm_load(&kd, "k_lstm", &(mt_rnn_options){.num_layers = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "stacks recurrent layers one by one");
    assert_fails(mt_gru_load(&kd, "stack/s_lstm", NULL, &l), MT_ERR_NOT_FOUND,
                 "stack/s_lstm/gru_cell/kernel");
    assert_null(l);
    mt_safetensors_close(ks);
    mt_safetensors_close(st);
}

/* Files with one thing wrong: a missing recurrent kernel, a bias_hh
 * without bias_ih, integer and NaN weights, a backward layer missing. */
static void errors_bad_files(void **state)
{
    (void)state;
    mt_tensor *k, *r, *b, *ki, *bn;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, 8}, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 8}, &r));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){8}, &b));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 2, (int64_t[]){3, 8}, &ki));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){8}, &bn));
    ((float *)bn->data)[5] = NAN;
    mt_safetensors_item items[] = {
        {"a/lstm_cell/kernel", 0, k},          // no recurrent_kernel
        {"q/lstm_cell/kernel", 0, ki},         // I32: quantized
        {"q/lstm_cell/recurrent_kernel", 0, r},
        {"n/lstm_cell/kernel", 0, k},
        {"n/lstm_cell/recurrent_kernel", 0, r},
        {"n/lstm_cell/bias", 0, bn},           // NaN
        {"bi/forward_x/lstm_cell/kernel", 0, k},   // no backward_x
        {"bi/forward_x/lstm_cell/recurrent_kernel", 0, r},
        {"t.weight_ih_l0", 0, ki},             // PyTorch names, in an RNN of H = 8
        {"t.weight_hh_l0", 0, r},
        {"t.bias_hh_l0", 0, b},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        items[i].name_len = strlen(items[i].name);
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_serialize(items, sizeof items / sizeof items[0], NULL, 0, &buf,
                                       &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict kd = {st, MT_FRAMEWORK_KERAS}, pd = {st, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = NULL;
    assert_fails(mt_lstm_load(&kd, "a", NULL, &l), MT_ERR_NOT_FOUND,
                 "a/lstm_cell/recurrent_kernel");
    assert_fails(mt_lstm_load(&kd, "q", NULL, &l), MT_ERR_DTYPE,
                 "q/lstm_cell/kernel is I32, not a float");
    assert_fails(mt_lstm_load(&kd, "n", NULL, &l), MT_ERR_FORMAT, "NaN");
    assert_fails(mt_lstm_load(&kd, "bi", NULL, &l), MT_ERR_NOT_FOUND,
                 "no bi/backward_x/lstm_cell/kernel");
    assert_fails(mt_rnn_load(&pd, "t", NULL, &l), MT_ERR_DTYPE, "t.weight_ih_l0 is I32");
    assert_null(l);
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);

    // the same file with a float w_ih: bias_hh without bias_ih
    items[8].tensor = k;
    assert_ok(mt_safetensors_serialize(items, sizeof items / sizeof items[0], NULL, 0, &buf,
                                       &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict pd2 = {st, MT_FRAMEWORK_PYTORCH};
    assert_fails(mt_rnn_load(&pd2, "t", NULL, &l), MT_ERR_NOT_FOUND,
                 "no tensor t.bias_ih_l0, but t.bias_hh_l0 is there");
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(bn);
    mt_tensor_free(ki);
    mt_tensor_free(b);
    mt_tensor_free(r);
    mt_tensor_free(k);
}

/* Out of memory at every allocation of a load and a first pass: a clean
 * MT_ERR_OUT_OF_MEMORY, nothing leaked. */
static void errors_out_of_memory(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x_k_bigru");
    alloc_probe probe;
    int failures = 0;
    for (long k = 0; k < 500; k++) {
        mt_layer *l = NULL;
        mt_tensor *y = NULL;
        probe_install(&probe, k);
        mt_status s = mt_gru_load(&sd, "k_bigru", NULL, &l);
        if (!s)
            s = mt_layer_forward(l, x, &y);
        mt_tensor_free(y);
        mt_layer_free(l);
        probe_remove();
        assert_int_equal(probe.live, 0);
        if (s == MT_OK)
            break;
        assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
        failures++;
    }
    assert_true(failures > 10);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* A file a loader would misread without a word: a PyTorch LSTM with layers
 * 0 and 2 but no 1 (or layer 1 without its weight_ih), a _reverse tensor
 * with no backward weight_ih_l0_reverse, a Keras Bidirectional GRU whose
 * directions disagree on reset_after; and, in the constructors, integer
 * weights, which would be taken by value. */
static void errors_inconsistent_files(void **state)
{
    (void)state;
    mt_tensor *wi, *wh, *wh2, *b2, *b1, *k, *r, *iw;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){8, 3}, &wi));   // LSTM F 3, H 2
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){8, 2}, &wh));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){8, 2}, &wh2));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 6}, &b2));   // Keras GRU H 2
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){6}, &b1));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, 6}, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 6}, &r));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 2, (int64_t[]){8, 3}, &iw));
    mt_safetensors_item items[] = {
        {"gap.weight_ih_l0", 0, wi},   {"gap.weight_hh_l0", 0, wh},
        {"gap.weight_ih_l2", 0, wh2},  {"gap.weight_hh_l2", 0, wh2},
        {"hh.weight_ih_l0", 0, wi},    {"hh.weight_hh_l0", 0, wh},
        {"hh.weight_hh_l1", 0, wh2},
        {"rev.weight_ih_l0", 0, wi},   {"rev.weight_hh_l0", 0, wh},
        {"rev.weight_hh_l0_reverse", 0, wh},
        {"bi/forward_g/gru_cell/kernel", 0, k},
        {"bi/forward_g/gru_cell/recurrent_kernel", 0, r},
        {"bi/forward_g/gru_cell/bias", 0, b2},
        {"bi/backward_g/gru_cell/kernel", 0, k},
        {"bi/backward_g/gru_cell/recurrent_kernel", 0, r},
        {"bi/backward_g/gru_cell/bias", 0, b1},
    };
    const size_t n_items = sizeof items / sizeof items[0];
    for (size_t i = 0; i < n_items; i++)
        items[i].name_len = strlen(items[i].name);
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_serialize(items, n_items, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict pd = {st, MT_FRAMEWORK_PYTORCH}, kd = {st, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    assert_fails(mt_lstm_load(&pd, "gap", NULL, &l), MT_ERR_NOT_FOUND,
                 "lstm gap: no tensor gap.weight_ih_l1, but gap.weight_");
    assert_fails(mt_lstm_load(&pd, "gap", &(mt_rnn_options){.num_layers = 1}, &l),
                 MT_ERR_NOT_FOUND, "no tensor gap.weight_ih_l1, but gap.weight_");
    assert_fails(mt_lstm_load(&pd, "hh", NULL, &l), MT_ERR_NOT_FOUND,
                 "lstm hh: no tensor hh.weight_ih_l1, but hh.weight_hh_l1 is there");
    assert_fails(mt_lstm_load(&pd, "rev", NULL, &l), MT_ERR_NOT_FOUND,
                 "lstm rev: no tensor rev.weight_ih_l0_reverse, but rev.weight_hh_l0_reverse "
                 "is there");
    assert_fails(mt_gru_load(&kd, "bi", NULL, &l), MT_ERR_SHAPE,
                 "gru bi: forward bias bi/forward_g/gru_cell/bias [2,6] and backward bias "
                 "bi/backward_g/gru_cell/bias [6]: one is a reset_after=True GRU's");
    assert_null(l);
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);

    // 65 layers of an RNN with F = H = 1: one more than the loader takes
    mt_tensor *one = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){1, 1}, 0.5f, &one));
    char names[130][32];
    mt_safetensors_item deep[130];
    for (int i = 0; i < 130; i++) {
        snprintf(names[i], sizeof names[i], "deep.weight_%s_l%d", i % 2 ? "hh" : "ih", i / 2);
        deep[i] = (mt_safetensors_item){names[i], strlen(names[i]), one};
    }
    assert_ok(mt_safetensors_serialize(deep, 130, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &st));
    const mt_state_dict dd = {st, MT_FRAMEWORK_PYTORCH};
    assert_fails(mt_rnn_load(&dd, "deep", NULL, &l), MT_ERR_UNSUPPORTED,
                 "_l64 found: more than 64 layers are not supported");
    assert_null(l);
    mt_safetensors_close(st);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(one);

    mt_tensor_name_set(iw, "iw");
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){iw, wh, NULL, NULL, NULL}, NULL, &l),
                 MT_ERR_DTYPE,
                 "lstm iw: w_ih iw [8,3] is I32, expected a float dtype");
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){wi, wh, b1, iw, NULL}, NULL, &l), MT_ERR_DTYPE,
                 "b_hh iw [8,3] is I32");
    assert_null(l);
    mt_tensor *all[] = {wi, wh, wh2, b2, b1, k, r, iw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

static void errors_constructor_and_inputs(void **state)
{
    (void)state;
    mt_tensor *wi, *wh, *b, *x, *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){16, 3}, &wi));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){16, 4}, &wh));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){12}, &b));
    mt_tensor_name_set(wi, "wi");
    mt_tensor_name_set(wh, "wh");
    mt_tensor_name_set(b, "b");
    mt_layer *l = NULL;
    const mt_rnn_weights w = {wi, wh, NULL, NULL, NULL};
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){wi, wh, b, NULL, NULL}, NULL, &l), MT_ERR_SHAPE,
                 "lstm wi: b_ih b [12], expected [16]");
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){wi, b, NULL, NULL, NULL}, NULL, &l), MT_ERR_SHAPE,
                 "w_hh b [12], expected 2 dims");
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){wi, NULL, NULL, NULL, NULL}, NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "w_hh is NULL");
    assert_fails(mt_lstm_new(1, &w, &(mt_rnn_options){.bidirectional = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "1 weight sets, expected num_layers 1 x 2");
    assert_fails(mt_gru_new(1, &w, NULL, &l), MT_ERR_SHAPE, "w_hh wh [16,4], expected [12,4]");
    assert_fails(mt_lstm_new(0, &w, NULL, &l), MT_ERR_INVALID_ARGUMENT, "n < 1");
    assert_fails(mt_lstm_new(1, NULL, NULL, &l), MT_ERR_INVALID_ARGUMENT, "NULL");
    assert_fails(mt_lstm_new(1, &w, NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_null(l);

    assert_fails(mt_gru_new(1, &(mt_rnn_weights){wi, wh, NULL, NULL, NULL},
                            &(mt_rnn_options){.output = MT_RNN_RETURN_CELL_STATE}, &l),
                 MT_ERR_INVALID_ARGUMENT, "only an LSTM has a cell state");

    // initial states of the wrong shape or count, in a graph
    mt_graph *g;
    int in[3], id;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 3}, &in[0]));
    assert_ok(mt_graph_input(g, "h0", MT_DTYPE_F32, 1, (int64_t[]){4}, &in[1]));
    assert_ok(mt_graph_input(g, "c0", MT_DTYPE_F32, 1, (int64_t[]){5}, &in[2]));
    assert_ok(mt_lstm_new(1, &w, NULL, &l));
    assert_fails(mt_graph_add(g, "two", l, 2, in, &id), MT_ERR_SHAPE,
                 "expects the sequence, or the sequence and initial h and c, given 2");
    assert_ok(mt_lstm_new(1, &w, NULL, &l));
    assert_fails(mt_graph_add(g, "bad_c", l, 3, in, &id), MT_ERR_SHAPE,
                 "expects initial c as F32 [N,1,4] or [N,4]");
    int h16;
    assert_ok(mt_graph_input(g, "h16", MT_DTYPE_F16, 1, (int64_t[]){4}, &h16));
    assert_ok(mt_lstm_new(1, &w, NULL, &l));
    assert_fails(mt_graph_add(g, "f16_h", l, 3, (int[]){in[0], h16, in[1]}, &id), MT_ERR_DTYPE,
                 "expects initial h as F32 [N,1,4] or [N,4] (batch N = 1, layers x "
                 "directions, hidden), input 'h16' gives F16 [1,4]");
    mt_graph_free(g);

    assert_ok(mt_lstm_new(1, &w, NULL, &l));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 5, 4}, &x));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE, "expects 3 input features");
    mt_tensor_free(x);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 0, 3}, &x));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE, "at least one step");
    mt_tensor_free(x);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &x));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_SHAPE, "expects F32 [N,L,F]");
    mt_tensor_free(x);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F16, 3, (int64_t[]){2, 5, 3}, &x));
    assert_fails(mt_layer_forward(l, x, &y), MT_ERR_DTYPE,
                 "lstm wi: expects F32 [N,L,F] input (batch first), the input gives F16");
    mt_tensor_free(x);
    assert_null(y);
    // an empty batch: an empty output
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){0, 5, 3}, &x));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_int_equal(y->shape[0], 0);
    assert_int_equal(y->shape[2], 4);
    mt_tensor_free(y);
    mt_tensor_free(x);
    mt_layer_free(l);
    mt_tensor_free(b);
    mt_tensor_free(wh);
    mt_tensor_free(wi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torch_lstm),
        cmocka_unit_test(torch_batch_one_and_strided),
        cmocka_unit_test(torch_gru_rnn),
        cmocka_unit_test(torch_constructor),
        cmocka_unit_test(torch_char_model),
        cmocka_unit_test(torch_initial_states),
        cmocka_unit_test(torch_char_model_stepwise),
        cmocka_unit_test(torch_batch_in_passes),
        cmocka_unit_test(torch_in_models),
        cmocka_unit_test(keras_layers),
        cmocka_unit_test(keras2_names),
        cmocka_unit_test(keras_stack),
        cmocka_unit_test(keras_classifier),
        cmocka_unit_test(keras_seq2seq),
        cmocka_unit_test(edge_cases_match_frameworks),
        cmocka_unit_test(errors_loaders),
        cmocka_unit_test(errors_bad_files),
        cmocka_unit_test(errors_out_of_memory),
        cmocka_unit_test(errors_inconsistent_files),
        cmocka_unit_test(errors_constructor_and_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
