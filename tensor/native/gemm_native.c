/* gemm_native.c — the native backend: kernel choice, blocking, threads.
 *
 * See native.h for the loop structure. This file owns the decisions:
 * which micro-kernel (once, from the CPU), which path per call (gemv,
 * unpacked small problem, packed blocked), how to split across threads,
 * and the per-thread packing buffers that make repeated calls allocation
 * free after the first one.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"

#if !defined(__wasm__) || defined(__wasm_threads__)
#define MT_NATIVE_THREADS 1
#include <pthread.h>
#endif

/* ---- kernel choice --------------------------------------------------------- */

static const mt_native_kernel *const kernels[] = {
#ifdef MT_NATIVE_AVX512
    &mt_native_kernel_avx512,
#endif
#ifdef MT_NATIVE_AVX2
    &mt_native_kernel_avx2,
#endif
#ifdef __wasm_simd128__
    &mt_native_kernel_wasm128,
#endif
    &mt_native_kernel_generic,
};
enum { KERNEL_COUNT = sizeof kernels / sizeof kernels[0] };

static _Atomic(const mt_native_kernel *) current_kernel;

static bool kernel_runs_here(const mt_native_kernel *k)
{
    return !k->supported || k->supported();
}

static const mt_native_kernel *kernel_by_name(const char *name)
{
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (strcmp(kernels[i]->name, name) == 0 && kernel_runs_here(kernels[i]))
            return kernels[i];
    return NULL;
}

static const mt_native_kernel *kernel_auto(void)
{
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (kernel_runs_here(kernels[i]))
            return kernels[i];
    return &mt_native_kernel_generic;
}

const mt_native_kernel *mt_gemm_native_kernel(void)
{
    const mt_native_kernel *k =
        atomic_load_explicit(&current_kernel, memory_order_acquire);
    if (!k) {
        const char *env = getenv("MT_NATIVE_KERNEL");
        k = env && *env && strcmp(env, "auto") ? kernel_by_name(env) : NULL;
        if (!k)
            k = kernel_auto();
        atomic_store_explicit(&current_kernel, k, memory_order_release);
    }
    return k;
}

bool mt_gemm_native_force_kernel(const char *name)
{
    const mt_native_kernel *k =
        !name || !strcmp(name, "auto") ? kernel_auto() : kernel_by_name(name);
    if (!k)
        return false;
    atomic_store_explicit(&current_kernel, k, memory_order_release);
    return true;
}

const char *const *mt_gemm_native_kernel_names(void)
{
    static const char *names[KERNEL_COUNT + 1];
    int n = 0;
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (kernel_runs_here(kernels[i]))
            names[n++] = kernels[i]->name;
    names[n] = NULL;
    return names;
}

/* ---- per-thread packing buffers -------------------------------------------- */

typedef struct buffers {
    float *a, *b;
    size_t a_cap, b_cap; // in floats
} buffers;

static _Thread_local buffers tls_buffers;

static void buffers_free(buffers *bufs)
{
    mt_dealloc(bufs->a);
    mt_dealloc(bufs->b);
    *bufs = (buffers){0};
}

#ifdef MT_NATIVE_THREADS
static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;

static void buffers_at_exit(void *p) { buffers_free(p); }
static void buffers_key_init(void)
{
    (void)pthread_key_create(&buffers_key, buffers_at_exit);
}
#endif

static float *buffer_grow(float **p, size_t *cap, size_t floats)
{
    if (*cap >= floats)
        return *p;
#ifdef MT_NATIVE_THREADS
    if (!tls_buffers.a && !tls_buffers.b) { // first buffer of this thread
        pthread_once(&buffers_once, buffers_key_init);
        pthread_setspecific(buffers_key, &tls_buffers);
    }
#endif
    mt_dealloc(*p);
    *cap = 0;
    *p = mt_alloc(floats * sizeof(float), 64);
    if (*p)
        *cap = floats;
    return *p;
}

