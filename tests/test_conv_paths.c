/* test_conv_paths.c — conv2d's native paths (tensor/conv_rows.c) on shapes
 * too large for the op table's committed references, against the same call
 * on the naive backend (im2col + the reference triple loop, then max_pool2d
 * unfused), on every native micro-kernel this CPU runs (forced one after the
 * other), one and two threads: the Fashion CNN's two conv + pool pairs at
 * batch 1 and 16, where conv2 takes Winograd F(2×2, 3×3) once its kernel
 * transform pays (cost model in conv_rows.c), NHWC and NCHW outputs, both
 * kernel layouts, with and without the kernel's transform kept
 * (mt_conv2d_params.winograd: Winograd then runs at batch 1 too). Error:
 * |got - want| <= 1e-4·(1 + |want|) (Winograd's transforms round
 * differently from the direct sum). Plus mt_conv2d_winograd_kernel against
 * U = G g Gᵀ by hand, and its errors. */
#include "test_util.h"

#include "native/native.h"

static uint64_t seed = 7;

static mt_tensor *random_tensor(int rank, const int64_t *shape)
{
    mt_tensor *t;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        ((float *)t->data)[i] = rand_unit(&seed);
    return t;
}

static void compare(const char *who, const mt_tensor *got, const mt_tensor *want)
{
    assert_int_equal(mt_tensor_numel(got), mt_tensor_numel(want));
    for (int64_t i = 0; i < mt_tensor_numel(want); i++) {
        float g = ((const float *)got->data)[i], w = ((const float *)want->data)[i];
        if (!(fabsf(g - w) <= 1e-4f * (1.0f + fabsf(w))))
            fail_msg("%s: element %lld is %.7g, want %.7g", who, (long long)i, g, w);
    }
}

typedef struct conv_case {
    int64_t n, h, w, cin, cout;
    mt_kernel_layout layout;
    mt_data_layout data;
    bool pool;
    bool kept;   /* pass the kernel's Winograd transform */
} conv_case;

/* The case's result on the current backend and kernel. */
static mt_tensor *run(const conv_case *c, const mt_tensor *x, const mt_tensor *k,
                      const mt_tensor *b)
{
    mt_conv2d_params p = {.data_layout = c->data, .kernel_layout = c->layout,
                          .activation = MT_ACTIVATION_RELU};
    mt_pool2d_params q = {.pool_h = 2, .pool_w = 2, .data_layout = c->data};
    mt_tensor *y, *u = NULL;
    if (c->kept)
        assert_ok(mt_conv2d_winograd_kernel(k, c->layout, &u));
    p.winograd = u;
    if (c->pool)
        assert_ok(mt_conv2d_max_pool2d(x, k, b, &p, &q, &y));
    else
        assert_ok(mt_conv2d(x, k, b, &p, &y));
    mt_tensor_free(u);
    return y;
}

static void native_paths_match_naive(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {1, 28, 28, 1, 32, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, false},
        {1, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, false},
        {16, 28, 28, 1, 32, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, false},
        {16, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, false},
        {16, 13, 13, 32, 64, MT_KERNEL_OIHW, MT_DATA_LAYOUT_NHWC, true, false},
        {12, 14, 15, 24, 40, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, false},
        {4, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, false, false},
        {4, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NCHW, false, false},
        {1, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, true},
        {1, 13, 13, 32, 64, MT_KERNEL_OIHW, MT_DATA_LAYOUT_NCHW, true, true},
        {16, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, true},
        {3, 14, 15, 24, 40, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true, true},
        {2, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, false, true},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const conv_case *c = &cases[ci];
        bool nchw = c->data == MT_DATA_LAYOUT_NCHW, oihw = c->layout == MT_KERNEL_OIHW;
        mt_tensor *x = random_tensor(4, nchw ? (int64_t[]){c->n, c->cin, c->h, c->w}
                                             : (int64_t[]){c->n, c->h, c->w, c->cin});
        mt_tensor *k = random_tensor(4, oihw ? (int64_t[]){c->cout, c->cin, 3, 3}
                                             : (int64_t[]){3, 3, c->cin, c->cout});
        mt_tensor *b = random_tensor(1, (int64_t[]){c->cout});
        assert_ok(mt_backend_set(MT_BACKEND_NAIVE));
        mt_tensor *want = run(c, x, k, b);
        assert_ok(mt_backend_set(MT_BACKEND_NATIVE));
        const char *const *names = mt_gemm_native_kernel_names();
        for (int i = 0; names[i]; i++)
            for (int threads = 1; threads <= MT_TEST_THREADS; threads++) {
                assert_true(mt_gemm_native_force_kernel(names[i]));
                assert_ok(mt_num_threads_set(threads));
                mt_tensor *got = run(c, x, k, b);
                char who[128];
                snprintf(who, sizeof who, "case %zu (n %lld, %lld->%lld%s%s%s) on %s, %d "
                         "thread%s", ci, (long long)c->n, (long long)c->cin,
                         (long long)c->cout, c->pool ? ", pooled" : "", nchw ? ", NCHW" : "",
                         c->kept ? ", transform kept" : "", names[i], threads,
                         threads > 1 ? "s" : "");
                compare(who, got, want);
                mt_tensor_free(got);
            }
        assert_true(mt_gemm_native_force_kernel(NULL));
        assert_ok(mt_num_threads_set(1));
        assert_ok(mt_backend_set(MT_BACKEND_AUTO));
        mt_tensor_free(want);
        mt_tensor_free(x);
        mt_tensor_free(k);
        mt_tensor_free(b);
    }
}

