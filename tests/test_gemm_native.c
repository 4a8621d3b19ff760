/* test_gemm_native.c — the native kernels and BLIS against mt_gemm_naive.
 *
 * Every micro-kernel this CPU can run (forced one after the other) and the
 * BLIS backend compute random problems up to 300×500×200 with every operand
 * layout (row-major, transposed, general strides), bias and ReLU, 1 and 2
 * threads, and the edge shapes (M, N, K = 1, zero sizes, k = 0). The
 * reference is the naive triple loop; the error measure is
 *   max|C - R| / max(1, max|R|) <= 1e-5.
 * Elements of C's buffer outside the matrix must stay untouched.
 */
#define _GNU_SOURCE // dladdr
#if !defined(__wasm__)
#define HAVE_THREADS_AND_DL 1
#include <dlfcn.h>
#include <pthread.h>
#endif

#include <stdatomic.h>

#include "test_util.h"

#include "backend_select.h"
#include "native/native.h"

/* ---- operands with a chosen layout -------------------------------------------- */

enum layout { ROW_MAJOR, COL_MAJOR, GENERAL, LAYOUT_COUNT };
static const char *const layout_names[] = {"row-major", "transposed", "general"};

typedef struct matrix {
    float *data;
    int64_t rows, cols, rs, cs;
    size_t size; // floats in the buffer
} matrix;

static const float SENTINEL = 12345.0f;

/* rows×cols in a buffer with padding between rows/columns (and a gap
 * between elements for GENERAL), every slot first set to SENTINEL. */
static matrix matrix_new(int64_t rows, int64_t cols, enum layout layout,
                         uint64_t *rng)
{
    matrix m = {.rows = rows, .cols = cols};
    switch (layout) {
    case ROW_MAJOR: m.cs = 1; m.rs = cols + 3; break;
    case COL_MAJOR: m.rs = 1; m.cs = rows + 2; break;
    case GENERAL: m.cs = 2; m.rs = 2 * cols + 5; break;
    default: break;
    }
    m.size = (size_t)((rows > 0 ? rows - 1 : 0) * m.rs +
                      (cols > 0 ? cols - 1 : 0) * m.cs + 1);
    m.data = malloc(m.size * sizeof(float));
    assert_non_null(m.data);
    for (size_t i = 0; i < m.size; i++)
        m.data[i] = SENTINEL;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            m.data[i * m.rs + j * m.cs] = rand_unit(rng);
    return m;
}

static float *at(const matrix *m, int64_t i, int64_t j)
{
    return &m->data[i * m->rs + j * m->cs];
}

/* ---- one comparison -------------------------------------------------------------- */

typedef struct problem {
    int64_t m, n, k;
    enum layout la, lb, lc;
    bool bias, relu;
    int threads;
} problem;

static void describe(const problem *p, const char *who, char *buf, size_t size)
{
    snprintf(buf, size, "%s: m=%lld n=%lld k=%lld A %s, B %s, C %s, bias %d, relu %d, "
             "threads %d", who, (long long)p->m, (long long)p->n, (long long)p->k,
             layout_names[p->la], layout_names[p->lb], layout_names[p->lc], p->bias,
             p->relu, p->threads);
}

/* Runs p on `backend` and on the naive reference; fails on a relative error
 * above 1e-5 or on any write outside C. */