float *mt_native_buffer_a(size_t floats)
{
    return buffer_grow(&tls_buffers.a, &tls_buffers.a_cap, floats);
}

float *mt_native_buffer_b(size_t floats)
{
    return buffer_grow(&tls_buffers.b, &tls_buffers.b_cap, floats);
}

void mt_gemm_native_release(void)
{
    mt_pool_shutdown(); // workers free their buffers as they exit
    buffers_free(&tls_buffers);
}

/* ---- helpers ------------------------------------------------------------------ */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* Split `total` into ceil(total/block) blocks of equal size (rounded up to
 * `mult`), so the last block is not a sliver: k = 784, KC = 256 gives
 * 4 × 196 rather than 3 × 256 + 16. */
static int64_t balanced_block(int64_t total, int64_t block, int64_t mult)
{
    if (total <= block)
        return total;
    return min64(block, round_up(ceil_div(total, ceil_div(total, block)), mult));
}

static int epilogue_flags(const mt_gemm *g)
{
    return (g->bias ? MT_TILE_BIAS : 0) |
           (g->act == MT_ACTIVATION_RELU ? MT_TILE_RELU : 0);
}

// C = act(bias) or 0: the k == 0 product
static void fill_epilogue(const mt_gemm *g)
{
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            float v = g->bias ? g->bias[j] : 0.0f;
            if (g->act == MT_ACTIVATION_RELU && v < 0.0f)
                v = 0.0f;
            g->c[i * g->c_rs + j * g->c_cs] = v;
        }
}

static void pack_a(const mt_native_kernel *kr, int64_t m, int64_t k,
                   const float *a, int64_t a_rs, int64_t a_cs, float *dst)
{
    if (kr->pack_a)
        kr->pack_a(m, k, a, a_rs, a_cs, dst);
    else
        mt_native_pack_a_generic(m, k, a, a_rs, a_cs, dst, kr->mr);
}

static void pack_b(const mt_native_kernel *kr, int64_t k, int64_t n,
                   const float *b, int64_t b_rs, int64_t b_cs, float *dst)
{
    if (kr->pack_b)
        kr->pack_b(k, n, b, b_rs, b_cs, dst);
    else
        mt_native_pack_b_generic(k, n, b, b_rs, b_cs, dst, kr->nr);
}

/* ---- the blocked path -----------------------------------------------------------
 * Packing costs a pass over the operand; it pays off when the packed panels
 * are reused many times from cache, and it is needed when the operand's
 * layout does not suit the micro-kernel (B must have contiguous rows) or
 * when a large operand would thrash the caches/TLB through its strides.
 * Measured on Zen 4 (AVX-512 8×32): reading both A and B in place wins
 * while B fits in half of L2 (256×256×256: 109 vs 100 GFLOP/s packed;
 * 256×784×128: 113 vs 102); from n ≈ 512 packing B wins, and from n ≈ 1024
 * packing A is as good as reading it in place and safer for odd strides. */
enum { L2_HALF_BYTES = 512 * 1024, PACK_A_MIN_N = 1024, WHOLE_K_MAX = 1024 };

static bool want_pack_b(const mt_gemm *g)
{
    return g->b_cs != 1 || (size_t)g->k * (size_t)g->n * sizeof(float) > L2_HALF_BYTES;
}

static bool want_pack_a(const mt_gemm *g)
{
    return (g->a_rs != 1 && g->a_cs != 1) || g->n >= PACK_A_MIN_N;
}

