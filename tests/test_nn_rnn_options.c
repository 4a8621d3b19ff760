/* test_nn_rnn_options.c — the recurrent layers' options past the defaults
 * (rnn.h) against Keras' and PyTorch's own outputs
 * (reference/make_rnn_options_refs.py -> reference/rnn_options_keras.
 * safetensors, rnn_options_torch.safetensors): Keras' Bidirectional
 * merge_mode 'sum' (LSTM), 'mul' (GRU), 'ave' (SimpleRNN; GRU after
 * Embedding(mask_zero=True)); go_backwards=True (LSTM, GRU, SimpleRNN;
 * return_state's c; masked, both paddings); activation= and
 * recurrent_activation= (relu, sigmoid, hard_sigmoid, tanh, linear);
 * stateful=True as the states fed back;
 * PyTorch's nn.LSTM(proj_size=P) (no bias; 2 layers bidirectional from h0
 * and c0; packed): out, h_n, c_n; and the refusals (merge NONE, merges on
 * states or one direction, go_backwards on two, clashing activations,
 * projections that do not fit). */
#include "test_util.h"

/* y equals the reference `name` in shape and values. */
static void assert_matches(const mt_safetensors *st, const char *name, const mt_tensor *y)
{
    ref_assert_matches(st, name, y, 1e-5, 1e-4);
}

typedef mt_status (*loader_fn)(const mt_state_dict *, const char *, const mt_rnn_options *,
                               mt_layer **);

/* The layer l run on in[0..n-1] (x, mask, h0 …) in a graph *g (which
 * owns l; free it after reading *out). With pad_ids, in[1] is token ids
 * and the mask is made from them by mt_padding_mask_new(0, KEEP). */
static void graph_run(mt_layer *l, int n, const mt_tensor *const *in, bool pad_ids,
                      mt_graph **gp, const mt_tensor **out)
{
    mt_graph *g;
    int ids[4], y;
    static const char *const names[4] = {"x", "mask", "h0", "c0"};
    assert_ok(mt_graph_new(&g));
    for (int i = 0; i < n; i++)
        assert_ok(mt_graph_input(g, names[i], in[i]->dtype, in[i]->rank - 1, in[i]->shape + 1,
                                 &ids[i]));
    if (pad_ids) {
        mt_layer *pm;
        assert_ok(mt_padding_mask_new(0, MT_MASK_MODE_KEEP, &pm));
        assert_ok(mt_graph_add(g, "pad", pm, 1, &ids[1], &ids[1]));
    }
    assert_ok(mt_graph_add(g, "rnn", l, n, ids, &y));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_forward(g, n, in, 1, out));
    *gp = g;
}

/* The same, its output against `want`. */
static void graph_matches(const mt_safetensors *st, mt_layer *l, int n,
                          const mt_tensor *const *in, bool pad_ids, const char *want)
{
    mt_graph *g;
    const mt_tensor *out;
    graph_run(l, n, in, pad_ids, &g, &out);
    assert_matches(st, want, out);
    mt_graph_free(g);
}

/* Layer c of sd with options o on "x": return_sequences=True as
 * SEQUENCES ("y_<c>_seq"), False as FINAL_STATE ("y_<c>_final"). */
