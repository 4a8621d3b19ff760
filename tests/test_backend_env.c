/* test_backend_env.c — MT_BACKEND / MT_NUM_THREADS are read on first use.
 * Run by meson with the environment set; argv[1] says what to expect:
 * a backend name, or "invalid" / "invalid_threads" (matmul must fail and
 * name the variable). */
#include "test_util.h"

static const char *expected;

static void test_environment_choice(void **state)
{
    (void)state;
    mt_tensor *a, *r = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 2}, 1.0f, &a));
    if (strcmp(expected, "invalid_threads") == 0) {
        assert_fails(mt_matmul(a, a, &r), MT_ERR_INVALID_ARGUMENT,
                     "backend: MT_NUM_THREADS=\"");
        assert_null(r);
        assert_ok(mt_num_threads_set(1)); // the API overrides the environment
        assert_ok(mt_matmul(a, a, &r));
    } else if (strcmp(expected, "invalid") == 0) {
        assert_fails(mt_matmul(a, a, &r), MT_ERR_UNSUPPORTED, "MT_BACKEND=\"");
        assert_null(r);
        /* the API overrides the environment */
        assert_ok(mt_backend_set(MT_BACKEND_NAIVE));
        assert_ok(mt_matmul(a, a, &r));
    } else {
        assert_string_equal(mt_backend_name(mt_backend_get()), expected);
        assert_int_equal(mt_num_threads_get(), 1);
        assert_ok(mt_matmul(a, a, &r));
    }
    assert_true(((float *)r->data)[3] == 2.0f);
    mt_tensor_free(r);
    mt_tensor_free(a);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s EXPECTED_BACKEND|invalid|invalid_threads\n", argv[0]);
        return 2;
    }
    expected = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_environment_choice)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