// false if a packing buffer could not be allocated (nothing was written)
static bool gemm_blocked(const mt_native_kernel *kr, const mt_gemm *g)
{
    const int64_t m = g->m, n = g->n, k = g->k;
    const int MR = kr->mr, NR = kr->nr;
    bool packa = want_pack_a(g), packb = want_pack_b(g);
    int64_t kc0 = kr->kc, mc0 = kr->mc, nc0 = kr->nc;
    if (!packa && !packb && k <= WHOLE_K_MAX) // one pass over C, no re-reads
        kc0 = k;
#ifdef MT_NATIVE_TUNE
    if (getenv("KC")) kc0 = atoi(getenv("KC"));
    if (getenv("MC")) mc0 = atoi(getenv("MC"));
    if (getenv("NC")) nc0 = atoi(getenv("NC"));
    if (getenv("PACKA")) packa = atoi(getenv("PACKA")) || (g->a_rs != 1 && g->a_cs != 1);
    if (getenv("PACKB")) packb = atoi(getenv("PACKB")) || g->b_cs != 1;
#endif
    const int64_t KC = balanced_block(k, kc0, 8);
    const int64_t MC = balanced_block(m, mc0, MR);
    const int64_t NC = balanced_block(n, nc0, NR);
    const int last_flags = epilogue_flags(g);

    float *abuf = NULL, *bbuf;
    if (packa && !(abuf = mt_native_buffer_a((size_t)(round_up(MC, MR) * KC))))
        return false;
    bbuf = mt_native_buffer_b((size_t)(KC * (packb ? round_up(NC, NR) : NR)));
    if (!bbuf)
        return false;

    mt_tile t = {0};
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = min64(NC, n - jc);
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = min64(KC, k - pc);
            const float *bsrc = g->b + pc * g->b_rs + jc * g->b_cs;
            const int64_t nc_full = packb ? nc : nc / NR * NR;
            if (packb)
                pack_b(kr, kc, nc, bsrc, g->b_rs, g->b_cs, bbuf);
            else if (nc_full < nc) // the ragged last panel
                pack_b(kr, kc, nc - nc_full, bsrc + nc_full, g->b_rs, 1, bbuf);
            t.k = kc;
            t.flags = (pc > 0 ? MT_TILE_ACCUM : 0) |
                      (pc + kc == k ? last_flags : 0);
            for (int64_t ic = 0; ic < m; ic += MC) {
                const int64_t mc = min64(MC, m - ic);
                const float *asrc = g->a + ic * g->a_rs + pc * g->a_cs;
                if (packa) {
                    pack_a(kr, mc, kc, asrc, g->a_rs, g->a_cs, abuf);
                    t.a_rs = 1;
                    t.a_cs = MR;
                    t.flags |= MT_TILE_PACKED_A;
                } else {
                    t.a_rs = g->a_rs;
                    t.a_cs = g->a_cs;
                    t.flags &= ~MT_TILE_PACKED_A;
                }
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    t.n = (int)min64(NR, nc - jr);
                    if (packb) {
                        t.b = bbuf + jr * kc;
                        t.b_rs = NR;
                    } else if (jr < nc_full) {
                        t.b = bsrc + jr;
                        t.b_rs = g->b_rs;
                    } else {
                        t.b = bbuf;
                        t.b_rs = NR;
                    }
                    t.bias = g->bias ? g->bias + jc + jr : NULL;
                    float *c = g->c + ic * g->c_rs + (jc + jr) * g->c_cs;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        t.m = (int)min64(MR, mc - ir);
                        t.a = packa ? abuf + ir * kc : asrc + ir * g->a_rs;
                        t.c = c + ir * g->c_rs;
                        t.c_rs = g->c_rs;
                        t.c_cs = g->c_cs;
                        kr->tile(&t);
                    }
                }
            }
        }
    }
    return true;
}

/* ---- one thread's whole problem ------------------------------------------------ */

/* Up to this many rows, products with contiguous B columns (transposed
 * weights) are dot products over B in place rather than a packed GEMM. */
enum { GEMV_MAX_M = 1, DOT_MAX_M = 4 };

