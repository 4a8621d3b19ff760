/* test_fused_activation.c — every activation as the fused epilogue of
 * mt_matmul_fused and mt_conv2d, on every backend in this build and every
 * native micro-kernel this CPU runs (forced one after the other), against
 * the unfused reference: the product in double, rounded to float, plus
 * bias, then mt_activation_apply (itself checked against PyTorch in
 * test_elementwise and the op table). Shapes reach each native path: gemv
 * (M = 1), dot products (small M, transposed weights), narrow C (N <= NR/2),
 * the blocked GEMM with and without packing, k = 0; 1 and 2 threads.
 * Error: |got - want| <= 1e-5·(sqrt(K)·max|A||B| + |want|) per element
 * (every activation here has slope <= 1.13).
 */
#include "test_util.h"

#include "native/native.h"

static uint64_t seed = 42;

static mt_tensor *random_tensor(int rank, const int64_t *shape)
{
    mt_tensor *t;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        ((float *)t->data)[i] = 3.0f * rand_unit(&seed); // [-3,3): both tails
    return t;
}

/* want = act(round_f32(a·b in double) + bias) */
static mt_tensor *reference(const mt_tensor *a, const mt_tensor *b, const mt_tensor *bias,
                            mt_activation act)
{
    int64_t m = a->shape[0], k = a->shape[1], n = b->shape[1];
    mt_tensor *pre, *want;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){m, n}, &pre));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)((float *)a->data)[i * a->stride[0] + p * a->stride[1]] *
                     ((float *)b->data)[p * b->stride[0] + j * b->stride[1]];
            float v = (float)s;
            ((float *)pre->data)[i * n + j] = bias ? v + ((float *)bias->data)[j] : v;
        }
    assert_ok(mt_activation_apply(pre, act, &want));
    mt_tensor_free(pre);
    return want;
}

static void compare(const char *who, const mt_tensor *got, const mt_tensor *want, int64_t k)
{
    const float *g = got->data, *w = want->data;
    double tol = 1e-5 * (sqrt((double)(k > 0 ? k : 1)) * 9.0 + 1.0);
    for (int64_t i = 0; i < mt_tensor_numel(want); i++)
        if (!(fabs((double)g[i] - w[i]) <= tol + 1e-5 * fabs(w[i])))
            fail_msg("%s: element %lld: got %.9g, want %.9g", who, (long long)i, g[i], w[i]);
}

typedef struct shape { int64_t m, k, n; } shape;

/* gemv, dot (M <= 4..12 with B = Wᵀ), narrow (N = 5), blocked in place,
 * blocked packed (B span > L2/2), k = 0, and ragged tile edges. */
static const shape shapes[] = {
    {1, 70, 33}, {3, 50, 40}, {64, 30, 5}, {37, 70, 45}, {100, 700, 200}, {9, 0, 7},
    {13, 17, 19},
};

static void run_matmuls(const char *backend, int threads)
{
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        mt_tensor *a = random_tensor(2, (int64_t[]){sh->m, sh->k});
        mt_tensor *w = random_tensor(2, (int64_t[]){sh->n, sh->k});   /* [out, in] */
        mt_tensor *b = random_tensor(2, (int64_t[]){sh->k, sh->n});
        mt_tensor *bias = random_tensor(1, (int64_t[]){sh->n});
        mt_tensor wt;
        assert_ok(mt_transpose_into(w, 0, 1, &wt));
        for (int act = 0; act < MT_ACTIVATION_COUNT; act++)
            for (int variant = 0; variant < 3; variant++) {
                // 0: B [K,N] + bias; 1: B = Wᵀ + bias; 2: B [K,N], no bias
                const mt_tensor *bb = variant == 1 ? &wt : b;
                const mt_tensor *bs = variant == 2 ? NULL : bias;
                mt_tensor *want = reference(a, bb, bs, (mt_activation)act), *got;
                char who[160];
                snprintf(who, sizeof who, "%s/%d threads, %lldx%lldx%lld variant %d, %s",
                         backend, threads, (long long)sh->m, (long long)sh->k,
                         (long long)sh->n, variant, mt_activation_name((mt_activation)act));
                assert_ok(mt_matmul_fused(a, bb, bs, (mt_activation)act, &got));
                compare(who, got, want, sh->k);
                mt_tensor_free(got);
                mt_tensor_free(want);
            }
        mt_tensor_free(a);
        mt_tensor_free(w);
        mt_tensor_free(b);
        mt_tensor_free(bias);
    }
}

