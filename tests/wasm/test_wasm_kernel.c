/* test_wasm_kernel.c — the wasm32 build's matmul: the SIMD128 micro-kernel
 * is the one in use, and it agrees with the naive reference; so do the
 * sparse-input forms (the portable compaction and sparse gemv).
 *
 * A plain exit-code program (cmocka cannot build for wasm32: wasi-libc has
 * no setjmp), run under Node's WASI by meson's exe_wrapper. Exit 0 = pass.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minitensor/minitensor.h"

static int failures;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
            failures++;                                                       \
        }                                                                     \
    } while (0)

static uint32_t rng = 12345;

static float uniform(void) // in [-1, 1)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / (float)(1u << 23) - 1.0f;
}

static mt_tensor *random_tensor(int rank, const int64_t *shape)
{
    mt_tensor *t = NULL;
    if (mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t))
        return NULL;
    float *p = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        p[i] = uniform();
    return t;
}

/* C = act(A·B + bias) with the given backend. b_transposed: B is a
 * transposed view of an [N,K] tensor (PyTorch weights), else [K,N]. */
static mt_tensor *product(mt_backend backend, const mt_tensor *a, const mt_tensor *b,
                          const mt_tensor *bias, mt_activation act)
{
    mt_tensor *c = NULL;
    if (mt_backend_set(backend) || mt_matmul_fused(a, b, bias, act, &c)) {
        printf("FAIL %s matmul: %s\n", mt_backend_name(backend), mt_last_error());
        failures++;
        return NULL;
    }
    return c;
}

/* act NONE: the plain product; any other: bias + act fused (every
 * activation: ReLU in the SIMD128 store, the others by their row loop). */
static void check_shape(int64_t m, int64_t k, int64_t n, bool b_transposed, mt_activation act)
{
    const bool fused = act != MT_ACTIVATION_NONE;
    mt_tensor *a = random_tensor(2, (int64_t[]){m, k});
    mt_tensor *b = b_transposed ? random_tensor(2, (int64_t[]){n, k})
                                : random_tensor(2, (int64_t[]){k, n});
    mt_tensor *bias = fused ? random_tensor(1, (int64_t[]){n}) : NULL;
    mt_tensor bt, *ref = NULL, *got = NULL;
    if (!a || !b || (fused && !bias) || (b_transposed && mt_transpose_into(b, 0, 1, &bt))) {
        CHECK(0, "setup %lldx%lldx%lld: %s", (long long)m, (long long)k, (long long)n,
              mt_last_error());
        goto done;
    }
    const mt_tensor *bb = b_transposed ? &bt : b;
    if (!(ref = product(MT_BACKEND_NAIVE, a, bb, bias, act)) ||
        !(got = product(MT_BACKEND_NATIVE, a, bb, bias, act)))
        goto done;
    const float *r = ref->data, *g = got->data;
    double worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < m * n; i++) {
        // K products of terms in [-1,1): rounding grows like sqrt(K)·eps
        double err = fabs((double)g[i] - r[i]) / (1e-5 * sqrt((double)k) + 1e-5 * fabs(r[i]));
        if (!(err <= worst)) {
            worst = err;
            at = i;
        }
    }
    CHECK(worst <= 1.0, "%lldx%lldx%lld%s (bias+%s): native %g, naive %g at %lld",
          (long long)m, (long long)k, (long long)n, b_transposed ? " (B transposed)" : "",
          mt_activation_name(act), g[at], r[at], (long long)at);
done:
    mt_tensor_free(a);
    mt_tensor_free(b);
    mt_tensor_free(bias);
    mt_tensor_free(ref);
    mt_tensor_free(got);
}

/* B whose rows are all one row (row stride 0, set in a caller's struct):
 * C(i, j) = (sum over p of A(i, p)) · b(j), with small integers so every
 * sum is exact. The SIMD128 tile steps its k loop on the B pointer, so the
 * driver must pack such a B (gemm_native.c); in place its loop would not
 * run at all. */
static void check_broadcast_b(int64_t m, int64_t k, int64_t n)
{
    float row[128];
    mt_tensor *a = NULL, *c = NULL, b;
    if (n > 128 || mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){m, k}, &a) ||
        mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){1, n}, row, &b)) {
        CHECK(0, "setup broadcast %lldx%lldx%lld", (long long)m, (long long)k, (long long)n);
        goto done;
    }
    b.shape[0] = k;
    b.stride[0] = 0;
    float *pa = a->data;
    for (int64_t s = 0; s < m * k; s++)
        pa[s] = (float)((s * 7) % 5) - 1.0f; // -1..3: no row sums to 0
    for (int64_t j = 0; j < n; j++)
        row[j] = (float)(j % 9) - 4.0f;
    if (!(c = product(MT_BACKEND_NATIVE, a, &b, NULL, MT_ACTIVATION_NONE)))
        goto done;
    const float *pc = c->data;
    int bad = 0;
    for (int64_t i = 0; i < m && !bad; i++) {
        float sum = 0.0f;
        for (int64_t p = 0; p < k; p++)
            sum += pa[i * k + p];
        for (int64_t j = 0; j < n && !bad; j++)
            if (pc[i * n + j] != sum * row[j]) {
                CHECK(0, "broadcast B %lldx%lldx%lld: C(%lld,%lld) = %g, want %g", (long long)m,
                      (long long)k, (long long)n, (long long)i, (long long)j,
                      (double)pc[i * n + j], (double)(sum * row[j]));
                bad = 1;
            }
    }
