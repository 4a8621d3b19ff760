/* test_arena.c — the workspace: reuse, growth, and allocation-free passes. */
#include "test_util.h"

static void test_arena_tensors(void **state)
{
    (void)state;
    mt_arena *ws;
    assert_ok(mt_arena_new(0, &ws));
    mt_tensor *t, *e;
    assert_ok(mt_arena_tensor(ws, MT_DTYPE_F32, 2, (int64_t[]){3, 5}, &t));
    assert_int_equal(t->ownership, MT_OWNERSHIP_ARENA);
    assert_true((uintptr_t)t->data % 64 == 0);
    assert_true(((float *)t->data)[14] == 0.0f);
    assert_ok(mt_arena_tensor(ws, MT_DTYPE_F32, 1, (int64_t[]){0}, &e));
    assert_int_equal(mt_tensor_numel(e), 0);
    mt_tensor_free(t);   /* ignored for arena tensors */
    assert_true(mt_arena_used(ws) > 60);
    mt_arena_reset(ws);
    assert_int_equal(mt_arena_used(ws), 0);
    assert_fails(mt_arena_tensor(ws, MT_DTYPE_F32, 1, (int64_t[]){-1}, &t),
                 MT_ERR_INVALID_ARGUMENT, "arena_tensor: dim 0 is negative");
    assert_fails(mt_arena_tensor(NULL, MT_DTYPE_F32, 1, (int64_t[]){1}, &t),
                 MT_ERR_INVALID_ARGUMENT, "arena_tensor: NULL argument");
    mt_arena_free(ws);
}

/* One "forward pass": matmul + bias + relu + softmax + argmax, all in the
 * arena, with _into ops. */
static void pass(mt_arena *ws, const mt_tensor *x, const mt_tensor *w,
                 const mt_tensor *b, int64_t *label)
{
    mt_arena_reset(ws);
    mt_tensor *h, *p, *am;
    int64_t n = x->shape[0];
    assert_ok(mt_arena_tensor(ws, MT_DTYPE_F32, 2, (int64_t[]){n, w->shape[1]}, &h));
    assert_ok(mt_arena_tensor(ws, MT_DTYPE_F32, 2, (int64_t[]){n, w->shape[1]}, &p));
    assert_ok(mt_arena_tensor(ws, MT_DTYPE_I64, 1, (int64_t[]){n}, &am));
    assert_ok(mt_matmul_fused_into(x, w, b, MT_ACTIVATION_RELU, h));
    assert_ok(mt_softmax_into(h, 1, p));
    assert_ok(mt_argmax_into(p, 1, false, am));
    *label = ((int64_t *)am->data)[0];
}

static void test_forward_pass_allocates_nothing_after_first(void **state)
{
    (void)state;
    float xd[2 * 3] = {1, 2, 3, -1, -2, -3};
    float wd[3 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    float bd[4] = {0, 0, 0, 0.5f};
    mt_tensor x, w, b;   /* caller structs: no heap */
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, xd, &x));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){3, 4}, wd, &w));
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 1, (int64_t[]){4}, bd, &b));
    mt_arena *ws;
    assert_ok(mt_arena_new(0, &ws));
    alloc_probe probe;
    probe_install(&probe, -1);
    for (int backend = MT_BACKEND_NAIVE; backend < MT_BACKEND_COUNT; backend++) {
        if (!mt_backend_available((mt_backend)backend))
            continue;
        assert_ok(mt_backend_set((mt_backend)backend));
        assert_ok(mt_num_threads_set(1));
        int64_t label;
        pass(ws, &x, &w, &b, &label);   /* first pass may allocate */
        assert_int_equal(label, 2);
        long before = probe.allocations;
        for (int i = 0; i < 10; i++) {
            pass(ws, &x, &w, &b, &label);
            assert_int_equal(label, 2);
        }
        if (probe.allocations != before) {
            print_error("%s: %ld allocations in 10 steady passes\n",
                        mt_backend_name((mt_backend)backend), probe.allocations - before);
            fail();
        }
    }
    mt_arena_free(ws);
    probe_remove();
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
}

static void test_arena_grows_once_then_reuses(void **state)
{
    (void)state;
    mt_arena *ws;
    assert_ok(mt_arena_new(128, &ws));
    alloc_probe probe;
    probe_install(&probe, -1);
    long allocations[3];
    for (int round = 0; round < 3; round++) {
        mt_arena_reset(ws);
        mt_tensor *t;
        for (int i = 0; i < 4; i++)
            assert_ok(mt_arena_tensor(ws, MT_DTYPE_F32, 1, (int64_t[]){100000}, &t));
        allocations[round] = probe.allocations;
    }
    assert_true(allocations[0] > 0);
    assert_int_equal(allocations[1], allocations[0]);   /* reuse, no growth */
    assert_int_equal(allocations[2], allocations[0]);
    assert_true(mt_arena_capacity(ws) >= 4 * 400000);
    probe_remove();
    mt_arena_free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_tensors),
        cmocka_unit_test(test_forward_pass_allocates_nothing_after_first),
        cmocka_unit_test(test_arena_grows_once_then_reuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
