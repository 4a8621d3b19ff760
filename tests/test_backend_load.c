/* test_backend_load.c — OpenBLAS and BLIS are opened at run time, only when
 * wanted. Run by meson with the environment set; argv[1] says what to expect:
 *   missing   MT_OPENBLAS_LIBRARY / MT_BLIS_LIBRARY name files that do not
 *             exist: selecting either is a clear error, the process keeps
 *             working (AUTO falls back to native silently, NATIVE runs).
 *   env       as missing, plus MT_BACKEND=openblas: the first matmul fails
 *             naming the variable and the library; the API then recovers.
 *   wrong     MT_OPENBLAS_LIBRARY names a library that is not OpenBLAS.
 *   lazy      the real libraries: nothing is loaded by a product AUTO gives
 *             the native kernel; selecting the backend loads it.
 *   prescott  OPENBLAS_CORETYPE=Prescott (what OpenBLAS 0.3.21 falls back
 *             to on a CPU it does not know): on a CPU with AVX2 and FMA,
 *             AUTO keeps small products on the native kernel.
 *   haswell   OPENBLAS_CORETYPE=Haswell: AUTO gives them to OpenBLAS.
 * Expected values from NumPy: (arange(12).reshape(3,4) * 0.5) @
 * (arange(8).reshape(4,2) - 3). */
#include <dlfcn.h>

#include "test_util.h"

#include "backend_select.h" /* mt_gemm_auto_choice */

static const char *expected;

static const float a_data[12] = {0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f};
static const float b_data[8] = {-3, -2, -1, 0, 1, 2, 3, 4};
static const float ab_numpy[6] = {5, 8, 5, 16, 5, 24};

/* a (3x4) @ b (4x2) with the backend in force: m = 3 > 1 and 24 FMAs, a
 * shape AUTO sends to OpenBLAS whenever OpenBLAS can be loaded. */
static void check_small_product(void)
{
    mt_tensor *a, *b, *c = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){3, 4}, a_data, &a));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){4, 2}, b_data, &b));
    assert_ok(mt_matmul(a, b, &c));
    assert_close((const float *)c->data, ab_numpy, 6, 0.0f, 0.0f);
    mt_tensor_free(c);
    mt_tensor_free(b);
    mt_tensor_free(a);
}

static bool loaded(const char *soname)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    if (h)
        dlclose(h);
    return h != NULL;
}

static void check_missing(mt_backend backend, const char *what, const char *file,
                          const char *package, const char *variable)
{
    assert_fails(mt_backend_set(backend), MT_ERR_UNSUPPORTED, "cannot load");
    const char *msg = mt_last_error();
    assert_non_null(strstr(msg, what));
    assert_non_null(strstr(msg, file));
    assert_non_null(strstr(msg, "No such file")); // dlerror's text
    assert_non_null(strstr(msg, package));
    assert_non_null(strstr(msg, variable));
    assert_false(mt_backend_available(backend));
    assert_non_null(strstr(mt_backend_describe(backend), "cannot load"));
}

static void test_missing(void **state)
{
    (void)state;
    check_missing(MT_BACKEND_OPENBLAS, "OpenBLAS", "/nonexistent/libopenblas.so.0",
                  "libopenblas0", "MT_OPENBLAS_LIBRARY");
#ifdef MT_TEST_HAVE_BLIS
    check_missing(MT_BACKEND_BLIS, "BLIS", "/nonexistent/libblis.so.4", "libblis4",
                  "MT_BLIS_LIBRARY");
#endif
    // the failed choices changed nothing: AUTO, which falls back to native
    assert_int_equal(mt_backend_get(), MT_BACKEND_AUTO);
    check_small_product();
    // and again: the failure is remembered, not retried into a crash
    assert_fails(mt_backend_set(MT_BACKEND_OPENBLAS), MT_ERR_UNSUPPORTED, "cannot load");
    assert_ok(mt_backend_set(MT_BACKEND_NATIVE));
    check_small_product();
    assert_false(loaded("libopenblas.so.0"));
    assert_false(loaded("libblis.so.4"));
}