static void keras_case(const mt_state_dict *sd, loader_fn load, const char *c, mt_rnn_options o)
{
    mt_tensor *x = ref_get(sd->file, "x");
    char name[64];
    for (int seq = 0; seq < 2; seq++) {
        mt_layer *l = NULL;
        mt_tensor *y = NULL;
        o.output = seq == 0 ? MT_RNN_RETURN_SEQUENCES : MT_RNN_RETURN_FINAL_STATE;
        assert_ok(load(sd, c, &o, &l));
        assert_ok(mt_layer_forward(l, x, &y));
        snprintf(name, sizeof name, "y_%s_%s", c, seq == 0 ? "seq" : "final");
        assert_matches(sd->file, name, y);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    mt_tensor_free(x);
}

/* The same after Embedding(mask_zero=True) on ids padded 'pre' and 'post'
 * ("e_<pad>", "ids_<pad>"): "y_<c>_<pad>_seq" (with mask_repeat if
 * repeat) and "_final". */
static void keras_masked_case(const mt_state_dict *sd, loader_fn load, const char *c,
                              mt_rnn_options o, bool repeat)
{
    static const char *const pads[2] = {"pre", "post"};
    char name[64];
    for (int p = 0; p < 2; p++) {
        snprintf(name, sizeof name, "e_%s", pads[p]);
        mt_tensor *x = ref_get(sd->file, name);
        snprintf(name, sizeof name, "ids_%s", pads[p]);
        mt_tensor *ids = ref_get(sd->file, name);
        for (int seq = 0; seq < 2; seq++) {
            mt_layer *l;
            o.mask = MT_MASK_MODE_KEEP;
            o.mask_repeat = repeat && seq == 0;
            o.output = seq == 0 ? MT_RNN_RETURN_SEQUENCES : MT_RNN_RETURN_FINAL_STATE;
            assert_ok(load(sd, c, &o, &l));
            snprintf(name, sizeof name, "y_%s_%s_%s", c, pads[p], seq == 0 ? "seq" : "final");
            graph_matches(sd->file, l, 2, (const mt_tensor *const[]){x, ids}, true, name);
        }
        mt_tensor_free(x);
        mt_tensor_free(ids);
    }
}

/* ---- Keras: Bidirectional(merge_mode=…) ------------------------------------------------ */

static void keras_merge_modes(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_options_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    keras_case(&sd, mt_lstm_load, "bs", (mt_rnn_options){.merge = MT_RNN_MERGE_SUM});
    keras_case(&sd, mt_gru_load, "bm", (mt_rnn_options){.merge = MT_RNN_MERGE_MUL});
    keras_case(&sd, mt_rnn_load, "ba", (mt_rnn_options){.merge = MT_RNN_MERGE_AVE});
    keras_masked_case(&sd, mt_gru_load, "bg", (mt_rnn_options){.merge = MT_RNN_MERGE_AVE},
                      false);

    // LAST_STEP merged: the merged sequence's step L-1, [N, H]
    mt_tensor *x = ref_get(st, "x"), *seq = ref_get(st, "y_bs_seq"), *y = NULL;
    mt_layer *l;
    assert_ok(mt_lstm_load(&sd, "bs", &(mt_rnn_options){.merge = MT_RNN_MERGE_SUM,
                                                        .output = MT_RNN_RETURN_LAST_STEP},
                           &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->shape[1], 4);
    for (int64_t n = 0; n < 3; n++)
        assert_close((const float *)y->data + n * 4, (const float *)seq->data + (n * 5 + 4) * 4,
                     4, 1e-5, 1e-4);
    mt_layer_info info;
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.out_features, 4);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(seq);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* merge_mode=None is CONCAT split in two: Keras' (y, y_rev) are its halves. */
static void keras_merge_none_is_concat_split(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_options_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_gru_load(&sd, "bm", &(mt_rnn_options){.merge = MT_RNN_MERGE_NONE}, &l),
                 MT_ERR_UNSUPPORTED, "gru bm: merge NONE (Keras' merge_mode=None) gives two "
                 "outputs and a layer has one: load with MT_RNN_MERGE_CONCAT");
    assert_null(l);
    // the product of the two halves of CONCAT is MUL's output
    mt_tensor *x = ref_get(st, "x"), *want = ref_get(st, "y_bm_seq"), *y = NULL;
    assert_ok(mt_gru_load(&sd, "bm", NULL, &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_int_equal(y->shape[2], 8);
    float prod[3 * 5 * 4];
    const float *a = y->data;
    for (int i = 0; i < 3 * 5; i++)
        for (int j = 0; j < 4; j++)
            prod[i * 4 + j] = a[i * 8 + j] * a[i * 8 + 4 + j];
    assert_close(prod, (const float *)want->data, 3 * 5 * 4, 1e-5, 1e-4);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(want);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* ---- Keras: go_backwards=True ------------------------------------------------------------ */

static void keras_go_backwards(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_options_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    const mt_rnn_options back = {.go_backwards = true};
    keras_case(&sd, mt_lstm_load, "gl", back);
    keras_case(&sd, mt_gru_load, "gg", back);
    keras_case(&sd, mt_rnn_load, "gr", back);
    keras_masked_case(&sd, mt_lstm_load, "gl", back, true);

    // return_state's c
    mt_tensor *x = ref_get(st, "x"), *y = NULL;
    mt_layer *l;
    assert_ok(mt_lstm_load(&sd, "gl", &(mt_rnn_options){.go_backwards = true,
                                                        .output = MT_RNN_RETURN_CELL_STATE},
                           &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "c_gl", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    // LAST_STEP: the reversed sequence's last step, the final state
    assert_ok(mt_lstm_load(&sd, "gl", &(mt_rnn_options){.go_backwards = true,
                                                        .output = MT_RNN_RETURN_LAST_STEP},
                           &l));
    assert_ok(mt_layer_forward(l, x, &y));
    assert_matches(st, "y_gl_final", y);
    mt_tensor_free(y);
    mt_layer_free(l);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Keras' stateful=True: a second call on x2 starts from the first call's
 * final h and c, which the layer gives as FINAL_STATE and CELL_STATE and
 * takes back as state inputs. */
static void keras_stateful_as_state_inputs(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_options_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x"), *x2 = ref_get(st, "x2");
    mt_graph *g;
    mt_layer *l;
    int in[2], h, c, y;
    const mt_tensor *out;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, x->shape + 1, &in[0]));
    assert_ok(mt_graph_input(g, "x2", MT_DTYPE_F32, 2, x2->shape + 1, &in[1]));
    assert_ok(mt_lstm_load(&sd, "gl", &(mt_rnn_options){.output = MT_RNN_RETURN_FINAL_STATE},
                           &l));
    assert_ok(mt_graph_add(g, "h", l, 1, &in[0], &h));
    assert_ok(mt_lstm_load(&sd, "gl", &(mt_rnn_options){.output = MT_RNN_RETURN_CELL_STATE},
                           &l));
    assert_ok(mt_graph_add(g, "c", l, 1, &in[0], &c));
    assert_ok(mt_lstm_load(&sd, "gl", NULL, &l));
    assert_ok(mt_graph_add(g, "second", l, 3, (int[]){in[1], h, c}, &y));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_forward(g, 2, (const mt_tensor *const[]){x, x2}, 1, &out));
    assert_matches(st, "y_sf_2", out);
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_tensor_free(x2);
    mt_safetensors_close(st);
}

/* ---- Keras: activation= and recurrent_activation= ---------------------------------------- */

static void keras_activations(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_options_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    keras_case(&sd, mt_lstm_load, "al", (mt_rnn_options){
                   .activation = MT_RNN_ACTIVATION_RELU,
                   .recurrent_activation = MT_RNN_ACTIVATION_HARD_SIGMOID});
    // relu's c is never negative (relu(c) = c): tanh's tells act(c) apart
    keras_case(&sd, mt_lstm_load, "ah", (mt_rnn_options){
                   .recurrent_activation = MT_RNN_ACTIVATION_HARD_SIGMOID});
    keras_case(&sd, mt_gru_load, "ag", (mt_rnn_options){
                   .activation = MT_RNN_ACTIVATION_SIGMOID,
                   .recurrent_activation = MT_RNN_ACTIVATION_HARD_SIGMOID});
    keras_case(&sd, mt_gru_load, "ab", (mt_rnn_options){
                   .recurrent_activation = MT_RNN_ACTIVATION_TANH});
    keras_case(&sd, mt_rnn_load, "ar", (mt_rnn_options){.activation = MT_RNN_ACTIVATION_LINEAR});
    // the defaults spelled out are the defaults
    keras_case(&sd, mt_lstm_load, "gl", (mt_rnn_options){
                   .go_backwards = true, .activation = MT_RNN_ACTIVATION_TANH,
                   .recurrent_activation = MT_RNN_ACTIVATION_SIGMOID});
    mt_safetensors_close(st);
}

/* ---- PyTorch: nn.LSTM(proj_size=P) -------------------------------------------------------- */

/* Layer c from in (x, mask?, h0?, c0?) with each output, against
 * "y_<r>", "hn_<r>", "cn_<r>". */
static void torch_proj_case(const mt_state_dict *sd, const char *c, const char *r, int n,
                            const mt_tensor *const *in, bool mask)
{
    static const char *const what[3] = {"y", "hn", "cn"};
    static const mt_rnn_return outputs[3] = {MT_RNN_RETURN_SEQUENCES, MT_RNN_RETURN_H_N,
                                             MT_RNN_RETURN_C_N};
    char name[64];
    for (int i = 0; i < 3; i++) {
        mt_layer *l;
        assert_ok(mt_lstm_load(sd, c, &(mt_rnn_options){
                                   .output = outputs[i],
                                   .mask = mask ? MT_MASK_MODE_KEEP : MT_MASK_MODE_NONE}, &l));
        snprintf(name, sizeof name, "%s_%s", what[i], r);
        graph_matches(sd->file, l, n, in, false, name);
    }
}

static void torch_proj_size(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_options_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x1 = ref_get(st, "x_p1"), *x2 = ref_get(st, "x_p2"), *h0 = ref_get(st, "h0_p2");
    mt_tensor *c0 = ref_get(st, "c0_p2"), *xp = ref_get(st, "x_pk"), *mk = ref_get(st, "mask_pk");
    torch_proj_case(&sd, "p1", "p1", 1, (const mt_tensor *const[]){x1}, false);
    torch_proj_case(&sd, "p2", "p2", 3, (const mt_tensor *const[]){x2, h0, c0}, false);
    torch_proj_case(&sd, "p2", "pk", 2, (const mt_tensor *const[]){xp, mk}, true);

    // h0 as [N, layers·D·P], c0 as [N, layers·D·H]: the flat forms
    mt_tensor h0f, c0f;
    assert_ok(mt_view_into(h0, 2, (int64_t[]){3, 12}, &h0f));
    assert_ok(mt_view_into(c0, 2, (int64_t[]){3, 20}, &c0f));
    mt_layer *l;
    mt_layer_info info;
    assert_ok(mt_lstm_load(&sd, "p2", NULL, &l));
    assert_ok(mt_layer_info_get(l, &info));
    assert_int_equal(info.out_features, 6);
    graph_matches(st, l, 3, (const mt_tensor *const[]){x2, &h0f, &c0f}, false, "y_p2");

    // LAST_STEP: out[:, -1], [N, P·D] (the backward half after one step)
    mt_tensor *want = ref_get(st, "y_p2");
    mt_graph *g;
    const mt_tensor *last;
    assert_ok(mt_lstm_load(&sd, "p2", &(mt_rnn_options){.output = MT_RNN_RETURN_LAST_STEP},
                           &l));
    graph_run(l, 3, (const mt_tensor *const[]){x2, h0, c0}, false, &g, &last);
    assert_int_equal(last->rank, 2);
    assert_int_equal(last->shape[1], 6);
    for (int64_t n = 0; n < 3; n++)
        assert_close((const float *)last->data + n * 6,
                     (const float *)want->data + (n * 5 + 4) * 6, 6, 1e-5, 1e-4);
    mt_graph_free(g);
    mt_tensor_free(want);

    // FINAL_STATE, CELL_STATE: the last layer's, [N, P·D] and [N, H·D]
    mt_tensor *y = NULL, *hn = ref_get(st, "hn_p1"), *cn = ref_get(st, "cn_p1");
    for (int k = 0; k < 2; k++) {
        assert_ok(mt_lstm_load(&sd, "p1", &(mt_rnn_options){
                                   .output = k ? MT_RNN_RETURN_CELL_STATE
                                               : MT_RNN_RETURN_FINAL_STATE}, &l));
        assert_ok(mt_layer_forward(l, x1, &y));
        assert_int_equal(y->rank, 2);
        assert_int_equal(y->shape[1], k ? 4 : 2);
        assert_close((const float *)y->data, (const float *)(k ? cn : hn)->data,
                     (size_t)mt_tensor_numel(y), 1e-5, 1e-4);
        mt_tensor_free(y);
        mt_layer_free(l);
    }
    mt_tensor *all[] = {x1, x2, h0, c0, xp, mk, hn, cn};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
    mt_safetensors_close(st);
}

/* ---- refusals ------------------------------------------------------------------------------ */

static void errors_options(void **state)
{
    (void)state;
    mt_safetensors *ks = ref_open("rnn_options_keras.safetensors");
    const mt_state_dict kd = {ks, MT_FRAMEWORK_KERAS};
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_lstm_load(&kd, "gl", &(mt_rnn_options){.merge = MT_RNN_MERGE_SUM}, &l),
                 MT_ERR_INVALID_ARGUMENT, "lstm gl: merge mode sum needs two directions");
    assert_fails(mt_lstm_load(&kd, "bs", &(mt_rnn_options){.merge = MT_RNN_MERGE_SUM,
                                                           .output = MT_RNN_RETURN_CELL_STATE},
                              &l),
                 MT_ERR_INVALID_ARGUMENT, "merge mode sum with a state output (CELL_STATE): "
                 "Keras returns a Bidirectional's states apart");
    assert_fails(mt_lstm_load(&kd, "bs", &(mt_rnn_options){.merge = MT_RNN_MERGE_AVE,
                                                           .output = MT_RNN_RETURN_H_N}, &l),
                 MT_ERR_INVALID_ARGUMENT, "merge mode ave with a state output (H_N)");
    assert_fails(mt_lstm_load(&kd, "bs", &(mt_rnn_options){.merge = 9}, &l),
                 MT_ERR_INVALID_ARGUMENT, "merge 9 is not an mt_rnn_merge");
    assert_fails(mt_lstm_load(&kd, "bs", &(mt_rnn_options){.go_backwards = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "go_backwards with two directions");
    assert_fails(mt_rnn_load(&kd, "ar", &(mt_rnn_options){
                                 .act = MT_ACTIVATION_RELU,
                                 .activation = MT_RNN_ACTIVATION_LINEAR}, &l),
                 MT_ERR_INVALID_ARGUMENT, "both act and activation are set");
    assert_fails(mt_rnn_load(&kd, "ar", &(mt_rnn_options){
                                 .recurrent_activation = MT_RNN_ACTIVATION_SIGMOID}, &l),
                 MT_ERR_INVALID_ARGUMENT, "recurrent_activation: an RNN has no gates");
    assert_fails(mt_lstm_load(&kd, "al", &(mt_rnn_options){.activation = 17}, &l),
                 MT_ERR_INVALID_ARGUMENT, "activation 17, recurrent_activation 0");
    assert_fails(mt_lstm_load(&kd, "al", &(mt_rnn_options){.act = MT_ACTIVATION_RELU}, &l),
                 MT_ERR_UNSUPPORTED, ".activation and .recurrent_activation choose others");
    assert_null(l);
    mt_safetensors_close(ks);
}

static void errors_proj(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_options_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *wi = ref_get(st, "p1.weight_ih_l0"), *wh = ref_get(st, "p1.weight_hh_l0");
    mt_tensor *wr = ref_get(st, "p1.weight_hr_l0"), *wr2 = ref_get(st, "p2.weight_hr_l0");
    mt_layer *l = (mt_layer *)&l;
    mt_tensor_name_set(wr2, "wr2");
    // w_hr [3,5] says P = 3, H = 5: w_hh [16,2] is not [20,3]
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){wi, wh, NULL, NULL, wr2}, NULL, &l),
                 MT_ERR_SHAPE, "w_hh p1.weight_hh_l0 [16,2], expected [20,3]");
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){wi, wh, NULL, NULL, wr},
                             &(mt_rnn_options){.hidden_size = 5}, &l),
                 MT_ERR_SHAPE, "w_hr p1.weight_hr_l0 [2,4], expected [2,5]");
    assert_fails(mt_gru_new(1, &(mt_rnn_weights){wi, wh, NULL, NULL, wr}, NULL, &l),
                 MT_ERR_INVALID_ARGUMENT, "only a PyTorch LSTM has a projection");
    // Keras' reset_after=False on a PyTorch GRU's state dict ran another GRU
    mt_safetensors *rt = ref_open("rnn_torch.safetensors");
    assert_ok(mt_gru_load(&(mt_state_dict){rt, MT_FRAMEWORK_PYTORCH}, "gru_h0", NULL, &l));
    mt_layer_free(l);
    assert_fails(mt_gru_load(&(mt_state_dict){rt, MT_FRAMEWORK_PYTORCH}, "gru_h0",
                             &(mt_rnn_options){.reset_before = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "gru gru_h0: reset_before is Keras' reset_after=False");
    mt_safetensors_close(rt);
    assert_fails(mt_lstm_new(2, (const mt_rnn_weights[]){{wi, wh, NULL, NULL, wr},
                                                         {wi, wh, NULL, NULL, NULL}},
                             &(mt_rnn_options){.bidirectional = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "weight set 1 has no w_hr and set 0 has");
    assert_null(l);

    // a missing weight_hr_l1 of a projected 2-layer LSTM is named
    size_t count = mt_safetensors_count(st), kept = 0;
    mt_safetensors_item items[64];
    mt_tensor *held[64];
    for (size_t i = 0; i < count; i++) {
        mt_safetensors_entry e;
        assert_ok(mt_safetensors_info(st, i, &e));
        char name[96];
        snprintf(name, sizeof name, "%.*s", (int)e.name_len, e.name);
        if (strncmp(name, "p2.", 3) || !strcmp(name, "p2.weight_hr_l1"))
            continue;
        held[kept] = ref_get(st, name);
        items[kept] = (mt_safetensors_item){e.name, e.name_len, held[kept]};
        kept++;
    }
    void *buf;
    size_t size;
    mt_safetensors *cut;
    assert_ok(mt_safetensors_serialize(items, kept, NULL, 0, &buf, &size));
    assert_ok(mt_safetensors_open_memory(buf, size, &cut));
    assert_fails(mt_lstm_load(&(mt_state_dict){cut, MT_FRAMEWORK_PYTORCH}, "p2", NULL, &l),
                 MT_ERR_NOT_FOUND, "p2.weight_hr_l1");
    assert_null(l);
    mt_safetensors_close(cut);
    mt_safetensors_buffer_free(buf);
    for (size_t i = 0; i < kept; i++)
        mt_tensor_free(held[i]);

    // h0 [N, 4, 5] (H wide) where h is P = 3 wide
    mt_graph *g;
    int in[3], y;
    assert_ok(mt_lstm_load(&sd, "p2", NULL, &l));
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, (int64_t[]){5, 3}, &in[0]));
    assert_ok(mt_graph_input(g, "h0", MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &in[1]));
    assert_ok(mt_graph_input(g, "c0", MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &in[2]));
    assert_fails(mt_graph_add(g, "rnn", l, 3, in, &y), MT_ERR_SHAPE,
                 "expects initial h as F32 [N,4,3] or [N,12]");
    mt_graph_free(g);
    mt_tensor *all[] = {wi, wh, wr, wr2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
    mt_safetensors_close(st);
}

/* ---- hostile inputs ------------------------------------------------------------------------ */

/* A NaN in x reaches every output, as in PyTorch 1.13's nn.RNN(2, 3,
 * nonlinearity='relu') (all NaN): the RNN's relu (.act) and a GRU's
 * .activation RELU (the general step) do not turn it into 0. */
static void relu_keeps_nan(void **state)
{
    (void)state;
    float wih[18] = {0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f, 0.2f, 0.1f, -0.1f};
    float whh[27] = {0.1f, 0.0f, 0.0f, 0.0f, 0.1f, 0.0f, 0.0f, 0.0f, 0.1f};
    float xd[4] = {NAN, 1.0f, 0.5f, 0.2f};
    mt_tensor *wi, *wi3, *wh, *wh3, *x;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){3, 2}, wih, &wi));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){3, 3}, whh, &wh));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){9, 2}, wih, &wi3));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){9, 3}, whh, &wh3));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 3, (int64_t[]){1, 2, 2}, xd, &x));
    mt_layer *l[2];
    assert_ok(mt_rnn_new(1, &(mt_rnn_weights){wi, wh, NULL, NULL, NULL},
                         &(mt_rnn_options){.act = MT_ACTIVATION_RELU}, &l[0]));
    assert_ok(mt_gru_new(1, &(mt_rnn_weights){wi3, wh3, NULL, NULL, NULL},
                         &(mt_rnn_options){.activation = MT_RNN_ACTIVATION_RELU}, &l[1]));
    for (int i = 0; i < 2; i++) {
        mt_tensor *y;
        assert_ok(mt_layer_forward(l[i], x, &y));
        assert_int_equal(mt_tensor_numel(y), 6);
        for (int j = 0; j < 6; j++)
            assert_true(isnan(((const float *)y->data)[j]));
        mt_tensor_free(y);
        mt_layer_free(l[i]);
    }
    mt_tensor *all[] = {wi, wi3, wh, wh3, x};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

