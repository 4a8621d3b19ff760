/* test_nn_rnn_cell.c — PyTorch's nn.LSTMCell, nn.GRUCell and nn.RNNCell
 * (tanh, relu, bias=False) loaded by their state_dict names ("cell.weight_ih",
 * no _l0) with mt_lstm_load / mt_gru_load / mt_rnn_load, against the cell
 * called in a Python loop from given states (reference/make_rnn_cell_refs.py
 * -> rnn_cell_torch.safetensors): the whole sequence at once (every h, the
 * last h and c), and one step per forward with h and c fed back, as a
 * generation loop runs; and the errors (no weight_hh, a wrong shape, a cell
 * asked for two layers or directions, a state of the wrong size). */
#include "test_util.h"

static mt_safetensors *refs;

/* A writable copy of the reference `name` (the file's tensors are mapped
 * read-only) */
static mt_tensor *get_copy(const char *name)
{
    mt_tensor *t = ref_get(refs, name), *c = NULL;
    assert_ok(mt_tensor_contiguous(t, &c));
    mt_tensor_free(t);
    return c;
}

/* y has the reference `name`'s shape and values */
static void matches(const mt_tensor *y, const char *name)
{
    mt_tensor *want = ref_get(refs, name);
    assert_int_equal(y->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(y->shape[d], want->shape[d]);
    assert_close((const float *)y->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-5, 1e-4);
    mt_tensor_free(want);
}

typedef mt_status (*loader_fn)(const mt_state_dict *, const char *, const mt_rnn_options *,
                               mt_layer **);

typedef struct cell_case {
    const char *name;
    loader_fn load;
    mt_activation act;
    bool lstm;
} cell_case;

static const cell_case cases[] = {
    {"lstmcell", mt_lstm_load, MT_ACTIVATION_NONE, true},
    {"grucell", mt_gru_load, MT_ACTIVATION_NONE, false},
    {"rnncell", mt_rnn_load, MT_ACTIVATION_NONE, false},
    {"rnncell_relu", mt_rnn_load, MT_ACTIVATION_RELU, false},   // nonlinearity='relu'
    {"rnncell_nobias", mt_rnn_load, MT_ACTIVATION_NONE, false},
};

/* A graph of cell c with output `output`, inputs x [L, F] and the states
 * [H] (h0, and c0 for an LSTM) */
static mt_graph *cell_graph(const cell_case *c, int64_t steps, mt_rnn_return output)
{
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_graph *g;
    mt_layer *l;
    int in[3], y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){steps, 3}, &in[0]));
    assert_ok(mt_graph_input(g, "h", MT_DTYPE_F32, 1, (int64_t[]){4}, &in[1]));
    if (c->lstm)
        assert_ok(mt_graph_input(g, "c", MT_DTYPE_F32, 1, (int64_t[]){4}, &in[2]));
    assert_ok(c->load(&sd, c->name, &(mt_rnn_options){.output = output, .act = c->act}, &l));
    assert_ok(mt_graph_add(g, "cell", l, c->lstm ? 3 : 2, in, &y));
    assert_ok(mt_graph_output(g, y));
    return g;
}

/* The cell over the whole sequence from h0 (c0): every step's h is the
 * loop's, the last h and c the loop's last. */
static void cell_over_sequence_is_the_loop(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cell_case *c = &cases[i];
        char name[64];
        snprintf(name, sizeof name, "x_%s", c->name);
        mt_tensor *in[3] = {ref_get(refs, name), NULL, NULL};
        snprintf(name, sizeof name, "h0_%s", c->name);
        in[1] = ref_get(refs, name);
        if (c->lstm) {
            snprintf(name, sizeof name, "c0_%s", c->name);
            in[2] = ref_get(refs, name);
        }
        static const mt_rnn_return outputs[3] = {
            MT_RNN_RETURN_SEQUENCES, MT_RNN_RETURN_FINAL_STATE, MT_RNN_RETURN_CELL_STATE};
        static const char *const what[3] = {"seq", "h", "c"};
        for (int k = 0; k < (c->lstm ? 3 : 2); k++) {
            mt_graph *g = cell_graph(c, 5, outputs[k]);
            const mt_tensor *y;
            assert_ok(mt_graph_forward(g, c->lstm ? 3 : 2, (const mt_tensor *const *)in, 1,
                                       &y));
            snprintf(name, sizeof name, "y_%s_%s", c->name, what[k]);
            matches(y, name);
            mt_graph_free(g);
        }
        for (int k = 0; k < 3; k++)
            mt_tensor_free(in[k]);
    }
}

/* One step per forward (x[:, t] as a [N, 1, F] view), the new h (and c)
 * copied back into the state inputs: each step's h is the loop's. */
