/* test_train_step.c — a whole MLP training step (784→128 ReLU → Dropout →
 * 10, cross-entropy, Adam) allocates nothing after the first step: the tape's
 * arena, node array and value slots are reused. Counted with the counting
 * allocator of test_util.h, at the library level. */
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
    /* two threads: the native matmul's workers reuse their buffers too */
    assert_ok(mt_num_threads_set(2));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steady_step_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
