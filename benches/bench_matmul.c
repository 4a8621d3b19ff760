/* bench_matmul.c — matmul speed of every backend, validated before timed.
 *
 * usage: bench_matmul [out.json] [--threads N] [--min-size N] [--max-size N]
 *                     [--backends a,b,…] [--kernel NAME] [--cpu-time] [--no-mnist]
 *                     [--quick]
 *
 * --kernel NAME forces the native backend's micro-kernel (the same as
 * MT_NATIVE_KERNEL=NAME: avx512, avx512-12x32, avx2, generic, …), so every
 * ISA path can be measured on one machine. The machine is printed first
 * (CPU model, ISA, caches, clock, measured FMA peak and the FMA units it
 * implies): figures from different machines are never comparable.
 *
 * For every available backend (naive only for small problems) × threads
 * 1..N × square sizes 16..2048 and the MNIST MLP shapes (784→128→10 at
 * batch 1 and 256, weights row-major [in,out] and PyTorch [out,in] passed
 * as a transposed view), the benchmark
 *   1. checks the result against the naive reference (or, for sizes where
 *      naive would take too long, against a second backend);
 *   2. warms up, then times repeats of batches of calls (each sample lasts
 *      >= 0.2 ms) with clock_gettime, and reports the median;
 *   3. prints GFLOP/s and the percentage of the FMA peak it measured itself
 *      (a tight FMA loop on 1 core, timed in CPU time; % of peak for t
 *      threads is against t× that peak), and writes everything as JSON
 *      (default bench-matmul.json).
 * The MNIST summary gives images/s at batch 256 and µs/image at batch 1
 * (both layers, the first fused with bias+ReLU as a Linear layer runs it).
 * The scaling summary gives N threads / 1 thread per backend for squares
 * n >= 512, beside the same ratio of the FMA loop (the machine's ceiling).
 *
 * Uses only the public API (the minitensor/ headers). The machine is often shared:
 * medians over repeats, and run it twice if the numbers look odd.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if !defined(__wasm__)
#define HAVE_PTHREADS 1
#include <pthread.h>
#endif

#include "bench_clock.h"
#include "minitensor/minitensor.h"

/* ---- time ------------------------------------------------------------------ */

/* --cpu-time: the calling thread's CPU time instead of the wall clock, on
 * a machine other processes load (time spent preempted does not count;
 * their cache pollution still does). One thread only (it sets --threads 1):
 * with more, the other threads' work would not be counted. */
static bool use_cpu_time;

static double now(void)
{
    return bench_seconds(use_cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC);
}

/* The machine facts (FMA peak, clock) are properties of a core: always
 * timed in the thread's CPU time, so a run preempted by another process
 * does not lower them. */
static double cpu_now(void) { return bench_seconds(CLOCK_THREAD_CPUTIME_ID); }

/* ---- the FMA peak of one core -------------------------------------------------
 * 10 independent FMA chains (>= ports × latency on current cores) of the
 * widest vectors the CPU has; the best of a few runs. */
enum { PEAK_CHAINS = 10 };

/* Ten named accumulators (an array indexed in a loop may live in memory). */
#define PEAK_BODY(vec, set1, fma, lanes)                                           \
    vec a0 = set1(0.0f), a1 = set1(1.0f), a2 = set1(2.0f), a3 = set1(3.0f),      \
        a4 = set1(4.0f), a5 = set1(5.0f), a6 = set1(6.0f), a7 = set1(7.0f),      \
        a8 = set1(8.0f), a9 = set1(9.0f);                                        \
    const vec mul = set1(0.999999f), add = set1(1e-7f);                          \
    double t0 = cpu_now();                                                       \
    for (long it = 0; it < iters; it++) {                                        \
        a0 = fma(a0, mul, add); a1 = fma(a1, mul, add); a2 = fma(a2, mul, add);  \
        a3 = fma(a3, mul, add); a4 = fma(a4, mul, add); a5 = fma(a5, mul, add);  \
        a6 = fma(a6, mul, add); a7 = fma(a7, mul, add); a8 = fma(a8, mul, add);  \
        a9 = fma(a9, mul, add);                                                  \
    }                                                                            \
    double dt = cpu_now() - t0;                                                  \
    vec sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;                   \
    float sink;                                                                  \
    memcpy(&sink, &sum, sizeof sink);                                            \
    return sink == 12345.0f ? 0 : (double)iters * PEAK_CHAINS * 2 * (lanes) / dt / 1e9

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx512f"))) static double peak_avx512(long iters)
{
    PEAK_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16);
}

