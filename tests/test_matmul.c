/* test_matmul.c — matmul against NumPy references, every backend against
 * the naive reference, fused epilogue, error paths, backend selection. */
#include "test_util.h"
#include "reference/ops_refs.h"

static mt_tensor *make(int rank, const int64_t *shape, const float *data)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t));
    return t;
}

static void test_matmul_numpy_references(void **state)
{
    (void)state;
    mt_tensor *a = make(3, (int64_t[]){2, 3, 5}, REF_A235);
    mt_tensor *b = make(2, (int64_t[]){5, 4}, REF_B54);
    mt_tensor *bb = make(4, (int64_t[]){2, 1, 5, 4}, REF_B2154);
    mt_tensor *v = make(1, (int64_t[]){5}, REF_V5);
    mt_tensor *bias = make(1, (int64_t[]){4}, REF_BIAS4);
    mt_tensor *r;
    assert_ok(mt_matmul(a, b, &r));   /* [2,3,5] x [5,4] -> [2,3,4] */
    assert_int_equal(r->rank, 3);
    assert_close(r->data, REF_MATMUL_A235_B54, 24, 1e-5, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_matmul(a, bb, &r));  /* [2,3,5] x [2,1,5,4] -> [2,2,3,4] */
    assert_int_equal(r->rank, 4);
    assert_int_equal(r->shape[0], 2);
    assert_int_equal(r->shape[1], 2);
    assert_close(r->data, REF_MATMUL_A235_B2154, 48, 1e-5, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_matmul(v, b, &r));   /* [5] x [5,4] -> [4] */
    assert_int_equal(r->rank, 1);
    assert_close(r->data, REF_MATMUL_V5_B54, 4, 1e-5, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_matmul(a, v, &r));   /* [2,3,5] x [5] -> [2,3] */
    assert_int_equal(r->rank, 2);
    assert_close(r->data, REF_MATMUL_A235_V5, 6, 1e-5, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_matmul_fused(a, b, bias, MT_ACTIVATION_RELU, &r));
    assert_close(r->data, REF_FUSED_RELU_A235_B54, 24, 1e-5, 1e-5);
    mt_tensor_free(r);
    mt_tensor *all[] = {a, b, bb, v, bias};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);
}

static void test_matmul_by_hand(void **state)
{
    (void)state;
    /* 1x1, K=1 (outer product), M=1 */
    const float x[2] = {2, -3}, y[3] = {1, 10, 100};
    mt_tensor *col = make(2, (int64_t[]){2, 1}, x), *row = make(2, (int64_t[]){1, 3}, y);
    mt_tensor *r;
    assert_ok(mt_matmul(col, row, &r));
    const float outer[6] = {2, 20, 200, -3, -30, -300};
    assert_close(r->data, outer, 6, 0, 0);
    mt_tensor_free(r);
    mt_tensor *one = make(2, (int64_t[]){1, 1}, x);
    assert_ok(mt_matmul(one, one, &r));
    assert_true(*(float *)r->data == 4.0f);
    mt_tensor_free(r);
    /* K = 0: the empty sum, plus bias through the fused form */
    mt_tensor *ek, *ekt;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 0}, &ek));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){0, 3}, &ekt));
    mt_tensor *bias = make(1, (int64_t[]){3}, (const float[]){1, -1, 2});
    assert_ok(mt_matmul_fused(ek, ekt, bias, MT_ACTIVATION_RELU, &r));
    const float kzero[6] = {1, 0, 2, 1, 0, 2};
    assert_close(r->data, kzero, 6, 0, 0);
    mt_tensor_free(r);
    /* M = 0 */
    mt_tensor *em;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){0, 2}, &em));
    assert_ok(mt_matmul(em, col, &r));
    assert_int_equal(r->shape[0], 0);
    assert_int_equal(r->shape[1], 1);
    mt_tensor_free(r);
    /* N = 0 through the fused form (a Linear with no outputs): nothing to
     * write, and the empty output's data may be NULL (clang's UBSan
     * flagged the offset the batch loop added to it; fuzz_loaders) */
    mt_tensor *en, *eb;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, 0}, &en));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){0}, &eb));
    assert_ok(mt_matmul_fused(row, en, eb, MT_ACTIVATION_RELU, &r));
    assert_int_equal(r->rank, 2);
    assert_int_equal(r->shape[0], 1);
    assert_int_equal(r->shape[1], 0);
    mt_tensor_free(r);
    mt_tensor *all[] = {col, row, one, ek, ekt, bias, em, en, eb};
    for (int i = 0; i < 9; i++)
        mt_tensor_free(all[i]);
}

