/* test_native_kernel_env.c — MT_NATIVE_KERNEL, read once at the first
 * native matmul.
 *
 * Run by meson with the environment set; argv[1] says what to expect:
 * "invalid" (the native matmul fails with MT_ERR_UNSUPPORTED naming the
 * value, C untouched), or the kernel name the variable must select (a
 * short name such as "avx2" selects "avx2+fma"). A kernel this CPU cannot
 * run (e.g. avx512 on an AVX2-only CPU) must fail the same way as an
 * unknown name.
 */
#include "test_util.h"

#include "native/native.h"

static const char *expected;

static void test_env_kernel(void **state)
{
    (void)state;
    assert_ok(mt_backend_set(MT_BACKEND_NATIVE));
    const int64_t d[2] = {3, 3};
    mt_tensor *a, *c;
    assert_ok(mt_tensor_full(2, d, 1.0f, &a));
    assert_ok(mt_tensor_full(2, d, -7.0f, &c));
    bool runs_here = false;
    for (const char *const *n = mt_gemm_native_kernel_names(); *n; n++)
        runs_here |= strcmp(*n, expected) == 0;
    if (!runs_here) {
        assert_fails(mt_matmul_into(a, a, c), MT_ERR_UNSUPPORTED, "MT_NATIVE_KERNEL");
        assert_non_null(strstr(mt_last_error(), getenv("MT_NATIVE_KERNEL")));
        // the choices: every kernel that runs here (no "generic" on wasm32)
        for (const char *const *n = mt_gemm_native_kernel_names(); *n; n++)
            assert_non_null(strstr(mt_last_error(), *n));
        for (int i = 0; i < 9; i++)
            assert_true(((float *)c->data)[i] == -7.0f);
        // the convs that write their bias or zeros before accumulating do
        // so only after their first GEMM: a failing one leaves out as it was
        mt_tensor *x, *w, *b, *y;
        assert_ok(mt_tensor_full(5, (const int64_t[]){1, 2, 2, 2, 3}, 1.0f, &x));
        assert_ok(mt_tensor_full(5, (const int64_t[]){3, 2, 2, 2, 2}, 1.0f, &w));
        assert_ok(mt_tensor_full(1, (const int64_t[]){2}, 0.5f, &b));
        assert_ok(mt_tensor_full(5, (const int64_t[]){1, 3, 3, 3, 2}, -7.0f, &y));
        assert_fails(mt_conv_transpose3d_into(x, w, b, &(mt_conv_transpose3d_params){0}, y),
                     MT_ERR_UNSUPPORTED, "MT_NATIVE_KERNEL");
        for (int64_t i = 0; i < mt_tensor_numel(y); i++)
            assert_true(((float *)y->data)[i] == -7.0f);
        mt_tensor_free(y);
        mt_tensor_free(b);
        mt_tensor_free(w);
        mt_tensor_free(x);
    } else {
        assert_ok(mt_matmul_into(a, a, c));
        for (int i = 0; i < 9; i++) // 1·1 + 1·1 + 1·1
            assert_true(((float *)c->data)[i] == 3.0f);
        assert_string_equal(mt_gemm_native_kernel()->name, expected);
    }
    mt_tensor_free(a);
    mt_tensor_free(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s KERNEL_NAME|invalid\n", argv[0]);
        return 2;
    }
    expected = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_env_kernel)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
