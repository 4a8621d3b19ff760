/* test_matmul_chain.c — mt_matmul_fused2 (two fused matmuls, the hidden
 * activations kept in cache) and the sparse-input forms
 * mt_matmul_fused2_sparse_into / mt_matmul_fused_sparse_into against the
 * naive reference.
 *
 * The reference is mt_gemm_naive run twice through a full hidden matrix.
 * Every native kernel this CPU runs (forced one after the other), every
 * other backend, 1 and 2 threads, batch sizes 1, 7, 255, 256 and one larger
 * than 32 row blocks, weights in both layouts, with and without biases, and
 * activations fused into either product, with gemm_native's error measure
 * (the sums' rounding differs by kernel, and layer 2 adds up layer 1's):
 *   max|y - ref| / max(1, max|ref|) <= 1e-5.
 * The sparse forms run on the same cases and on inputs with 50-95 % zeros
 * (some rows dense, so blocks go either way), and must skip a zero only
 * where the block is sparse: an infinite weight under a column of zeros
 * gives NaN through the dense kernel and is never read by the sparse one.
 * Plus the errors: shapes that do not chain, overlap, bad activations, all
 * leaving out untouched.
 */
#include "test_util.h"

#include "backend_select.h"
#include "native/native.h"
#include "unary_ops.h" /* mt_activation_rows */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static float uniform(void) // [-1, 1)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / (float)(1u << 23) - 1.0f;
}

static mt_tensor *random_tensor(int rank, const int64_t *shape)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    float *p = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        p[i] = uniform();
    return t;
}

/* A [rows, cols] weight, stored as given (in_out) or as the transpose of a
 * [cols, rows] tensor (PyTorch's layout, a strided view). *owner frees it. */
static mt_tensor weight(int64_t rows, int64_t cols, bool in_out, mt_tensor **owner)
{
    mt_tensor w;
    if (in_out) {
        *owner = random_tensor(2, (int64_t[]){rows, cols});
        assert_ok(mt_view_into(*owner, 2, (*owner)->shape, &w));
    } else {
        *owner = random_tensor(2, (int64_t[]){cols, rows});
        assert_ok(mt_transpose_into(*owner, 0, 1, &w));
    }
    return w;
}

static mt_gemm gemm_of(const mt_tensor *a, const mt_tensor *b, const mt_tensor *bias,
                       mt_activation act, float *c)
{
    return (mt_gemm){
        .m = a->shape[0], .n = b->shape[1], .k = a->shape[1],
        .a = a->data, .a_rs = a->stride[0], .a_cs = a->stride[1],
        .b = b->data, .b_rs = b->stride[0], .b_cs = b->stride[1],
        .c = c, .c_rs = b->shape[1], .c_cs = 1,
        .bias = bias ? bias->data : NULL, .act = act, .act_rows = mt_activation_rows,
    };
}

typedef struct chain_case {
    int64_t m, k, h, n;
    bool in_out, biases;
    mt_activation act1, act2;
    double zeros;   /* the fraction of x set to 0 (every 5th row dense) */
} chain_case;

static void zero_out(mt_tensor *x, double zeros)
{
    float *p = x->data;
    for (int64_t i = 0; i < x->shape[0]; i++)
        for (int64_t j = 0; i % 5 != 4 && j < x->shape[1]; j++)
            if ((uniform() + 1) / 2 < zeros)
                p[i * x->shape[1] + j] = 0.0f;
}

/* max|y - ref| / max(1, max|ref|) <= 1e-5, NaN where ref is NaN. */
static void expect_close(const float *y, const float *ref, int64_t count, const char *what,
                         const chain_case *c, const char *who)
{
    double scale = 1;
    for (int64_t i = 0; i < count; i++)
        if (isfinite(ref[i]))
            scale = fmax(scale, fabs((double)ref[i]));
    for (int64_t i = 0; i < count; i++)
        if (isnan(ref[i]) ? !isnan(y[i]) : !(fabs((double)y[i] - ref[i]) <= 1e-5 * scale))
            fail_msg("%s %s: %lldx%lldx%lldx%lld %s%s act %d/%d zeros %.2f: [%lld] = %.9g, "
                     "naive %.9g", who, what, (long long)c->m, (long long)c->k,
                     (long long)c->h, (long long)c->n, c->in_out ? "in,out" : "out,in",
                     c->biases ? " biases" : "", (int)c->act1, (int)c->act2, c->zeros,
                     (long long)i, (double)y[i], (double)ref[i]);
}

