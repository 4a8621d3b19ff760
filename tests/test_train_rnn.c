/* test_train_rnn.c — mt_tape_lstm / mt_tape_gru / mt_tape_rnn against
 * PyTorch's nn.LSTM / nn.GRU / nn.RNN (batch_first): outputs and every
 * gradient, a character model trained with Adam step by step, a checkpoint
 * round trip, no allocation after the first step, one value in two roles
 * (tied weights, h0 = c0), and the errors. The references come from
 * tests/train/make_rnn_refs.py and tests/reference/make_rnn_edge_refs.py. */
#include "test_util.h"

#ifndef RNN_REFS
#error "RNN_REFS: the path of tests/train/rnn_refs.safetensors"
#endif
#ifndef RNN_EDGE_REFS
#error "RNN_EDGE_REFS: the path of tests/reference/rnn_edge_torch.safetensors"
#endif

typedef enum { LSTM, GRU, RNN_TANH, RNN_RELU } kind;

/* make_rnn_refs.py's CASES (the sizes come from the file) */
typedef struct rnn_case {
    const char *name;
    kind kind;
    bool bias, h0, c0, view;
    bool h0_3d;   /* pass h0 as torch's [1, N, H] */
} rnn_case;

static const rnn_case cases[] = {
    {"lstm_n3_l5", LSTM, true, true, true, false, true},
    {"lstm_n1_l1", LSTM, true, false, false, false, false},
    {"lstm_nobias", LSTM, false, false, false, false, false},
    {"lstm_view", LSTM, true, true, false, true, false},
    {"gru_n3_l5", GRU, true, true, false, false, false},
    {"gru_n1_l1", GRU, true, false, false, false, false},
    {"gru_nobias", GRU, false, false, false, false, false},
    {"gru_view", GRU, true, true, false, true, true},
    {"rnn_tanh", RNN_TANH, true, true, false, false, false},
    {"rnn_relu", RNN_RELU, true, true, false, true, false},
};

static mt_safetensors *refs;

static int setup(void **state)
{
    (void)state;
    return mt_safetensors_open(RNN_REFS, &refs) == MT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mt_safetensors_close(refs);
    return 0;
}

static mt_tensor *ref(const char *prefix, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", prefix, name);
    mt_tensor *t;
    if (mt_safetensors_get(refs, key, &t) != MT_OK) {
        print_error("%s: %s\n", key, mt_last_error());
        fail();
    }
    return t;
}

static mt_value *param(const char *prefix, const char *name)
{
    mt_tensor *t = ref(prefix, name);
    mt_value *p;
    assert_ok(mt_param_new(t, name, &p));
    mt_tensor_free(t);
    return p;
}

/* got (any strides) holds the reference prefix.name: same numel, each
 * |got - want| <= atol + rtol·|want| */
static void assert_values(const mt_tensor *got, const char *prefix, const char *name,
                          double atol, double rtol)
{
    mt_tensor *want = ref(prefix, name), *c;
    assert_int_equal(mt_tensor_numel(got), mt_tensor_numel(want));
    assert_ok(mt_tensor_contiguous(got, &c));
    const float *a = c->data, *e = want->data;
    for (int64_t i = 0; i < mt_tensor_numel(want); i++)
        if (!(fabs((double)a[i] - e[i]) <= atol + rtol * fabs((double)e[i]))) {
            print_error("%s.%s element %lld: got %.9g, expected %.9g\n", prefix, name,
                        (long long)i, (double)a[i], (double)e[i]);
            fail();
        }
    mt_tensor_free(c);
    mt_tensor_free(want);
}

/* *loss (NULL: none yet) += sum(v * w), w a constant */
static mt_status add_weighted(mt_tape *tape, mt_value *v, mt_tensor *w, mt_value **loss)
{
    mt_value *cw, *prod, *sum;
    mt_status s;
    if ((s = mt_tape_constant(tape, w, &cw)) || (s = mt_tape_mul(tape, v, cw, &prod)) ||
        (s = mt_tape_sum_all(tape, prod, &sum)))
        return s;
    return *loss ? mt_tape_add(tape, *loss, sum, loss) : (*loss = sum, MT_OK);
}

typedef struct case_params {
    mt_value *x, *w[4], *h0, *c0;   /* w: weight_ih, weight_hh, bias_ih, bias_hh */
} case_params;

static const char *const weight_names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};