static void test_matmul_every_backend(void **state)
{
    (void)state;
    for (int be = MT_BACKEND_NAIVE; be <= MT_BACKEND_BLIS; be++) {
        if (!mt_backend_available((mt_backend)be))
            continue;
        assert_ok(mt_backend_set((mt_backend)be));
        for (int threads = 1; threads <= MT_TEST_THREADS; threads++) {
            assert_ok(mt_num_threads_set(threads));
            if (be != MT_BACKEND_NATIVE) {
                run_matmuls(mt_backend_name((mt_backend)be), threads);
                continue;
            }
            const char *const *names = mt_gemm_native_kernel_names();
            for (int i = 0; names[i]; i++) {
                assert_true(mt_gemm_native_force_kernel(names[i]));
                char who[64];
                snprintf(who, sizeof who, "native %s", names[i]);
                run_matmuls(who, threads);
            }
            assert_true(mt_gemm_native_force_kernel(NULL));
        }
    }
    assert_ok(mt_num_threads_set(1));
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
}

/* conv2d: the same epilogue through its GEMM, against conv2d without an
 * activation followed by mt_activation_apply (same backend). */
static void test_conv2d_every_backend(void **state)
{
    (void)state;
    /* 20 columns: output rows of 10, wide enough for conv2d's row path on
     * every native kernel (rows of at least half a register tile) */
    mt_tensor *x = random_tensor(4, (int64_t[]){2, 7, 20, 3});
    mt_tensor *kern = random_tensor(4, (int64_t[]){3, 3, 3, 5});   /* HWIO */
    mt_tensor *bias = random_tensor(1, (int64_t[]){5});
    for (int be = MT_BACKEND_NAIVE; be <= MT_BACKEND_BLIS; be++) {
        if (!mt_backend_available((mt_backend)be))
            continue;
        assert_ok(mt_backend_set((mt_backend)be));
        for (int act = 0; act < MT_ACTIVATION_COUNT; act++) {
            mt_conv2d_params p = {.kernel_layout = MT_KERNEL_HWIO, .stride_h = 1, .stride_w = 2,
                                  .padding = MT_PADDING_SAME};
            mt_tensor *plain, *want, *got;
            assert_ok(mt_conv2d(x, kern, bias, &p, &plain));
            assert_ok(mt_activation_apply(plain, (mt_activation)act, &want));
            p.activation = (mt_activation)act;
            assert_ok(mt_conv2d(x, kern, bias, &p, &got));
            char who[96];
            snprintf(who, sizeof who, "conv2d %s %s", mt_backend_name((mt_backend)be),
                     mt_activation_name((mt_activation)act));
            compare(who, got, want, 0);   /* the same product: only the epilogue differs */
            /* and pooled in the same pass: the pool of the activated conv, for
             * this conv (edge columns: rows one by one) and a VALID one at unit
             * strides (a pooled row's conv rows in one sweep) */
            mt_pool2d_params pp = {.pool_h = 2, .pool_w = 2};
            mt_conv2d_params q = {.kernel_layout = MT_KERNEL_HWIO, .activation = p.activation};
            mt_tensor *pooled_want, *pooled_got, *valid, *valid_act;
            assert_ok(mt_max_pool2d(want, &pp, &pooled_want));
            assert_ok(mt_conv2d_max_pool2d(x, kern, bias, &p, &pp, &pooled_got));
            snprintf(who, sizeof who, "conv2d_max_pool2d %s %s", mt_backend_name((mt_backend)be),
                     mt_activation_name((mt_activation)act));
            compare(who, pooled_got, pooled_want, 0);
            mt_tensor_free(pooled_want);
            mt_tensor_free(pooled_got);
            q.activation = MT_ACTIVATION_NONE;
            assert_ok(mt_conv2d(x, kern, bias, &q, &valid));
            assert_ok(mt_activation_apply(valid, (mt_activation)act, &valid_act));
            assert_ok(mt_max_pool2d(valid_act, &pp, &pooled_want));
            q.activation = (mt_activation)act;
            assert_ok(mt_conv2d_max_pool2d(x, kern, bias, &q, &pp, &pooled_got));
            mt_tensor_free(valid);
            mt_tensor_free(valid_act);
            snprintf(who, sizeof who, "conv2d_max_pool2d %s %s", mt_backend_name((mt_backend)be),
                     mt_activation_name((mt_activation)act));
            compare(who, pooled_got, pooled_want, 0);
            mt_tensor_free(pooled_want);
            mt_tensor_free(pooled_got);
            mt_tensor_free(plain);
            mt_tensor_free(want);
            mt_tensor_free(got);
        }
    }
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
    mt_tensor_free(x);
    mt_tensor_free(kern);
    mt_tensor_free(bias);
}

