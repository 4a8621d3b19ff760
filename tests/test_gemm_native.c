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

#include <ctype.h>
#include <stdatomic.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

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
    // k > KC: 1300 is more than one KC block of every kernel (KC <= 1024),
    // with B read in place (k > 1024 splits it too) and packed (transposed);
    // wide N on two threads, in slices of a few panels each; k = 1024: a
    // row-major A whose pitch is 4 KB (an L1d way of most x86 cores), which
    // 12×32 packs (its rows would share an L1 set), one slice per thread
    static const int64_t big[][3] = {{256, 128, 784}, {256, 10, 128}, {300, 500, 200},
                                     {257, 255, 300}, {70, 100, 1300}, {70, 1000, 64},
                                     {70, 3300, 8}, {70, 600, 1024}};
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
    assert_false(mt_gemm_native_force_kernel("gen")); // no prefixes but "avx2"
#ifdef __wasm__
    // wasm32 lists its SIMD128 kernel only: it runs wherever the build runs
    assert_false(mt_gemm_native_force_kernel("generic"));
    assert_true(mt_gemm_native_force_kernel("wasm-simd128"));
    const char *g = mt_gemm_backend_native.describe();
    assert_int_equal(strncmp(g, "native wasm-simd128 4x8 (MC ", 28), 0);
#else
    assert_true(mt_gemm_native_force_kernel("generic"));
    const char *g = mt_gemm_backend_native.describe();
    assert_int_equal(strncmp(g, "native generic 4x8 (MC ", 23), 0);
#endif
    assert_non_null(strstr(g, " KC "));
    assert_true(mt_gemm_native_force_kernel("auto"));
    const char *d = mt_gemm_backend_native.describe();
    assert_int_equal(strncmp(d, mt_gemm_native_kernel()->description,
                             strlen(mt_gemm_native_kernel()->description)), 0);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // run-time detection offers the AVX kernels on a CPU that has them
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        assert_true(mt_gemm_native_force_kernel("avx2+fma"));
        assert_true(mt_gemm_native_force_kernel("avx2")); // the short name
        assert_string_equal(mt_gemm_native_kernel()->name, "avx2+fma");
    }
    if (__builtin_cpu_supports("avx512f")) {
        assert_true(mt_gemm_native_force_kernel("avx512"));
        assert_true(mt_gemm_native_force_kernel("avx512-12x32"));
        assert_int_equal(mt_gemm_native_kernel()->mr, 12);
        // auto: 12×32 exactly when the core has two 512-bit FMA units, as
        // its model says where the model is known (else measured)
        int units = mt_native_avx512_fma_units();
        assert_true(units == 1 || units == 2);
        unsigned ca, cb, cc, cd, family, model;
        char vendor[13] = {0};
        __cpuid(0, ca, cb, cc, cd);
        memcpy(vendor, &cb, 4);
        memcpy(vendor + 4, &cd, 4);
        memcpy(vendor + 8, &cc, 4);
        __cpuid(1, ca, cb, cc, cd);
        family = (ca >> 8 & 0xf) == 0xf ? 0xf + (ca >> 20 & 0xff) : ca >> 8 & 0xf;
        model = (ca >> 4 & 0xf) | (family == 6 || family >= 0xf ? (ca >> 16 & 0xf) << 4 : 0);
        int known = mt_native_avx512_fma_units_of(vendor, family, model);
        if (known)
            assert_int_equal(units, known);
        assert_true(mt_gemm_native_force_kernel(NULL));
        assert_string_equal(mt_gemm_native_kernel()->name,
                            units == 2 ? "avx512-12x32" : "avx512");
    } else {
        assert_false(mt_gemm_native_force_kernel("avx512"));
    }
    assert_true(mt_gemm_native_force_kernel(NULL));
#endif
}

/* The dispatch thresholds of thresholds.c, worked by hand: a per-call
 * cost of 16384 cycles (AUTO: OpenBLAS below) and 8192 (a thread's slice)
 * times the kernel's FMAs per cycle, lanes × FMA units. */
