/* test_nn_rnn_all.c — every output of a recurrent layer from one run
 * (rnn.h: MT_RNN_RETURN_ALL and mt_rnn_output_new) against PyTorch's and
 * Keras' own outputs (reference/make_rnn_all_refs.py ->
 * reference/rnn_all_torch.safetensors, rnn_all_keras.safetensors):
 * PyTorch's `y, (h_n, c_n) = lstm(x, (h0, c0))` of a 2-layer
 * bidirectional LSTM, a packed 2-layer bidirectional GRU from h0, a
 * time-major 2-layer RNN(relu), a packed bidirectional LSTM(proj_size);
 * Keras' return_sequences=True, return_state=True of LSTM (also masked
 * from initial_state), GRU, SimpleRNN(go_backwards), and Bidirectional's
 * five outputs (concat and sum), a merged final state (GRU, ave) and
 * merge_mode=None's six outputs. Each
 * graph runs the layer once (counted by a wrapper layer) and every output
 * is a view of that one run's packed output, taking no workspace; a
 * batch run in passes gathers them. Also mt_layer_forward on an output
 * layer, a Sequential of the two, and the errors. */
#include "test_util.h"

#include "../nn/layer_internal.h"   /* the counting wrapper calls the layer's vtable */

/* ---- a wrapper counting the runs of its inner layer --------------------------------- */

typedef struct counted {
    mt_layer *inner;
    int runs;
} counted;

static mt_status counted_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    const counted *c = mt_layer_state(l);
    return c->inner->vt->infer(c->inner, n, in, from, out);
}

static mt_status counted_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    counted *c = mt_layer_state(l);
    c->runs++;
    return c->inner->vt->forward(c->inner, n, in, scratch, out);
}

static size_t counted_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    const counted *c = mt_layer_state(l);
    return c->inner->vt->scratch_bytes(c->inner, n, in);
}

static void counted_release(void *state)
{
    counted *c = state;
    mt_layer_free(c->inner);
    free(c);
}

static const mt_layer_vtable counted_vtable = {
    .n_inputs = 0, .infer = counted_infer, .forward = counted_forward,
    .scratch_bytes = counted_scratch, .release = counted_release};

/* ---- helpers -------------------------------------------------------------------------- */

/* One output to take, and its reference: tensor `ref` whole, or (len > 0)
 * its entries start..start+len-1 along dim (seen as the output's shape:
 * the same batch and values in order). */
typedef struct part {
    mt_rnn_return out;
    mt_rnn_direction dir;
    const char *ref;
    int dim;
    int64_t start, len;
} part;

/* got (any strides) holds want's values: the same shape, or for a slice
 * the same batch and count. */
static void assert_part(const mt_safetensors *st, const part *p, const mt_tensor *got)
{
    mt_tensor *ref = ref_get(st, p->ref), *want = ref, *slice = NULL, *g = NULL;
    if (p->len) {
        assert_ok(mt_narrow(ref, p->dim, p->start, p->len, &slice));
        assert_ok(mt_tensor_contiguous(slice, &want));
        assert_int_equal(mt_tensor_numel(got), mt_tensor_numel(want));
        assert_int_equal(got->shape[0], want->shape[0]);
    } else {
        assert_int_equal(got->rank, want->rank);
        for (int d = 0; d < got->rank; d++)
            assert_int_equal(got->shape[d], want->shape[d]);
    }
    assert_ok(mt_tensor_contiguous(got, &g));
    assert_close((const float *)g->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-5, 1e-4);
    mt_tensor_free(g);
    if (slice) {
        mt_tensor_free(want);
        mt_tensor_free(slice);
    }
    mt_tensor_free(ref);
}

