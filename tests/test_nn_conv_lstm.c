/* test_nn_conv_lstm.c — Keras' ConvLSTM1D/2D/3D against Keras 3.11
 * (reference/make_keras_conv_lstm_refs.py -> conv_lstm_keras.safetensors;
 * Bidirectional: make_keras_conv_lstm_bidi_refs.py):
 * SAME and VALID padding (an even kernel's extra row after, in both
 * convs), strides, dilation, go_backwards, no bias, other activations,
 * return_sequences and return_state's h and c, initial_state, 1-D and 3-D,
 * a strided input; the Keras next-frame video prediction example
 * (width-reduced) end to end; errors and out-of-memory at every
 * allocation. */
#include "volume_refs.h"

static mt_safetensors *refs, *bidi_refs;

/* Layer l run on in[0..n-1] (x, h0, c0) in a graph, against `want` of
 * reference file `file`. */
static void graph_matches(mt_safetensors *file, mt_layer *l, int n, const mt_tensor *const *in,
                          const char *want)
{
    static const char *const names[3] = {"x", "h0", "c0"};
    mt_graph *g = NULL;
    int ids[3], y;
    const mt_tensor *out;
    assert_ok(mt_graph_new(&g));
    for (int i = 0; i < n; i++)
        assert_ok(mt_graph_input(g, names[i], MT_DTYPE_F32, in[i]->rank - 1, in[i]->shape + 1,
                                 &ids[i]));
    assert_ok(mt_graph_add(g, "conv_lstm", l, n, ids, &y));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_forward(g, n, in, 1, &out));
    matches(file, out, want);
    mt_graph_free(g);
}

typedef struct keras_case {
    const char *layer, *x, *want;
    mt_conv_lstm_options o;
} keras_case;

static const keras_case cases[] = {
    {"a", "x", "y_a", {.padding = MT_PADDING_SAME}},
    {"b", "x", "y_b", {.stride = {2, 1}, .output = MT_RNN_RETURN_LAST_STEP}},
    {"b", "x", "y_b", {.stride = {2, 1}, .output = MT_RNN_RETURN_FINAL_STATE}},
    {"c", "x", "y_c", {.padding = MT_PADDING_SAME, .dilation = {2, 2}, .go_backwards = true,
                       .activation = MT_RNN_ACTIVATION_RELU,
                       .recurrent_activation = MT_RNN_ACTIVATION_HARD_SIGMOID}},
    {"d", "x", "y_d", {.padding = MT_PADDING_SAME, .output = MT_RNN_RETURN_LAST_STEP}},
    {"d", "x", "h_d", {.padding = MT_PADDING_SAME, .output = MT_RNN_RETURN_FINAL_STATE}},
    {"d", "x", "c_d", {.padding = MT_PADDING_SAME, .output = MT_RNN_RETURN_CELL_STATE}},
    {"k1", "x1", "y_k1", {.padding = MT_PADDING_SAME}},
    {"k1v", "x1", "y_k1v", {.stride = {2}, .output = MT_RNN_RETURN_LAST_STEP}},
    {"k3", "x3", "y_k3", {.output = MT_RNN_RETURN_LAST_STEP}},
    {"k3s", "x3", "y_k3s", {.padding = MT_PADDING_SAME}},
};

/* Each case loaded from `file` by its prefix and run on its input there. */
static void cases_match(mt_safetensors *file, const keras_case *cs, size_t n)
{
    mt_state_dict sd = {file, MT_FRAMEWORK_KERAS};
    for (size_t i = 0; i < n; i++) {
        const keras_case *c = &cs[i];
        mt_layer *l = NULL;
        if (mt_conv_lstm_load(&sd, c->layer, &c->o, &l))
            fail_msg("%s: %s", c->layer, mt_last_error());
        mt_tensor *x = ref_get(file, c->x);
        graph_matches(file, l, 1, (const mt_tensor *const[]){x}, c->want);
        mt_tensor_free(x);
    }
}

static void layers_match_keras(void **state)
{
    (void)state;
    cases_match(refs, cases, sizeof cases / sizeof cases[0]);
}

/* Keras' Bidirectional around ConvLSTM2D and ConvLSTM1D, each merge_mode,
 * sequences and the last step (make_keras_conv_lstm_bidi_refs.py), loaded
 * by the wrapper's prefix; and what it refuses. */