static void test_env(void **state)
{
    (void)state;
    mt_tensor *a, *c = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 2}, 1.0f, &a));
    assert_fails(mt_matmul(a, a, &c), MT_ERR_UNSUPPORTED,
                 "MT_BACKEND=\"openblas\": OpenBLAS: cannot load "
                 "/nonexistent/libopenblas.so.0");
    assert_null(c);
    assert_fails(mt_backend_env_check(), MT_ERR_UNSUPPORTED, "libopenblas0");
    mt_tensor_free(a);
    assert_ok(mt_backend_set(MT_BACKEND_AUTO)); // the API overrides the environment
    check_small_product();
}

static void test_wrong(void **state)
{
    (void)state;
    assert_fails(mt_backend_set(MT_BACKEND_OPENBLAS), MT_ERR_UNSUPPORTED,
                 "OpenBLAS: libz.so.1 has no cblas_sgemm");
    check_small_product();
}

static void test_lazy(void **state)
{
    (void)state;
    assert_false(loaded("libopenblas.so.0"));
    assert_false(loaded("libblis.so.4"));
    // one row: AUTO's native kernel, as `mnist predict` runs it
    mt_tensor *x, *w, *y = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){1, 4}, 1.0f, &x));
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){4, 2}, b_data, &w));
    assert_ok(mt_matmul(x, w, &y));
    assert_close((const float *)y->data, ((const float[]){0, 4}), 2, 0.0f, 0.0f);
    assert_false(loaded("libopenblas.so.0"));
    assert_false(loaded("libblis.so.4"));
    // a small product with several rows: AUTO wants OpenBLAS and loads it
    check_small_product();
    assert_true(loaded("libopenblas.so.0"));
#ifdef MT_TEST_HAVE_BLIS
    assert_false(loaded("libblis.so.4"));
    assert_ok(mt_backend_set(MT_BACKEND_BLIS));
    assert_true(loaded("libblis.so.4"));
    check_small_product();
#endif
    mt_tensor_free(y);
    mt_tensor_free(w);
    mt_tensor_free(x);
}

/* The kernel set OPENBLAS_CORETYPE names decides whether AUTO's small
 * products go to OpenBLAS (the product is right either way). */
static void test_core(void **state)
{
    (void)state;
    float a[12] = {0}, b[8] = {0}, c[6];
    const mt_gemm g = {.m = 3, .n = 2, .k = 4, .a = a, .a_rs = 4, .a_cs = 1, .b = b,
                       .b_rs = 2, .b_cs = 1, .c = c, .c_rs = 2, .c_cs = 1};
    bool older = strcmp(expected, "prescott") == 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    older = older && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    older = false;
#endif
    assert_int_equal(mt_gemm_auto_choice(&g), older ? MT_BACKEND_NATIVE : MT_BACKEND_OPENBLAS);
    assert_true(loaded("libopenblas.so.0"));
    check_small_product();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s missing|env|wrong|lazy|prescott|haswell\n", argv[0]);
        return 2;
    }
    expected = argv[1];
    const struct CMUnitTest missing[] = {cmocka_unit_test(test_missing)};
    const struct CMUnitTest env[] = {cmocka_unit_test(test_env)};
    const struct CMUnitTest wrong[] = {cmocka_unit_test(test_wrong)};
    const struct CMUnitTest lazy[] = {cmocka_unit_test(test_lazy)};
    const struct CMUnitTest core[] = {cmocka_unit_test(test_core)};
    if (strcmp(expected, "missing") == 0)
        return cmocka_run_group_tests(missing, NULL, NULL);
    if (strcmp(expected, "env") == 0)
        return cmocka_run_group_tests(env, NULL, NULL);
    if (strcmp(expected, "wrong") == 0)
        return cmocka_run_group_tests(wrong, NULL, NULL);
    if (strcmp(expected, "lazy") == 0)
        return cmocka_run_group_tests(lazy, NULL, NULL);
    if (strcmp(expected, "prescott") == 0 || strcmp(expected, "haswell") == 0)
        return cmocka_run_group_tests(core, NULL, NULL);
    fprintf(stderr, "unknown case %s\n", expected);
    return 2;
}