static void case_open(const rnn_case *c, case_params *p)
{
    memset(p, 0, sizeof *p);
    p->x = param(c->name, "x");
    for (int i = 0; i < (c->bias ? 4 : 2); i++)
        p->w[i] = param(c->name, weight_names[i]);
    if (c->h0) {
        mt_tensor *t = ref(c->name, "h0"), *view;
        if (c->h0_3d)
            assert_ok(mt_unsqueeze(t, 0, &view));
        else
            view = t, t = NULL;
        assert_ok(mt_param_new(view, "h0", &p->h0));
        mt_tensor_free(view);
        mt_tensor_free(t);
    }
    if (c->c0)
        p->c0 = param(c->name, "c0");
}

static void case_close(case_params *p)
{
    mt_param_free(p->x);
    for (int i = 0; i < 4; i++)
        mt_param_free(p->w[i]);
    mt_param_free(p->h0);
    mt_param_free(p->c0);
}

static mt_status run_case(const rnn_case *c, const case_params *p, mt_tape *tape,
                          mt_tensor *const *lw, mt_value **out, mt_value **h_n,
                          mt_value **c_n, mt_value **loss)
{
    mt_value *x = p->x;
    mt_status s;
    /* a view case stores x as [L, N, F]: x.transpose(0, 1) is [N, L, F], not contiguous */
    if (c->view && (s = mt_tape_transpose(tape, p->x, 0, 1, &x)))
        return s;
    mt_tape_rnn_weights w = {p->w[0], p->w[1], p->w[2], p->w[3]};
    *c_n = NULL;
    switch (c->kind) {
    case LSTM: s = mt_tape_lstm(tape, x, &w, p->h0, p->c0, out, h_n, c_n); break;
    case GRU: s = mt_tape_gru(tape, x, &w, p->h0, out, h_n); break;
    case RNN_TANH: s = mt_tape_rnn(tape, x, &w, p->h0, MT_ACTIVATION_TANH, out, h_n); break;
    case RNN_RELU: s = mt_tape_rnn(tape, x, &w, p->h0, MT_ACTIVATION_RELU, out, h_n); break;
    }
    *loss = NULL;
    if (s || (s = add_weighted(tape, *out, lw[0], loss)) ||
        (s = add_weighted(tape, *h_n, lw[1], loss)))
        return s;
    return *c_n ? add_weighted(tape, *c_n, lw[2], loss) : MT_OK;
}

static void test_cases_match_pytorch(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const rnn_case *c = &cases[k];
        case_params p;
        case_open(c, &p);
        mt_tensor *lw[3] = {ref(c->name, "wo"), ref(c->name, "wh"),
                            c->kind == LSTM ? ref(c->name, "wc") : NULL};
        mt_tape *tape;
        assert_ok(mt_tape_new(&tape));
        mt_value *out, *h_n, *c_n, *loss;
        assert_ok(run_case(c, &p, tape, lw, &out, &h_n, &c_n, &loss));
        assert_true(mt_tensor_is_contiguous(out->data));
        assert_true(mt_tensor_same_shape(out->data, lw[0]));
        assert_true(mt_tensor_same_shape(h_n->data, lw[1]));
        assert_values(out->data, c->name, "out", 1e-5, 1e-4);
        assert_values(h_n->data, c->name, "h_n", 1e-5, 1e-4);
        if (c->kind == LSTM)
            assert_values(c_n->data, c->name, "c_n", 1e-5, 1e-4);
        assert_ok(mt_tape_backward(tape, loss));
        assert_values(p.x->grad, c->name, "grad.x", 1e-5, 1e-4);
        for (int i = 0; i < (c->bias ? 4 : 2); i++) {
            char name[32];
            snprintf(name, sizeof name, "grad.%s", weight_names[i]);
            assert_values(p.w[i]->grad, c->name, name, 1e-5, 1e-4);
        }
        if (c->h0)
            assert_values(p.h0->grad, c->name, "grad.h0", 1e-5, 1e-4);
        if (c->c0)
            assert_values(p.c0->grad, c->name, "grad.c0", 1e-5, 1e-4);
        mt_tape_free(tape);
        for (int i = 0; i < 3; i++)
            mt_tensor_free(lw[i]);
        case_close(&p);
    }
}

/* Frozen weights and a constant input (fine-tuning the initial state only):
 * the gradient still reaches h0 and c0 through the recurrence alone. */