/* mt_matmul_fused(_into) are inline dispatchers over two exported halves
 * (ops.h): _relu for NONE/RELU, which links no other activation, and _any.
 * Called through pointers (the external definitions), each act reaches
 * its half; _relu refuses the others rather than skip them. */
static void test_fused_halves(void **state)
{
    (void)state;
    mt_tensor *a = random_tensor(2, (int64_t[]){5, 12});
    mt_tensor *b = random_tensor(2, (int64_t[]){12, 7});
    mt_tensor *bias = random_tensor(1, (int64_t[]){7});
    mt_status (*fused)(const mt_tensor *, const mt_tensor *, const mt_tensor *, mt_activation,
                       mt_tensor **) = mt_matmul_fused;
    mt_status (*fused_into)(const mt_tensor *, const mt_tensor *, const mt_tensor *,
                            mt_activation, mt_tensor *) = mt_matmul_fused_into;
    mt_tensor *out;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){5, 7}, &out));
    for (int act = 0; act < MT_ACTIVATION_COUNT; act++) {
        mt_tensor *want = reference(a, b, bias, (mt_activation)act), *got;
        assert_ok(fused(a, b, bias, (mt_activation)act, &got));
        compare(mt_activation_name((mt_activation)act), got, want, 12);
        mt_tensor_free(got);
        assert_ok(fused_into(a, b, bias, (mt_activation)act, out));
        compare(mt_activation_name((mt_activation)act), out, want, 12);
        assert_ok(mt_matmul_fused_any_into(a, b, bias, (mt_activation)act, out));
        compare(mt_activation_name((mt_activation)act), out, want, 12);
        if (act <= MT_ACTIVATION_RELU) {
            assert_ok(mt_matmul_fused_relu(a, b, bias, (mt_activation)act, &got));
            compare(mt_activation_name((mt_activation)act), got, want, 12);
            mt_tensor_free(got);
        } else {
            got = NULL;
            assert_fails(mt_matmul_fused_relu(a, b, bias, (mt_activation)act, &got),
                         MT_ERR_INVALID_ARGUMENT, "is not none or relu");
            assert_null(got);
            assert_ok(mt_tensor_fill(out, 7.0f));
            assert_fails(mt_matmul_fused_relu_into(a, b, bias, (mt_activation)act, out),
                         MT_ERR_INVALID_ARGUMENT, "matmul_fused: activation");
            assert_true(((float *)out->data)[0] == 7.0f); // untouched
        }
        mt_tensor_free(want);
    }
    assert_fails(fused_into(a, b, bias, (mt_activation)99, out), MT_ERR_INVALID_ARGUMENT,
                 "matmul_fused: unknown activation 99");
    mt_tensor *all[] = {a, b, bias, out};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_every_backend),
        cmocka_unit_test(test_conv2d_every_backend),
        cmocka_unit_test(test_fused_halves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