static void cell_one_step_at_a_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cell_case *c = &cases[i];
        mt_graph *gh = cell_graph(c, 1, MT_RNN_RETURN_FINAL_STATE);
        mt_graph *gc = c->lstm ? cell_graph(c, 1, MT_RNN_RETURN_CELL_STATE) : NULL;
        char name[64];
        snprintf(name, sizeof name, "x_%s", c->name);
        mt_tensor *x = ref_get(refs, name), *h, *cs = NULL, *want;
        snprintf(name, sizeof name, "h0_%s", c->name);
        h = get_copy(name);
        if (c->lstm) {
            snprintf(name, sizeof name, "c0_%s", c->name);
            cs = get_copy(name);
        }
        snprintf(name, sizeof name, "y_%s_seq", c->name);
        want = ref_get(refs, name);   // [2, 5, 4]
        for (int64_t t = 0; t < 5; t++) {
            mt_tensor *xt;
            const mt_tensor *hn, *cn = NULL;
            assert_ok(mt_narrow(x, 1, t, 1, &xt));   // [2, 1, 3], strided
            const mt_tensor *const in[3] = {xt, h, cs};
            assert_ok(mt_graph_forward(gh, c->lstm ? 3 : 2, in, 1, &hn));
            if (c->lstm)
                assert_ok(mt_graph_forward(gc, 3, in, 1, &cn));
            for (int64_t n = 0; n < 2; n++)
                assert_close((const float *)hn->data + n * 4,
                             (const float *)want->data + (n * 5 + t) * 4, 4, 1e-5, 1e-4);
            assert_ok(mt_tensor_copy_into(hn, h));   // outputs live in the workspace
            if (c->lstm)
                assert_ok(mt_tensor_copy_into(cn, cs));
            mt_tensor_free(xt);
        }
        snprintf(name, sizeof name, "y_%s_h", c->name);
        matches(h, name);
        if (c->lstm)
            matches(cs, "y_lstmcell_c");
        mt_tensor_free(want);
        mt_tensor_free(cs);
        mt_tensor_free(h);
        mt_tensor_free(x);
        mt_graph_free(gc);
        mt_graph_free(gh);
    }
}

/* A cell's layer: its kind, F and H from the weights, bias=False seen. (A
 * cell looped from zero states is test_nn_rnn's torch_gru_rnn.) */
static void cell_layer_info(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l;
    mt_layer_info info;
    assert_ok(mt_gru_load(&sd, "grucell", NULL, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.kind, MT_LAYER_GRU);
    assert_int_equal(info.in_features, 3);
    assert_int_equal(info.out_features, 4);
    assert_true(info.has_bias);
    mt_layer_free(l);
    assert_ok(mt_rnn_load(&sd, "rnncell_nobias", NULL, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_false(info.has_bias);
    mt_layer_free(l);
}

static void cell_errors(void **state)
{
    (void)state;
    const mt_state_dict sd = {refs, MT_FRAMEWORK_PYTORCH};
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_lstm_load(&sd, "nohh", NULL, &l), MT_ERR_NOT_FOUND,
                 "no tensor named 'nohh.weight_hh'");
    assert_null(l);
    assert_fails(mt_lstm_load(&sd, "badhh", NULL, &l), MT_ERR_SHAPE,
                 "w_hh badhh.weight_hh [16,5], expected [20,5]");
    assert_null(l);
    // an LSTMCell read as a GRU: weight_hh [16,4] is not 3 gates of 4
    assert_fails(mt_gru_load(&sd, "lstmcell", NULL, &l), MT_ERR_SHAPE,
                 "gru lstmcell: w_hh lstmcell.weight_hh [16,4], expected [12,4]");
    assert_fails(mt_lstm_load(&sd, "lstmcell", &(mt_rnn_options){.num_layers = 2}, &l),
                 MT_ERR_INVALID_ARGUMENT, "lstmcell.weight_ih is a cell's");
    assert_fails(mt_lstm_load(&sd, "lstmcell", &(mt_rnn_options){.hidden_size = 5}, &l),
                 MT_ERR_SHAPE, "lstmcell.weight_hh [16,4], expected [20,5]");
    assert_fails(mt_rnn_load(&sd, "rnncell", &(mt_rnn_options){.input_size = 4}, &l),
                 MT_ERR_SHAPE, "rnncell.weight_ih [4,3], expected [4,4]");
    assert_null(l);
    // a state of H + 1 entries: refused when the graph places the layer
    mt_graph *g;
    int in[2], y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){1, 3}, &in[0]));
    assert_ok(mt_graph_input(g, "h", MT_DTYPE_F32, 1, (int64_t[]){5}, &in[1]));
    assert_ok(mt_gru_load(&sd, "grucell", NULL, &l));
    assert_fails(mt_graph_add(g, "cell", l, 2, in, &y), MT_ERR_SHAPE, "h");
    mt_graph_free(g);
    // the cell's own x[:, t] [N, F], without the step dim: named, with the layout
    mt_tensor *x = NULL, *out = (mt_tensor *)&out;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &x));
    assert_ok(mt_gru_load(&sd, "grucell", NULL, &l));
    assert_fails(mt_layer_forward(l, x, &out), MT_ERR_SHAPE,
                 "gru grucell: expects F32 [N,L,F] input (batch first)");
    mt_layer_free(l);
    mt_tensor_free(x);
}

static int open_refs(void **state)
{
    (void)state;
    return mt_safetensors_open(REFS_DIR "/rnn_cell_torch.safetensors", &refs) ? -1 : 0;
}

static int close_refs(void **state)
{
    (void)state;
    mt_safetensors_close(refs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cell_over_sequence_is_the_loop),
        cmocka_unit_test(cell_one_step_at_a_time),
        cmocka_unit_test(cell_layer_info),
        cmocka_unit_test(cell_errors),
    };
    return cmocka_run_group_tests(tests, open_refs, close_refs);
}