__attribute__((target("avx2,fma"))) static double peak_avx2(long iters)
{
    PEAK_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8);
}
#define HAVE_X86_PEAK 1
#endif

static double peak_scalar(long iters)
{
    float acc[PEAK_CHAINS][8];
    for (int i = 0; i < PEAK_CHAINS; i++)
        for (int l = 0; l < 8; l++)
            acc[i][l] = (float)(i + l);
    double t0 = cpu_now();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < PEAK_CHAINS; i++)
            for (int l = 0; l < 8; l++)
                acc[i][l] = acc[i][l] * 0.999999f + 1e-7f;
    double dt = cpu_now() - t0;
    float sink = 0;
    for (int i = 0; i < PEAK_CHAINS; i++)
        sink += acc[i][0];
    return sink == 12345.0f ? 0 : (double)iters * PEAK_CHAINS * 16 / dt / 1e9;
}

static const char *peak_isa = "scalar";
static int peak_lanes = 8; // floats per vector of the peak loop

static bool peak_ymm_only; // the AVX2 loop even where AVX-512 exists

static double peak_once(long iters)
{
#ifdef HAVE_X86_PEAK
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && !peak_ymm_only) {
        peak_isa = "avx512";
        peak_lanes = 16;
        return peak_avx512(iters);
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        peak_isa = "avx2+fma";
        peak_lanes = 8;
        return peak_avx2(iters);
    }
#endif
    return peak_scalar(iters);
}

/* Short runs, the best of many (CPU time: preemption does not count, but a
 * context switch's cache and frequency effects may). */
enum { PEAK_RUNS = 25, PEAK_ITERS = 2 * 1000 * 1000 };

static double peak_per_core(void)
{
    double best = 0;
    for (int r = 0; r < PEAK_RUNS; r++) {
        double g = peak_once(PEAK_ITERS);
        if (g > best)
            best = g;
    }
    return best;
}

#ifdef HAVE_PTHREADS
typedef struct peak_job { double gflops; } peak_job;

static void *peak_thread(void *arg)
{
    peak_job *job = arg;
    job->gflops = 0;
    for (int r = 0; r < PEAK_RUNS; r++) {
        double g = peak_once(PEAK_ITERS);
        if (g > job->gflops)
            job->gflops = g;
    }
    return NULL;
}

// all `threads` cores at once: the sum of each thread's best run
static double peak_all(int threads)
{
    pthread_t tid[64];
    peak_job job[64];
    int n = threads < 64 ? threads : 64, started = 0;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&tid[i], NULL, peak_thread, &job[i]) != 0)
            break;
        started++;
    }
    double sum = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        sum += job[i].gflops;
    }
    return sum;
}
#else
static double peak_all(int threads)
{
    (void)threads;
    return peak_per_core();
}
#endif

/* ---- the machine -------------------------------------------------------------------
 * The clock: a chain of dependent register-to-register integer adds
 * retires one per cycle on every x86-64 core, so adds / second is the
 * frequency under load (turbo included). Not add-immediate: Golden Cove
 * (Sapphire/Emerald Rapids) folds chains of those at rename, and the
 * chain then "ran" at 11.8 GHz on a 2.95 GHz core. FMA units = FMAs per cycle of the widest vector; a ymm-wide
 * count of 2 is two 256-bit pipes, a zmm count of 1 is one 512-bit unit
 * (or, Zen 4, two 256-bit halves), 2 is two 512-bit units. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static double clock_ghz(void)
{
    double best = 0;
    for (int r = 0; r < 15; r++) {
        long x = 0, one = 1, iters = 2 * 1000 * 1000;
        double t0 = cpu_now();
        for (long i = 0; i < iters; i++)
            __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                             : "+r"(x) : "r"(one));
        double g = 4.0 * (double)iters / (cpu_now() - t0) / 1e9;
        if (g > best)
            best = g;
    }
    return best;
}

static void isa_flags(char *buf, size_t size)
{
    __builtin_cpu_init();
    snprintf(buf, size, "%s%s%s%s%s", __builtin_cpu_supports("avx2") ? "avx2 " : "",
             __builtin_cpu_supports("fma") ? "fma " : "",
             __builtin_cpu_supports("avx512f") ? "avx512f " : "",
             __builtin_cpu_supports("avx512bw") ? "avx512bw " : "",
             __builtin_cpu_supports("avx512vl") ? "avx512vl" : "");
}
#else
static double clock_ghz(void) { return 0; }
static void isa_flags(char *buf, size_t size) { snprintf(buf, size, "(not x86-64)"); }
#endif

/* Data caches from sysfs (Linux): "L1d 32K L2 1024K L3 32768K (shared by 2)". */
static void cache_sizes(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    size_t len = 0;
    for (int i = 0; i < 8; i++) {
        char path[96], level[8] = "", type[32] = "", bytes[32] = "", shared[64] = "";
        const char *files[] = {"level", "type", "size", "shared_cpu_list"};
        char *dst[] = {level, type, bytes, shared};
        size_t cap[] = {sizeof level, sizeof type, sizeof bytes, sizeof shared};
        bool ok = true;
        for (int f = 0; f < 4 && ok; f++) {
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", i,
                     files[f]);
            FILE *fp = fopen(path, "r");
            ok = fp && fgets(dst[f], (int)cap[f], fp);
            if (fp)
                fclose(fp);
            dst[f][strcspn(dst[f], "\n")] = '\0';
        }
        if (!ok)
            break;
        if (!strcmp(type, "Instruction"))
            continue;
        len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%sL%s%s %s",
                                len ? " " : "", level, strcmp(level, "1") ? "" : "d",
                                bytes);
        if (strcmp(level, "1") && strcmp(level, "2"))
            len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
                                    " (cpus %s)", shared);
    }
}