/* t's elements lie in the contiguous tensor `in` */
static void assert_inside(const mt_tensor *t, const mt_tensor *in)
{
    const float *lo = in->data, *hi = lo + mt_tensor_numel(in);
    const float *first = t->data, *last = first;
    for (int d = 0; d < t->rank; d++)
        last += (t->shape[d] - 1) * t->stride[d];
    assert_true(first >= lo && last < hi);
}

/* The recurrent layer l (output ALL) on in[0..n-1] in a graph with a node
 * per part: one forward runs l once, every part matches its reference
 * and is a view of l's packed output. Twice (the second pass reuses the
 * plan). The graph frees l. */
static void all_matches(const mt_safetensors *st, mt_layer *l, int n,
                        const mt_tensor *const *in, int k, const part *p)
{
    mt_graph *g;
    int ids[4], all, node;
    const mt_tensor *out[12];
    assert_true(k < 12);
    counted *c = malloc(sizeof *c);
    mt_layer *w;
    assert_non_null(c);
    *c = (counted){l, 0};
    assert_ok(mt_layer_new(&counted_vtable, c, "counted", &w));
    assert_ok(mt_graph_new(&g));
    for (int i = 0; i < n; i++) {
        char name[8];
        snprintf(name, sizeof name, "in%d", i);
        assert_ok(mt_graph_input(g, name, in[i]->dtype, in[i]->rank - 1, in[i]->shape + 1,
                                 &ids[i]));
    }
    assert_ok(mt_graph_add(g, "rnn", w, n, ids, &all));
    for (int i = 0; i < k; i++) {
        mt_layer *o;
        char name[8];
        snprintf(name, sizeof name, "out%d", i);
        assert_ok(mt_rnn_output_new(l, p[i].out, p[i].dir, &o));
        assert_ok(mt_graph_add(g, name, o, 1, &all, &node));
        assert_ok(mt_graph_output(g, node));
    }
    assert_ok(mt_graph_output(g, all));
    for (int pass = 1; pass <= 2; pass++) {
        assert_ok(mt_graph_forward(g, n, in, k + 1, out));
        assert_int_equal(c->runs, pass);
        for (int i = 0; i < k; i++) {
            assert_part(st, &p[i], out[i]);
            assert_inside(out[i], out[k]);
        }
    }
    mt_graph_free(g);
}

typedef mt_status (*loader_fn)(const mt_state_dict *, const char *, const mt_rnn_options *,
                               mt_layer **);

/* ---- PyTorch ---------------------------------------------------------------------------- */

/* y, (h_n, c_n) = lstm(x, (h0, c0)): 2 layers, bidirectional, batch first;
 * and what FINAL_STATE, CELL_STATE, LAST_STEP and one direction's states
 * give (slices of them). */
static void torch_lstm_h0(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_tl"), *h0 = ref_get(st, "h0_tl"), *c0 = ref_get(st, "c0_tl");
    mt_layer *l;
    const mt_rnn_direction both = MT_RNN_DIRECTION_BOTH;
    const part parts[] = {
        {MT_RNN_RETURN_SEQUENCES, both, "y_tl", 0, 0, 0},
        {MT_RNN_RETURN_H_N, both, "hn_tl", 0, 0, 0},
        {MT_RNN_RETURN_C_N, both, "cn_tl", 0, 0, 0},
        {MT_RNN_RETURN_LAST_STEP, both, "y_tl", 1, 4, 1},
        {MT_RNN_RETURN_FINAL_STATE, both, "hn_tl", 1, 2, 2},
        {MT_RNN_RETURN_CELL_STATE, both, "cn_tl", 1, 2, 2},
        {MT_RNN_RETURN_FINAL_STATE, MT_RNN_DIRECTION_FORWARD, "hn_tl", 1, 2, 1},
        {MT_RNN_RETURN_CELL_STATE, MT_RNN_DIRECTION_BACKWARD, "cn_tl", 1, 3, 1},
    };
    assert_ok(mt_lstm_load(&sd, "tl", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL}, &l));
    all_matches(st, l, 3, (const mt_tensor *const[]){x, h0, c0}, 8, parts);
    mt_tensor_free(c0);
    mt_tensor_free(h0);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* A packed batch (pack_padded_sequence) into a 2-layer bidirectional GRU
 * from h0: pad_packed_sequence's y and h_n. */
