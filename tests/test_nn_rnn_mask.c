/* test_nn_rnn_mask.c — LSTM, GRU and RNN layers with a mask (rnn.h,
 * "Masks") against Keras' and PyTorch's own outputs
 * (reference/make_rnn_mask_refs.py -> reference/rnn_mask_keras.
 * safetensors, rnn_mask_torch.safetensors): Keras' Embedding(mask_zero=
 * True) -> LSTM, GRU, Bidirectional(LSTM), SimpleRNN on ids padded 'pre' and 'post'
 * (a fully padded row among them; return_sequences both ways,
 * return_state, from initial_state), the mask made by
 * mt_padding_mask_new in a graph; Masking(0.0) -> LSTM;
 * PyTorch's pack_padded_sequence (enforce_sorted=False) into an LSTM and a
 * 2-layer bidirectional GRU from h0 (pad_packed_sequence's output, its
 * last step, h_n, c_n), the mask as I64, as a transposed view and as an
 * IGNORE mask; a fully
 * masked batch keeps h0; and the errors (mask shape, dtype, count,
 * options). */
#include "test_util.h"

/* y equals the reference `name` in shape and values. */
static void assert_matches(const mt_safetensors *st, const char *name, const mt_tensor *y)
{
    ref_assert_matches(st, name, y, 1e-5, 1e-4);
}

typedef mt_status (*loader_fn)(const mt_state_dict *, const char *, const mt_rnn_options *,
                               mt_layer **);

/* The rnn layer l on in[0..n-1] (x, mask, h0 …) in a graph; its output
 * against `want`. With pad_ids, in[1] is token ids and the mask is made
 * from them by mt_padding_mask_new(0, KEEP). The graph frees l. */
static void graph_matches(const mt_safetensors *st, mt_layer *l, int n,
                          const mt_tensor *const *in, bool pad_ids, const char *want)
{
    mt_graph *g;
    int ids[4], y;
    const mt_tensor *out;
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
    assert_ok(mt_graph_forward(g, n, in, 1, &out));
    assert_matches(st, want, out);
    mt_graph_free(g);
}

/* ---- Keras: Embedding(mask_zero=True) -> LSTM / GRU / Bidirectional ------------------ */

/* Keras layer `c` on both paddings: return_sequences True (repeat: a plain
 * layer's masked steps repeat its last output) and False. */
static void keras_case(const mt_state_dict *sd, loader_fn load, const char *c, bool bi,
                       bool repeat)
{
    static const char *const pads[2] = {"pre", "post"};
    char name[96];
    for (int p = 0; p < 2; p++) {
        snprintf(name, sizeof name, "x_%s", pads[p]);
        mt_tensor *x = ref_get(sd->file, name);
        snprintf(name, sizeof name, "ids_%s", pads[p]);
        mt_tensor *ids = ref_get(sd->file, name);
        const mt_tensor *const in[2] = {x, ids};
        for (int seq = 0; seq < 2; seq++) {
            mt_layer *l;
            assert_ok(load(sd, c, &(mt_rnn_options){
                               .bidirectional = bi, .mask = MT_MASK_MODE_KEEP,
                               .mask_repeat = repeat && seq == 0,
                               .output = seq == 0 ? MT_RNN_RETURN_SEQUENCES
                                                  : MT_RNN_RETURN_FINAL_STATE}, &l));
            snprintf(name, sizeof name, "y_%s_%s_%s", c, pads[p], seq == 0 ? "seq" : "final");
            graph_matches(sd->file, l, 2, in, true, name);
        }
        mt_tensor_free(x);
        mt_tensor_free(ids);
    }
}

static void keras_lstm_gru_bidirectional(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    keras_case(&sd, mt_lstm_load, "kl", false, true);
    keras_case(&sd, mt_gru_load, "kg", false, true);
    keras_case(&sd, mt_lstm_load, "kb", true, false);
    keras_case(&sd, mt_rnn_load, "ks", false, true);
    mt_safetensors_close(st);
}