/* A kernel of ones: G·1 has rows (1, 1.5, 0.5, 1)·(1,1,1), so
 * U = G 1 Gᵀ = v vᵀ with v = (1, 1.5, 0.5, 1); channel pair (c, o) scaled
 * by c + 2o + 1 to tell the pairs apart. Then a kept transform that is not
 * the kernel's is what runs (at batch 1, where Winograd runs only with a
 * kept transform): proof that it is read. Then the errors. */
static void winograd_kernel_by_hand(void **state)
{
    (void)state;
    const float v[4] = {1, 1.5f, 0.5f, 1};
    mt_tensor *k = NULL, *u = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 2, 3}, &k));
    for (int t = 0; t < 9; t++)
        for (int c = 0; c < 2; c++)
            for (int o = 0; o < 3; o++)
                ((float *)k->data)[(t * 2 + c) * 3 + o] = (float)(c + 2 * o + 1);
    assert_ok(mt_conv2d_winograd_kernel(k, MT_KERNEL_HWIO, &u));
    assert_int_equal(u->rank, 3);
    assert_int_equal(u->shape[0], 16);
    assert_int_equal(u->shape[1], 2);
    assert_int_equal(u->shape[2], 3);
    for (int xi = 0; xi < 16; xi++)
        for (int c = 0; c < 2; c++)
            for (int o = 0; o < 3; o++)
                assert_float_equal(((const float *)u->data)[(xi * 2 + c) * 3 + o],
                                   v[xi / 4] * v[xi % 4] * (float)(c + 2 * o + 1), 1e-6);

    /* a 13x13x32 -> 64 conv under a pool at batch 1, with the transform of
     * a zero kernel kept: relu(bias) everywhere, not the conv */
    mt_tensor *x = random_tensor(4, (int64_t[]){1, 13, 13, 32});
    mt_tensor *k2 = random_tensor(4, (int64_t[]){3, 3, 32, 64});
    mt_tensor *b = random_tensor(1, (int64_t[]){64}), *zero = NULL, *u0 = NULL, *y = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){3, 3, 32, 64}, &zero));
    assert_ok(mt_conv2d_winograd_kernel(zero, MT_KERNEL_HWIO, &u0));
    assert_ok(mt_backend_set(MT_BACKEND_NATIVE));
    mt_conv2d_params p = {.kernel_layout = MT_KERNEL_HWIO, .activation = MT_ACTIVATION_RELU,
                          .winograd = u0};
    mt_pool2d_params q = {.pool_h = 2, .pool_w = 2};
    assert_ok(mt_conv2d_max_pool2d(x, k2, b, &p, &q, &y));
    for (int64_t i = 0; i < mt_tensor_numel(y); i++) {
        float bias = ((const float *)b->data)[i % 64];
        assert_float_equal(((const float *)y->data)[i], bias > 0 ? bias : 0, 1e-6);
    }
    mt_tensor_free(y);
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));

    p.winograd = u;   /* [16,2,3] for a [3,3,32,64] kernel */
    assert_fails(mt_conv2d_max_pool2d(x, k2, b, &p, &q, &y), MT_ERR_SHAPE,
                 "conv2d_max_pool2d: winograd is [16,2,3], expected a contiguous [16,32,64]");
    assert_fails(mt_conv2d_winograd_kernel(k, MT_KERNEL_AUTO, &u0), MT_ERR_INVALID_ARGUMENT,
                 "conv2d_winograd_kernel: layout 0: give HWIO or OIHW");
    assert_fails(mt_conv2d_winograd_kernel(k, MT_KERNEL_OIHW, &u0), MT_ERR_SHAPE,
                 "conv2d_winograd_kernel: kernel [3,3,2,3] is not a 3x3 kernel in OIHW");
    assert_fails(mt_conv2d_winograd_kernel(k, MT_KERNEL_HWIO, NULL), MT_ERR_INVALID_ARGUMENT,
                 "conv2d_winograd_kernel: out is NULL");
    assert_fails(mt_conv2d_winograd_kernel(NULL, MT_KERNEL_HWIO, &u0),
                 MT_ERR_INVALID_ARGUMENT, "conv2d_winograd_kernel");
    mt_tensor_free(u0);
    mt_tensor_free(zero);
    mt_tensor_free(b);
    mt_tensor_free(k2);
    mt_tensor_free(x);
    mt_tensor_free(u);
    mt_tensor_free(k);
}