/* A broadcast w_hh (stride 0) claiming H = 2^61: gates·H overflowed
 * int64_t (UBSan) and the message expected a negative dim; now refused. */
static void huge_broadcast_weights(void **state)
{
    (void)state;
    float one = 1.0f;
    mt_tensor wh = {.dtype = MT_DTYPE_F32, .rank = 2, .shape = {1, (int64_t)1 << 61},
                    .data = &one};
    mt_tensor wi = {.dtype = MT_DTYPE_F32, .rank = 2, .shape = {1, 2}, .data = &one};
    mt_layer *l = (mt_layer *)&l;
    assert_fails(mt_lstm_new(1, &(mt_rnn_weights){&wi, &wh, NULL, NULL, NULL}, NULL, &l),
                 MT_ERR_SHAPE, "hidden 2305843009213693952 (PyTorch (gates*hidden, input or "
                 "hidden)): more than 2^40");
    assert_null(l);
    assert_fails(mt_gru_new(1, &(mt_rnn_weights){&wh, &wi, NULL, NULL, NULL}, NULL, &l),
                 MT_ERR_SHAPE, "give input 2305843009213693952");
    assert_null(l);
}

/* An inf in w_hh from the zero initial state: h·U is 0·inf = NaN, as
 * PyTorch 1.13 computes it (nn.RNN(2, 3, bias=False), w_ih [[.1,.2],
 * [-.3,.4],[.5,-.6]], w_hh diag .1 with w_hh[0,1] = inf, x ones [1,2,2]:
 * [[nan, .0997, -.0997], [nan, nan, nan]]); the first step skipped h·U and
 * gave .2913, unlike the same layer given h0 = 0 explicitly. */