static void torch_packed_gru_h0(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_tg"), *m = ref_get(st, "mask_tg"), *h0 = ref_get(st, "h0_tg");
    mt_layer *l;
    const mt_rnn_direction both = MT_RNN_DIRECTION_BOTH;
    const part parts[] = {
        {MT_RNN_RETURN_SEQUENCES, both, "y_tg", 0, 0, 0},
        {MT_RNN_RETURN_H_N, both, "hn_tg", 0, 0, 0},
        {MT_RNN_RETURN_LAST_STEP, both, "y_tg", 1, 4, 1},
        {MT_RNN_RETURN_FINAL_STATE, MT_RNN_DIRECTION_BACKWARD, "hn_tg", 1, 3, 1},
    };
    assert_ok(mt_gru_load(&sd, "tg", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                       .mask = MT_MASK_MODE_KEEP}, &l));
    all_matches(st, l, 3, (const mt_tensor *const[]){x, m, h0}, 4, parts);
    mt_tensor_free(h0);
    mt_tensor_free(m);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* nn.RNN(nonlinearity='relu', num_layers=2) with batch_first=False: the
 * [L, N, F] data given as its permuted view. */
static void torch_rnn_time_major(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_tr"), *xt, *lnf, *view;
    assert_ok(mt_permute(x, (const int[]){1, 0, 2}, &xt));
    assert_ok(mt_tensor_contiguous(xt, &lnf));   // as PyTorch holds it
    assert_ok(mt_permute(lnf, (const int[]){1, 0, 2}, &view));
    assert_false(mt_tensor_is_contiguous(view));
    mt_layer *l;
    const mt_rnn_direction both = MT_RNN_DIRECTION_BOTH;
    const part parts[] = {
        {MT_RNN_RETURN_SEQUENCES, both, "y_tr", 0, 0, 0},
        {MT_RNN_RETURN_H_N, both, "hn_tr", 0, 0, 0},
        {MT_RNN_RETURN_FINAL_STATE, MT_RNN_DIRECTION_FORWARD, "hn_tr", 1, 1, 1},
    };
    assert_ok(mt_rnn_load(&sd, "tr", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                       .act = MT_ACTIVATION_RELU}, &l));
    all_matches(st, l, 1, (const mt_tensor *const[]){view}, 3, parts);
    mt_tensor_free(view);
    mt_tensor_free(lnf);
    mt_tensor_free(xt);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* nn.LSTM(proj_size=2), 2 layers, bidirectional, packed: h is 2 wide, c 5. */
static void torch_packed_proj(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_tp"), *m = ref_get(st, "mask_tp");
    mt_layer *l;
    const mt_rnn_direction both = MT_RNN_DIRECTION_BOTH;
    const part parts[] = {
        {MT_RNN_RETURN_SEQUENCES, both, "y_tp", 0, 0, 0},
        {MT_RNN_RETURN_H_N, both, "hn_tp", 0, 0, 0},
        {MT_RNN_RETURN_C_N, both, "cn_tp", 0, 0, 0},
        {MT_RNN_RETURN_FINAL_STATE, both, "hn_tp", 1, 2, 2},
        {MT_RNN_RETURN_CELL_STATE, both, "cn_tp", 1, 2, 2},
        {MT_RNN_RETURN_CELL_STATE, MT_RNN_DIRECTION_FORWARD, "cn_tp", 1, 2, 1},
    };
    assert_ok(mt_lstm_load(&sd, "tp", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                        .mask = MT_MASK_MODE_KEEP}, &l));
    all_matches(st, l, 2, (const mt_tensor *const[]){x, m}, 6, parts);
    mt_tensor_free(m);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* ---- Keras ------------------------------------------------------------------------------ */