static void check_problem(const mt_gemm_backend *backend, const char *who,
                          const problem *p, uint64_t *rng)
{
    matrix a = matrix_new(p->m, p->k, p->la, rng);
    matrix b = matrix_new(p->k, p->n, p->lb, rng);
    matrix c = matrix_new(p->m, p->n, p->lc, rng);
    matrix r = matrix_new(p->m, p->n, ROW_MAJOR, rng);
    float *bias = malloc((size_t)(p->n + 1) * sizeof(float));
    assert_non_null(bias);
    for (int64_t j = 0; j < p->n; j++)
        bias[j] = rand_unit(rng);
    for (int64_t i = 0; i < p->m; i++) // C is written, never read: poison it
        for (int64_t j = 0; j < p->n; j++)
            *at(&c, i, j) = NAN;

    mt_gemm g = {
        .m = p->m, .n = p->n, .k = p->k,
        .a = a.data, .a_rs = a.rs, .a_cs = a.cs,
        .b = b.data, .b_rs = b.rs, .b_cs = b.cs,
        .c = c.data, .c_rs = c.rs, .c_cs = c.cs,
        .bias = p->bias ? bias : NULL,
        .act = p->relu ? MT_ACTIVATION_RELU : MT_ACTIVATION_NONE,
    };
    char text[256];
    if (backend->accepts && !backend->accepts(&g)) {
        describe(p, who, text, sizeof text);
        fail_msg("%s: refused by accepts()", text);
    }
    backend->sgemm(&g, p->threads);
    mt_gemm ref = g;
    ref.c = r.data;
    ref.c_rs = r.rs;
    ref.c_cs = r.cs;
    mt_gemm_naive(&ref);

    double max_diff = 0.0, max_ref = 0.0;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            double got = *at(&c, i, j), want = *at(&r, i, j);
            double d = fabs(got - want);
            if (!(d <= max_diff)) // also catches NaN
                max_diff = d;
            if (fabs(want) > max_ref)
                max_ref = fabs(want);
        }
    double err = max_diff / (max_ref > 1.0 ? max_ref : 1.0);
    if (!(err <= 1e-5)) {
        describe(p, who, text, sizeof text);
        fail_msg("%s: relative error %g", text, err);
    }
    // everything in C's buffer that is not C keeps its sentinel
    size_t inside = 0;
    for (size_t s = 0; s < c.size; s++)
        inside += c.data[s] != SENTINEL;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++)
            inside -= *at(&c, i, j) != SENTINEL;
    if (inside != 0) {
        describe(p, who, text, sizeof text);
        fail_msg("%s: %zu writes outside C", text, inside);
    }
    free(a.data);
    free(b.data);
    free(c.data);
    free(r.data);
    free(bias);
}

/* ---- the problem sets ---------------------------------------------------------------- */

/* Edge shapes under every layout combination, bias/relu and 1/2 threads. */
static void run_edges(const mt_gemm_backend *backend, const char *who, uint64_t *rng)
{
    static const int64_t shapes[][3] = {
        {1, 1, 1}, {1, 128, 784}, {1, 10, 128}, {1, 200, 1}, {1, 1, 300},
        {2, 3, 4}, {5, 1, 7}, {300, 1, 9}, {7, 33, 5}, {13, 17, 300},
        {17, 31, 1}, {33, 65, 129}, {64, 64, 64}, {96, 96, 97}, {8, 32, 16},
        {0, 5, 5}, {5, 0, 5}, {5, 5, 0}, {0, 0, 0}, {1, 1, 0}, {9, 40, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int la = 0; la < LAYOUT_COUNT; la++)
            for (int lb = 0; lb < LAYOUT_COUNT; lb++)
                for (int v = 0; v < 8; v++) {
                    problem p = {
                        .m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2],
                        .la = (enum layout)la, .lb = (enum layout)lb,
                        .lc = v & 4 ? GENERAL : ROW_MAJOR,
                        .bias = v & 1, .relu = v & 2,
                        .threads = 1 + (int)((s + (size_t)la + (size_t)v) & 1),
                    };
                    check_problem(backend, who, &p, rng);
                }
}