static void test_gradient_to_the_state_only(void **state)
{
    (void)state;
    static const char *const names[2] = {"lstm_n3_l5", "gru_n3_l5"};
    for (int k = 0; k < 2; k++) {
        const char *name = names[k];
        mt_tensor *t[6];
        const char *const keys[6] = {"x", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "wo"};
        for (int i = 0; i < 6; i++)
            t[i] = ref(name, keys[i]);
        mt_tensor *wh = ref(name, "wh"), *wc = k == 0 ? ref(name, "wc") : NULL;
        mt_value *h0 = param(name, "h0"), *c0 = k == 0 ? param(name, "c0") : NULL;
        mt_tape *tape;
        assert_ok(mt_tape_new(&tape));
        mt_value *v[5], *out, *h_n, *c_n = NULL, *loss = NULL;
        for (int i = 0; i < 5; i++)
            assert_ok(mt_tape_constant(tape, t[i], &v[i]));
        mt_tape_rnn_weights w = {v[1], v[2], v[3], v[4]};
        if (k == 0)
            assert_ok(mt_tape_lstm(tape, v[0], &w, h0, c0, &out, &h_n, &c_n));
        else
            assert_ok(mt_tape_gru(tape, v[0], &w, h0, &out, &h_n));
        assert_ok(add_weighted(tape, out, t[5], &loss));
        assert_ok(add_weighted(tape, h_n, wh, &loss));
        if (c_n)
            assert_ok(add_weighted(tape, c_n, wc, &loss));
        assert_ok(mt_tape_backward(tape, loss));
        assert_values(h0->grad, name, "grad.h0", 1e-5, 1e-4);
        if (c0)
            assert_values(c0->grad, name, "grad.c0", 1e-5, 1e-4);
        mt_tape_free(tape);
        for (int i = 0; i < 6; i++)
            mt_tensor_free(t[i]);
        mt_tensor_free(wh);
        mt_tensor_free(wc);
        mt_param_free(h0);
        mt_param_free(c0);
    }
}

/* Truncated BPTT as docs/training.md shows it: steps 0-1, then h_n and c_n
 * copied out, the tape reset, and steps 2-4 from the copies as constants:
 * the second chunk's output is the full sequence's steps 2-4. */
static void test_state_carried_across_resets(void **state)
{
    (void)state;
    const char *name = "lstm_n3_l5";
    case_params p;
    case_open(&cases[0], &p);
    assert_string_equal(cases[0].name, name);
    mt_tensor *want = ref(name, "out"), *h, *c;
    const int64_t n = want->shape[0], l = want->shape[1], hid = want->shape[2];
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){n, hid}, &h));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){n, hid}, &c));
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_tape_rnn_weights w = {p.w[0], p.w[1], p.w[2], p.w[3]};
    mt_value *x, *out, *h_n, *c_n, *h0, *c0;
    assert_ok(mt_tape_narrow(tape, p.x, 1, 0, 2, &x));
    assert_ok(mt_tape_lstm(tape, x, &w, p.h0, p.c0, &out, &h_n, &c_n));
    assert_ok(mt_tensor_copy_into(h_n->data, h));
    assert_ok(mt_tensor_copy_into(c_n->data, c));
    mt_tape_reset(tape);
    assert_ok(mt_tape_constant(tape, h, &h0));
    assert_ok(mt_tape_constant(tape, c, &c0));
    assert_ok(mt_tape_narrow(tape, p.x, 1, 2, l - 2, &x));
    assert_ok(mt_tape_lstm(tape, x, &w, h0, c0, &out, &h_n, &c_n));
    mt_tensor tail;
    assert_ok(mt_narrow_into(want, 1, 2, l - 2, &tail));
    mt_tensor *tail_c;
    assert_ok(mt_tensor_contiguous(&tail, &tail_c));
    assert_close(out->data->data, tail_c->data, (size_t)mt_tensor_numel(tail_c), 1e-5, 1e-4);
    mt_tensor_free(tail_c);
    mt_tape_free(tape);
    mt_tensor_free(h);
    mt_tensor_free(c);
    mt_tensor_free(want);
    case_close(&p);
}

/* ---- two layers, bidirectional: composed as docs/training.md says ------------- */

/* PyTorch's bidirectional layer: the forward direction on x, the reverse one
 * on x reversed in time (index_select with rev = L-1 … 0) and its output
 * reversed back, the two concatenated on the feature dim: [N, L, 2·H].
 * h_n[0], h_n[1]: each direction's last state. */