/* return_sequences=True, return_state=True: [y, h, c] of an LSTM, [y, h]
 * of a GRU and a SimpleRNN(go_backwards=True). */
static void keras_return_state(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x");
    const mt_tensor *const in[1] = {x};
    const mt_rnn_options all = {.output = MT_RNN_RETURN_ALL};
    const mt_rnn_direction both = MT_RNN_DIRECTION_BOTH;
    mt_layer *l;
    assert_ok(mt_lstm_load(&sd, "kl", &all, &l));
    all_matches(st, l, 1, in, 3, (const part[]){
                    {MT_RNN_RETURN_SEQUENCES, both, "y_kl", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, both, "h_kl", 0, 0, 0},
                    {MT_RNN_RETURN_CELL_STATE, both, "c_kl", 0, 0, 0}});
    assert_ok(mt_gru_load(&sd, "kg", &all, &l));
    all_matches(st, l, 1, in, 2, (const part[]){
                    {MT_RNN_RETURN_SEQUENCES, both, "y_kg", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, both, "h_kg", 0, 0, 0}});
    assert_ok(mt_rnn_load(&sd, "ks", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                       .go_backwards = true}, &l));
    all_matches(st, l, 1, in, 2, (const part[]){
                    {MT_RNN_RETURN_SEQUENCES, both, "y_ks", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, both, "h_ks", 0, 0, 0}});
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* LSTM(return_sequences=True, return_state=True) from initial_state, with
 * a mask (a plain layer repeats its last output at masked steps; a fully
 * masked row keeps h0 and c0). */
static void keras_masked_initial_state(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x"), *m = ref_get(st, "mask_kl"), *h0 = ref_get(st, "h0_kl"),
              *c0 = ref_get(st, "c0_kl");
    const mt_rnn_direction both = MT_RNN_DIRECTION_BOTH;
    mt_layer *l;
    assert_ok(mt_lstm_load(&sd, "kl", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                        .mask = MT_MASK_MODE_KEEP,
                                                        .mask_repeat = true}, &l));
    all_matches(st, l, 4, (const mt_tensor *const[]){x, m, h0, c0}, 3, (const part[]){
                    {MT_RNN_RETURN_SEQUENCES, both, "y_klm", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, both, "h_klm", 0, 0, 0},
                    {MT_RNN_RETURN_CELL_STATE, both, "c_klm", 0, 0, 0}});
    mt_tensor_free(c0);
    mt_tensor_free(h0);
    mt_tensor_free(m);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* Bidirectional(LSTM(return_sequences=True, return_state=True)): [y,
 * h_fwd, c_fwd, h_bwd, c_bwd], merge_mode 'concat' and 'sum' (the states
 * stay apart); Bidirectional(GRU(return_state=True), merge_mode='ave'):
 * [merged final h, h_fwd, h_bwd]. */