/* ---- the problems ------------------------------------------------------------------ */

typedef struct shape {
    char name[32];
    int64_t m, k, n;
    bool bias, relu;   // fused epilogue (the MNIST layers)
    bool w_out_in;     // B given as transpose of a [n,k] tensor (PyTorch layout)
    const char *group; // "square" or "mnist"
} shape;

typedef struct operands {
    mt_tensor *a, *w, *bias, *c, *ref;
    mt_tensor b; // B: w itself, or the transposed view of w
} operands;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float rand_unit(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_matmul: %s: %s\n", what, mt_last_error());
    exit(1);
}

static mt_tensor *random_tensor(int rank, const int64_t *dims)
{
    mt_tensor *t;
    if (mt_tensor_zeros(MT_DTYPE_F32, rank, dims, &t))
        die("allocating a tensor");
    float *d = t->data;
    int64_t n = mt_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        d[i] = rand_unit();
    return t;
}

static void operands_new(const shape *s, operands *o)
{
    memset(o, 0, sizeof *o);
    o->a = random_tensor(2, (int64_t[]){s->m, s->k});
    if (s->w_out_in) {
        o->w = random_tensor(2, (int64_t[]){s->n, s->k});
        if (mt_transpose_into(o->w, 0, 1, &o->b))
            die("transpose");
    } else {
        o->w = random_tensor(2, (int64_t[]){s->k, s->n});
        if (mt_view_into(o->w, 2, o->w->shape, &o->b)) // a borrowed view
            die("view");
    }
    if (s->bias)
        o->bias = random_tensor(1, (int64_t[]){s->n});
    if (mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){s->m, s->n}, &o->c) ||
        mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){s->m, s->n}, &o->ref))
        die("allocating C");
}

static void operands_free(operands *o)
{
    mt_tensor_free(o->a);
    mt_tensor_free(o->w);
    mt_tensor_free(o->bias);
    mt_tensor_free(o->c);
    mt_tensor_free(o->ref);
}

static mt_status run(const shape *s, operands *o, mt_tensor *out)
{
    if (s->bias || s->relu)
        return mt_matmul_fused_into(o->a, &o->b, o->bias,
                                    s->relu ? MT_ACTIVATION_RELU : MT_ACTIVATION_NONE,
                                    out);
    return mt_matmul_into(o->a, &o->b, out);
}

// max|x - y| / max(1, max|y|)
static double rel_error(const mt_tensor *x, const mt_tensor *y)
{
    const float *a = x->data, *b = y->data;
    int64_t n = mt_tensor_numel(x);
    double diff = 0, big = 1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= diff))
            diff = d;
        if (fabs((double)b[i]) > big)
            big = fabs((double)b[i]);
    }
    return diff / big;
}

/* ---- results ---------------------------------------------------------------------- */

typedef struct result {
    const shape *s;
    mt_backend backend;
    int threads;
    double median_s, min_s, gflops, pct_peak, rel_err;
    int samples, calls_per_sample;
} result;

typedef struct bench {
    int max_threads;
    int64_t min_size, max_size;
    bool quick, no_mnist;
    bool use_backend[MT_BACKEND_COUNT];
    char cpu[256], isa[128], caches[256], kernel[256];
    double ghz, peak_ymm, fma_per_cycle, fma_per_cycle_ymm;
    double peak1, peak_all;
    double peak_native; // per core, at the native kernel's vector width
    result *results;
    size_t count, cap;
} bench;