/* y = fused2(x) against the naive reference, on the current backend. */
static void check_case(const chain_case *c, const char *who)
{
    mt_tensor *x = random_tensor(2, (int64_t[]){c->m, c->k});
    zero_out(x, c->zeros);
    mt_tensor *o1, *o2;
    mt_tensor w1 = weight(c->k, c->h, c->in_out, &o1);
    mt_tensor w2 = weight(c->h, c->n, !c->in_out, &o2);
    mt_tensor *b1 = c->biases ? random_tensor(1, (int64_t[]){c->h}) : NULL;
    mt_tensor *b2 = c->biases ? random_tensor(1, (int64_t[]){c->n}) : NULL;
    float *hidden = calloc((size_t)(c->m * c->h) + 1, sizeof(float));
    float *ref = calloc((size_t)(c->m * c->n) + 1, sizeof(float));
    assert_non_null(hidden);
    assert_non_null(ref);
    mt_gemm g1 = gemm_of(x, &w1, b1, c->act1, hidden);
    mt_gemm_naive(&g1);
    mt_tensor h;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){c->m, c->h}, hidden, &h));
    mt_gemm g2 = gemm_of(&h, &w2, b2, c->act2, ref);
    mt_gemm_naive(&g2);

    mt_tensor *y = NULL, *ys = NULL, *hs = NULL;
    assert_ok(mt_matmul_fused2(x, &w1, b1, c->act1, &w2, b2, c->act2, &y));
    assert_int_equal(y->shape[0], c->m);
    assert_int_equal(y->shape[1], c->n);
    expect_close(y->data, ref, c->m * c->n, "fused2", c, who);
    if (c->zeros == 0) { // dense inputs reach the sparse forms in sparse_path_where_sparse
        mt_tensor_free(y);
        goto done;
    }
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){c->m, c->n}, &ys));
    assert_ok(mt_matmul_fused2_sparse_into(x, &w1, b1, c->act1, &w2, b2, c->act2, ys));
    expect_close(ys->data, ref, c->m * c->n, "fused2_sparse", c, who);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){c->m, c->h}, &hs));
    assert_ok(mt_matmul_fused_sparse_into(x, &w1, b1, c->act1, hs));
    expect_close(hs->data, hidden, c->m * c->h, "fused_sparse", c, who);
    mt_tensor_free(hs);
    mt_tensor_free(ys);
    mt_tensor_free(y);
done:
    free(ref);
    free(hidden);
    mt_tensor_free(b2);
    mt_tensor_free(b1);
    mt_tensor_free(o2);
    mt_tensor_free(o1);
    mt_tensor_free(x);
}