static void keras_bidirectional(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_keras.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_KERAS};
    mt_tensor *x = ref_get(st, "x");
    const mt_tensor *const in[1] = {x};
    const mt_rnn_direction fwd = MT_RNN_DIRECTION_FORWARD, bwd = MT_RNN_DIRECTION_BACKWARD;
    static const char *const cases[2] = {"kb", "kbs"};
    for (int i = 0; i < 2; i++) {
        char y[16], hf[16], cf[16], hb[16], cb[16];
        snprintf(y, sizeof y, "y_%s", cases[i]);
        snprintf(hf, sizeof hf, "hf_%s", cases[i]);
        snprintf(cf, sizeof cf, "cf_%s", cases[i]);
        snprintf(hb, sizeof hb, "hb_%s", cases[i]);
        snprintf(cb, sizeof cb, "cb_%s", cases[i]);
        mt_layer *l;
        assert_ok(mt_lstm_load(&sd, cases[i], &(mt_rnn_options){
                                   .output = MT_RNN_RETURN_ALL,
                                   .merge = i ? MT_RNN_MERGE_SUM : MT_RNN_MERGE_CONCAT}, &l));
        all_matches(st, l, 1, in, 5, (const part[]){
                        {MT_RNN_RETURN_SEQUENCES, MT_RNN_DIRECTION_BOTH, y, 0, 0, 0},
                        {MT_RNN_RETURN_FINAL_STATE, fwd, hf, 0, 0, 0},
                        {MT_RNN_RETURN_CELL_STATE, fwd, cf, 0, 0, 0},
                        {MT_RNN_RETURN_FINAL_STATE, bwd, hb, 0, 0, 0},
                        {MT_RNN_RETURN_CELL_STATE, bwd, cb, 0, 0, 0}});
    }
    mt_layer *l;
    assert_ok(mt_gru_load(&sd, "kbg", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                        .merge = MT_RNN_MERGE_AVE}, &l));
    all_matches(st, l, 1, in, 3, (const part[]){
                    {MT_RNN_RETURN_FINAL_STATE, MT_RNN_DIRECTION_BOTH, "y_kbg", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, fwd, "hf_kbg", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, bwd, "hb_kbg", 0, 0, 0}});
    // merge_mode=None: [y_fwd, y_bwd, h_fwd, c_fwd, h_bwd, c_bwd] from a CONCAT
    // layer, each direction's sequence a view of every step's half (and its
    // last step the half of y's)
    assert_ok(mt_lstm_load(&sd, "kbn", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL}, &l));
    all_matches(st, l, 1, in, 8, (const part[]){
                    {MT_RNN_RETURN_SEQUENCES, fwd, "yf_kbn", 0, 0, 0},
                    {MT_RNN_RETURN_SEQUENCES, bwd, "yb_kbn", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, fwd, "hf_kbn", 0, 0, 0},
                    {MT_RNN_RETURN_CELL_STATE, fwd, "cf_kbn", 0, 0, 0},
                    {MT_RNN_RETURN_FINAL_STATE, bwd, "hb_kbn", 0, 0, 0},
                    {MT_RNN_RETURN_CELL_STATE, bwd, "cb_kbn", 0, 0, 0},
                    {MT_RNN_RETURN_LAST_STEP, fwd, "yf_kbn", 1, 4, 1},
                    {MT_RNN_RETURN_LAST_STEP, bwd, "yb_kbn", 1, 4, 1}});
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* ---- one layer on its own ----------------------------------------------------------------- */

/* mt_layer_forward: the packed output, then an output layer's view of it,
 * which keeps the packed tensor alive after its owner frees it. A
 * Sequential of the layer and one output. */