/* LSTM(return_state=True): h and c after the last kept step. */
static void keras_return_state(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    static const char *const pads[2] = {"pre", "post"};
    char name[64];
    for (int p = 0; p < 2; p++) {
        snprintf(name, sizeof name, "x_%s", pads[p]);
        mt_tensor *x = ref_get(st, name);
        snprintf(name, sizeof name, "ids_%s", pads[p]);
        mt_tensor *ids = ref_get(st, name);
        for (int k = 0; k < 2; k++) {
            mt_layer *l;
            assert_ok(mt_lstm_load(&sd, "kl", &(mt_rnn_options){
                                       .mask = MT_MASK_MODE_KEEP,
                                       .output = k ? MT_RNN_RETURN_CELL_STATE
                                                   : MT_RNN_RETURN_FINAL_STATE}, &l));
            snprintf(name, sizeof name, "%s_kl_%s", k ? "c" : "h", pads[p]);
            graph_matches(st, l, 2, (const mt_tensor *const[]){x, ids}, true, name);
        }
        mt_tensor_free(x);
        mt_tensor_free(ids);
    }
    mt_safetensors_close(st);
}

/* LSTM(return_sequences=True, return_state=True) from initial_state with
 * the mask: repeated outputs are zeros before a row's first kept step
 * (not h0), the fully padded row's states are h0 and c0. */
static void keras_initial_state(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    static const char *const pads[2] = {"pre", "post"};
    static const mt_rnn_return outs[3] = {MT_RNN_RETURN_SEQUENCES, MT_RNN_RETURN_FINAL_STATE,
                                          MT_RNN_RETURN_CELL_STATE};
    static const char *const refs[3] = {"y", "h", "c"};
    mt_tensor *h0 = ref_get(st, "h0_kl"), *c0 = ref_get(st, "c0_kl");
    char name[64];
    for (int p = 0; p < 2; p++) {
        snprintf(name, sizeof name, "x_%s", pads[p]);
        mt_tensor *x = ref_get(st, name);
        snprintf(name, sizeof name, "ids_%s", pads[p]);
        mt_tensor *ids = ref_get(st, name);
        for (int k = 0; k < 3; k++) {
            mt_layer *l;
            assert_ok(mt_lstm_load(&sd, "kl", &(mt_rnn_options){
                                       .mask = MT_MASK_MODE_KEEP, .mask_repeat = true,
                                       .output = outs[k]}, &l));
            snprintf(name, sizeof name, "%s_kl_%s_h0", refs[k], pads[p]);
            graph_matches(st, l, 4, (const mt_tensor *const[]){x, ids, h0, c0}, true, name);
        }
        mt_tensor_free(x);
        mt_tensor_free(ids);
    }
    mt_tensor_free(h0);
    mt_tensor_free(c0);
    mt_safetensors_close(st);
}

/* Masking(0.0) on float steps -> LSTM(return_sequences=True): the mask
 * from mt_masking_new in the graph. */
static void keras_masking_layer(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x_km");
    mt_graph *g;
    mt_layer *l;
    int in, mask, y;
    const mt_tensor *out;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, x->shape + 1, &in));
    assert_ok(mt_masking_new(0.0f, MT_MASK_MODE_KEEP, &l));
    assert_ok(mt_graph_add(g, "masking", l, 1, &in, &mask));
    assert_ok(mt_lstm_load(&sd, "kl", &(mt_rnn_options){.mask = MT_MASK_MODE_KEEP,
                                                        .mask_repeat = true}, &l));
    assert_ok(mt_graph_add(g, "lstm", l, 2, (int[]){in, mask}, &y));
    assert_ok(mt_graph_output(g, y));
    assert_ok(mt_graph_forward(g, 1, (const mt_tensor *const[]){x}, 1, &out));
    assert_matches(st, "y_km", out);
    mt_graph_free(g);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* ---- PyTorch: pack_padded_sequence ------------------------------------------------ */