static void bidirectional_matches_keras(void **state)
{
    (void)state;
    mt_state_dict sd = {bidi_refs, MT_FRAMEWORK_KERAS};
    static const keras_case bidi[] = {
        {"bc", "x", "y_bc", {.padding = MT_PADDING_SAME}},
        {"bs", "x", "y_bs", {.stride = {2, 1}, .output = MT_RNN_RETURN_LAST_STEP,
                             .merge = MT_RNN_MERGE_SUM}},
        {"bm", "x", "y_bm", {.padding = MT_PADDING_SAME, .merge = MT_RNN_MERGE_MUL}},
        {"ba", "x1", "y_ba", {.padding = MT_PADDING_SAME, .merge = MT_RNN_MERGE_AVE}},
    };
    cases_match(bidi_refs, bidi, sizeof bidi / sizeof bidi[0]);
    mt_layer *l = NULL;
    assert_int_equal(mt_conv_lstm_load(&sd, "bc", &(mt_conv_lstm_options){
                                           .merge = MT_RNN_MERGE_NONE}, &l),
                     MT_ERR_UNSUPPORTED);
    assert_non_null(strstr(mt_last_error(), "merge_mode=None's two outputs are not supported"));
    assert_int_equal(mt_conv_lstm_load(&sd, "bc", &(mt_conv_lstm_options){
                                           .output = MT_RNN_RETURN_CELL_STATE}, &l),
                     MT_ERR_UNSUPPORTED);
    assert_int_equal(mt_conv_lstm_load(&sd, "bc", &(mt_conv_lstm_options){.merge = 9}, &l),
                     MT_ERR_INVALID_ARGUMENT);
    assert_null(l);
    // two wrappers' forward layers under one prefix: which one is meant?
    mt_tensor *fk = ref_get(bidi_refs, "bc/forward_c/conv_lstm_cell/kernel");
    mt_tensor *fu = ref_get(bidi_refs, "bc/forward_c/conv_lstm_cell/recurrent_kernel");
    const mt_safetensors_item items[4] = {
        {"two/forward_c/conv_lstm_cell/kernel", 0, fk},
        {"two/forward_c/conv_lstm_cell/recurrent_kernel", 0, fu},
        {"two/forward_d/conv_lstm_cell/kernel", 0, fk},
        {"two/forward_d/conv_lstm_cell/recurrent_kernel", 0, fu}};
    void *buf = NULL;
    size_t size = 0;
    mt_safetensors *two = NULL;
    assert_ok(mt_safetensors_serialize(items, 4, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &two));
    assert_fails(mt_conv_lstm_load(&(mt_state_dict){two, MT_FRAMEWORK_KERAS}, "two", NULL, &l),
                 MT_ERR_FORMAT, "two/forward_c and two/forward_d: two Bidirectional forward "
                 "layers under one prefix");
    assert_null(l);
    mt_safetensors_close(two);
    mt_safetensors_buffer_free(buf);
    mt_tensor_free(fu);
    mt_tensor_free(fk);
    // an initial state: refused when the layer is added to a graph
    assert_ok(mt_conv_lstm_load(&sd, "bc", &(mt_conv_lstm_options){.padding = MT_PADDING_SAME},
                                &l));
    mt_graph *g = NULL;
    int ids[3], y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){4, 6, 7, 3}, &ids[0]));
    assert_ok(mt_graph_input(g, "h0", MT_DTYPE_F32, 3, (const int64_t[]){6, 7, 3}, &ids[1]));
    assert_ok(mt_graph_input(g, "c0", MT_DTYPE_F32, 3, (const int64_t[]){6, 7, 3}, &ids[2]));
    assert_int_equal(mt_graph_add(g, "bi", l, 3, ids, &y), MT_ERR_SHAPE);
    assert_non_null(strstr(mt_last_error(), "a Bidirectional takes no initial state here"));
    mt_graph_free(g);   // (the graph took l, and freed it on the failure)
}