static void test_matmul_errors(void **state)
{
    (void)state;
    mt_tensor *a, *b, *r = NULL, *i32, *out;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &a));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){4, 5}, &b));
    assert_fails(mt_matmul(a, b, &r), MT_ERR_SHAPE, "matmul: inner dimensions differ: [2,3] x [4,5]");
    assert_ok(mt_tensor_name_set(b, "d1_w"));
    assert_fails(mt_matmul(a, b, &r), MT_ERR_SHAPE, "[2,3] x d1_w [4,5]");
    assert_fails(mt_matmul(NULL, b, &r), MT_ERR_INVALID_ARGUMENT, "matmul: a is NULL");
    assert_fails(mt_matmul(a, a, NULL), MT_ERR_SHAPE, "inner dimensions differ");
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 2, (int64_t[]){3, 5}, &i32));
    assert_fails(mt_matmul(a, i32, &r), MT_ERR_DTYPE, "matmul: [3,5] has dtype I32");
    mt_tensor *b35, *bias;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, 5}, &b35));
    assert_fails(mt_matmul(a, b35, NULL), MT_ERR_INVALID_ARGUMENT, "matmul: out is NULL");
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 4}, &out));
    assert_fails(mt_matmul_into(a, b35, out), MT_ERR_SHAPE, "matmul: out is [2,4], [2,3] x [3,5] gives [2,5]");
    /* an expanded out (stride 0): every row's result would land on one row */
    mt_tensor *row, wide;
    assert_ok(mt_tensor_full(2, (int64_t[]){1, 5}, 7.0f, &row));
    assert_ok(mt_expand_into(row, 2, (int64_t[]){2, 5}, &wide));
    assert_fails(mt_matmul_into(a, b35, &wide), MT_ERR_INVALID_ARGUMENT,
                 "matmul: out [2,5] has stride 0 in dim 0");
    assert_fails(mt_matmul_fused_into(a, b35, NULL, MT_ACTIVATION_RELU, &wide),
                 MT_ERR_INVALID_ARGUMENT, "has stride 0 in dim 0");
    assert_true(((float *)row->data)[0] == 7.0f);
    mt_tensor_free(row);
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 2, (int64_t[]){2, 5}, &row));
    assert_fails(mt_matmul_into(a, b35, row), MT_ERR_DTYPE, "matmul: out [2,5] has dtype I32");
    mt_tensor_free(row);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){4}, &bias));
    assert_fails(mt_matmul_fused(a, b35, bias, MT_ACTIVATION_NONE, &r), MT_ERR_SHAPE,
                 "matmul_fused: bias is [4], expected [5]");
    assert_fails(mt_matmul_fused(a, b35, NULL, (mt_activation)9, &r), MT_ERR_INVALID_ARGUMENT,
                 "unknown activation 9");
    /* out overlapping an input */
    mt_tensor *sq, sqv;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, 3}, &sq));
    assert_ok(mt_narrow_into(sq, 0, 0, 3, &sqv));
    assert_fails(mt_matmul_into(sq, sq, &sqv), MT_ERR_INVALID_ARGUMENT, "overlaps an input");
    /* batch dims that do not broadcast */
    mt_tensor *ba, *bb2;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 2, 3}, &ba));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){3, 3, 2}, &bb2));
    assert_fails(mt_matmul(ba, bb2, &r), MT_ERR_SHAPE, "batch dims do not broadcast: [2,2,3] x [3,3,2]");
    assert_null(r);
    mt_tensor *all[] = {a, b, i32, out, b35, bias, sq, ba, bb2};
    for (int i = 0; i < 9; i++)
        mt_tensor_free(all[i]);
}