static mt_status bidirectional_lstm(mt_tape *tape, mt_value *x, const mt_tape_rnn_weights *fwd,
                                    const mt_tape_rnn_weights *bwd, const mt_tensor *rev,
                                    mt_value **out, mt_value **h_n)
{
    mt_value *xr, *yf, *yr_rev, *y[2];
    mt_status s;
    if ((s = mt_tape_lstm(tape, x, fwd, NULL, NULL, &yf, &h_n[0], NULL)) ||
        (s = mt_tape_index_select(tape, x, 1, rev, &xr)) ||
        (s = mt_tape_lstm(tape, xr, bwd, NULL, NULL, &yr_rev, &h_n[1], NULL)) ||
        (s = mt_tape_index_select(tape, yr_rev, 1, rev, &y[1])))
        return s;
    y[0] = yf;
    return mt_tape_concat(tape, y, 2, 2, out);
}

static void test_two_layer_bidirectional_lstm_as_pytorch(void **state)
{
    (void)state;
    static const char *const suffix[4] = {"_l0", "_l0_reverse", "_l1", "_l1_reverse"};
    mt_value *w[4][4], *x = param("bi", "x");
    mt_tape_rnn_weights dir[4];
    for (int d = 0; d < 4; d++) {
        for (int i = 0; i < 4; i++) {
            char name[40];
            snprintf(name, sizeof name, "%s%s", weight_names[i], suffix[d]);
            w[d][i] = param("bi", name);
        }
        dir[d] = (mt_tape_rnn_weights){w[d][0], w[d][1], w[d][2], w[d][3]};
    }
    const int64_t l = x->data->shape[1];
    int64_t rev_data[16];
    for (int64_t t = 0; t < l; t++)
        rev_data[t] = l - 1 - t;
    mt_tensor rev;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_I64, 1, &l, rev_data, &rev));
    mt_tensor *wo = ref("bi", "wo"), *wh = ref("bi", "wh"), whs[4];
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_value *y0, *y1, *h_n[4], *loss = NULL;
    assert_ok(bidirectional_lstm(tape, x, &dir[0], &dir[1], &rev, &y0, &h_n[0]));
    assert_ok(bidirectional_lstm(tape, y0, &dir[2], &dir[3], &rev, &y1, &h_n[2]));
    assert_values(y1->data, "bi", "out", 1e-5, 1e-4);
    assert_ok(add_weighted(tape, y1, wo, &loss));
    mt_tensor *want_h = ref("bi", "h_n");
    for (int d = 0; d < 4; d++) {
        /* h_n [4, N, H]: layer 0 forward, reverse, layer 1 forward, reverse */
        const int64_t nh = mt_tensor_numel(h_n[d]->data);
        mt_tensor *c;
        assert_ok(mt_tensor_contiguous(h_n[d]->data, &c));
        assert_close(c->data, (const float *)want_h->data + d * nh, (size_t)nh, 1e-5, 1e-4);
        mt_tensor_free(c);
        assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, h_n[d]->data->shape,
                                      (float *)wh->data + d * nh, &whs[d]));
        assert_ok(add_weighted(tape, h_n[d], &whs[d], &loss));
    }
    assert_ok(mt_tape_backward(tape, loss));
    assert_values(x->grad, "bi", "grad.x", 1e-5, 1e-4);
    for (int d = 0; d < 4; d++)
        for (int i = 0; i < 4; i++) {
            char name[48];
            snprintf(name, sizeof name, "grad.%s%s", weight_names[i], suffix[d]);
            assert_values(w[d][i]->grad, "bi", name, 1e-5, 1e-4);
            mt_param_free(w[d][i]);
        }
    mt_tape_free(tape);
    mt_tensor_free(want_h);
    mt_tensor_free(wo);
    mt_tensor_free(wh);
    mt_param_free(x);
}

/* ---- a character model trained with Adam, step by step against torch.optim ---- */

enum { N_E2E = 11 };
static const char *const e2e_names[N_E2E] = {
    "emb.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0",
    "lstm.bias_hh_l0", "gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0",
    "gru.bias_hh_l0", "fc.weight", "fc.bias"};

typedef struct char_model {
    mt_value *p[N_E2E];
    mt_tensor *idx, *target;
} char_model;

static void model_open(char_model *m)
{
    for (int i = 0; i < N_E2E; i++)
        m->p[i] = param("e2e", e2e_names[i]);
    m->idx = ref("e2e", "idx");
    m->target = ref("e2e", "target");
}