/* Keras' initial_state=[h0, c0]: the states as the inputs after x. */
static void initial_state_matches_keras(void **state)
{
    (void)state;
    mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_layer *l = NULL;
    assert_ok(mt_conv_lstm_load(&sd, "e", &(mt_conv_lstm_options){.padding = MT_PADDING_SAME},
                                &l));
    mt_tensor *x = ref_get(refs, "x"), *h0 = ref_get(refs, "h0_e"), *c0 = ref_get(refs, "c0_e");
    graph_matches(refs, l, 3, (const mt_tensor *const[]){x, h0, c0}, "y_e");
    mt_tensor_free(c0);
    mt_tensor_free(h0);
    mt_tensor_free(x);
}

/* The layer built from the tensors themselves, run alone on x seen
 * through a strided view (its channels a slice of a wider tensor). */
static void new_on_a_strided_input(void **state)
{
    (void)state;
    mt_tensor *k = ref_get(refs, "a/conv_lstm_cell/kernel"),
              *u = ref_get(refs, "a/conv_lstm_cell/recurrent_kernel"),
              *b = ref_get(refs, "a/conv_lstm_cell/bias"), *x = ref_get(refs, "x");
    mt_layer *l = NULL;
    assert_ok(mt_conv_lstm_new(k, u, b, &(mt_conv_lstm_options){.padding = MT_PADDING_SAME},
                               &l));
    mt_tensor_free(k);   // the layer holds its own references
    mt_tensor_free(u);
    mt_tensor_free(b);
    mt_tensor *wide = NULL, *xv = NULL, *y = NULL;
    assert_ok(mt_tensor_full(5, (const int64_t[]){2, 4, 6, 7, 5}, NAN, &wide));
    assert_ok(mt_narrow(wide, 4, 1, 3, &xv));
    assert_ok(mt_tensor_copy_into(x, xv));
    assert_false(mt_tensor_is_contiguous(xv));
    assert_ok(mt_layer_forward(l, xv, &y));
    matches(refs, y, "y_a");
    mt_tensor_free(y);
    mt_tensor_free(xv);
    mt_tensor_free(wide);
    mt_tensor_free(x);
    mt_layer_free(l);
}

/* Keras' "Next-frame video prediction with convolutional LSTMs" example,
 * width-reduced: three ConvLSTM2D (relu) with BatchNormalizations between
 * them, and a Conv3D head over [T, H, W]. */
static void next_frame_model_matches_keras(void **state)
{
    (void)state;
    mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_sequential *m = NULL;
    mt_layer *l = NULL;
    assert_ok(mt_sequential_new(4, (const int64_t[]){5, 16, 16, 1}, &m));
    mt_conv_lstm_options o = {.padding = MT_PADDING_SAME, .activation = MT_RNN_ACTIVATION_RELU};
    add(m, mt_conv_lstm_load(&sd, "nf/l1", &o, &l), &l);
    add(m, mt_batch_norm_load(&sd, "nf/bn1", NULL, &l), &l);
    add(m, mt_conv_lstm_load(&sd, "nf/l2", &o, &l), &l);
    add(m, mt_batch_norm_load(&sd, "nf/bn2", NULL, &l), &l);
    add(m, mt_conv_lstm_load(&sd, "nf/l3", &o, &l), &l);
    add(m, mt_conv3d_load(&sd, "nf/head", &(mt_conv3d_options){
            .padding = MT_PADDING_SAME, .act = MT_ACTIVATION_SIGMOID}, &l), &l);
    mt_tensor *x = ref_get(refs, "xnf");
    const mt_tensor *y;
    assert_ok(mt_sequential_forward(m, x, &y));
    matches(refs, y, "y_nf");
    mt_tensor_free(x);
    mt_sequential_free(m);
}

/* The output shape the model infers, before anything runs. */
static void shapes_are_inferred(void **state)
{
    (void)state;
    mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS};
    mt_graph *g = NULL;
    mt_layer *l = NULL;
    int x, y;
    mt_shape s;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){9, 11, 13, 3}, &x));
    assert_ok(mt_conv_lstm_load(&sd, "b", &(mt_conv_lstm_options){.stride = {2, 1}}, &l));
    assert_ok(mt_graph_add(g, "b", l, 1, &x, &y));
    assert_ok(mt_graph_shape_get(g, y, &s));
    assert_int_equal(s.rank, 5);   // [1, T, (11-2)/2+1, 13-3+1, 3]
    assert_int_equal(s.dim[1], 9);
    assert_int_equal(s.dim[2], 5);
    assert_int_equal(s.dim[3], 11);
    assert_int_equal(s.dim[4], 3);
    mt_graph_free(g);
}