static void layer_forward_views(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    mt_tensor *x = ref_get(st, "x_tr"), *packed, *hn, *y;
    mt_layer *l, *oh, *oy;
    assert_ok(mt_rnn_load(&sd, "tr", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                       .act = MT_ACTIVATION_RELU}, &l));
    assert_ok(mt_rnn_output_new(l, MT_RNN_RETURN_H_N, MT_RNN_DIRECTION_BOTH, &oh));
    assert_ok(mt_rnn_output_new(l, MT_RNN_RETURN_SEQUENCES, MT_RNN_DIRECTION_BOTH, &oy));
    mt_layer_free(l);   // the output layers keep what they need
    // [3, 5, 3] -> [3, 2·4 + 5·4]: h_n, then the sequence
    mt_tensor *xt, *lnf, *view;
    assert_ok(mt_permute(x, (const int[]){1, 0, 2}, &xt));
    assert_ok(mt_tensor_contiguous(xt, &lnf));
    assert_ok(mt_permute(lnf, (const int[]){1, 0, 2}, &view));
    assert_ok(mt_rnn_load(&sd, "tr", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                       .act = MT_ACTIVATION_RELU}, &l));
    assert_ok(mt_layer_forward(l, view, &packed));
    assert_int_equal(packed->rank, 2);
    assert_int_equal(packed->shape[1], 2 * 4 + 5 * 4);
    assert_ok(mt_layer_forward(oh, packed, &hn));
    assert_ok(mt_layer_forward(oy, packed, &y));
    assert_inside(hn, packed);
    assert_inside(y, packed);
    mt_tensor_free(packed);   // hn and y keep it alive
    assert_part(st, &(part){MT_RNN_RETURN_H_N, MT_RNN_DIRECTION_BOTH, "hn_tr", 0, 0, 0}, hn);
    assert_part(st, &(part){MT_RNN_RETURN_SEQUENCES, MT_RNN_DIRECTION_BOTH, "y_tr", 0, 0, 0},
                y);
    mt_tensor_free(y);
    mt_tensor_free(hn);
    mt_layer_free(oy);
    mt_sequential *model;
    const mt_tensor *last;
    assert_ok(mt_sequential_new(2, x->shape + 1, &model));
    assert_ok(mt_sequential_add(model, l));
    assert_ok(mt_sequential_add(model, oh));
    assert_ok(mt_sequential_forward(model, view, &last));
    assert_part(st, &(part){MT_RNN_RETURN_H_N, MT_RNN_DIRECTION_BOTH, "hn_tr", 0, 0, 0}, last);
    mt_sequential_free(model);
    mt_tensor_free(view);
    mt_tensor_free(lnf);
    mt_tensor_free(xt);
    mt_tensor_free(x);
    mt_safetensors_close(st);
}

/* A batch whose outputs pass 2 MiB runs in passes of fewer rows (graph.h):
 * 3000 copies of the 3 rows of "tl" give each copy's outputs, gathered
 * from the views of each pass. The views take no workspace: the graph
 * needs as many bytes with them as without them (below that size). */
static void passes_and_workspace(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    static const char *const names[3] = {"x_tl", "h0_tl", "c0_tl"};
    static const char *const refs[3] = {"y_tl", "hn_tl", "cn_tl"};
    static const mt_rnn_return outs[3] = {MT_RNN_RETURN_SEQUENCES, MT_RNN_RETURN_H_N,
                                          MT_RNN_RETURN_C_N};
    const int64_t copies = 3000;
    mt_tensor *in[3], *big[3], *want[3];
    for (int i = 0; i < 3; i++) {
        in[i] = ref_get(st, names[i]);
        want[i] = ref_get(st, refs[i]);
        int64_t shape[3] = {in[i]->shape[0] * copies, in[i]->shape[1], in[i]->shape[2]};
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, shape, &big[i]));
        size_t row = (size_t)mt_tensor_numel(in[i]);
        for (int64_t c = 0; c < copies; c++)
            memcpy((float *)big[i]->data + (size_t)c * row, in[i]->data, row * sizeof(float));
    }
    mt_graph *g;
    mt_layer *l, *o;
    int ids[3], all, node;
    const mt_tensor *got[4];
    size_t alone, with_views;
    assert_ok(mt_lstm_load(&sd, "tl", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL}, &l));
    assert_ok(mt_graph_new(&g));
    for (int i = 0; i < 3; i++)
        assert_ok(mt_graph_input(g, names[i], MT_DTYPE_F32, 2, in[i]->shape + 1, &ids[i]));
    assert_ok(mt_graph_add(g, "rnn", l, 3, ids, &all));
    assert_ok(mt_graph_output(g, all));
    assert_ok(mt_graph_bytes_needed(g, 3, &alone));
    for (int i = 0; i < 3; i++) {
        assert_ok(mt_rnn_output_new(l, outs[i], MT_RNN_DIRECTION_BOTH, &o));
        assert_ok(mt_graph_add(g, refs[i], o, 1, &all, &node));
        assert_ok(mt_graph_output(g, node));
    }
    assert_ok(mt_graph_bytes_needed(g, 3, &with_views));
    assert_int_equal(with_views, alone);
    assert_ok(mt_graph_forward(g, 3, (const mt_tensor *const *)big, 4, got));
    for (int i = 0; i < 3; i++) {
        const mt_tensor *y = got[i + 1];
        assert_int_equal(y->shape[0], 3 * copies);
        assert_true(mt_tensor_is_contiguous(y));   // gathered from the passes
        size_t row = (size_t)mt_tensor_numel(want[i]);
        for (int64_t c = 0; c < copies; c += 499)
            assert_close((const float *)y->data + (size_t)c * row,
                         (const float *)want[i]->data, row, 1e-5, 1e-4);
    }
    mt_graph_free(g);
    for (int i = 0; i < 3; i++) {
        mt_tensor_free(big[i]);
        mt_tensor_free(want[i]);
        mt_tensor_free(in[i]);
    }
    mt_safetensors_close(st);
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* Output layer o added on a graph input of dtype dt [N, k]. */
static mt_status add_on(mt_layer *o, mt_dtype dt, int64_t k)
{
    mt_graph *g;
    int in, y;
    assert_ok(mt_graph_new(&g));
    assert_ok(mt_graph_input(g, "packed", dt, 1, &k, &in));
    mt_status s = mt_graph_add(g, "out", o, 1, &in, &y);
    mt_graph_free(g);
    return s;
}