/* ---- every backend against naive --------------------------------------------- */

static void fill_random(mt_tensor *t, uint64_t *seed)
{
    float *p = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        p[i] = rand_unit(seed);
}

/* max |x - r| / max(1, max |r|) */
static double rel_error(const mt_tensor *x, const mt_tensor *r)
{
    double err = 0, mag = 1;
    const float *px = x->data, *pr = r->data;
    for (int64_t i = 0; i < mt_tensor_numel(r); i++) {
        double d = fabs((double)px[i] - pr[i]);
        err = d > err ? d : err;
        mag = fabs(pr[i]) > mag ? fabs(pr[i]) : mag;
    }
    return err / mag;
}

/* a [m,k] (or its transpose view), b [k,n] (or transpose), C = act(a.b + bias) */
static void compare_backend(mt_backend backend, int threads, int64_t m, int64_t n,
                            int64_t k, bool ta, bool tb, bool fused, uint64_t *seed)
{
    mt_tensor *a, *b, *bias, *ref, *got;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, ta ? (int64_t[]){k, m} : (int64_t[]){m, k}, &a));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n}, &b));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){n}, &bias));
    fill_random(a, seed);
    fill_random(b, seed);
    fill_random(bias, seed);
    mt_tensor av, bv;
    assert_ok(ta ? mt_transpose_into(a, 0, 1, &av) : mt_view_into(a, 2, a->shape, &av));
    assert_ok(tb ? mt_transpose_into(b, 0, 1, &bv) : mt_view_into(b, 2, b->shape, &bv));
    const mt_tensor *bias_arg = fused ? bias : NULL;
    mt_activation act = fused ? MT_ACTIVATION_RELU : MT_ACTIVATION_NONE;
    assert_ok(mt_backend_set(MT_BACKEND_NAIVE));
    assert_ok(mt_matmul_fused(&av, &bv, bias_arg, act, &ref));
    assert_ok(mt_backend_set(backend));
    assert_ok(mt_num_threads_set(threads));
    assert_ok(mt_matmul_fused(&av, &bv, bias_arg, act, &got));
    double err = rel_error(got, ref);
    if (err > 1e-5) {
        print_error("%s threads=%d m=%lld n=%lld k=%lld ta=%d tb=%d fused=%d: rel err %g\n",
                    mt_backend_name(backend), threads, (long long)m, (long long)n,
                    (long long)k, ta, tb, fused, err);
        fail();
    }
    mt_tensor *all[] = {a, b, bias, ref, got};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);
}

static void test_backends_agree_with_naive(void **state)
{
    (void)state;
    uint64_t seed = 42;
    static const int64_t fixed[][3] = {
        {1, 1, 1}, {1, 128, 784}, {1, 10, 128}, {7, 1, 5}, {5, 3, 1}, {0, 4, 4},
        {4, 0, 4}, {4, 4, 0}, {17, 33, 65}, {64, 64, 64}, {256, 128, 784}, {300, 200, 500},
    };
    for (int b = MT_BACKEND_NATIVE; b < MT_BACKEND_COUNT; b++) {
        if (!mt_backend_available((mt_backend)b))
            continue;
        for (int threads = 1; threads <= MT_TEST_THREADS; threads++) {
            for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
                for (int variant = 0; variant < 8; variant++)
                    compare_backend((mt_backend)b, threads, fixed[i][0], fixed[i][1],
                                    fixed[i][2], variant & 1, variant & 2, variant & 4, &seed);
            for (int i = 0; i < 20; i++) {   /* random shapes up to 300x500x200 */
                int64_t m = 1 + (int64_t)((rand_unit(&seed) + 1) * 150);
                int64_t n = 1 + (int64_t)((rand_unit(&seed) + 1) * 100);
                int64_t k = 1 + (int64_t)((rand_unit(&seed) + 1) * 250);
                compare_backend((mt_backend)b, threads, m, n, k, i & 1, i & 2, i & 4, &seed);
            }
        }
    }
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
}