static void add_result(bench *b, result r)
{
    if (b->count == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->results = realloc(b->results, b->cap * sizeof *b->results);
        if (!b->results) {
            fprintf(stderr, "bench_matmul: out of memory\n");
            exit(1);
        }
    }
    b->results[b->count++] = r;
}

static double flops(const shape *s) { return 2.0 * (double)s->m * (double)s->k * (double)s->n; }

// the naive reference takes about a second at 512³
static bool naive_is_cheap(const shape *s) { return flops(s) <= 2.0 * 512 * 512 * 512; }

/* Error allowed against the reference: float sums of k terms in another
 * order differ by ~k·eps relative to the largest partial sums. */
static double tolerance(const shape *s) { return 1e-5 * fmax(1.0, (double)s->k / 256.0); }

static bool set_backend(mt_backend backend, int threads)
{
    return mt_backend_set(backend) == MT_OK && mt_num_threads_set(threads) == MT_OK;
}

/* One backend × thread count on one shape: validate, warm up, time. */
static void measure(bench *b, const shape *s, operands *o, mt_backend backend, int threads)
{
    if (!set_backend(backend, threads))
        die("setting the backend");
    mt_tensor_fill(o->c, NAN);
    if (run(s, o, o->c))
        die("matmul");
    double err = rel_error(o->c, o->ref);
    if (!(err <= tolerance(s))) {
        fprintf(stderr, "bench_matmul: %s on %s with %d threads is WRONG: relative "
                "error %g > %g; not timed\n", mt_backend_name(backend), s->name,
                threads, err, tolerance(s));
        add_result(b, (result){.s = s, .backend = backend, .threads = threads,
                               .rel_err = err});
        return;
    }
    // warm-up, and a first estimate of one call
    double t0 = now();
    int calls = 0;
    do {
        run(s, o, o->c);
        calls++;
    } while (now() - t0 < (b->quick ? 0.01 : 0.05) || calls < 2);
    double one = (now() - t0) / calls;
    int per_sample = (int)fmax(1.0, ceil(2e-4 / one));
    double budget = b->quick ? 0.1 : 0.4;
    int samples = (int)fmin(51.0, fmax(5.0, budget / (one * per_sample)));
    double *t = malloc((size_t)samples * sizeof *t);
    if (!t)
        die("out of memory");
    for (int r = 0; r < samples; r++) {
        double s0 = now();
        for (int c = 0; c < per_sample; c++)
            run(s, o, o->c);
        t[r] = (now() - s0) / per_sample;
    }
    qsort(t, (size_t)samples, sizeof *t, bench_cmp_double);
    result r = {.s = s, .backend = backend, .threads = threads, .rel_err = err,
                .median_s = t[samples / 2], .min_s = t[0], .samples = samples,
                .calls_per_sample = per_sample};
    r.gflops = flops(s) / r.median_s / 1e9;
    // the native kernel against the peak of its own vectors (AVX2 forced on
    // an AVX-512 core with two 512-bit units: half the machine's)
    r.pct_peak = 100.0 * r.gflops /
                 ((backend == MT_BACKEND_NATIVE ? b->peak_native : b->peak1) * threads);
    free(t);
    add_result(b, r);
    printf("%-20s %-9s %3d %12.2f %9.1f %6.1f%% %9.1e\n", s->name,
           mt_backend_name(backend), threads, r.median_s * 1e6, r.gflops, r.pct_peak,
           err);
    fflush(stdout);
}

/* The reference for s in o->ref: naive where affordable, else one fast
 * backend cross-checked against a second one. */
static void reference(const shape *s, operands *o)
{
    if (naive_is_cheap(s)) {
        if (!set_backend(MT_BACKEND_NAIVE, 1) || run(s, o, o->ref))
            die("naive reference");
        return;
    }
    mt_backend first = MT_BACKEND_NATIVE, second = MT_BACKEND_COUNT;
    if (mt_backend_available(MT_BACKEND_OPENBLAS))
        second = MT_BACKEND_OPENBLAS;
    else if (mt_backend_available(MT_BACKEND_BLIS))
        second = MT_BACKEND_BLIS;
    if (!set_backend(first, 1) || run(s, o, o->ref))
        die("reference");
    if (second != MT_BACKEND_COUNT) {
        if (!set_backend(second, 1) || run(s, o, o->c))
            die("second reference");
        double err = rel_error(o->c, o->ref);
        if (!(err <= tolerance(s))) {
            fprintf(stderr, "bench_matmul: %s: native and %s disagree (relative error "
                    "%g); results of this shape are suspect\n", s->name,
                    mt_backend_name(second), err);
        }
    }
}

