/* test_conv_paths.c — conv2d's native paths (tensor/conv_rows.c) on shapes
 * too large for the op table's committed references, against the same call
 * on the naive backend (im2col + the reference triple loop, then max_pool2d
 * unfused), on every native micro-kernel this CPU runs (forced one after the
 * other), one and two threads: the Fashion CNN's two conv + pool pairs at
 * batch 1 and 16, where conv2 takes Winograd F(2×2, 3×3) once its kernel
 * transform pays (cost model in conv_rows.c), NHWC and NCHW outputs, both
 * kernel layouts. Error: |got - want| <= 1e-4·(1 + |want|) (Winograd's
 * transforms round differently from the direct sum). */
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
} conv_case;

/* The case's result on the current backend and kernel. */
static mt_tensor *run(const conv_case *c, const mt_tensor *x, const mt_tensor *k,
                      const mt_tensor *b)
{
    mt_conv2d_params p = {.data_layout = c->data, .kernel_layout = c->layout,
                          .activation = MT_ACTIVATION_RELU};
    mt_pool2d_params q = {.pool_h = 2, .pool_w = 2, .data_layout = c->data};
    mt_tensor *y;
    if (c->pool)
        assert_ok(mt_conv2d_max_pool2d(x, k, b, &p, &q, &y));
    else
        assert_ok(mt_conv2d(x, k, b, &p, &y));
    return y;
}

static void native_paths_match_naive(void **state)
{
    (void)state;
    const conv_case cases[] = {
        {1, 28, 28, 1, 32, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true},
        {1, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true},
        {16, 28, 28, 1, 32, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true},
        {16, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true},
        {16, 13, 13, 32, 64, MT_KERNEL_OIHW, MT_DATA_LAYOUT_NHWC, true},
        {12, 14, 15, 24, 40, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, true},
        {4, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NHWC, false},
        {4, 13, 13, 32, 64, MT_KERNEL_HWIO, MT_DATA_LAYOUT_NCHW, false},
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
        const char *copy[8];
        int count = 0;
        for (; names[count] && count < 8; count++)
            copy[count] = names[count];
        for (int i = 0; i < count; i++)
            for (int threads = 1; threads <= 2; threads++) {
                assert_true(mt_gemm_native_force_kernel(copy[i]));
                assert_ok(mt_num_threads_set(threads));
                mt_tensor *got = run(c, x, k, b);
                char who[128];
                snprintf(who, sizeof who, "case %zu (n %lld, %lld->%lld%s%s) on %s, %d thread%s",
                         ci, (long long)c->n, (long long)c->cin, (long long)c->cout,
                         c->pool ? ", pooled" : "", nchw ? ", NCHW" : "", copy[i], threads,
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(native_paths_match_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