done:
    mt_tensor_free(a);
    mt_tensor_free(c);
}

/* mt_matmul_fused_sparse and mt_matmul_fused2_sparse on an x with 80 % zeros
 * against the naive dense product; then an infinite weight under a column
 * of zeros, which the sparse path must not read (the result stays finite). */
static void check_sparse(int64_t m, int64_t k, int64_t h, int64_t n)
{
    mt_tensor *x = random_tensor(2, (int64_t[]){m, k});
    mt_tensor *w1 = random_tensor(2, (int64_t[]){k, h});
    mt_tensor *b1 = random_tensor(1, (int64_t[]){h});
    mt_tensor *w2 = random_tensor(2, (int64_t[]){h, n});
    mt_tensor *hid = NULL, *ref = NULL, *hs = NULL, *ys = NULL;
    if (!x || !w1 || !b1 || !w2) {
        CHECK(0, "setup sparse %lldx%lldx%lld", (long long)m, (long long)k, (long long)h);
        goto done;
    }
    float *xv = x->data;
    for (int64_t i = 0; i < m * k; i++)
        if (i % k == 0 || uniform() < 0.6f) // 80 % zeros, column 0 all zero
            xv[i] = 0.0f;
    if (!(hid = product(MT_BACKEND_NAIVE, x, w1, b1, MT_ACTIVATION_RELU)) ||
        !(ref = product(MT_BACKEND_NAIVE, hid, w2, NULL, MT_ACTIVATION_NONE)))
        goto done;
    ((float *)w1->data)[3] = INFINITY; // row 0: under the zero column
    if (mt_backend_set(MT_BACKEND_AUTO) ||
        mt_matmul_fused_sparse(x, w1, b1, MT_ACTIVATION_RELU, &hs) ||
        mt_matmul_fused2_sparse(x, w1, b1, MT_ACTIVATION_RELU, w2, NULL, MT_ACTIVATION_NONE,
                                &ys)) {
        CHECK(0, "sparse %lldx%lldx%lld: %s", (long long)m, (long long)k, (long long)h,
              mt_last_error());
        goto done;
    }
    const float *r[2] = {hid->data, ref->data}, *g[2] = {hs->data, ys->data};
    const int64_t count[2] = {m * h, m * n};
    for (int t = 0; t < 2; t++)
        for (int64_t i = 0; i < count[t]; i++) {
            double scale = 1e-5 * (sqrt((double)k) + fabs(r[t][i]));
            if (!(fabs((double)g[t][i] - r[t][i]) <= scale)) {
                CHECK(0, "sparse%s %lldx%lldx%lld: [%lld] = %g, naive %g", t ? "2" : "",
                      (long long)m, (long long)k, (long long)h, (long long)i,
                      (double)g[t][i], (double)r[t][i]);
                break;
            }
        }
done:
    mt_tensor_free(x);
    mt_tensor_free(w1);
    mt_tensor_free(b1);
    mt_tensor_free(w2);
    mt_tensor_free(hid);
    mt_tensor_free(ref);
    mt_tensor_free(hs);
    mt_tensor_free(ys);
}

int main(void)
{
    const char *kernel = mt_backend_describe(MT_BACKEND_NATIVE);
    printf("native backend: %s\n", kernel);
    CHECK(strstr(kernel, "wasm-simd128") != NULL,
          "the native backend runs \"%s\", not the SIMD128 kernel", kernel);

    // The MNIST shapes (batch 1 and 256), then edges around the 4x8 tile,
    // the packing rule (M >= 32), the blocking (kc = 1024: k = 1500 takes
    // two blocks, so the second accumulates into C), and the gemv (two rows
    // per step: odd k; 32-column blocks, then 8-column ones, the last
    // overlapping: n = 32 + 8 + 3).
    static const int64_t shapes[][3] = {
        {1, 784, 128}, {256, 784, 128}, {1, 128, 10}, {256, 128, 10},
        {1, 1, 1}, {2, 3, 4}, {5, 7, 9}, {6, 8, 8}, {7, 9, 17}, {13, 300, 33},
        {31, 257, 40}, {32, 33, 40}, {64, 64, 64}, {100, 513, 70}, {3, 1000, 5},
        {40, 1500, 24}, {1, 1500, 40}, {1, 785, 43}, {1, 3, 64}, {1, 1, 32},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int tb = 0; tb < 2; tb++)
            for (int act = 0; act < MT_ACTIVATION_COUNT; act++)
                check_shape(shapes[i][0], shapes[i][1], shapes[i][2], tb, (mt_activation)act);
    check_broadcast_b(40, 30, 70);  // blocked, B packed whatever M
    check_broadcast_b(8, 30, 70);   // blocked below the packing threshold
    check_broadcast_b(33, 1500, 40); // two K blocks
    check_sparse(1, 784, 128, 10);   // MNIST, batch 1 and 256
    check_sparse(256, 784, 128, 10);
    check_sparse(9, 50, 37, 3);      // ragged 32-column chunks

    if (failures)
        printf("%d failure(s)\n", failures);
    else
        printf("all matmul shapes agree with the naive reference\n");
    return failures ? 1 : 0;
}