/* ---- output ------------------------------------------------------------------------- */

/* The CPU's brand string (cpuid 0x80000002..4), else /proc/cpuinfo's
 * model name, with family/model/stepping appended from /proc/cpuinfo. */
static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned brand[12] = {0};
    for (unsigned i = 0; i < 3; i++)
        __asm__("cpuid" : "=a"(brand[4 * i]), "=b"(brand[4 * i + 1]),
                "=c"(brand[4 * i + 2]), "=d"(brand[4 * i + 3])
                : "a"(0x80000002u + i), "c"(0));
    char name[49] = {0};
    memcpy(name, brand, 48);
    const char *p = name;
    while (*p == ' ')
        p++;
    if (*p)
        snprintf(buf, size, "%s", p);
#endif
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512], family[16] = "?", model[16] = "?", stepping[16] = "?";
    while (fgets(line, sizeof line, f)) {
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v += 1 + (v[1] == ' ');
        v[strcspn(v, "\n")] = '\0';
        if (!strncmp(line, "model name", 10) && !strcmp(buf, "unknown"))
            snprintf(buf, size, "%s", v);
        else if (!strncmp(line, "cpu family", 10))
            snprintf(family, sizeof family, "%s", v);
        else if (!strncmp(line, "model\t", 6))
            snprintf(model, sizeof model, "%s", v);
        else if (!strncmp(line, "stepping", 8)) {
            snprintf(stepping, sizeof stepping, "%s", v);
            break;
        }
    }
    fclose(f);
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, " (family %s model %s stepping %s)", family, model,
             stepping);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static const result *find(const bench *b, const char *name, mt_backend backend,
                          int threads)
{
    for (size_t i = 0; i < b->count; i++) {
        const result *r = &b->results[i];
        if (!strcmp(r->s->name, name) && r->backend == backend && r->threads == threads &&
            r->median_s > 0)
            return r;
    }
    return NULL;
}

/* GFLOP/s: one row per shape, one column per backend × threads. */
static void print_table(const bench *b, const shape *shapes, int count)
{
    printf("\nGFLOP/s (median)\n%-20s", "shape (MxKxN)");
    for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++)
        for (int t = 1; t <= b->max_threads; t++)
            if (mt_backend_available((mt_backend)be) && b->use_backend[be] &&
                (be != MT_BACKEND_NAIVE || t == 1)) {
                char head[32];
                snprintf(head, sizeof head, "%s/%d", mt_backend_name((mt_backend)be), t);
                printf(" %11s", head);
            }
    printf("\n");
    for (int i = 0; i < count; i++) {
        printf("%-20s", shapes[i].name);
        for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++)
            for (int t = 1; t <= b->max_threads; t++)
                if (mt_backend_available((mt_backend)be) && b->use_backend[be] &&
                    (be != MT_BACKEND_NAIVE || t == 1)) {
                    const result *r = find(b, shapes[i].name, (mt_backend)be, t);
                    if (r)
                        printf(" %11.1f", r->gflops);
                    else
                        printf(" %11s", "-");
                }
        printf("\n");
    }
}

static void mnist_summary(const bench *b, FILE *json)
{
    static const char *const layouts[] = {"", "-wT"};
    printf("\nMNIST MLP 784-128-10 (layer 1 fused bias+ReLU, layer 2 bias):\n");
    printf("%-9s %3s %-7s %16s %18s\n", "backend", "thr", "weights", "batch 1 us/img",
           "batch 256 img/s");
    fprintf(json, "  \"mnist\": [");
    bool first = true;
    for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++)
        for (int t = 1; t <= b->max_threads; t++)
            for (int l = 0; l < 2; l++) {
                char n1[32], n2[32], n3[32], n4[32];
                snprintf(n1, sizeof n1, "mnist-1x784x128%s", layouts[l]);
                snprintf(n2, sizeof n2, "mnist-1x128x10%s", layouts[l]);
                snprintf(n3, sizeof n3, "mnist-256x784x128%s", layouts[l]);
                snprintf(n4, sizeof n4, "mnist-256x128x10%s", layouts[l]);
                const result *r1 = find(b, n1, (mt_backend)be, t);
                const result *r2 = find(b, n2, (mt_backend)be, t);
                const result *r3 = find(b, n3, (mt_backend)be, t);
                const result *r4 = find(b, n4, (mt_backend)be, t);
                if (!r1 || !r2)
                    continue;
                double us1 = (r1->median_s + r2->median_s) * 1e6;
                double ips = r3 && r4 ? 256.0 / (r3->median_s + r4->median_s) : 0;
                printf("%-9s %3d %-7s %16.2f %18.0f\n", mt_backend_name((mt_backend)be), t,
                       l ? "out,in" : "in,out", us1, ips);
                fprintf(json, "%s\n    {\"backend\": \"%s\", \"threads\": %d, "
                        "\"weights\": \"%s\", \"batch1_us_per_image\": %.3f, "
                        "\"batch256_images_per_s\": %.0f}",
                        first ? "" : ",", mt_backend_name((mt_backend)be), t,
                        l ? "out_in" : "in_out", us1, ips);
                first = false;
            }
    fprintf(json, "\n  ],\n");
}