/* Inputs Winograd's transforms would mangle: a +inf, a -inf (inf - inf in
 * the transforms gave NaN for 95 of the 512 pooled outputs where torch's
 * conv2d + max_pool2d gives ±inf) and a 3e38 (the transforms overflowed to
 * inf where torch gives 1.6e38..2.6e38). With the transform kept, at batch
 * 1, on every native kernel: the naive backend's values (the direct sum,
 * torch's), infinities equal, and some of them infinite. */
/* Winograd's transforms turn ±inf into NaN and overflow near FLT_MAX: an
 * image holding such values (the middle one of three here) is summed
 * directly, the others still by Winograd; with a bias and ReLU, at one and
 * two threads, on every kernel. The reference is the naive backend. */
static void winograd_special_inputs_as_direct(void **state)
{
    (void)state;
    mt_tensor *x = random_tensor(4, (int64_t[]){3, 13, 13, 32});
    mt_tensor *k = random_tensor(4, (int64_t[]){3, 3, 32, 64});
    mt_tensor *b = random_tensor(1, (int64_t[]){64});
    mt_tensor *u = NULL, *want = NULL;
    float *px = (float *)x->data + 13 * 13 * 32;  /* image 1 */
    px[(2 * 13 + 2) * 32 + 1] = INFINITY;
    px[(8 * 13 + 5) * 32 + 3] = -INFINITY;
    px[(10 * 13 + 10) * 32 + 7] = 3e38f;
    assert_ok(mt_conv2d_winograd_kernel(k, MT_KERNEL_HWIO, &u));
    mt_conv2d_params p = {.kernel_layout = MT_KERNEL_HWIO, .winograd = u,
                          .activation = MT_ACTIVATION_RELU};
    mt_pool2d_params q = {.pool_h = 2, .pool_w = 2};
    assert_ok(mt_backend_set(MT_BACKEND_NAIVE));
    assert_ok(mt_conv2d_max_pool2d(x, k, b, &p, &q, &want));
    int64_t infinite = 0;
    for (int64_t i = 0; i < mt_tensor_numel(want); i++)
        infinite += isinf(((const float *)want->data)[i]) != 0;
    assert_true(infinite > 0);
    assert_ok(mt_backend_set(MT_BACKEND_NATIVE));
    const char *const *names = mt_gemm_native_kernel_names();
    for (int threads = 1; threads <= MT_TEST_THREADS; threads++) {
        assert_ok(mt_num_threads_set(threads));
        for (int n = 0; names[n]; n++) {
            assert_true(mt_gemm_native_force_kernel(names[n]));
            mt_tensor *got = NULL;
            assert_ok(mt_conv2d_max_pool2d(x, k, b, &p, &q, &got));
            for (int64_t i = 0; i < mt_tensor_numel(want); i++) {
                float g = ((const float *)got->data)[i], w = ((const float *)want->data)[i];
                if (!(g == w || fabsf(g - w) <= 1e-4f * (1.0f + fabsf(w))))
                    fail_msg("%s, %d threads: element %lld is %.7g, want %.7g", names[n],
                             threads, (long long)i, g, w);
            }
            mt_tensor_free(got);
        }
    }
    assert_ok(mt_num_threads_set(1));
    assert_true(mt_gemm_native_force_kernel(NULL));
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
    mt_tensor_free(want);
    mt_tensor_free(u);
    mt_tensor_free(b);
    mt_tensor_free(k);
    mt_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(native_paths_match_naive),
        cmocka_unit_test(winograd_kernel_by_hand),
        cmocka_unit_test(winograd_special_inputs_as_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