static void model_close(char_model *m)
{
    for (int i = 0; i < N_E2E; i++)
        mt_param_free(m->p[i]);
    mt_tensor_free(m->idx);
    mt_tensor_free(m->target);
}

/* Embedding -> LSTM -> GRU -> Linear, cross entropy of the next character */
static mt_status model_loss(char_model *m, mt_tape *tape, mt_value **loss)
{
    mt_value **p = m->p, *e, *y1, *y2, *rows, *fct, *logits;
    const int64_t n = m->idx->shape[0], l = m->idx->shape[1];
    mt_tape_rnn_weights lstm = {p[1], p[2], p[3], p[4]}, gru = {p[5], p[6], p[7], p[8]};
    mt_status s;
    mt_tape_reset(tape);
    if ((s = mt_tape_embedding(tape, m->idx, p[0], &e)) ||
        (s = mt_tape_lstm(tape, e, &lstm, NULL, NULL, &y1, NULL, NULL)) ||
        (s = mt_tape_gru(tape, y1, &gru, NULL, &y2, NULL)) ||
        (s = mt_tape_reshape(tape, y2, 2, (int64_t[]){n * l, y2->data->shape[2]}, &rows)) ||
        (s = mt_tape_transpose(tape, p[9], 0, 1, &fct)) ||
        (s = mt_tape_linear(tape, rows, fct, p[10], MT_ACTIVATION_NONE, &logits)))
        return s;
    return mt_tape_cross_entropy(tape, logits, m->target, NULL, loss);
}

static mt_status train_step(char_model *m, mt_tape *tape, mt_optimizer *opt, float *loss_value)
{
    mt_value *loss;
    mt_status s;
    if ((s = model_loss(m, tape, &loss)) || (s = mt_tape_backward(tape, loss)) ||
        (s = mt_optimizer_step(opt)))
        return s;
    mt_optimizer_zero_grad(opt);
    *loss_value = *(const float *)loss->data->data;
    return MT_OK;
}

static void test_char_model_trains_as_pytorch(void **state)
{
    (void)state;
    char_model m;
    model_open(&m);
    mt_tensor *want = ref("e2e", "losses");
    const int64_t steps = want->shape[0];
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    o.lr = 0.02f;
    mt_optimizer *opt;
    mt_tape *tape;
    assert_ok(mt_optimizer_new(&o, m.p, N_E2E, &opt));
    assert_ok(mt_tape_new(&tape));
    float losses[16];
    assert_true(steps <= 16);
    for (int64_t i = 0; i < steps; i++)
        assert_ok(train_step(&m, tape, opt, &losses[i]));
    assert_close(losses, (const float *)want->data, (size_t)steps, 1e-5, 1e-4);
    assert_true(losses[steps - 1] < losses[0] - 0.1f);   /* it learns */
    for (int i = 0; i < N_E2E; i++) {
        char name[64];
        snprintf(name, sizeof name, "final.%s", e2e_names[i]);
        assert_values(m.p[i]->data, "e2e", name, 1e-4, 1e-3);
    }

    /* a checkpoint restores the run: one more step from the restored copy
     * gives exactly the loss and weights the original run gets */
    const char *path = "test_train_rnn.ckpt";
    mt_checkpoint ck = {.params = m.p, .n_params = N_E2E, .optimizer = opt, .epoch = 1};
    assert_ok(mt_checkpoint_save(path, &ck, NULL, 0));
    char_model back;
    model_open(&back);   /* the initial weights, not the trained ones */
    mt_optimizer *opt2;
    assert_ok(mt_optimizer_new(&o, back.p, N_E2E, &opt2));
    mt_checkpoint ck2 = {.params = back.p, .n_params = N_E2E, .optimizer = opt2};
    assert_ok(mt_checkpoint_load(path, &ck2, NULL, 0));
    remove(path);
    float next, next2;
    assert_ok(train_step(&m, tape, opt, &next));
    assert_ok(train_step(&back, tape, opt2, &next2));
    assert_true(next == next2);
    for (int i = 0; i < N_E2E; i++)
        assert_memory_equal(m.p[i]->data->data, back.p[i]->data->data,
                            (size_t)mt_tensor_numel(m.p[i]->data) * sizeof(float));

    mt_optimizer_free(opt2);
    model_close(&back);
    mt_tensor_free(want);
    mt_tape_free(tape);
    mt_optimizer_free(opt);
    model_close(&m);
}