/* Two-thread (max-thread) scaling of the squares from 512 up: GFLOP/s on
 * max_threads over one thread, per backend, beside the FMA loop's own
 * ratio — what the machine allows (two vCPUs that are one core's SMT
 * siblings, or a busy host, cap it well below 2). */
static void scaling_summary(const bench *b, FILE *json)
{
    const int t = b->max_threads;
    const double fma_ratio = b->peak1 > 0 ? b->peak_all / b->peak1 : 0;
    fprintf(json, "  \"scaling\": {\"threads\": %d, \"fma_loop_ratio\": %.3f, \"rows\": [",
            t, fma_ratio);
    if (t < 2) {
        fprintf(json, "]},\n");
        return;
    }
    printf("\n%d-thread scaling, squares n >= 512 (GFLOP/s with %d threads / 1 thread; "
           "FMA loop %.2fx):\n", t, t, fma_ratio);
    printf("%-9s %-20s %9s %9s %7s\n", "backend", "shape", "1 thr", "T thr", "ratio");
    bool first = true;
    for (size_t i = 0; i < b->count; i++) {
        const result *r1 = &b->results[i];
        if (r1->threads != 1 || strcmp(r1->s->group, "square") || r1->s->m < 512 ||
            r1->gflops <= 0)
            continue;
        const result *rt = find(b, r1->s->name, r1->backend, t);
        if (!rt || rt->gflops <= 0)
            continue;
        printf("%-9s %-20s %9.1f %9.1f %6.2fx\n", mt_backend_name(r1->backend), r1->s->name,
               r1->gflops, rt->gflops, rt->gflops / r1->gflops);
        fprintf(json, "%s\n    {\"backend\": \"%s\", \"shape\": \"%s\", \"ratio\": %.3f}",
                first ? "" : ",", mt_backend_name(r1->backend), r1->s->name,
                rt->gflops / r1->gflops);
        first = false;
    }
    fprintf(json, "\n  ]},\n");
}