static void errors_are_clear(void **state)
{
    (void)state;
    mt_state_dict sd = {refs, MT_FRAMEWORK_KERAS}, td = {refs, MT_FRAMEWORK_PYTORCH};
    mt_tensor *k = ref_get(refs, "a/conv_lstm_cell/kernel"),
              *u = ref_get(refs, "a/conv_lstm_cell/recurrent_kernel"),
              *b = ref_get(refs, "a/conv_lstm_cell/bias"), *kb = ref_get(refs, "b/conv_lstm_cell/kernel");
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_conv_lstm_new(NULL, u, b, NULL, &l), MT_ERR_INVALID_ARGUMENT, "kernel is NULL");
    assert_null(l);
    assert_fails(mt_conv_lstm_new(k, NULL, b, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "recurrent_kernel is NULL");
    assert_fails(mt_conv_lstm_new(k, u, b, NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    // the recurrent kernel of another layer: F does not chain
    assert_fails(mt_conv_lstm_new(kb, u, NULL, NULL, &l), MT_ERR_SHAPE,
                 "[k..., C, 4F] and [k..., F, 4F]");
    assert_fails(mt_conv_lstm_new(k, u, kb, NULL, &l), MT_ERR_SHAPE, "expected [16]");
    mt_tensor *flat = NULL, *odd = NULL, *ints = NULL;
    assert_ok(mt_view(k, 2, (const int64_t[]){27, 16}, &flat));   // no spatial dim
    assert_fails(mt_conv_lstm_new(flat, u, b, NULL, &l), MT_ERR_SHAPE, "1 to 3 spatial dims");
    assert_ok(mt_narrow(k, 3, 0, 15, &odd));   // 4F = 15
    assert_fails(mt_conv_lstm_new(odd, u, b, NULL, &l), MT_ERR_SHAPE, "recurrent kernel");
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 4, k->shape, &ints));
    assert_fails(mt_conv_lstm_new(ints, u, b, NULL, &l), MT_ERR_DTYPE, "expected float");
    mt_tensor nodata = *u;   // a recurrent kernel with no data: the layer and tensor named
    nodata.data = NULL;
    assert_fails(mt_conv_lstm_new(k, &nodata, b, NULL, &l), MT_ERR_INVALID_ARGUMENT,
                 "recurrent kernel");
    assert_fails(mt_conv_lstm_new(k, u, b, &(mt_conv_lstm_options){.padding = MT_PADDING_EXPLICIT},
                                  &l), MT_ERR_INVALID_ARGUMENT, "VALID or SAME");
    assert_fails(mt_conv_lstm_new(k, u, b, &(mt_conv_lstm_options){.output = MT_RNN_RETURN_H_N},
                                  &l), MT_ERR_INVALID_ARGUMENT, "output 4");
    assert_fails(mt_conv_lstm_new(k, u, b, &(mt_conv_lstm_options){.stride = {1, 1, 2}}, &l),
                 MT_ERR_INVALID_ARGUMENT, "within the 2 spatial dims");
    assert_fails(mt_conv_lstm_new(k, u, b, &(mt_conv_lstm_options){.dilation = {-1}}, &l),
                 MT_ERR_INVALID_ARGUMENT, "expected >= 1");
    assert_fails(mt_conv_lstm_new(k, u, b, &(mt_conv_lstm_options){.activation = 99}, &l),
                 MT_ERR_INVALID_ARGUMENT, "not an mt_rnn_activation");
    assert_fails(mt_conv_lstm_new(k, u, b, &(mt_conv_lstm_options){.merge = 9}, &l),
                 MT_ERR_INVALID_ARGUMENT, "merge 9 is not a mt_rnn_merge");
    assert_null(l);
    // loading
    assert_fails(mt_conv_lstm_load(&td, "a", NULL, &l), MT_ERR_UNSUPPORTED, "Keras' ConvLSTM");
    assert_fails(mt_conv_lstm_load(&sd, "zz", NULL, &l), MT_ERR_NOT_FOUND, "zz/kernel");
    assert_fails(mt_conv_lstm_load(&sd, "a", NULL, NULL), MT_ERR_INVALID_ARGUMENT, "out");
    assert_null(l);
    // inputs that do not fit, named by the model
    assert_ok(mt_conv_lstm_load(&sd, "b", &(mt_conv_lstm_options){.stride = {2, 1}}, &l));
    mt_graph *g = NULL;
    int x, h0, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){4, 6, 7, 2}, &x));
    assert_fails(mt_graph_add(g, "b", l, 1, &x, &y), MT_ERR_SHAPE, "expects F32 [N,T,H,W,3]");
    mt_graph_free(g);
    assert_ok(mt_conv_lstm_load(&sd, "b", NULL, &l));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){4, 1, 7, 3}, &x));
    assert_fails(mt_graph_add(g, "b", l, 1, &x, &y), MT_ERR_SHAPE, "does not fit");
    mt_graph_free(g);
    assert_ok(mt_conv_lstm_load(&sd, "a", &(mt_conv_lstm_options){.padding = MT_PADDING_SAME},
                                &l));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){4, 6, 7, 3}, &x));
    assert_ok(mt_graph_input(g, "h0", MT_DTYPE_F32, 3, (const int64_t[]){6, 7, 3}, &h0));
    assert_fails(mt_graph_add(g, "a", l, 3, (const int[]){x, h0, h0}, &y), MT_ERR_SHAPE,
                 "expects initial h as F32 [1,6,7,4]");
    mt_graph_free(g);
    assert_ok(mt_conv_lstm_load(&sd, "a", NULL, &l));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 4, (const int64_t[]){4, 6, 7, 3}, &x));
    assert_fails(mt_graph_add(g, "a", l, 2, (const int[]){x, x}, &y), MT_ERR_SHAPE,
                 "given 2 inputs");
    mt_graph_free(g);
    mt_tensor_free(ints);
    mt_tensor_free(odd);
    mt_tensor_free(flat);
    mt_tensor_free(kb);
    mt_tensor_free(b);
    mt_tensor_free(u);
    mt_tensor_free(k);
}