/* Random shapes up to 300×500×200 (m×n×k) with random everything. */
static void run_random(const mt_gemm_backend *backend, const char *who, uint64_t *rng,
                       int count)
{
    for (int t = 0; t < count; t++) {
        uint64_t r = (*rng = *rng * 6364136223846793005ull + 1442695040888963407ull) >> 11;
        problem p = {
            .m = 1 + (int64_t)(r % 300), .n = 1 + (int64_t)(r / 300 % 500),
            .k = 1 + (int64_t)(r / 150000 % 200),
            .la = (enum layout)(r >> 30 & 3) % LAYOUT_COUNT,
            .lb = (enum layout)(r >> 32 & 3) % LAYOUT_COUNT,
            .lc = r >> 34 & 1 ? GENERAL : ROW_MAJOR,
            .bias = r >> 35 & 1, .relu = r >> 36 & 1,
            .threads = 1 + (int)(r >> 37 & 1),
        };
        check_problem(backend, who, &p, rng);
    }
    // the shapes that matter, full size, both thread counts
    static const int64_t big[][3] = {{256, 128, 784}, {256, 10, 128}, {300, 500, 200},
                                     {257, 255, 300}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int v = 0; v < 4; v++) {
            problem p = {.m = big[s][0], .n = big[s][1], .k = big[s][2],
                         .la = v & 1 ? COL_MAJOR : ROW_MAJOR,
                         .lb = v & 2 ? COL_MAJOR : ROW_MAJOR,
                         .bias = true, .relu = v == 3, .threads = 1 + (v & 1)};
            check_problem(backend, who, &p, rng);
        }
}

/* ---- the tests ---------------------------------------------------------------------- */

static void test_native_every_kernel(void **state)
{
    (void)state;
    const char *const *names = mt_gemm_native_kernel_names();
    assert_non_null(names[0]);
    for (int i = 0; names[i]; i++) {
        assert_true(mt_gemm_native_force_kernel(names[i]));
        assert_string_equal(mt_gemm_native_kernel()->name, names[i]);
        char who[64];
        snprintf(who, sizeof who, "native %s", names[i]);
        uint64_t rng = 42 + (uint64_t)i;
        run_edges(&mt_gemm_backend_native, who, &rng);
        run_random(&mt_gemm_backend_native, who, &rng, 150);
    }
    assert_true(mt_gemm_native_force_kernel(NULL));
}

static void test_native_force_kernel(void **state)
{
    (void)state;
    assert_false(mt_gemm_native_force_kernel("no-such-kernel"));
    assert_true(mt_gemm_native_force_kernel("generic"));
    assert_string_equal(mt_gemm_backend_native.describe(), "native generic 4x8");
    assert_true(mt_gemm_native_force_kernel("auto"));
    const char *d = mt_gemm_backend_native.describe();
    assert_non_null(strstr(d, mt_gemm_native_kernel_names()[0]));
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // run-time detection offers the AVX kernels on a CPU that has them
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        assert_true(mt_gemm_native_force_kernel("avx2+fma"));
    if (__builtin_cpu_supports("avx512f"))
        assert_true(mt_gemm_native_force_kernel("avx512"));
    assert_true(mt_gemm_native_force_kernel(NULL));
#endif
}

/* NaN in A reaches C through ReLU (max(0, NaN) keeps the NaN, as naive). */
static void test_native_relu_keeps_nan(void **state)
{
    (void)state;
    const char *const *names = mt_gemm_native_kernel_names();
    for (int i = 0; names[i]; i++) {
        assert_true(mt_gemm_native_force_kernel(names[i]));
        for (int64_t m = 1; m <= 20; m += 19) {
            float a[20 * 40], b[40 * 70], c[20 * 70];
            uint64_t rng = 7;
            for (int s = 0; s < 20 * 40; s++)
                a[s] = rand_unit(&rng);
            for (int s = 0; s < 40 * 70; s++)
                b[s] = rand_unit(&rng);
            a[0] = NAN; // row 0 is all NaN
            mt_gemm g = {.m = m, .n = 70, .k = 40, .a = a, .a_rs = 40, .a_cs = 1,
                         .b = b, .b_rs = 70, .b_cs = 1, .c = c, .c_rs = 70, .c_cs = 1,
                         .act = MT_ACTIVATION_RELU};
            mt_gemm_backend_native.sgemm(&g, 1);
            for (int j = 0; j < 70; j++)
                assert_true(isnan(c[j]));
            for (int64_t s = 70; s < m * 70; s++)
                assert_true(c[s] >= 0.0f);
        }
    }
    assert_true(mt_gemm_native_force_kernel(NULL));
}