static void write_json(const bench *b, FILE *f)
{
    fprintf(f, "{\n  \"machine\": {\"cpu\": ");
    json_string(f, b->cpu);
    fprintf(f, ", \"online_cpus\": %ld, \"isa\": ", sysconf(_SC_NPROCESSORS_ONLN));
    json_string(f, b->isa);
    fprintf(f, ", \"caches\": ");
    json_string(f, b->caches);
    fprintf(f, ", \"ghz\": %.3f, \"fma_per_cycle\": %.2f, \"fma_per_cycle_ymm\": %.2f, "
            "\"native_kernel\": ", b->ghz, b->fma_per_cycle, b->fma_per_cycle_ymm);
    json_string(f, b->kernel);
    fprintf(f, ", \"timing\": \"%s\", \"peak_isa\": ", use_cpu_time ? "cpu" : "wall");
    json_string(f, peak_isa);
    fprintf(f, ", \"peak_gflops_per_core\": %.2f, \"peak_gflops_all_cores\": %.2f, "
            "\"native_peak_gflops_per_core\": %.2f, \"OPENBLAS_CORETYPE\": ", b->peak1,
            b->peak_all, b->peak_native);
    json_string(f, getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");
    fprintf(f, ", \"MT_NATIVE_KERNEL\": ");
    json_string(f, getenv("MT_NATIVE_KERNEL") ? getenv("MT_NATIVE_KERNEL") : "");
    fprintf(f, "},\n  \"backends\": {");
    bool first = true;
    for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++) {
        if (!mt_backend_available((mt_backend)be))
            continue;
        fprintf(f, "%s\n    \"%s\": ", first ? "" : ",", mt_backend_name((mt_backend)be));
        json_string(f, mt_backend_describe((mt_backend)be));
        first = false;
    }
    fprintf(f, "\n  },\n");
    scaling_summary(b, f);
    mnist_summary(b, f);
    fprintf(f, "  \"results\": [");
    for (size_t i = 0; i < b->count; i++) {
        const result *r = &b->results[i];
        fprintf(f, "%s\n    {\"shape\": \"%s\", \"group\": \"%s\", \"m\": %lld, "
                "\"k\": %lld, \"n\": %lld, \"bias\": %s, \"relu\": %s, "
                "\"weights\": \"%s\", \"backend\": \"%s\", \"threads\": %d, "
                "\"valid\": %s, \"rel_err\": %.3g, \"median_us\": %.3f, "
                "\"min_us\": %.3f, \"gflops\": %.3f, \"pct_peak\": %.2f, "
                "\"samples\": %d, \"calls_per_sample\": %d}",
                i ? "," : "", r->s->name, r->s->group, (long long)r->s->m,
                (long long)r->s->k, (long long)r->s->n, r->s->bias ? "true" : "false",
                r->s->relu ? "true" : "false", r->s->w_out_in ? "out_in" : "in_out",
                mt_backend_name(r->backend), r->threads,
                r->median_s > 0 ? "true" : "false", r->rel_err, r->median_s * 1e6,
                r->min_s * 1e6, r->gflops, r->pct_peak, r->samples, r->calls_per_sample);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* ---- main ---------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_matmul [out.json] [--threads N] [--min-size N] "
            "[--max-size N] [--backends a,b,...] [--kernel NAME] [--cpu-time] "
            "[--no-mnist] [--quick]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out_path = "bench-matmul.json";
    bench b = {.max_threads = (int)sysconf(_SC_NPROCESSORS_ONLN), .min_size = 16,
               .max_size = 2048};
    for (int be = 0; be < MT_BACKEND_COUNT; be++)
        b.use_backend[be] = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            b.max_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-size") && i + 1 < argc)
            b.min_size = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--max-size") && i + 1 < argc)
            b.max_size = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--kernel") && i + 1 < argc)
            setenv("MT_NATIVE_KERNEL", argv[++i], 1); // read at the first matmul
        else if (!strcmp(argv[i], "--backends") && i + 1 < argc) {
            char list[256];
            snprintf(list, sizeof list, "%s", argv[++i]);
            for (int be = 0; be < MT_BACKEND_COUNT; be++)
                b.use_backend[be] = false;
            for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
                mt_backend be;
                if (mt_backend_from_name(tok, &be) || !mt_backend_available(be))
                    die("--backends");
                b.use_backend[be] = true;
            }
        } else if (!strcmp(argv[i], "--cpu-time"))
            use_cpu_time = true;
        else if (!strcmp(argv[i], "--no-mnist"))
            b.no_mnist = true;
        else if (!strcmp(argv[i], "--quick"))
            b.quick = true;
        else if (argv[i][0] == '-')
            usage();
        else
            out_path = argv[i];
    }
    if (b.max_threads < 1 || use_cpu_time)
        b.max_threads = 1;
#if defined(__wasm__)
    b.max_threads = 1;