/* Out of memory at each allocation of a load and a run: an error, nothing
 * leaked (the sanitizer and valgrind runs check), and the run after it
 * right. */
static void out_of_memory_fails_cleanly(void **state)
{
    (void)state;
    /* one direction, then a Bidirectional (both directions' tensors) */
    mt_safetensors *file[2] = {refs, bidi_refs};
    const char *prefix[2] = {"k1", "ba"}, *want[2] = {"y_k1", "y_ba"};
    for (int f = 0; f < 2; f++) {
        mt_state_dict sd = {file[f], MT_FRAMEWORK_KERAS};
        mt_tensor *x = ref_get(file[f], "x1");
        for (long fail_after = 0;; fail_after++) {
            alloc_probe p;
            mt_layer *l = NULL;
            mt_tensor *y = NULL;
            probe_install(&p, fail_after);
            mt_status s = mt_conv_lstm_load(&sd, prefix[f], &(mt_conv_lstm_options){
                                                .padding = MT_PADDING_SAME,
                                                .merge = MT_RNN_MERGE_AVE}, &l);
            if (!s)
                s = mt_layer_forward(l, x, &y);
            probe_remove();
            mt_layer_free(l);
            if (!s) {
                matches(file[f], y, want[f]);
                mt_tensor_free(y);
                assert_true(fail_after > 2);
                break;
            }
            assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
            assert_null(y);
        }
        mt_tensor_free(x);
    }
}

static int setup(void **state)
{
    (void)state;
    refs = ref_open("conv_lstm_keras.safetensors");
    bidi_refs = ref_open("conv_lstm_bidi_keras.safetensors");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mt_safetensors_close(refs);
    mt_safetensors_close(bidi_refs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layers_match_keras),
        cmocka_unit_test(initial_state_matches_keras),
        cmocka_unit_test(bidirectional_matches_keras),
        cmocka_unit_test(new_on_a_strided_input),
        cmocka_unit_test(next_frame_model_matches_keras),
        cmocka_unit_test(shapes_are_inferred),
        cmocka_unit_test(errors_are_clear),
        cmocka_unit_test(out_of_memory_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