static void test_native_thresholds_rule(void **state)
{
    (void)state;
    // Zen 4, AVX-512 with one 512-bit unit: 16 per cycle -> 64³, 2^17
    mt_native_thresholds t = mt_native_thresholds_for(16, 1);
    assert_int_equal(t.fmas_per_cycle, 16);
    assert_int_equal(t.auto_small_fmas, 64 * 64 * 64);
    assert_int_equal(t.min_fmas_per_part, 1 << 17);
    // a vector product streams B: 8192 cycles × 8 bytes / 4 per row of A,
    // whatever the FMA width
    assert_int_equal(t.min_vector_fmas_per_row, 1 << 14);
    assert_int_equal(mt_native_thresholds_for(4, 2).min_vector_fmas_per_row, 1 << 14);
    assert_true(mt_native_small_for_blas(t, 64, 64, 64));
    assert_false(mt_native_small_for_blas(t, 64, 64, 65));
    assert_false(mt_native_small_for_blas(t, 1, 64, 64)); // M = 1: the native gemv
    // AVX2 with two 256-bit units: the same 16 per cycle, the same crossover
    mt_native_thresholds avx2 = mt_native_thresholds_for(8, 2);
    assert_int_equal(avx2.auto_small_fmas, t.auto_small_fmas);
    assert_int_equal(avx2.min_fmas_per_part, t.min_fmas_per_part);
    // two 512-bit units (Xeon Gold): 32 per cycle, twice the FMAs;
    // 80·80·81 = 518400 <= 524288 < 80·80·82
    t = mt_native_thresholds_for(16, 2);
    assert_int_equal(t.auto_small_fmas, 2 * 64 * 64 * 64);
    assert_int_equal(t.min_fmas_per_part, 1 << 18);
    assert_true(mt_native_small_for_blas(t, 64, 64, 65));
    assert_true(mt_native_small_for_blas(t, 80, 80, 81));
    assert_false(mt_native_small_for_blas(t, 80, 80, 82));
    // the portable kernel, 4 lanes × 2: half; 50·50·52 = 130000 <= 131072
    t = mt_native_thresholds_for(4, 2);
    assert_int_equal(t.auto_small_fmas, 131072);
    assert_int_equal(t.min_fmas_per_part, 65536);
    assert_true(mt_native_small_for_blas(t, 50, 50, 52));
    assert_false(mt_native_small_for_blas(t, 64, 64, 64));
    // nonsense counts as 1 lane, 1 unit
    t = mt_native_thresholds_for(0, -1);
    assert_int_equal(t.auto_small_fmas, 16384);
    assert_int_equal(t.min_fmas_per_part, 8192);

    // 512-bit FMA units by CPU model: fixed where every part agrees
    assert_int_equal(mt_native_avx512_fma_units_of("GenuineIntel", 6, 0xCF), 2); // Emerald Rapids
    assert_int_equal(mt_native_avx512_fma_units_of("GenuineIntel", 6, 0x8F), 2); // Sapphire Rapids
    assert_int_equal(mt_native_avx512_fma_units_of("GenuineIntel", 6, 0x6A), 2); // Ice Lake-SP
    assert_int_equal(mt_native_avx512_fma_units_of("GenuineIntel", 6, 0x8C), 1); // Tiger Lake
    assert_int_equal(mt_native_avx512_fma_units_of("AuthenticAMD", 0x19, 0x11), 1); // Zen 4
    // measured: the Xeon tier decides (Skylake-SP), Zen 5, another vendor or family
    assert_int_equal(mt_native_avx512_fma_units_of("GenuineIntel", 6, 0x55), 0);
    assert_int_equal(mt_native_avx512_fma_units_of("AuthenticAMD", 0x1A, 0x44), 0);
    assert_int_equal(mt_native_avx512_fma_units_of("HygonGenuine", 0x19, 0x11), 0);
    assert_int_equal(mt_native_avx512_fma_units_of("GenuineIntel", 0xF, 0xCF), 0);
    assert_int_equal(mt_native_avx512_fma_units_of(NULL, 6, 0xCF), 0);

    // the rule follows the kernel in use (forced one after the other)
    const char *const *names = mt_gemm_native_kernel_names();
    for (int i = 0; names[i]; i++) {
        assert_true(mt_gemm_native_force_kernel(names[i]));
        const mt_native_kernel *kr = mt_gemm_native_kernel();
        int units = mt_native_fma_units(kr->lanes);
#ifdef MT_NATIVE_X86
        if (kr->lanes == 16) // measured (it also picks 12×32 over 8×32)
            assert_int_equal(units, mt_native_avx512_fma_units());
        else
#endif
            assert_int_equal(units, 2);
        mt_native_thresholds want = mt_native_thresholds_for(kr->lanes, units);
        t = mt_gemm_native_thresholds();
        assert_int_equal(t.auto_small_fmas, want.auto_small_fmas);
        assert_int_equal(t.min_fmas_per_part, want.min_fmas_per_part);
        // the portable kernel is slower per FMA than OpenBLAS: AUTO never
        // takes it, not even for M = 1; the others keep the gemv and large
        assert_int_equal(t.blas_always, kr == &mt_native_kernel_generic);
        assert_int_equal(mt_native_small_for_blas(t, 1, 784, 128), t.blas_always);
        assert_int_equal(mt_native_small_for_blas(t, 512, 512, 512), t.blas_always);
    }
    assert_true(mt_gemm_native_force_kernel(NULL));
}