static void torch_packed_lstm(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_pl"), *mask = ref_get(st, "mask_pl"), *pad;
    static const mt_rnn_return outs[4] = {MT_RNN_RETURN_SEQUENCES, MT_RNN_RETURN_LAST_STEP,
                                          MT_RNN_RETURN_H_N, MT_RNN_RETURN_C_N};
    static const char *const refs[4] = {"y_pl", "last_pl", "hn_pl", "cn_pl"};
    for (int i = 0; i < 4; i++) {
        mt_layer *l;
        assert_ok(mt_lstm_load(&sd, "pl", &(mt_rnn_options){.mask = MT_MASK_MODE_KEEP,
                                                            .output = outs[i]}, &l));
        graph_matches(st, l, 2, (const mt_tensor *const[]){x, mask}, false, refs[i]);
    }
    // the same mask as IGNORE: BOOL, true on the padding
    assert_ok(mt_tensor_zeros(MT_DTYPE_BOOL, 2, mask->shape, &pad));
    for (int64_t i = 0; i < mt_tensor_numel(mask); i++)
        ((bool *)pad->data)[i] = ((const int64_t *)mask->data)[i] == 0;
    mt_layer *l;
    assert_ok(mt_lstm_load(&sd, "pl", &(mt_rnn_options){.mask = MT_MASK_MODE_IGNORE}, &l));
    graph_matches(st, l, 2, (const mt_tensor *const[]){x, pad}, false, "y_pl");
    // the mask as a transposed view: an [L, N] copy permuted back
    mt_tensor *mt, *mtc, *mv;
    assert_ok(mt_permute(mask, (const int[]){1, 0}, &mt));
    assert_ok(mt_tensor_contiguous(mt, &mtc));
    assert_ok(mt_permute(mtc, (const int[]){1, 0}, &mv));
    assert_false(mt_tensor_is_contiguous(mv));
    assert_ok(mt_lstm_load(&sd, "pl", &(mt_rnn_options){.mask = MT_MASK_MODE_KEEP}, &l));
    graph_matches(st, l, 2, (const mt_tensor *const[]){x, mv}, false, "y_pl");
    mt_tensor_free(mv);
    mt_tensor_free(mtc);
    mt_tensor_free(mt);
    mt_tensor_free(pad);
    mt_tensor_free(mask);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* A 2-layer bidirectional GRU from h0: the backward direction starts at
 * each row's last valid step. */
static void torch_packed_bigru_h0(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_pg"), *mask = ref_get(st, "mask_pg"), *h0 = ref_get(st, "h0_pg");
    static const mt_rnn_return outs[3] = {MT_RNN_RETURN_SEQUENCES, MT_RNN_RETURN_LAST_STEP,
                                          MT_RNN_RETURN_H_N};
    static const char *const refs[3] = {"y_pg", "last_pg", "hn_pg"};
    for (int i = 0; i < 3; i++) {
        mt_layer *l;
        assert_ok(mt_gru_load(&sd, "pg", &(mt_rnn_options){.mask = MT_MASK_MODE_KEEP,
                                                           .output = outs[i]}, &l));
        graph_matches(st, l, 3, (const mt_tensor *const[]){x, mask, h0}, false, refs[i]);
    }
    mt_tensor_free(h0);
    mt_tensor_free(mask);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Every step masked: h_n is h0 (the input), every output step zeros. */
static void fully_masked_keeps_h0(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_pg"), *h0 = ref_get(st, "h0_pg"), *none, *y;
    assert_ok(mt_tensor_zeros(MT_DTYPE_U8, 2, x->shape, &none));
    for (int k = 0; k < 2; k++) {
        mt_layer *l;
        mt_graph *g;
        int id[3], out;
        const mt_tensor *o;
        assert_ok(mt_gru_load(&sd, "pg", &(mt_rnn_options){
                                  .mask = MT_MASK_MODE_KEEP, .mask_repeat = k == 1,
                                  .output = k ? MT_RNN_RETURN_SEQUENCES : MT_RNN_RETURN_H_N},
                              &l));
        assert_ok(mt_graph_new(&g));
        assert_ok(mt_graph_input(g, "x", MT_DTYPE_F32, 2, x->shape + 1, &id[0]));
        assert_ok(mt_graph_input(g, "mask", MT_DTYPE_U8, 1, x->shape + 1, &id[1]));
        assert_ok(mt_graph_input(g, "h0", MT_DTYPE_F32, 2, h0->shape + 1, &id[2]));
        assert_ok(mt_graph_add(g, "rnn", l, 3, id, &out));
        assert_ok(mt_graph_output(g, out));
        assert_ok(mt_graph_forward(g, 3, (const mt_tensor *const[]){x, none, h0}, 1, &o));
        if (k == 0) {
            assert_close((const float *)o->data, (const float *)h0->data,
                         (size_t)mt_tensor_numel(h0), 0, 0);
        } else {
            assert_ok(mt_tensor_zeros(MT_DTYPE_F32, o->rank, o->shape, &y));
            assert_close((const float *)o->data, (const float *)y->data,
                         (size_t)mt_tensor_numel(y), 0, 0);
            mt_tensor_free(y);
        }
        mt_graph_free(g);
    }
    mt_tensor_free(none);
    mt_tensor_free(h0);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* ---- errors ------------------------------------------------------------------------ */

static mt_status add_rnn(mt_layer *l, int n, const mt_dtype *dt, const int64_t *const *shapes,
                         const int *ranks)
{
    mt_graph *g;
    int id[4], y;
    assert_ok(mt_graph_new(&g));
    static const char *const names[4] = {"x", "mask", "h0", "c0"};
    for (int i = 0; i < n; i++)
        assert_ok(mt_graph_input(g, names[i], dt[i], ranks[i], shapes[i], &id[i]));
    mt_status s = mt_graph_add(g, "rnn", l, n, id, &y);
    mt_graph_free(g);
    return s;
}

static void errors(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_mask_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_rnn_options keep = {.mask = MT_MASK_MODE_KEEP};
    const int64_t xs[2] = {5, 3}, ms[1] = {5}, ms6[1] = {6}, ms2[2] = {5, 1}, hs[2] = {1, 4};
    mt_layer *l;
    // the mask of another length, of 2 sample dims, as F32
    assert_ok(mt_lstm_load(&sd, "pl", &keep, &l));
    assert_fails(add_rnn(l, 2, (mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_BOOL},
                         (const int64_t *const[]){xs, ms6}, (int[]){2, 1}),
                 MT_ERR_SHAPE, "expects a mask [N,L] = [1,5]");
    assert_ok(mt_lstm_load(&sd, "pl", &keep, &l));
    assert_fails(add_rnn(l, 2, (mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_BOOL},
                         (const int64_t *const[]){xs, ms2}, (int[]){2, 2}),
                 MT_ERR_SHAPE, "'mask' gives BOOL [1,5,1]");
    assert_ok(mt_lstm_load(&sd, "pl", &keep, &l));
    assert_fails(add_rnn(l, 2, (mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_F32},
                         (const int64_t *const[]){xs, ms}, (int[]){2, 1}),
                 MT_ERR_DTYPE, "of BOOL or an integer dtype");
    // a masked layer without its mask; a mask where the options say NONE
    assert_ok(mt_lstm_load(&sd, "pl", &keep, &l));
    assert_fails(add_rnn(l, 1, (mt_dtype[]){MT_DTYPE_F32}, (const int64_t *const[]){xs},
                         (int[]){2}),
                 MT_ERR_SHAPE, "and its mask (options.mask is not NONE)");
    assert_ok(mt_lstm_load(&sd, "pl", NULL, &l));
    assert_fails(add_rnn(l, 2, (mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_BOOL},
                         (const int64_t *const[]){xs, ms}, (int[]){2, 1}),
                 MT_ERR_SHAPE, "given 2 inputs");
    // mask, h0, but no c0 for an LSTM
    assert_ok(mt_lstm_load(&sd, "pl", &keep, &l));
    assert_fails(add_rnn(l, 3, (mt_dtype[]){MT_DTYPE_F32, MT_DTYPE_BOOL, MT_DTYPE_F32},
                         (const int64_t *const[]){xs, ms, hs}, (int[]){2, 1, 2}),
                 MT_ERR_SHAPE, "given 3 inputs");
    // options
    l = (mt_layer *)&l;
    assert_fails(mt_lstm_load(&sd, "pl", &(mt_rnn_options){.mask = MT_MASK_MODE_ADD}, &l),
                 MT_ERR_INVALID_ARGUMENT, "mask mode 3 is not NONE, KEEP or IGNORE");
    assert_null(l);
    assert_fails(mt_lstm_load(&sd, "pl", &(mt_rnn_options){.mask_repeat = true}, &l),
                 MT_ERR_INVALID_ARGUMENT, "mask_repeat without a mask");
    assert_null(l);
    mt_safetensors_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keras_lstm_gru_bidirectional),
        cmocka_unit_test(keras_return_state),
        cmocka_unit_test(keras_initial_state),
        cmocka_unit_test(keras_masking_layer),
        cmocka_unit_test(torch_packed_lstm),
        cmocka_unit_test(torch_packed_bigru_h0),
        cmocka_unit_test(fully_masked_keeps_h0),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