static void test_training_step_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    char_model m;
    model_open(&m);
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    alloc_probe probe;
    probe_install(&probe, -1);
    long warm = 0;
    for (int step = 0; step < 3; step++) {
        if (step == 2)
            warm = probe.allocations;
        mt_value *loss;
        assert_ok(model_loss(&m, tape, &loss));
        assert_ok(mt_tape_backward(tape, loss));
    }
    assert_int_equal(probe.allocations - warm, 0);
    probe_remove();
    mt_tape_free(tape);
    model_close(&m);
}

/* ---- errors -------------------------------------------------------------------- */

/* got (any strides) against tensor `name` of the edge references */
static void assert_edge(const mt_safetensors *st, const mt_tensor *got, const char *name)
{
    mt_tensor *want = ref_get(st, name), *c = NULL;
    assert_int_equal(got->rank, want->rank);
    for (int d = 0; d < want->rank; d++)
        assert_int_equal(got->shape[d], want->shape[d]);
    assert_ok(mt_tensor_contiguous(got, &c));
    assert_close((const float *)c->data, (const float *)want->data,
                 (size_t)mt_tensor_numel(want), 1e-5, 1e-4);
    mt_tensor_free(c);
    mt_tensor_free(want);
}

static mt_value *edge_param(const mt_safetensors *st, const char *name)
{
    mt_tensor *t = NULL;
    mt_value *p = NULL;
    assert_ok(mt_safetensors_get(st, name, &t));
    assert_ok(mt_param_new(t, name, &p));
    mt_tensor_free(t);
    return p;
}

/* One value in two roles, as PyTorch allows (reference/make_rnn_edge_refs.py):
 * a GRU whose weight_ih is its weight_hh and bias_ih its bias_hh, from h0
 * [1, N, H]; an LSTM whose h0 and c0 are one value. The gradients of both
 * roles add up. */
static void test_one_value_in_two_roles(void **state)
{
    (void)state;
    mt_safetensors *st = NULL;
    assert_ok(mt_safetensors_open(RNN_EDGE_REFS, &st));
    mt_value *w = edge_param(st, "tg_w"), *b = edge_param(st, "tg_b");
    mt_value *x = edge_param(st, "tg_x"), *h0p = edge_param(st, "tg_h0");
    mt_tensor *co = NULL, *ch = NULL;
    assert_ok(mt_safetensors_get(st, "tg_co", &co));
    assert_ok(mt_safetensors_get(st, "tg_ch", &ch));
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    mt_value *h0, *out, *hn, *loss = NULL;
    assert_ok(mt_tape_reshape(tape, h0p, 3, (int64_t[]){1, h0p->data->shape[0],
                                                        h0p->data->shape[1]}, &h0));
    assert_ok(mt_tape_gru(tape, x, &(mt_tape_rnn_weights){w, w, b, b}, h0, &out, &hn));
    assert_ok(add_weighted(tape, out, co, &loss));
    assert_ok(add_weighted(tape, hn, ch, &loss));
    assert_ok(mt_tape_backward(tape, loss));
    assert_edge(st, out->data, "tg_out");
    assert_edge(st, w->grad, "tg_dw");
    assert_edge(st, b->grad, "tg_db");
    assert_edge(st, x->grad, "tg_dx");
    assert_edge(st, h0p->grad, "tg_dh0");
    mt_tape_reset(tape);

    mt_value *wi = edge_param(st, "tl_wi"), *wh = edge_param(st, "tl_wh");
    mt_value *s = edge_param(st, "tl_s"), *xv, *cn;
    mt_tensor *xt = NULL, *lco = NULL, *lcc = NULL;
    assert_ok(mt_safetensors_get(st, "tl_x", &xt));
    assert_ok(mt_safetensors_get(st, "tl_co", &lco));
    assert_ok(mt_safetensors_get(st, "tl_cc", &lcc));
    assert_ok(mt_tape_constant(tape, xt, &xv));
    loss = NULL;
    assert_ok(mt_tape_lstm(tape, xv, &(mt_tape_rnn_weights){wi, wh, NULL, NULL}, s, s, &out,
                           &hn, &cn));
    assert_ok(add_weighted(tape, out, lco, &loss));
    assert_ok(add_weighted(tape, cn, lcc, &loss));
    assert_ok(mt_tape_backward(tape, loss));
    assert_edge(st, out->data, "tl_out");
    assert_edge(st, wi->grad, "tl_dwi");
    assert_edge(st, wh->grad, "tl_dwh");
    assert_edge(st, s->grad, "tl_ds");
    mt_tape_free(tape);
    mt_value *params[] = {w, b, x, h0p, wi, wh, s};
    for (size_t i = 0; i < sizeof params / sizeof *params; i++)
        mt_param_free(params[i]);
    mt_tensor *tensors[] = {co, ch, xt, lco, lcc};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        mt_tensor_free(tensors[i]);
    mt_safetensors_close(st);
}