/* The blocking rule of gemm_native.c, worked by hand: KC = L1d/2 / (4·MR)
 * rounded down to 8, NC = L2/2 / (4·KC) rounded down to NR, MC = L3/2 /
 * (4·KC) rounded down to MR, clamped; unknown caches keep the kernel's own
 * constants. */
static void test_native_blocking_rule(void **state)
{
    (void)state;
    const mt_native_caches zen4 = {.l1d = 32 << 10, .l2 = 1 << 20, .l3 = 16 << 20};
    const mt_native_kernel *g = &mt_native_kernel_generic; // 4×8
    // 16384/16 = 1024; 524288/4096 = 128; 8388608/4096 = 2048
    mt_native_blocking b = mt_native_blocking_for(g, zen4);
    assert_int_equal(b.kc, 1024);
    assert_int_equal(b.nc, 128);
    assert_int_equal(b.mc, 2048);
    // 48K L1d, 2M L2, 3M L3: 24576/16 = 1536 -> 1024; 1048576/4096 = 256;
    // 1572864/4096 = 384
    b = mt_native_blocking_for(g, (mt_native_caches){.l1d = 48 << 10, .l2 = 2 << 20, .l3 = 3 << 20});
    assert_int_equal(b.kc, 1024);
    assert_int_equal(b.nc, 256);
    assert_int_equal(b.mc, 384);
    // tiny caches clamp: 1K L1d -> 512/16 = 32 -> 64; 64K L2 -> 32768/256 =
    // 128 columns; 64K L3 -> 128 rows
    b = mt_native_blocking_for(g, (mt_native_caches){.l1d = 1 << 10, .l2 = 64 << 10, .l3 = 64 << 10});
    assert_int_equal(b.kc, 64);
    assert_int_equal(b.nc, 128);
    assert_int_equal(b.mc, 128);
    // huge ones clamp: NC 8192, MC 4096
    b = mt_native_blocking_for(g, (mt_native_caches){.l1d = 32 << 10, .l2 = 64 << 20, .l3 = 512 << 20});
    assert_int_equal(b.nc, 8192);
    assert_int_equal(b.mc, 4096);
    // unknown (wasm32): the kernel's constants
    b = mt_native_blocking_for(g, (mt_native_caches){0});
    assert_int_equal(b.kc, g->kc);
    assert_int_equal(b.mc, g->mc);
    assert_int_equal(b.nc, g->nc);
#ifdef MT_NATIVE_X86
    // AVX2 6×16 on Zen 4's caches: 16384/24 = 682 -> 680; 524288/2720 =
    // 192.7 -> 192; 8388608/2720 = 3084 (a multiple of 6)
    b = mt_native_blocking_for(&mt_native_kernel_avx2, zen4);
    assert_int_equal(b.kc, 680);
    assert_int_equal(b.nc, 192);
    assert_int_equal(b.mc, 3084);
    // AVX-512 8×32: 16384/32 = 512; 524288/2048 = 256; 8388608/2048 = 4096
    b = mt_native_blocking_for(&mt_native_kernel_avx512, zen4);
    assert_int_equal(b.kc, 512);
    assert_int_equal(b.nc, 256);
    assert_int_equal(b.mc, 4096);
#endif
}

#if defined(__linux__)
// a sysfs cache file as a number ("32K" -> 32768); -1 if absent
static long long sysfs_value(int index, const char *file)
{
    char path[128], buf[64] = {0};
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", index,
             file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *ok = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!ok)
        return -1;
    char *end;
    long long v = strtoll(buf, &end, 10);
    return *end == 'K' ? v * 1024 : *end == 'M' ? v * 1024 * 1024 : v;
}
#endif

/* The caches the library reads are the ones Linux reports in sysfs (read
 * here through shared_cpu_map, the library reads shared_cpu_list); l3 is
 * divided among the CPUs that share it. On x86-64, cpuid (the fallback
 * without sysfs) gives the same L1d and L2. */
