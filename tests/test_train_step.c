/* test_train_step.c — a whole MLP training step (784→128 ReLU → Dropout →
 * 10, cross-entropy, Adam) allocates nothing after the first step: the tape's
 * arena, node array and value slots are reused. Counted with the counting
 * allocator of test_util.h, at the library level. And the data-parallel
 * pieces: shadow parameters and the ordered gradient reduce. */
#include "test_util.h"

enum { BATCH = 64, IN = 784, HIDDEN = 128, CLASSES = 10 };

typedef struct mlp {
    mt_value *p[4];
    mt_tape *tape;
    mt_optimizer *opt;
    mt_rng rng;
    mt_tensor *x, *y;
} mlp;

static void mlp_init(mlp *m)
{
    mt_rng_init(&m->rng, 3);
    const int64_t shapes[4][2] = {{IN, HIDDEN}, {HIDDEN, 1}, {HIDDEN, CLASSES}, {CLASSES, 1}};
    const int64_t fan_in[4] = {IN, IN, HIDDEN, HIDDEN};
    for (int i = 0; i < 4; i++) {
        mt_tensor *t;
        int rank = shapes[i][1] == 1 ? 1 : 2;
        assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shapes[i], &t));
        assert_ok(mt_init_kaiming_uniform(t, fan_in[i], &m->rng));
        assert_ok(mt_param_new(t, NULL, &m->p[i]));
        mt_tensor_free(t);
    }
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
    assert_ok(mt_optimizer_new(&o, m->p, 4, &m->opt));
    assert_ok(mt_tape_new(&m->tape));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){BATCH, IN}, &m->x));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 1, (int64_t[]){BATCH}, &m->y));
    uint64_t state = 11;
    float *x = m->x->data;
    int64_t *y = m->y->data;
    for (int i = 0; i < BATCH * IN; i++)
        x[i] = 0.5f + 0.5f * rand_unit(&state);
    for (int i = 0; i < BATCH; i++)
        y[i] = i % CLASSES;
}

static void mlp_free(mlp *m)
{
    mt_tensor_free(m->x);
    mt_tensor_free(m->y);
    mt_tape_free(m->tape);
    mt_optimizer_free(m->opt);
    for (int i = 0; i < 4; i++)
        mt_param_free(m->p[i]);
}

/* One step; returns the loss. */
static float mlp_step(mlp *m)
{
    mt_value *in, *h, *logits, *loss;
    mt_tape_reset(m->tape);
    assert_ok(mt_tape_constant(m->tape, m->x, &in));
    assert_ok(mt_tape_linear(m->tape, in, m->p[0], m->p[1], MT_ACTIVATION_RELU, &h));
    assert_ok(mt_tape_dropout(m->tape, h, 0.2f, &m->rng, &h));
    assert_ok(mt_tape_linear(m->tape, h, m->p[2], m->p[3], MT_ACTIVATION_NONE, &logits));
    assert_ok(mt_tape_cross_entropy(m->tape, logits, m->y, NULL, &loss));
    assert_ok(mt_tape_backward(m->tape, loss));
    assert_ok(mt_optimizer_step(m->opt));
    mt_optimizer_zero_grad(m->opt);
    return *(const float *)loss->data->data;
}

static void steady_step_allocates_nothing(void **state)
{
    (void)state;
    /* two threads (but on wasm32): the native matmul's workers reuse their
     * buffers too */
    assert_ok(mt_num_threads_set(MT_TEST_THREADS));
    /* the probe goes in first: changing the allocator drops the matmul's
     * cached buffers, which the next matmul would allocate again */
    alloc_probe probe;
    probe_install(&probe, -1);
    mlp m = {0};
    mlp_init(&m);
    float first = mlp_step(&m), last = first;
    long warm = probe.allocations;
    for (int i = 0; i < 5; i++)
        last = mlp_step(&m);
    long steady = probe.allocations - warm;
    probe_remove();
    assert_int_equal(steady, 0);
    /* the steps did train: six Adam steps on one batch lower its loss */
    assert_true(last < first);
    mlp_free(&m);
}

/* The data-parallel step (two shadows, each on its own tape, reduced into
 * the parameters) allocates nothing after the first step either. */