/* A view with no unit stride at all (every other row and column). */
static void test_general_strides(void **state)
{
    (void)state;
    uint64_t seed = 7;
    mt_tensor *big, *b, *ref, *got;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){40, 60}, &big));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){30, 9}, &b));
    fill_random(big, &seed);
    fill_random(b, &seed);
    mt_tensor rows, a;
    assert_ok(mt_slice_into(big, 0, 0, 40, 2, &rows));
    assert_ok(mt_slice_into(&rows, 1, 0, 60, 2, &a));   /* [20,30], strides (120,2) */
    assert_ok(mt_backend_set(MT_BACKEND_NAIVE));
    assert_ok(mt_matmul(&a, b, &ref));
    for (int be = MT_BACKEND_NATIVE; be < MT_BACKEND_COUNT; be++) {
        if (!mt_backend_available((mt_backend)be))
            continue;
        assert_ok(mt_backend_set((mt_backend)be));
        assert_ok(mt_matmul(&a, b, &got));
        assert_true(rel_error(got, ref) <= 1e-5);
        mt_tensor_free(got);
    }
    /* strided output: write into every other column of a wider tensor */
    mt_tensor *wide;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){20, 18}, &wide));
    mt_tensor outv;
    assert_ok(mt_slice_into(wide, 1, 1, 18, 2, &outv));
    for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++) {
        if (!mt_backend_available((mt_backend)be))
            continue;
        assert_ok(mt_backend_set((mt_backend)be));
        assert_ok(mt_tensor_fill(wide, -1.0f));
        assert_ok(mt_matmul_into(&a, b, &outv));
        mt_tensor *c;
        assert_ok(mt_tensor_contiguous(&outv, &c));
        assert_true(rel_error(c, ref) <= 1e-5);
        assert_true(((float *)wide->data)[0] == -1.0f);   /* untouched columns */
        mt_tensor_free(c);
    }
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
    mt_tensor *all[] = {big, b, ref, wide};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

static void test_backend_api(void **state)
{
    (void)state;
    mt_backend b;
    assert_ok(mt_backend_from_name("naive", &b));
    assert_int_equal(b, MT_BACKEND_NAIVE);
    assert_fails(mt_backend_from_name("cuda", &b), MT_ERR_INVALID_ARGUMENT,
                 "unknown backend \"cuda\"");
    assert_true(mt_backend_available(MT_BACKEND_NAIVE));
    assert_true(mt_backend_available(MT_BACKEND_NATIVE));
    assert_fails(mt_backend_set((mt_backend)17), MT_ERR_INVALID_ARGUMENT, "invalid backend 17");
    assert_fails(mt_num_threads_set(0), MT_ERR_INVALID_ARGUMENT, "0 not in 1..1024");
#ifdef __wasm__
    assert_fails(mt_num_threads_set(2), MT_ERR_UNSUPPORTED, "wasm32 has one thread");
    assert_int_equal(mt_num_threads_get(), 1);
#else
    assert_ok(mt_num_threads_set(2));
    assert_int_equal(mt_num_threads_get(), 2);
#endif
    assert_string_equal(mt_backend_name(MT_BACKEND_OPENBLAS), "openblas");
#ifdef MT_TEST_EXPECT_OPENBLAS
    /* the OpenBLAS backend really is OpenBLAS at run time */
    assert_true(mt_backend_available(MT_BACKEND_OPENBLAS));
    assert_non_null(strstr(mt_backend_describe(MT_BACKEND_OPENBLAS), "OpenBLAS"));
    print_message("openblas: %s\n", mt_backend_describe(MT_BACKEND_OPENBLAS));
#endif
    /* not built in, or built in but libblis cannot be loaded (then the
     * message is backend_load_missing's) */
    if (!mt_backend_available(MT_BACKEND_BLIS))
        assert_fails(mt_backend_set(MT_BACKEND_BLIS), MT_ERR_UNSUPPORTED, "backend_set: ");
    print_message("native: %s\n", mt_backend_describe(MT_BACKEND_NATIVE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_numpy_references),
        cmocka_unit_test(test_matmul_by_hand),
        cmocka_unit_test(test_matmul_errors),
        cmocka_unit_test(test_backends_agree_with_naive),
        cmocka_unit_test(test_general_strides),
        cmocka_unit_test(test_backend_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