/* B with row stride 0 (every row of B is the same n values): C(i, j) =
 * (sum over p of A(i, p)) · B(0, j), derived by hand with integer values so
 * the sums are exact. Every kernel, on sizes that take the blocked path
 * (where the driver packs such a B) and the gemv and narrow ones. */
static void test_native_broadcast_b_rows(void **state)
{
    (void)state;
    const char *const *names = mt_gemm_native_kernel_names();
    static const int64_t sizes[][3] = {{40, 70, 30}, {1, 70, 30}, {64, 3, 50}, {33, 40, 1500}};
    for (int i = 0; names[i]; i++) {
        assert_true(mt_gemm_native_force_kernel(names[i]));
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            const int64_t m = sizes[z][0], n = sizes[z][1], k = sizes[z][2];
            float *a = malloc(sizeof(float) * (size_t)(m * k));
            float *b = malloc(sizeof(float) * (size_t)n), *c = malloc(sizeof(float) * (size_t)(m * n));
            assert_non_null(a);
            assert_non_null(b);
            assert_non_null(c);
            for (int64_t s = 0; s < m * k; s++)
                a[s] = (float)((s * 7) % 5) - 1.0f; // -1..3: no row sums to 0
            for (int64_t j = 0; j < n; j++)
                b[j] = (float)(j % 9) - 4.0f;
            mt_gemm g = {.m = m, .n = n, .k = k, .a = a, .a_rs = k, .a_cs = 1,
                         .b = b, .b_rs = 0, .b_cs = 1, .c = c, .c_rs = n, .c_cs = 1};
            mt_gemm_backend_native.sgemm(&g, 1);
            for (int64_t r = 0; r < m; r++) {
                float row = 0.0f;
                for (int64_t p = 0; p < k; p++)
                    row += a[r * k + p];
                for (int64_t j = 0; j < n; j++)
                    if (c[r * n + j] != row * b[j])
                        fail_msg("kernel %s, %lldx%lldx%lld: C(%lld,%lld) = %g, want %g",
                                 names[i], (long long)m, (long long)n, (long long)k,
                                 (long long)r, (long long)j, (double)c[r * n + j],
                                 (double)(row * b[j]));
            }
            free(a);
            free(b);
            free(c);
        }
    }
    assert_true(mt_gemm_native_force_kernel(NULL));
}

/* A counting allocator that tolerates concurrent calls: with threads > 1
 * the pool's parts grow their packing buffers at the same time. */
typedef struct counting {
    _Atomic long allocations, live;
} counting;

static void *counting_alloc(size_t size, size_t align, void *user)
{
    counting *c = user;
    void *p = aligned_alloc(align, (size + align - 1) / align * align);
    if (p) {
        atomic_fetch_add(&c->allocations, 1);
        atomic_fetch_add(&c->live, 1);
    }
    return p;
}

static void counting_free(void *p, void *user)
{
    atomic_fetch_sub(&((counting *)user)->live, 1);
    free(p);
}

/* After the first call, repeated matmuls allocate nothing (with 2 threads:
 * after the first 2-thread call, whichever threads run the parts);
 * release frees it all. */
static void test_native_no_allocations_after_first(void **state)
{
    (void)state;
    mt_gemm_native_release();
    static counting count;
    atomic_store(&count.allocations, 0);
    atomic_store(&count.live, 0);
    mt_allocator_set(&(mt_allocator){counting_alloc, counting_free, &count});
    uint64_t rng = 3;
    static const int64_t shapes[][3] = {{300, 500, 200}, {1, 128, 784}, {256, 128, 784},
                                        {64, 700, 600}, {512, 512, 512}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        matrix a = matrix_new(shapes[s][0], shapes[s][2], ROW_MAJOR, &rng);
        matrix b = matrix_new(shapes[s][2], shapes[s][1], s & 1 ? COL_MAJOR : ROW_MAJOR,
                              &rng);
        matrix c = matrix_new(shapes[s][0], shapes[s][1], ROW_MAJOR, &rng);
        mt_gemm g = {.m = a.rows, .n = b.cols, .k = a.cols, .a = a.data, .a_rs = a.rs,
                     .a_cs = a.cs, .b = b.data, .b_rs = b.rs, .b_cs = b.cs,
                     .c = c.data, .c_rs = c.rs, .c_cs = c.cs};
        for (int threads = 1; threads <= 2; threads++) {
            mt_gemm_backend_native.sgemm(&g, threads);
            long before = atomic_load(&count.allocations);
            for (int rep = 0; rep < 3; rep++)
                mt_gemm_backend_native.sgemm(&g, threads);
            assert_int_equal(atomic_load(&count.allocations), before);
        }
        free(a.data);
        free(b.data);
        free(c.data);
    }
    mt_gemm_native_release();
    assert_int_equal(atomic_load(&count.live), 0);
    mt_allocator_set(NULL);
}