static void sharded_step_allocates_nothing(void **state)
{
    (void)state;
    assert_ok(mt_num_threads_set(1));   /* as inside fashion train's shards */
    alloc_probe probe;
    probe_install(&probe, -1);
    mlp m = {0};
    mlp_init(&m);
    mt_value *sh[2][4];
    mt_tape *tapes[2];
    for (int i = 0; i < 2; i++) {
        assert_ok(mt_tape_new(&tapes[i]));
        for (int k = 0; k < 4; k++)
            assert_ok(mt_param_shadow_new(m.p[k], &sh[i][k]));
    }
    long warm = 0;
    for (int step = 0; step < 4; step++) {
        if (step == 1)
            warm = probe.allocations;
        for (int i = 0; i < 2; i++) {   /* rows [32i, 32i+32) */
            mt_tensor xs, ys;
            mt_value *in, *h, *logits, *loss;
            assert_ok(mt_narrow_into(m.x, 0, 32 * i, 32, &xs));
            assert_ok(mt_narrow_into(m.y, 0, 32 * i, 32, &ys));
            mt_tape_reset(tapes[i]);
            assert_ok(mt_tape_constant(tapes[i], &xs, &in));
            assert_ok(mt_tape_linear(tapes[i], in, sh[i][0], sh[i][1], MT_ACTIVATION_RELU, &h));
            assert_ok(mt_tape_linear(tapes[i], h, sh[i][2], sh[i][3], MT_ACTIVATION_NONE,
                                     &logits));
            assert_ok(mt_tape_cross_entropy(tapes[i], logits, &ys, NULL, &loss));
            assert_ok(mt_tape_backward(tapes[i], loss));
        }
        for (int k = 0; k < 4; k++)
            assert_ok(mt_param_grad_reduce(m.p[k], (mt_value *[]){sh[0][k], sh[1][k]},
                                           (float[]){0.5f, 0.5f}, 2));
        assert_ok(mt_optimizer_step(m.opt));
        mt_optimizer_zero_grad(m.opt);
    }
    long steady = probe.allocations - warm;
    probe_remove();
    assert_int_equal(steady, 0);
    for (int i = 0; i < 2; i++) {
        mt_tape_free(tapes[i]);
        for (int k = 0; k < 4; k++)
            mt_param_free(sh[i][k]);
    }
    mlp_free(&m);
}

/* Shadows share the data and own their gradients; the reduce is
 * param.grad += Σ scale[i]·shadow[i].grad in order (values by hand). */
static void shadows_reduce_in_order(void **state)
{
    (void)state;
    mt_tensor *t;
    mt_value *p, *q, *sh[2];
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){3},
                                  (float[]){1.0f, 2.0f, 3.0f}, &t));
    assert_ok(mt_param_new(t, "w", &p));
    assert_ok(mt_param_new(t, "other", &q));
    mt_tensor_free(t);
    assert_ok(mt_param_shadow_new(p, &sh[0]));
    assert_ok(mt_param_shadow_new(p, &sh[1]));
    assert_ptr_equal(sh[0]->data, p->data);
    assert_ptr_not_equal(sh[0]->grad, p->grad);
    /* each shard: loss = sum(w * c) on its own tape, so grad = c */
    const float c[2][3] = {{1.0f, 10.0f, 100.0f}, {-2.0f, 4.0f, 0.5f}};
    mt_tape *tape;
    assert_ok(mt_tape_new(&tape));
    for (int i = 0; i < 2; i++) {
        mt_tensor *ct;
        mt_value *cv, *prod, *loss;
        assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){3}, c[i], &ct));
        mt_tape_reset(tape);
        assert_ok(mt_tape_constant(tape, ct, &cv));
        assert_ok(mt_tape_mul(tape, sh[i], cv, &prod));
        assert_ok(mt_tape_sum_all(tape, prod, &loss));
        assert_ok(mt_tape_backward(tape, loss));
        mt_tensor_free(ct);
    }
    assert_ok(mt_param_grad_reduce(p, sh, (float[]){0.25f, 0.75f}, 2));
    const float want[3] = {0.25f * 1.0f + 0.75f * -2.0f, 0.25f * 10.0f + 0.75f * 4.0f,
                           0.25f * 100.0f + 0.75f * 0.5f};
    assert_close(p->grad->data, want, 3, 0.0, 0.0);
    const float zero[3] = {0};
    assert_close(sh[1]->grad->data, zero, 3, 0.0, 0.0);   /* shadows zeroed */
    /* a shadow of another parameter is refused, nothing changes */
    mt_value *stranger;
    assert_ok(mt_param_shadow_new(q, &stranger));
    assert_fails(mt_param_grad_reduce(p, (mt_value *[]){sh[0], stranger}, (float[]){1, 1}, 2),
                 MT_ERR_INVALID_ARGUMENT, "shadows[1] is not a shadow of w");
    assert_close(p->grad->data, want, 3, 0.0, 0.0);
    assert_fails(mt_param_shadow_new(sh[0], &stranger), MT_ERR_INVALID_ARGUMENT,
                 "not a shadow");
    /* no shard's loss reached q: torch's grad stays None and torch.optim
     * skips q (no weight decay); p = p·(1 - lr·wd) - lr·grad */
    assert_ok(mt_param_grad_reduce(q, &stranger, (float[]){1.0f}, 1));
    mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_SGD);
    o.lr = 0.5f;
    o.weight_decay = 0.1f;
    mt_optimizer *opt;
    assert_ok(mt_optimizer_new(&o, (mt_value *[]){p, q}, 2, &opt));
    assert_ok(mt_optimizer_step(opt));
    assert_close(q->data->data, ((float[]){1.0f, 2.0f, 3.0f}), 3, 0.0, 0.0);
    const float stepped[3] = {1.0f - 0.5f * (want[0] + 0.1f), 2.0f - 0.5f * (want[1] + 0.2f),
                              3.0f - 0.5f * (want[2] + 0.3f)};
    assert_close(p->data->data, stepped, 3, 0.0, 1e-6);
    mt_optimizer_free(opt);
    mt_tape_free(tape);
    mt_param_free(sh[0]);
    mt_param_free(sh[1]);
    mt_param_free(stranger);
    mt_param_free(p);
    mt_param_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steady_step_allocates_nothing),
        cmocka_unit_test(sharded_step_allocates_nothing),
        cmocka_unit_test(shadows_reduce_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