static void test_native_caches(void **state)
{
    (void)state;
    mt_native_caches c = mt_gemm_native_caches();
#if defined(__linux__)
    long long want[4] = {0, 0, 0, 0}, l1_ways = 0;
    for (int i = 0; i < 8; i++) {
        long long level = sysfs_value(i, "level");
        if (level < 0)
            break;
        char path[128], type[32] = {0}, list[256] = {0};
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(type, sizeof type, f));
        fclose(f);
        if (!strncmp(type, "Instruction", 11) || level > 3 || want[level])
            continue;
        long long size = sysfs_value(i, "size"), sharing = 0;
        if (level == 1)
            l1_ways = sysfs_value(i, "ways_of_associativity");
        snprintf(path, sizeof path,
                 "/sys/devices/system/cpu/cpu0/cache/index%d/shared_cpu_map", i);
        f = fopen(path, "r"); // hex mask: count its bits
        assert_non_null(f);
        assert_non_null(fgets(list, sizeof list, f));
        fclose(f);
        for (char *p = list; *p; p++)
            if (isxdigit((unsigned char)*p))
                sharing += __builtin_popcount((unsigned)strtol((char[]){*p, 0}, NULL, 16));
        want[level] = level == 3 ? size / (sharing ? sharing : 1) : size;
    }
    if (want[1] > 0) { // a kernel that reports its caches
        assert_int_equal(c.l1d, want[1]);
        // the L1d way: its size over sysfs' ways_of_associativity
        assert_true(l1_ways > 0);
        assert_int_equal(c.l1d_way, want[1] / l1_ways);
        assert_int_equal(c.l2, want[2]);
        assert_int_equal(c.l3, want[3]);
#ifdef MT_NATIVE_X86
        mt_native_caches id = mt_native_caches_cpuid();
        assert_int_equal(id.l1d, want[1]);
        assert_int_equal(id.l1d_way, c.l1d_way);
        assert_int_equal(id.l2, want[2]);
        assert_true(id.l3 > 0 && id.l3 <= c.l3 * 64);
#endif
    }
#endif
    assert_true(c.l1d >= 0 && c.l2 >= 0 && c.l3 >= 0);
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

/* The max of a fused pool (kr->max) on every kernel, lengths 1..40 (the
 * vector bodies and their tails): max(m, v) by value, and NaN wherever m or
 * v is NaN, whichever side it is on; -0 and +0 either way, infinities. */
static void test_native_max_keeps_nan(void **state)
{
    (void)state;
    const float pick[] = {1.5f, -2.0f, 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 3.25f};
    const char *const *names = mt_gemm_native_kernel_names();
    for (int i = 0; names[i]; i++) {
        assert_true(mt_gemm_native_force_kernel(names[i]));
        const mt_native_kernel *kr = mt_gemm_native_kernel();
        mt_max_fn max = kr->max ? kr->max : mt_native_max_generic;
        for (int count = 1; count <= 40; count++) {
            float m[41], v[41], want[41];
            for (int s = 0; s < count; s++) {
                m[s] = pick[(s * 3 + count) % 8];
                v[s] = pick[(s * 5 + 1) % 8];
                want[s] = isnan(m[s]) || isnan(v[s]) ? NAN : v[s] > m[s] ? v[s] : m[s];
            }
            m[count] = v[count] = 42.0f; // past the end: untouched
            max(count, m, v);
            for (int s = 0; s < count; s++)
                if (isnan(want[s]) ? !isnan(m[s]) : m[s] != want[s])
                    fail_msg("%s: max over %d, [%d] = %g, want %g", names[i], count, s,
                             (double)m[s], (double)want[s]);
            assert_true(m[count] == 42.0f);
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
        for (int threads = 1; threads <= MT_TEST_THREADS; threads++) {
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

/* libblis exports cblas_sgemm too: with both libraries loaded, the OpenBLAS
 * backend must still call OpenBLAS's and BLIS's its own. Both are opened
 * RTLD_LOCAL, so neither lands in the global scope where one could bind the
 * other's calls. */
static void test_openblas_symbols_are_openblas(void **state)
{
    (void)state;
    if (!mt_backend_available(MT_BACKEND_OPENBLAS) || !mt_backend_available(MT_BACKEND_BLIS))
        skip();
    assert_non_null(strstr(mt_backend_describe(MT_BACKEND_OPENBLAS), "OpenBLAS"));
    assert_non_null(strstr(mt_backend_describe(MT_BACKEND_BLIS), "BLIS"));
    void *sym = dlsym(RTLD_DEFAULT, "cblas_sgemm");
    Dl_info info;
    if (sym && dladdr(sym, &info) && info.dli_fname)
        fail_msg("cblas_sgemm is in the global scope, from %s", info.dli_fname);
    assert_null(sym);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_force_kernel),
        cmocka_unit_test(test_native_blocking_rule),
        cmocka_unit_test(test_native_thresholds_rule),
        cmocka_unit_test(test_native_caches),
        cmocka_unit_test(test_native_every_kernel),
        cmocka_unit_test(test_native_relu_keeps_nan),
        cmocka_unit_test(test_native_max_keeps_nan),
        cmocka_unit_test(test_native_broadcast_b_rows),
        cmocka_unit_test(test_native_no_allocations_after_first),
        cmocka_unit_test(test_native_out_of_memory_still_correct),
#ifdef HAVE_THREADS_AND_DL   /* threads and dlopen'ed BLAS: not on wasm32 */
        cmocka_unit_test(test_native_concurrent_callers),
        cmocka_unit_test(test_blis),
        cmocka_unit_test(test_openblas_symbols_are_openblas),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