static mt_value *zeros_param(int rank, const int64_t *shape)
{
    mt_tensor *t;
    mt_value *p;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    assert_ok(mt_param_new(t, NULL, &p));
    mt_tensor_free(t);
    return p;
}

static void test_errors(void **state)
{
    (void)state;
    /* an LSTM F = 3, H = 2 (G·H = 8) on x [2, 4, 3] */
    mt_value *x = zeros_param(3, (int64_t[]){2, 4, 3});
    mt_value *wi = zeros_param(2, (int64_t[]){8, 3}), *wh = zeros_param(2, (int64_t[]){8, 2});
    mt_value *b = zeros_param(1, (int64_t[]){8}), *h0 = zeros_param(2, (int64_t[]){2, 2});
    mt_value *x2 = zeros_param(2, (int64_t[]){4, 3}), *wi_f = zeros_param(2, (int64_t[]){8, 5});
    mt_value *wi_7 = zeros_param(2, (int64_t[]){7, 3}), *wh_h3 = zeros_param(2, (int64_t[]){12, 3});
    mt_value *b6 = zeros_param(1, (int64_t[]){6}), *h0_bad = zeros_param(2, (int64_t[]){3, 2});
    mt_value *gru_wi = zeros_param(2, (int64_t[]){6, 3}), *gru_wh = zeros_param(2, (int64_t[]){6, 2});
    mt_value *x_empty = zeros_param(3, (int64_t[]){2, 0, 3});
    mt_tape *tape, *other;
    assert_ok(mt_tape_new(&tape));
    assert_ok(mt_tape_new(&other));
    mt_tape_rnn_weights w = {wi, wh, b, b};
    mt_value *const sentinel = (mt_value *)&w;
    mt_value *out = sentinel, *hn = sentinel, *cn = sentinel;

    assert_fails(mt_tape_lstm(NULL, x, &w, NULL, NULL, &out, &hn, &cn),
                 MT_ERR_INVALID_ARGUMENT, "tape_lstm: tape is NULL");
    assert_fails(mt_tape_lstm(tape, x, &w, NULL, NULL, NULL, &hn, &cn),
                 MT_ERR_INVALID_ARGUMENT, "tape_lstm: out is NULL");
    assert_fails(mt_tape_lstm(tape, NULL, &w, NULL, NULL, &out, &hn, &cn),
                 MT_ERR_INVALID_ARGUMENT, "tape_lstm: x is NULL");
    assert_fails(mt_tape_lstm(tape, x, NULL, NULL, NULL, &out, &hn, &cn),
                 MT_ERR_INVALID_ARGUMENT, "tape_lstm: weights is NULL");
    assert_fails(mt_tape_gru(tape, x, &(mt_tape_rnn_weights){.weight_ih = gru_wi}, NULL, &out, &hn),
                 MT_ERR_INVALID_ARGUMENT, "tape_gru: weight_hh is NULL");
    assert_fails(mt_tape_lstm(tape, x2, &w, NULL, NULL, &out, &hn, &cn), MT_ERR_SHAPE,
                 "tape_lstm: x [4,3] must be [N, L, F] (batch_first)");
    assert_fails(mt_tape_lstm(tape, x_empty, &w, NULL, NULL, &out, &hn, &cn), MT_ERR_SHAPE,
                 "x [2,0,3] must be [N, L, F] (batch_first) with N, L, F >= 1");
    assert_fails(mt_tape_lstm(tape, x, &(mt_tape_rnn_weights){.weight_ih = wi_f, .weight_hh = wh}, NULL, NULL, &out,
                              &hn, &cn),
                 MT_ERR_SHAPE, "weight_ih [8,5] must be [4·H, F] = [4·H, 3] (gates i,f,g,o)");
    assert_fails(mt_tape_lstm(tape, x, &(mt_tape_rnn_weights){.weight_ih = wi_7, .weight_hh = wh}, NULL, NULL, &out,
                              &hn, &cn),
                 MT_ERR_SHAPE, "weight_ih [7,3] must be [4·H, F]");
    /* a mismatched hidden size: weight_ih says H = 2, weight_hh H = 3 */
    assert_fails(mt_tape_lstm(tape, x, &(mt_tape_rnn_weights){.weight_ih = wi, .weight_hh = wh_h3}, NULL, NULL, &out,
                              &hn, &cn),
                 MT_ERR_SHAPE, "weight_hh [12,3] must be [4·H, H] = [8, 2]: the hidden size "
                 "H = 2 comes from weight_ih [8,3]");
    /* the LSTM's weights given to a GRU: 8 rows are not 3·H */
    assert_fails(mt_tape_gru(tape, x, &w, NULL, &out, &hn), MT_ERR_SHAPE,
                 "tape_gru: weight_ih [8,3] must be [3·H, F] = [3·H, 3] (gates r,z,n)");
    assert_fails(mt_tape_gru(tape, x, &(mt_tape_rnn_weights){.weight_ih = gru_wi, .weight_hh = gru_wh, .bias_hh = b}, NULL,
                             &out, &hn),
                 MT_ERR_SHAPE, "tape_gru: bias_hh [8] must be [3·H] = [6]");
    assert_fails(mt_tape_lstm(tape, x, &(mt_tape_rnn_weights){.weight_ih = wi, .weight_hh = wh, .bias_ih = b6}, NULL, NULL, &out,
                              &hn, &cn),
                 MT_ERR_SHAPE, "tape_lstm: bias_ih [6] must be [4·H] = [8]");
    assert_fails(mt_tape_lstm(tape, x, &w, h0_bad, NULL, &out, &hn, &cn), MT_ERR_SHAPE,
                 "tape_lstm: h0 [3,2] must be [N, H] = [2, 2] (or [1, N, H])");
    assert_fails(mt_tape_lstm(tape, x, &w, h0, h0_bad, &out, &hn, &cn), MT_ERR_SHAPE,
                 "tape_lstm: c0 [3,2] must be [N, H] = [2, 2]");
    assert_fails(mt_tape_rnn(tape, x, &(mt_tape_rnn_weights){.weight_ih = wi_f, .weight_hh = wh}, NULL,
                             MT_ACTIVATION_SIGMOID, &out, &hn),
                 MT_ERR_INVALID_ARGUMENT, "tape_rnn: nonlinearity 5 must be "
                 "MT_ACTIVATION_TANH or MT_ACTIVATION_RELU");
    /* another tape's value */
    mt_value *foreign;
    assert_ok(mt_tape_mul_scalar(other, h0, 1.0f, &foreign));
    assert_fails(mt_tape_lstm(tape, x, &w, foreign, NULL, &out, &hn, &cn),
                 MT_ERR_INVALID_ARGUMENT, "tape_lstm: h0 [2,2] is not a value of this tape");
    assert_true(out == sentinel && hn == sentinel && cn == sentinel);

    /* out of memory at every allocation in turn: each failure leaves the
     * outputs alone, and the tape records the next call correctly */
    for (long fail_after = 0;; fail_after++) {
        alloc_probe probe;
        mt_tape *t;
        assert_ok(mt_tape_new(&t));
        probe_install(&probe, fail_after);
        mt_status s = mt_tape_lstm(t, x, &w, h0, h0, &out, &hn, &cn);
        probe_remove();
        if (s == MT_OK) {
            mt_tape_free(t);
            break;
        }
        assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
        assert_true(out == sentinel && hn == sentinel && cn == sentinel);
        mt_value *loss;
        assert_ok(mt_tape_lstm(t, x, &w, h0, NULL, &out, &hn, &cn));
        assert_ok(mt_tape_sum_all(t, out, &loss));
        assert_ok(mt_tape_backward(t, loss));
        mt_tape_free(t);
        out = hn = cn = sentinel;
    }

    mt_tape_free(tape);
    mt_tape_free(other);
    mt_value *all[] = {x, wi, wh, b, h0, x2, wi_f, wi_7, wh_h3, b6, h0_bad, gru_wi, gru_wh,
                       x_empty};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        mt_param_free(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_match_pytorch),
        cmocka_unit_test(test_gradient_to_the_state_only),
        cmocka_unit_test(test_state_carried_across_resets),
        cmocka_unit_test(test_two_layer_bidirectional_lstm_as_pytorch),
        cmocka_unit_test(test_char_model_trains_as_pytorch),
        cmocka_unit_test(test_training_step_allocates_nothing_after_the_first),
        cmocka_unit_test(test_one_value_in_two_roles),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