static const chain_case cases[] = {
    {1, 784, 128, 10, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0},   /* MNIST */
    {7, 784, 128, 10, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0},
    {255, 784, 128, 10, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0},
    {256, 784, 128, 10, false, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0},
    {256, 784, 128, 10, true, false, MT_ACTIVATION_NONE, MT_ACTIVATION_RELU, 0},
    {33, 19, 37, 41, true, true, MT_ACTIVATION_GELU, MT_ACTIVATION_TANH, 0},
    {1, 5, 3, 2, false, false, MT_ACTIVATION_SIGMOID, MT_ACTIVATION_NONE, 0},
    {2000, 64, 256, 3, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_SILU, 0}, /* > 32 blocks */
    {5, 0, 9, 4, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0},    /* k = 0 */
    {0, 8, 9, 4, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0},    /* no rows */
    /* inputs with zeros, for the sparse forms: MNIST-like, mixed, very sparse */
    {1, 784, 128, 10, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0.8},
    {70, 784, 128, 10, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0.8},
    {130, 300, 130, 10, true, false, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 0.5},
    {77, 100, 37, 41, true, true, MT_ACTIVATION_GELU, MT_ACTIVATION_TANH, 0.95},
    {77, 100, 37, 41, false, true, MT_ACTIVATION_NONE, MT_ACTIVATION_NONE, 0.95},
    {300, 64, 256, 3, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_SILU, 0.9},
    {9, 13, 5, 3, true, true, MT_ACTIVATION_RELU, MT_ACTIVATION_NONE, 1.0},   /* 4 of 5 rows 0 */
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

static void run_cases(const char *who)
{
    for (int threads = 1; threads <= MT_TEST_THREADS; threads++) {
        assert_ok(mt_num_threads_set(threads));
        for (int i = 0; i < CASE_COUNT; i++)
            check_case(&cases[i], who);
    }
    assert_ok(mt_num_threads_set(1));
}

static void every_native_kernel(void **state)
{
    (void)state;
    assert_ok(mt_backend_set(MT_BACKEND_NATIVE));
    const char *const *names = mt_gemm_native_kernel_names();
    for (int i = 0; names[i]; i++) {
        assert_true(mt_gemm_native_force_kernel(names[i]));
        run_cases(names[i]);
    }
    assert_true(mt_gemm_native_force_kernel(NULL));
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
}

static void every_backend(void **state)
{
    (void)state;
    for (int b = 0; b < MT_BACKEND_COUNT; b++) {
        if (!mt_backend_available((mt_backend)b) || b == MT_BACKEND_NATIVE)
            continue;
        assert_ok(mt_backend_set((mt_backend)b));
        run_cases(mt_backend_name((mt_backend)b));
    }
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
}

/* Which path ran shows against an infinite weight w1[5][3] under a column
 * of x that is all zeros: the sparse path never reads it (y is the product
 * with that weight 0), the dense one gives 0 × inf = NaN. A sparse block
 * goes sparse and a dense one dense, on every kernel; a NaN in x always
 * reaches its row. */
static void sparse_path_where_sparse(void **state)
{
    (void)state;
    assert_ok(mt_backend_set(MT_BACKEND_NATIVE));
    const char *const *names = mt_gemm_native_kernel_names();
    for (int kernel = 0; names[kernel]; kernel++) {
        assert_true(mt_gemm_native_force_kernel(names[kernel]));
        for (int dense = 0; dense <= 1; dense++) {
            mt_tensor *x = random_tensor(2, (int64_t[]){64, 784});
            mt_tensor *w1 = random_tensor(2, (int64_t[]){784, 128});
            mt_tensor *w2 = random_tensor(2, (int64_t[]){128, 10});
            mt_tensor *y = NULL, *ref = NULL;
            float *xv = x->data;
            for (int64_t i = 0; i < 64 * 784; i++)
                if (i % 784 == 5 || (!dense && (uniform() + 1) / 2 < 0.8))
                    xv[i] = 0.0f;
            xv[2 * 784 + 100] = NAN;
            assert_ok(mt_matmul_fused2(x, w1, NULL, MT_ACTIVATION_RELU, w2, NULL,
                                       MT_ACTIVATION_NONE, &ref)); // w1 finite yet
            ((float *)w1->data)[5 * 128 + 3] = INFINITY;
            assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){64, 10}, &y));
            assert_ok(mt_matmul_fused2_sparse_into(x, w1, NULL, MT_ACTIVATION_RELU, w2,
                                                   NULL, MT_ACTIVATION_NONE, y));
            const float *yv = y->data, *rv = ref->data;
            for (int64_t i = 0; i < 64 * 10; i++) {
                if (i / 10 == 2 || dense)
                    assert_true(isnan(yv[i]));
                else if (!(fabs((double)yv[i] - rv[i]) <= 1e-5 * fmax(1, fabs(rv[i]))))
                    fail_msg("%s: y[%lld] = %.9g, expected %.9g", names[kernel],
                             (long long)i, (double)yv[i], (double)rv[i]);
            }
            mt_tensor_free(ref);
            mt_tensor_free(y);
            mt_tensor_free(w2);
            mt_tensor_free(w1);
            mt_tensor_free(x);
        }
    }
    assert_true(mt_gemm_native_force_kernel(NULL));
    assert_ok(mt_backend_set(MT_BACKEND_AUTO));
}