static void gemm_serial(const mt_native_kernel *kr, const mt_gemm *g)
{
    if (g->m == 0 || g->n == 0)
        return;
    if (g->k == 0) {
        fill_epilogue(g);
        return;
    }
    const int flags = epilogue_flags(g);
    if (g->m <= GEMV_MAX_M && g->b_cs == 1) {
        mt_gemv_fn gemv = kr->gemv ? kr->gemv : mt_native_gemv_generic;
        for (int64_t i = 0; i < g->m; i++)
            gemv(g->n, g->k, g->a + i * g->a_rs, g->a_cs, g->b, g->b_rs,
                 g->c + i * g->c_rs, g->c_cs, g->bias, flags);
        return;
    }
    int64_t dot_max_m = DOT_MAX_M;
#ifdef MT_NATIVE_TUNE
    if (getenv("DOTM")) dot_max_m = atoi(getenv("DOTM"));
#endif
    if (g->m <= dot_max_m && g->a_cs == 1 && g->b_rs == 1) {
        mt_dot_fn dot = kr->dot ? kr->dot : mt_native_dot_generic;
        dot(g->m, g->n, g->k, g->a, g->a_rs, g->b, g->b_cs, g->c, g->c_rs,
            g->c_cs, g->bias, flags);
        return;
    }
    if (!gemm_blocked(kr, g))
        mt_gemm_naive(g); // no memory for packing: slow but correct
}

/* ---- threads ----------------------------------------------------------------------
 * The problem is cut into `parts` independent slices of C — along N in
 * whole NR panels when N is wide enough, else along M in whole MR panels —
 * and each thread runs the serial algorithm on its slice with its own
 * buffers. No thread waits for another until the end. */
enum { MIN_FMAS_PER_THREAD = 1 << 17 };

typedef struct split_job {
    const mt_native_kernel *kr;
    const mt_gemm *g;
    int parts;
    bool along_n;
} split_job;

static void split_part(void *arg, int index)
{
    const split_job *job = arg;
    mt_gemm s = *job->g;
    const int64_t total = job->along_n ? s.n : s.m;
    const int64_t unit = job->along_n ? job->kr->nr : job->kr->mr;
    const int64_t units = ceil_div(total, unit);
    const int64_t lo = units * index / job->parts * unit;
    const int64_t hi = min64(total, units * (index + 1) / job->parts * unit);
    if (lo >= hi)
        return;
    if (job->along_n) {
        s.n = hi - lo;
        s.b += lo * s.b_cs;
        s.c += lo * s.c_cs;
        if (s.bias)
            s.bias += lo;
    } else {
        s.m = hi - lo;
        s.a += lo * s.a_rs;
        s.c += lo * s.c_rs;
    }
    gemm_serial(job->kr, &s);
}

static void native_sgemm(const mt_gemm *g, int threads)
{
    const mt_native_kernel *kr = mt_gemm_native_kernel();
    if (threads > 1 && g->m > 0 && g->n > 0 && g->k > 0) {
        const int64_t fmas = g->m * g->n * g->k;
        const int64_t n_units = ceil_div(g->n, kr->nr);
        const int64_t m_units = ceil_div(g->m, kr->mr);
        // N when it splits evenly enough, or when M is a vector
        const bool along_n = n_units >= 4 * threads || n_units >= m_units ||
                             g->m <= DOT_MAX_M;
        int64_t parts = min64(threads, fmas / MIN_FMAS_PER_THREAD);
        parts = min64(parts, along_n ? n_units : m_units);
        if (parts > 1) {
            split_job job = {kr, g, (int)parts, along_n};
            if (mt_pool_run(split_part, &job, (int)parts))
                return;
        }
    }
    gemm_serial(kr, g);
}

static const char *native_describe(void)
{
    return mt_gemm_native_kernel()->description;
}

const mt_gemm_backend mt_gemm_backend_native = {
    .id = MT_BACKEND_NATIVE,
    .accepts = NULL,
    .sgemm = native_sgemm,
    .describe = native_describe,
};