/* Without memory for packing buffers the result is still right. */
static void test_native_out_of_memory_still_correct(void **state)
{
    (void)state;
    mt_gemm_native_release();
    alloc_probe probe;
    probe_install(&probe, 0);
    uint64_t rng = 5;
    problem p = {.m = 200, .n = 300, .k = 150, .la = ROW_MAJOR, .lb = COL_MAJOR,
                 .bias = true, .relu = true, .threads = 1};
    check_problem(&mt_gemm_backend_native, "native (no memory)", &p, &rng);
    probe_remove();
    mt_gemm_native_release();
}

#ifdef HAVE_THREADS_AND_DL
/* Two application threads each asking for 2 threads at once: the pool
 * serves one, the other runs serially; both results are right. */
typedef struct caller { uint64_t seed; } caller;

static void *caller_main(void *arg)
{
    caller *cl = arg;
    for (int rep = 0; rep < 20; rep++) {
        problem p = {.m = 120 + rep, .n = 200, .k = 90, .la = ROW_MAJOR,
                     .lb = rep & 1 ? COL_MAJOR : ROW_MAJOR, .bias = true,
                     .threads = 2};
        check_problem(&mt_gemm_backend_native, "native (concurrent)", &p, &cl->seed);
    }
    return NULL;
}

static void test_native_concurrent_callers(void **state)
{
    (void)state;
    pthread_t t[2];
    caller cl[2] = {{11}, {12}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &cl[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
}

#else
static void test_native_concurrent_callers(void **state)
{
    (void)state;
    skip();
}
#endif

static void test_blis(void **state)
{
    (void)state;
    const mt_gemm_backend *blis = mt_gemm_backend_of(MT_BACKEND_BLIS);
    if (!blis)
        skip();
    assert_non_null(strstr(blis->describe(), "BLIS"));
    uint64_t rng = 99;
    run_edges(blis, "blis", &rng);
    run_random(blis, "blis", &rng, 100);
}

/* libblis exports cblas_sgemm too: the OpenBLAS backend must still get
 * OpenBLAS's. */
static void test_openblas_symbols_are_openblas(void **state)
{
    (void)state;
#ifdef HAVE_THREADS_AND_DL
    if (!mt_backend_available(MT_BACKEND_OPENBLAS))
        skip();
    // the global lookup scope: what gemm_openblas.c's call binds to
    void *sym = dlsym(RTLD_DEFAULT, "cblas_sgemm");
    Dl_info info;
    assert_non_null(sym);
    assert_true(dladdr(sym, &info) != 0);
    assert_non_null(info.dli_fname);
    if (!strstr(info.dli_fname, "openblas"))
        fail_msg("cblas_sgemm resolves to %s, not OpenBLAS", info.dli_fname);
    assert_non_null(strstr(mt_backend_describe(MT_BACKEND_OPENBLAS), "OpenBLAS"));
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_force_kernel),
        cmocka_unit_test(test_native_every_kernel),
        cmocka_unit_test(test_native_relu_keeps_nan),
        cmocka_unit_test(test_native_broadcast_b_rows),
        cmocka_unit_test(test_native_no_allocations_after_first),
        cmocka_unit_test(test_native_out_of_memory_still_correct),
        cmocka_unit_test(test_native_concurrent_callers),
        cmocka_unit_test(test_blis),
        cmocka_unit_test(test_openblas_symbols_are_openblas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