/* The same numbers as two mt_matmul_fused calls, into a strided out. */
static void equals_two_fused_matmuls(void **state)
{
    (void)state;
    mt_tensor *x = random_tensor(2, (int64_t[]){255, 784});
    mt_tensor *w1 = random_tensor(2, (int64_t[]){784, 128});
    mt_tensor *b1 = random_tensor(1, (int64_t[]){128});
    mt_tensor *w2 = random_tensor(2, (int64_t[]){128, 10});
    mt_tensor *b2 = random_tensor(1, (int64_t[]){10});
    mt_tensor *h = NULL, *two = NULL, *wide = NULL;
    assert_ok(mt_matmul_fused(x, w1, b1, MT_ACTIVATION_RELU, &h));
    assert_ok(mt_matmul_fused(h, w2, b2, MT_ACTIVATION_NONE, &two));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){10, 255}, &wide));
    mt_tensor out;   /* [255, 10] with column stride 255 */
    assert_ok(mt_transpose_into(wide, 0, 1, &out));
    assert_ok(mt_matmul_fused2_into(x, w1, b1, MT_ACTIVATION_RELU, w2, b2,
                                    MT_ACTIVATION_NONE, &out));
    double scale = 1;
    for (int64_t i = 0; i < 255 * 10; i++)
        scale = fmax(scale, fabs((double)((const float *)two->data)[i]));
    for (int64_t i = 0; i < 255; i++)
        for (int64_t j = 0; j < 10; j++) {
            float r = ((const float *)two->data)[i * 10 + j];
            float v = ((const float *)wide->data)[j * 255 + i];
            assert_true(fabs((double)v - r) <= 1e-5 * scale);
        }
    mt_tensor_free(wide);
    mt_tensor_free(two);
    mt_tensor_free(h);
    mt_tensor_free(b2);
    mt_tensor_free(w2);
    mt_tensor_free(b1);
    mt_tensor_free(w1);
    mt_tensor_free(x);
}

static void errors_leave_out_untouched(void **state)
{
    (void)state;
    mt_tensor *x = random_tensor(2, (int64_t[]){4, 6});
    mt_tensor *w1 = random_tensor(2, (int64_t[]){6, 5});
    mt_tensor *w2 = random_tensor(2, (int64_t[]){5, 3});
    mt_tensor *bad = random_tensor(2, (int64_t[]){4, 3});
    mt_tensor *b3 = random_tensor(1, (int64_t[]){3});
    mt_tensor *out = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){4, 3}, &out));
    assert_ok(mt_tensor_fill(out, 7.0f));
    const mt_activation none = MT_ACTIVATION_NONE;
    assert_fails(mt_matmul_fused2_into(x, w1, NULL, none, bad, NULL, none, out),
                 MT_ERR_SHAPE, "matmul_fused2: inner dimensions differ: x [4,6], w1 [6,5], "
                 "w2 [4,3]");
    assert_fails(mt_matmul_fused2_into(x, w1, b3, none, w2, NULL, none, out),
                 MT_ERR_SHAPE, "matmul_fused2: b1 is [3], expected [5]");
    mt_tensor *wrong = random_tensor(2, (int64_t[]){5, 3});
    assert_fails(mt_matmul_fused2_into(x, w1, NULL, none, w2, NULL, none, wrong),
                 MT_ERR_SHAPE, "matmul_fused2: out is [5,3], expected [4,3]");
    mt_tensor_free(wrong);
    assert_fails(mt_matmul_fused2_into(x, w1, NULL, (mt_activation)99, w2, NULL, none, out),
                 MT_ERR_INVALID_ARGUMENT, "matmul_fused2");
    assert_fails(mt_matmul_fused2_into(x, w1, NULL, none, w2, NULL, none, NULL),
                 MT_ERR_INVALID_ARGUMENT, "matmul_fused2");
    assert_fails(mt_matmul_fused2(x, w1, NULL, none, w2, NULL, none, NULL),
                 MT_ERR_INVALID_ARGUMENT, "matmul_fused2: out is NULL");
    mt_tensor overlap;   /* out over x's own data */
    assert_ok(mt_narrow_into(x, 1, 0, 3, &overlap));
    assert_fails(mt_matmul_fused2_into(x, w1, NULL, none, w2, NULL, none, &overlap),
                 MT_ERR_INVALID_ARGUMENT, "overlaps an input");
    for (int i = 0; i < 12; i++)
        assert_true(((const float *)out->data)[i] == 7.0f);
    mt_tensor_free(out);
    mt_tensor_free(b3);
    mt_tensor_free(bad);
    mt_tensor_free(w2);
    mt_tensor_free(w1);
    mt_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_native_kernel),
        cmocka_unit_test(every_backend),
        cmocka_unit_test(sparse_path_where_sparse),
        cmocka_unit_test(equals_two_fused_matmuls),
        cmocka_unit_test(errors_leave_out_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