static void errors(void **state)
{
    (void)state;
    mt_safetensors *st = ref_open("rnn_all_torch.safetensors");
    const mt_state_dict sd = {st, MT_FRAMEWORK_PYTORCH};
    const mt_rnn_direction both = MT_RNN_DIRECTION_BOTH;
    mt_layer *gru, *seq, *relu, *o = (mt_layer *)&st;
    assert_ok(mt_gru_load(&sd, "tg", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL}, &gru));
    assert_ok(mt_gru_load(&sd, "tg", NULL, &seq));
    assert_ok(mt_relu_new(&relu));
    assert_fails(mt_rnn_output_new(gru, MT_RNN_RETURN_H_N, both, NULL),
                 MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_rnn_output_new(NULL, MT_RNN_RETURN_H_N, both, &o),
                 MT_ERR_INVALID_ARGUMENT, "is not a recurrent layer");
    assert_null(o);
    assert_fails(mt_rnn_output_new(relu, MT_RNN_RETURN_H_N, both, &o),
                 MT_ERR_INVALID_ARGUMENT, "rnn_output: relu is not a recurrent layer");
    assert_fails(mt_rnn_output_new(seq, MT_RNN_RETURN_H_N, both, &o),
                 MT_ERR_INVALID_ARGUMENT, "is not MT_RNN_RETURN_ALL");
    assert_fails(mt_rnn_output_new(gru, MT_RNN_RETURN_ALL, both, &o),
                 MT_ERR_INVALID_ARGUMENT, "output all (6)");
    assert_fails(mt_rnn_output_new(gru, (mt_rnn_return)42, both, &o),
                 MT_ERR_INVALID_ARGUMENT, "output (unknown) (42)");
    assert_fails(mt_rnn_output_new(gru, MT_RNN_RETURN_FINAL_STATE, (mt_rnn_direction)3, &o),
                 MT_ERR_INVALID_ARGUMENT, "not BOTH, FORWARD or BACKWARD");
    assert_fails(mt_rnn_output_new(gru, MT_RNN_RETURN_H_N, MT_RNN_DIRECTION_FORWARD, &o),
                 MT_ERR_INVALID_ARGUMENT, "H_N and C_N hold both directions (BOTH)");
    assert_fails(mt_rnn_output_new(gru, MT_RNN_RETURN_C_N, both, &o),
                 MT_ERR_INVALID_ARGUMENT, "only an LSTM has a cell state");
    assert_fails(mt_rnn_output_new(gru, MT_RNN_RETURN_CELL_STATE, MT_RNN_DIRECTION_BACKWARD,
                                   &o),
                 MT_ERR_INVALID_ARGUMENT, "only an LSTM has a cell state");
    assert_null(o);
    mt_layer *uni;
    assert_ok(mt_rnn_load(&sd, "tr", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL}, &uni));
    assert_fails(mt_rnn_output_new(uni, MT_RNN_RETURN_FINAL_STATE, MT_RNN_DIRECTION_BACKWARD,
                                   &o),
                 MT_ERR_INVALID_ARGUMENT, "BACKWARD of a layer with one direction");
    mt_layer_free(uni);
    // the GRU's packing: h_n 4·4 = 16 floats, then 8 per step
    assert_ok(mt_rnn_output_new(gru, MT_RNN_RETURN_SEQUENCES, both, &o));
    assert_fails(add_on(o, MT_DTYPE_F32, 16 + 5 * 8 + 1), MT_ERR_SHAPE,
                 "expects the F32 [N, 16 + L*8] output of its recurrent layer");
    assert_ok(mt_rnn_output_new(gru, MT_RNN_RETURN_SEQUENCES, both, &o));
    assert_fails(add_on(o, MT_DTYPE_F32, 16), MT_ERR_SHAPE, "(L >= 1 steps)");
    assert_ok(mt_rnn_output_new(gru, MT_RNN_RETURN_SEQUENCES, both, &o));
    assert_fails(add_on(o, MT_DTYPE_I32, 16 + 5 * 8), MT_ERR_DTYPE, "'packed' gives I32");
    assert_ok(mt_rnn_output_new(gru, MT_RNN_RETURN_LAST_STEP, both, &o));
    assert_ok(add_on(o, MT_DTYPE_F32, 16 + 5 * 8));
    // a merged layer still refuses state outputs alone, and gives them from ALL
    mt_safetensors *ks = ref_open("rnn_all_keras.safetensors");
    const mt_state_dict kd = {ks, MT_FRAMEWORK_KERAS};
    assert_fails(mt_lstm_load(&kd, "kbs", &(mt_rnn_options){.output = MT_RNN_RETURN_H_N,
                                                            .merge = MT_RNN_MERGE_SUM}, &o),
                 MT_ERR_INVALID_ARGUMENT, "or take them from MT_RNN_RETURN_ALL");
    assert_ok(mt_lstm_load(&kd, "kbs", &(mt_rnn_options){.output = MT_RNN_RETURN_ALL,
                                                         .merge = MT_RNN_MERGE_SUM}, &uni));
    // its directions' halves of the sequence do not exist
    assert_fails(mt_rnn_output_new(uni, MT_RNN_RETURN_SEQUENCES, MT_RNN_DIRECTION_FORWARD, &o),
                 MT_ERR_INVALID_ARGUMENT, "merges its directions' outputs");
    assert_fails(mt_rnn_output_new(uni, MT_RNN_RETURN_LAST_STEP, MT_RNN_DIRECTION_BACKWARD, &o),
                 MT_ERR_INVALID_ARGUMENT, "merges its directions' outputs");
    mt_layer_free(uni);
    mt_safetensors_close(ks);
    mt_layer_free(relu);
    mt_layer_free(seq);
    mt_layer_free(gru);
    mt_safetensors_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torch_lstm_h0),
        cmocka_unit_test(torch_packed_gru_h0),
        cmocka_unit_test(torch_rnn_time_major),
        cmocka_unit_test(torch_packed_proj),
        cmocka_unit_test(keras_return_state),
        cmocka_unit_test(keras_masked_initial_state),
        cmocka_unit_test(keras_bidirectional),
        cmocka_unit_test(layer_forward_views),
        cmocka_unit_test(passes_and_workspace),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