#endif

    // the native kernel first: a bad --kernel / MT_NATIVE_KERNEL stops here
    {
        mt_tensor *x = random_tensor(2, (int64_t[]){2, 2}), *y = NULL;
        if (mt_backend_set(MT_BACKEND_NATIVE) || mt_matmul(x, x, &y))
            die("the native kernel");
        mt_tensor_free(x);
        mt_tensor_free(y);
        snprintf(b.kernel, sizeof b.kernel, "%s", mt_backend_describe(MT_BACKEND_NATIVE));
    }
    cpu_model(b.cpu, sizeof b.cpu);
    isa_flags(b.isa, sizeof b.isa);
    cache_sizes(b.caches, sizeof b.caches);
    b.ghz = clock_ghz();
    peak_ymm_only = true;
    b.peak_ymm = peak_per_core();
    peak_ymm_only = false;
    b.peak1 = peak_per_core();
    b.peak_all = peak_all(b.max_threads);
    b.peak_native = peak_lanes == 16 && !strstr(b.kernel, "avx512") ? b.peak_ymm : b.peak1;
    if (b.ghz > 0) {
        b.fma_per_cycle = b.peak1 / (2.0 * peak_lanes * b.ghz);
        b.fma_per_cycle_ymm = b.peak_ymm / (2.0 * 8 * b.ghz);
    }
    printf("minitensor %s — matmul benchmark\n", MT_VERSION_STRING);
    printf("machine (figures from different machines are not comparable):\n");
    printf("  cpu:    %s, %ld online cpus\n", b.cpu, sysconf(_SC_NPROCESSORS_ONLN));
    printf("  isa:    %s\n  caches: %s\n", b.isa, b.caches);
    printf("  clock:  %.2f GHz (dependent adds)\n", b.ghz);
    printf("  FMA:    %.2f %d-lane FMA/cycle (%s), %.2f 8-lane (ymm) FMA/cycle\n",
           b.fma_per_cycle, peak_lanes, peak_isa, b.fma_per_cycle_ymm);
    printf("  FMA peak (%s loop): %.1f GFLOP/s per core, %.1f on %d threads\n", peak_isa,
           b.peak1, b.peak_all, b.max_threads);
    printf("  FMA units: %.0f x 256-bit; %s\n", b.fma_per_cycle_ymm,
           peak_lanes == 16 ? (b.fma_per_cycle > 1.5 ? "2 x 512-bit"
                                                     : "1 x 512-bit (or 2 halves)")
                            : "no 512-bit");
    printf("  native kernel: %s\n", b.kernel);
    if (b.peak_native != b.peak1)
        printf("  native kernel's peak (ymm loop): %.1f GFLOP/s per core: its %%peak\n",
               b.peak_native);
    printf("  timing: %s\n", use_cpu_time ? "thread CPU time (--cpu-time)" : "wall clock");
    printf("OPENBLAS_CORETYPE=%s\n", getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE")
                                                                : "(unset)");
    for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++)
        if (mt_backend_available((mt_backend)be))
            printf("  %-9s %s\n", mt_backend_name((mt_backend)be),
                   mt_backend_describe((mt_backend)be));

    shape shapes[32];
    int count = 0;
    for (int64_t n = 16; n <= b.max_size && count < 20; n *= 2) {
        if (n < b.min_size)
            continue;
        shape *s = &shapes[count++];
        *s = (shape){.m = n, .k = n, .n = n, .group = "square"};
        snprintf(s->name, sizeof s->name, "square-%lld", (long long)n);
    }
    static const int64_t mnist[][3] = {{1, 784, 128}, {1, 128, 10}, {256, 784, 128},
                                       {256, 128, 10}};
    for (int l = 0; l < 2 && !b.no_mnist; l++)
        for (int i = 0; i < 4; i++) {
            shape *s = &shapes[count++];
            *s = (shape){.m = mnist[i][0], .k = mnist[i][1], .n = mnist[i][2],
                         .bias = true, .relu = mnist[i][2] == 128, .w_out_in = l == 1,
                         .group = "mnist"};
            snprintf(s->name, sizeof s->name, "mnist-%lldx%lldx%lld%s",
                     (long long)s->m, (long long)s->k, (long long)s->n, l ? "-wT" : "");
        }

    // operands and references first, then backend by backend: switching
    // backends leaves the previous one's threads spinning for a while (BLAS
    // pools busy-wait after a call), so each backend × thread count runs as
    // one block after a pause, never interleaved with another pool.
    static operands ops[32];
    printf("\nvalidating against the reference (naive up to 512^3, else native "
           "cross-checked with a BLAS)...\n");
    for (int i = 0; i < count; i++) {
        operands_new(&shapes[i], &ops[i]);
        reference(&shapes[i], &ops[i]);
    }
    printf("\n%-20s %-9s %3s %12s %9s %7s %9s\n", "shape (MxKxN)", "backend", "thr",
           "median us", "GFLOP/s", "%peak", "rel.err");
    for (int be = MT_BACKEND_NAIVE; be < MT_BACKEND_COUNT; be++) {
        if (!mt_backend_available((mt_backend)be) || !b.use_backend[be])
            continue;
        int max_t = be == MT_BACKEND_NAIVE ? 1 : b.max_threads;
        for (int t = 1; t <= max_t; t++) {
            nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
            for (int i = 0; i < count; i++) {
                if (be == MT_BACKEND_NAIVE && flops(&shapes[i]) > 2.0 * 256 * 256 * 256)
                    continue;
                measure(&b, &shapes[i], &ops[i], (mt_backend)be, t);
            }
        }
    }
    for (int i = 0; i < count; i++)
        operands_free(&ops[i]);
    print_table(&b, shapes, count);

    FILE *f = fopen(out_path, "w");
    if (!f) {
        perror(out_path);
        return 1;
    }
    write_json(&b, f);
    if (fclose(f) != 0) {
        perror(out_path);
        return 1;
    }
    printf("\nwrote %s\n", out_path);
    free(b.results);
    return 0;
}