static void inf_recurrent_weight_from_zero_state(void **state)
{
    (void)state;
    float wih[6] = {0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f};
    float whh[9] = {0.1f, INFINITY, 0.0f, 0.0f, 0.1f, 0.0f, 0.0f, 0.0f, 0.1f};
    float xd[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    mt_tensor wi, wh, x, *y;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){3, 2}, wih, &wi));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){3, 3}, whh, &wh));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){1, 2, 2}, xd, &x));
    mt_layer *l;
    assert_ok(mt_rnn_new(1, &(mt_rnn_weights){&wi, &wh, NULL, NULL, NULL}, NULL, &l));
    assert_ok(mt_layer_forward(l, &x, &y));
    const float *v = y->data;
    assert_true(isnan(v[0]));
    assert_close(v + 1, ((const float[]){0.0996680f, -0.0996680f}), 2, 1e-6, 1e-5);
    for (int j = 3; j < 6; j++)
        assert_true(isnan(v[j]));
    mt_tensor_free(y);
    mt_layer_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keras_merge_modes),
        cmocka_unit_test(keras_merge_none_is_concat_split),
        cmocka_unit_test(keras_go_backwards),
        cmocka_unit_test(keras_stateful_as_state_inputs),
        cmocka_unit_test(keras_activations),
        cmocka_unit_test(torch_proj_size),
        cmocka_unit_test(errors_options),
        cmocka_unit_test(errors_proj),
        cmocka_unit_test(relu_keeps_nan),
        cmocka_unit_test(huge_broadcast_weights),
        cmocka_unit_test(inf_recurrent_weight_from_zero_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
