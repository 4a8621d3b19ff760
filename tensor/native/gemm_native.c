/* gemm_native.c — the native backend: kernel choice, blocking, threads.
 *
 * See native.h for the loop structure. This file owns the decisions:
 * which micro-kernel (once, from the CPU), which path per call (gemv, dot
 * products, narrow C, blocked with or without packing), how to split
 * across threads, and the packing buffers that make repeated calls
 * allocation-free after the first one.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !(defined(__wasm__) && !defined(__wasm_threads__))
#define HAVE_THREADS 1 // wasm32 without the threads proposal has none
#include <pthread.h>
#endif

#include "../internal.h"
#include "native.h"

/* ---- kernel choice --------------------------------------------------------- */

static const mt_native_kernel *const kernels[] = {
#ifdef MT_NATIVE_AVX512_12X32
    &mt_native_kernel_avx512_12x32,
#endif
#ifdef MT_NATIVE_AVX512
    &mt_native_kernel_avx512,
#endif
#ifdef MT_NATIVE_AVX2
    &mt_native_kernel_avx2,
#endif
#ifdef __wasm_simd128__
    &mt_native_kernel_wasm128,
#else
    /* the portable kernel runs on any CPU; a SIMD128 module leaves it out
     * (its kernel runs wherever the module runs: 2.6 KB less to download) */
    &mt_native_kernel_generic,
#endif
};
enum { KERNEL_COUNT = sizeof kernels / sizeof kernels[0] };

static bool kernel_runs_here(const mt_native_kernel *k)
{
    return !k->supported || k->supported();
}

/* A kernel answers to its name, and to the part before a '+' ("avx2" for
 * "avx2+fma"). */
static bool kernel_is_named(const mt_native_kernel *k, const char *name)
{
    size_t len = strcspn(k->name, "+");
    return strcmp(k->name, name) == 0 ||
           (strlen(name) == len && strncmp(k->name, name, len) == 0);
}

static const mt_native_kernel *kernel_by_name(const char *name)
{
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (kernel_is_named(kernels[i], name) && kernel_runs_here(kernels[i]))
            return kernels[i];
    return NULL;
}

static const mt_native_kernel *auto_kernel; // set once by machine_init

static const mt_native_kernel *kernel_auto_find(void)
{
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (kernel_runs_here(kernels[i]) && (!kernels[i]->auto_ok || kernels[i]->auto_ok()))
            return kernels[i];
    return kernels[KERNEL_COUNT - 1];
}

/* ---- the machine, read once: caches, blocking, MT_NATIVE_KERNEL ------------
 * The blocking rule (native.h has the loop nest), from the caches the CPU
 * reports:
 *   KC: the A micro-panel MR×KC, which stays in L1d while the kernel sweeps
 *       the B block's micro-panels, fills half of L1d;
 *   NC: the B block KC×NC, whose micro-panels stream from L2, fills half of
 *       L2 (the A micro-panel and C's tiles pass through the other half);
 *   MC: the A block MC×KC fills half of this CPU's share of L3 (each of its
 *       micro-panels is loaded once per B block, so it need not be closer).
 * This keeps the broadcast operand (A) in L1 and streams the vector operand
 * (B, two or more vectors per k), as OpenBLAS's and BLIS's AVX-512 kernels
 * do. The other way round (B micro-panel in L1, A block in L2) cannot hold
 * a 12×32 kernel's B micro-panel (KC×32 floats, 64 KB at KC 512) in a 48 KB
 * L1d. On Emerald Rapids (one core, 3 alternated runs of 40 products of
 * 1024³ and 8 of 2048³, best of each) this order ran 157.3-157.8 and
 * 157.1-158.5 GFLOP/s, the other 150.2-153.5 and 149.3-150.5 (peak 178).
 * B is packed again for every MC block, hence the large MC: with MC 1020,
 * 1024³ packed it twice (pack_b 4 % of the time) and ran 154-155 GFLOP/s.
 * The A buffer, MC×KC, is never larger than A itself.
 * On Zen 4 (L1d 32K, 8×32, the B-in-L1 order) KC = 128 / 256 / 512 gave
 * 86 / 93 / 97 GFLOP/s. A B block of all of L2 is too large: AVX2 6×16 at
 * KC 1024 with NC 512 (2 MB of a 2 MB L2) ran 71 GFLOP/s, with NC 256 81.
 * Clamped to KC 64..1024 (below 64 the C tile's reload per block counts;
 * past 1024 nothing is gained), MC to 16..4096 rows and NC to NR..8192
 * columns. A cache size of 0 (unknown: wasm32) keeps the kernel's own
 * constant for that block. */
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

mt_native_blocking mt_native_blocking_for(const mt_native_kernel *k,
                                          mt_native_caches c)
{
    mt_native_blocking b = {.mc = k->mc, .kc = k->kc, .nc = k->nc};
    const int64_t f = (int64_t)sizeof(float);
    if (c.l1d > 0)
        b.kc = (int)(clamp64(c.l1d / 2 / (k->mr * f), 64, 1024) / 8 * 8);
    if (c.l2 > 0)
        b.nc = (int)clamp64(c.l2 / 2 / (b.kc * f) / k->nr * k->nr, k->nr,
                            8192 / k->nr * k->nr);
    if (c.l3 > 0)
        b.mc = (int)clamp64(c.l3 / 2 / (b.kc * f) / k->mr * k->mr,
                            (16 + k->mr - 1) / k->mr * k->mr, 4096 / k->mr * k->mr);
    return b;
}

static mt_native_caches machine_caches;
static mt_native_blocking kernel_blocking[KERNEL_COUNT];
static char kernel_describe[KERNEL_COUNT][160];
static int64_t b_in_place_max_bytes; // B read in place while its span is below
static const mt_native_kernel *env_kernel;
static bool env_kernel_bad; // MT_NATIVE_KERNEL names no kernel this CPU runs
static const char *env_kernel_value;
static const char *runnable_names[KERNEL_COUNT + 1]; // mt_gemm_native_kernel_names

/* The kernels, read at the first matmul. */
static void machine_init(void)
{
    auto_kernel = kernel_auto_find();
    int named = 0;
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (kernel_runs_here(kernels[i]))
            runnable_names[named++] = kernels[i]->name;
    const char *env = getenv("MT_NATIVE_KERNEL");
    if (env && *env && strcmp(env, "auto")) {
        env_kernel = kernel_by_name(env);
        env_kernel_bad = !env_kernel;
        env_kernel_value = env;
    }
}

/* The caches and the blocking, read at the first product that is blocked:
 * a program whose products are all gemvs and dot products (`mnist
 * predict`, batch 1) never reads them (the sysfs files took 50-110 us of
 * its ~0.6 ms on the Emerald Rapids VM). */
static void caches_init(void)
{
    machine_caches = mt_native_caches_detect();
    b_in_place_max_bytes = machine_caches.l2 > 0 ? machine_caches.l2 / 2 : 512 * 1024;
    for (int i = 0; i < KERNEL_COUNT; i++) {
        const mt_native_blocking b = kernel_blocking[i] =
            mt_native_blocking_for(kernels[i], machine_caches);
        if (machine_caches.l1d > 0)
            snprintf(kernel_describe[i], sizeof kernel_describe[i],
                     "%s (MC %d KC %d NC %d; L1d %lldK L2 %lldK L3 %lldK/cpu)",
                     kernels[i]->description, b.mc, b.kc, b.nc,
                     (long long)(machine_caches.l1d >> 10),
                     (long long)(machine_caches.l2 >> 10),
                     (long long)(machine_caches.l3 >> 10));
        else
            snprintf(kernel_describe[i], sizeof kernel_describe[i],
                     "%s (MC %d KC %d NC %d; caches unknown)",
                     kernels[i]->description, b.mc, b.kc, b.nc);
    }
}

#ifdef HAVE_THREADS
/* any thread may do the first matmul: read the machine exactly once */
static pthread_once_t machine_once = PTHREAD_ONCE_INIT, caches_once = PTHREAD_ONCE_INIT;
static void machine_ready(void) { pthread_once(&machine_once, machine_init); }
static void caches_ready(void) { pthread_once(&caches_once, caches_init); }
#else
static bool machine_done, caches_done; // wasm32 without threads: no race
static void machine_ready(void)
{
    if (!machine_done) {
        machine_init();
        machine_done = true;
    }
}
static void caches_ready(void)
{
    if (!caches_done) {
        caches_init();
        caches_done = true;
    }
}
#endif

static int kernel_index(const mt_native_kernel *kr)
{
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (kernels[i] == kr)
            return i;
    return KERNEL_COUNT - 1; // the last kernel runs on any CPU
}

mt_native_caches mt_gemm_native_caches(void)
{
    caches_ready();
    return machine_caches;
}

mt_native_blocking mt_gemm_native_blocking(const mt_native_kernel *kr)
{
    caches_ready();
    return kernel_blocking[kernel_index(kr)];
}

static const mt_native_kernel *kernel_auto(void)
{
    machine_ready();
    return auto_kernel;
}

static _Atomic(const mt_native_kernel *) current_kernel;

const mt_native_kernel *mt_gemm_native_kernel(void)
{
    const mt_native_kernel *k =
        atomic_load_explicit(&current_kernel, memory_order_acquire);
    if (!k) {
        machine_ready();
        k = env_kernel ? env_kernel : kernel_auto();
        atomic_store_explicit(&current_kernel, k, memory_order_release);
    }
    return k;
}

mt_status mt_gemm_native_env_check(void)
{
    machine_ready();
    if (!env_kernel_bad)
        return MT_OK;
    char names[128] = "";
    for (int i = 0; i < KERNEL_COUNT; i++)
        if (kernel_runs_here(kernels[i]))
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     names[0] ? "|" : "", kernels[i]->name);
    return mt_fail(MT_ERR_UNSUPPORTED,
                   "matmul: MT_NATIVE_KERNEL=\"%s\" is not a kernel this CPU runs "
                   "(auto|%s)", env_kernel_value, names);
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
    machine_ready();
    return runnable_names;
}

/* ---- packing buffers -----------------------------------------------------------
 * Grown on demand with the library allocator and kept, so repeated matmuls
 * allocate nothing after the first. A serial call uses its thread's scratch
 * (memory.c: freed when the thread exits); part i of a pooled job uses the
 * pool's set i, whichever thread claims the part — so a 2-thread call
 * allocates nothing after the first 2-thread call, however the parts were
 * spread. */
typedef struct buffers {
    float *a, *b;
    size_t a_cap, b_cap; // in floats
} buffers;

enum { MAX_PARTS = 32 }; // the pool runs at most 32 parts
static buffers part_buffers[MAX_PARTS]; // used only under the pool's job lock

static void buffers_free(buffers *bufs)
{
    mt_dealloc(bufs->a);
    mt_dealloc(bufs->b);
    *bufs = (buffers){0};
}

static float *buffer_grow(float **p, size_t *cap, size_t floats)
{
    if (*cap >= floats)
        return *p;
    mt_dealloc(*p);
    *cap = 0;
    *p = mt_alloc(floats * sizeof(float), 64);
    if (*p)
        *cap = floats;
    return *p;
}

void mt_gemm_native_release(void)
{
    mt_pool_shutdown();
    for (int i = 0; i < MAX_PARTS; i++)
        buffers_free(&part_buffers[i]);
    mt_scratch_free(MT_SCRATCH_NATIVE_A);
    mt_scratch_free(MT_SCRATCH_NATIVE_B);
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
        for (int64_t j = 0; j < g->n; j++)
            g->c[i * g->c_rs + j * g->c_cs] = g->bias ? g->bias[j] : 0.0f;
    mt_gemm_activate(g, g->c, g->m, g->n);
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
 * layout does not suit the micro-kernel (B must have contiguous rows; A
 * needs one unit stride to stream well) or when B is spread over too much
 * memory to stay cached (its row pitch, not just its width, counts: a
 * column slice of a wide matrix has a large pitch). Measured on Zen 4
 * (AVX-512 8×32, one core): B in place wins while its span fits in half of
 * L2 (256³: 112 vs 100 GFLOP/s packed; 256×784×128: 115 vs 102); beyond
 * that packing B wins (512³: 108 vs 80). A in place (8 row streams) is as
 * fast as packed A up to 2048³ and never has to be re-packed per thread.
 * A kernel with a narrow tile may want both packed from pack_min_m rows
 * on whatever the layout (the wasm kernel: kernel_wasm128.c says why). With
 * A's micro-panel held in L1 (the loop order above), A in place costs
 * nothing more, unless its rows share an L1 set: 12×32 (pack_aliased_a)
 * packs an A whose pitch is a multiple of an L1d way. On Emerald Rapids, one
 * core, A and B in place against both packed (the rule before, from 64
 * rows): 256³ 161-162 vs 150 GFLOP/s, 512³ 158-159 vs 151-152, MNIST's
 * 256×784×128 306-315 vs 362 us; 1024³ with A in place at its 4 KB pitch
 * 150-151 against 153-157 packed. A B with row stride 0 (a broadcast) is
 * always packed: kernels may step their k loop on the B pointer. */
enum { WHOLE_K_MAX = 1024 };

static bool by_rows(const mt_native_kernel *kr, const mt_gemm *g)
{
    return kr->pack_min_m > 0 && g->m >= kr->pack_min_m;
}

static bool want_pack_b(const mt_native_kernel *kr, const mt_gemm *g)
{
    caches_ready();
    return g->b_cs != 1 || g->b_rs == 0 || by_rows(kr, g) ||
           (int64_t)((size_t)g->k * (size_t)g->b_rs * sizeof(float)) > b_in_place_max_bytes;
}

/* Rows of A a multiple of an L1d way apart (its size over its
 * associativity: 4 KB for 32 KB 8-way and 48 KB 12-way), read in place,
 * fall in one set. */
static bool want_pack_a(const mt_native_kernel *kr, const mt_gemm *g)
{
    if (g->a_rs != 1 && g->a_cs != 1)
        return true;
    if (g->n < 4 * kr->nr)
        return false;
    if (by_rows(kr, g))
        return true;
    if (!kr->pack_aliased_a || g->a_cs != 1 || g->m <= kr->mr)
        return false;
#ifdef __wasm__
    return false; // the caches are unknown there (native.h): no way size
#else
    caches_ready(); // only here: a program of gemvs never reads the caches
    const int64_t way = machine_caches.l1d_way;
    return way > 0 && (int64_t)((size_t)g->a_rs * sizeof(float)) % way == 0;
#endif
}

// false if a packing buffer could not be allocated (nothing was written)
static bool gemm_blocked(const mt_native_kernel *kr, const mt_gemm *g,
                         buffers *bufs)
{
    const int64_t m = g->m, n = g->n, k = g->k;
    const int MR = kr->mr, NR = kr->nr;
    const bool packa = want_pack_a(kr, g), packb = want_pack_b(kr, g);
    const mt_native_blocking blk = mt_gemm_native_blocking(kr);
    int64_t kc0 = blk.kc, mc0 = blk.mc, nc0 = blk.nc;
    if (!packa && !packb && k <= WHOLE_K_MAX) // one pass over C, no re-reads
        kc0 = k;
    const int64_t KC = balanced_block(k, kc0, 8);
    const int64_t MC = balanced_block(m, mc0, MR);
    const int64_t NC = balanced_block(n, nc0, NR);
    const int last_flags = epilogue_flags(g);

    float *abuf = NULL, *bbuf;
    if (packa && !(abuf = buffer_grow(&bufs->a, &bufs->a_cap,
                                      (size_t)(round_up(MC, MR) * KC))))
        return false;
    bbuf = buffer_grow(&bufs->b, &bufs->b_cap,
                       (size_t)(KC * (packb ? round_up(NC, NR) : NR)));
    if (!bbuf)
        return false;

    mt_tile t = {.a_rs = packa ? 1 : g->a_rs, .a_cs = packa ? MR : g->a_cs,
                 .c_rs = g->c_rs, .c_cs = g->c_cs};
    for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = min64(KC, k - pc);
        t.k = kc;
        t.flags = (pc > 0 ? MT_TILE_ACCUM : 0) | (pc + kc == k ? last_flags : 0) |
                  (packa ? MT_TILE_PACKED_A : 0);
        for (int64_t ic = 0; ic < m; ic += MC) {
            const int64_t mc = min64(MC, m - ic);
            const float *asrc = g->a + ic * g->a_rs + pc * g->a_cs;
            if (packa)
                pack_a(kr, mc, kc, asrc, g->a_rs, g->a_cs, abuf);
            const float *a_rows = packa ? abuf : asrc;
            const int64_t a_row_step = packa ? kc : g->a_rs; // per row of C
            /* A in place: the rows dealt evenly over the fewest tiles (13
             * rows: 7 + 6, not 12 + 1; see conv_rows.c's sweep); packed
             * panels are MR rows, zero-padded */
            const int64_t tiles = ceil_div(mc, MR);
            const int64_t rows = packa ? MR : mc / tiles, more = packa ? 0 : mc % tiles;
            for (int64_t jc = 0; jc < n; jc += NC) {
                const int64_t nc = min64(NC, n - jc);
                const float *bsrc = g->b + pc * g->b_rs + jc * g->b_cs;
                const int64_t nc_full = packb ? nc : nc / NR * NR;
                if (packb)
                    pack_b(kr, kc, nc, bsrc, g->b_rs, g->b_cs, bbuf);
                else if (nc_full < nc) // the ragged last panel
                    pack_b(kr, kc, nc - nc_full, bsrc + nc_full, g->b_rs, 1, bbuf);
                // B's panels: packed, or in place with the ragged last one packed
                const float *b_panels = packb ? bbuf : bsrc;
                const int64_t b_step = packb ? kc : 1, b_rs = packb ? NR : g->b_rs;
                for (int64_t q = 0, ir = 0; q < tiles; q++, ir += t.m) {
                    t.m = (int)min64(rows + (q < more), mc - ir);
                    t.a = a_rows + ir * a_row_step;
                    for (int64_t jr = 0; jr < nc; jr += NR) {
                        t.n = (int)min64(NR, nc - jr);
                        const bool ragged = jr >= nc_full;
                        t.b = ragged ? bbuf : b_panels + jr * b_step;
                        t.b_rs = ragged ? NR : b_rs;
                        t.bias = g->bias ? g->bias + jc + jr : NULL;
                        t.c = g->c + (ic + ir) * g->c_rs + (jc + jr) * g->c_cs;
                        kr->tile(&t);
                    }
                }
            }
        }
    }
    return true;
}

/* ---- one thread's whole problem ------------------------------------------------ */

/* C = act(A·B + bias) for a narrow C (n <= NR/2, e.g. the 10 logits of a
 * classifier): computed as Cᵀ = Bᵀ·Aᵀ, so the long M side runs along the
 * kernel's NR and the short N side along MR, wasting far less of each tile
 * (256×128×10: 20 µs -> 7 µs with 8×32). The bias is per row of Cᵀ, so the
 * epilogue is a second pass over the (small) C. */
static void gemm_narrow(const mt_native_kernel *kr, const mt_gemm *g,
                        buffers *bufs)
{
    mt_gemm t = {
        .m = g->n, .n = g->m, .k = g->k,
        .a = g->b, .a_rs = g->b_cs, .a_cs = g->b_rs,
        .b = g->a, .b_rs = g->a_cs, .b_cs = g->a_rs,
        .c = g->c, .c_rs = g->c_cs, .c_cs = g->c_rs,
        .bias = NULL, .act = MT_ACTIVATION_NONE,
    };
    if (!gemm_blocked(kr, &t, bufs)) {
        mt_gemm_naive(g);
        return;
    }
    if (!g->bias && g->act == MT_ACTIVATION_NONE)
        return;
    const int flags = epilogue_flags(g);
    for (int64_t i = 0; i < g->m; i++) {
        float *c = g->c + i * g->c_rs;
        for (int64_t j = 0; j < g->n; j++) {
            float v = c[j * g->c_cs];
            if (flags & MT_TILE_BIAS)
                v += g->bias[j];
            if ((flags & MT_TILE_RELU) && v < 0.0f)
                v = 0.0f;
            c[j * g->c_cs] = v;
        }
    }
}

/* One row with contiguous B rows is a gemv; up to kr->dot_max_m rows with
 * contiguous B columns (transposed weights) are dot products over B in
 * place rather than a packed GEMM (crossover measured per kernel: 4 rows
 * for AVX-512 8×32, 12 for AVX2 6×16, for K = 784, N = 128). */
enum { GEMV_MAX_M = 1 };

// g->act is NONE or RELU here (gemm_serial applies the others)
static void gemm_paths(const mt_native_kernel *kr, const mt_gemm *g,
                       buffers *bufs)
{
    const int flags = epilogue_flags(g);
    if (g->m <= GEMV_MAX_M && g->b_cs == 1) {
        mt_gemv_fn gemv = kr->gemv ? kr->gemv : mt_native_gemv_generic;
        for (int64_t i = 0; i < g->m; i++)
            gemv(g->n, g->k, g->a + i * g->a_rs, g->a_cs, g->b, g->b_rs,
                 g->c + i * g->c_rs, g->c_cs, g->bias, flags);
        return;
    }
    if (g->m <= kr->dot_max_m && g->a_cs == 1 && g->b_rs == 1) {
        mt_dot_fn dot = kr->dot ? kr->dot : mt_native_dot_generic;
        dot(g->m, g->n, g->k, g->a, g->a_rs, g->b, g->b_cs, g->c, g->c_rs,
            g->c_cs, g->bias, flags);
        return;
    }
    if (g->n <= kr->nr / 2 && g->m >= 4 * kr->mr) {
        gemm_narrow(kr, g, bufs);
        return;
    }
    if (!gemm_blocked(kr, g, bufs))
        mt_gemm_naive(g); // no memory for packing: slow but correct
}

/* ReLU is fused into the kernels' stores (MT_TILE_RELU, a vector max); any
 * other activation runs through its row loop (unary.c, via g->act_rows)
 * over this slice of C once it is finished — the same numbers as
 * mt_activation_apply. */
static void gemm_serial(const mt_native_kernel *kr, const mt_gemm *g,
                        buffers *bufs)
{
    if (g->m == 0 || g->n == 0)
        return;
    if (g->k == 0) {
        fill_epilogue(g);
        return;
    }
    if (g->act == MT_ACTIVATION_NONE || g->act == MT_ACTIVATION_RELU) {
        gemm_paths(kr, g, bufs);
        return;
    }
    mt_gemm core = *g;
    core.act = MT_ACTIVATION_NONE;
    gemm_paths(kr, &core, bufs);
    mt_gemm_activate(g, g->c, g->m, g->n);
}

/* ---- threads ----------------------------------------------------------------------
 * The problem is cut into independent slices of C — along N in whole NR
 * panels when N is wide enough, else along M in whole MR panels — and each
 * slice runs the serial algorithm with the buffers of its part. There are
 * up to PARTS_PER_THREAD slices per thread: the machine this was tuned on
 * is shared, and a thread preempted by another process then holds up only
 * a small slice, which the other threads take over. Small problems stay
 * on the calling thread: a slice has at least min_fmas_per_part FMAs, the
 * work that pays for waking a worker (thresholds.c: 2^17 on Zen 4), or for
 * a vector product, bound by reading B, min_vector_fmas_per_row per row.
 * N slices share A: read in place it costs nothing to slice (8×32, 512³ as
 * 1..16 column slices: 109-111 GFLOP/s of thread CPU time), but a packed A
 * is packed again per slice, so a product that packs A takes one slice
 * per thread (below). */
enum { PARTS_PER_THREAD = 4 };

#ifdef HAVE_THREADS
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
    gemm_serial(job->kr, &s, &part_buffers[index]);
}
#endif

void mt_gemm_native_serial_part(const mt_gemm *g, int part)
{
    machine_ready();
    gemm_serial(mt_gemm_native_kernel(), g, &part_buffers[part]);
}

static void native_sgemm(const mt_gemm *g, int threads)
{
    const mt_native_kernel *kr = mt_gemm_native_kernel();
#ifdef HAVE_THREADS
    if (threads > 1 && g->m > 0 && g->n > 0 && g->k > 0) {
        const int64_t fmas = g->m * g->n * g->k;
        const int64_t n_units = ceil_div(g->n, kr->nr);
        const int64_t m_units = ceil_div(g->m, kr->mr);
        // N when it splits evenly enough, or when M is a vector
        const bool along_n = n_units >= 4 * threads || n_units >= m_units ||
                             g->m <= kr->dot_max_m;
        int64_t parts = min64((int64_t)threads * PARTS_PER_THREAD, MAX_PARTS);
        // a packed A is packed again in every N slice: one slice per
        // thread, each packing A once. 12×32 at 1024² (A packed: its 4 KB
        // pitch) on two Emerald Rapids cores ran 265-277 GFLOP/s in narrow
        // slices reading A in place, 297-310 in one slice per thread.
        if (along_n && want_pack_a(kr, g))
            parts = threads;
        const mt_native_thresholds t = mt_gemm_native_thresholds();
        const int64_t min_fmas = g->m <= kr->dot_max_m
                                     ? min64(t.min_fmas_per_part, t.min_vector_fmas_per_row * g->m)
                                     : t.min_fmas_per_part;
        parts = min64(parts, fmas / min_fmas);
        parts = min64(parts, along_n ? n_units : m_units);
        if (parts > 1) {
            split_job job = {kr, g, (int)parts, along_n};
            if (mt_pool_run(split_part, &job, (int)parts,
                            (int)min64(threads, parts)))
                return;
        }
    }
#else
    (void)threads;
#endif
    // this thread's scratch, lent to the serial path and taken back grown
    mt_scratch *sa = mt_scratch_slot(MT_SCRATCH_NATIVE_A);
    mt_scratch *sb = mt_scratch_slot(MT_SCRATCH_NATIVE_B);
    buffers bufs = {0};
    if (sa && sb)
        bufs = (buffers){sa->p, sb->p, sa->n, sb->n};
    gemm_serial(kr, g, &bufs);
    if (sa && sb) {
        *sa = (mt_scratch){bufs.a, bufs.a_cap};
        *sb = (mt_scratch){bufs.b, bufs.b_cap};
    } else {
        buffers_free(&bufs);
    }
}

static const char *native_describe(void)
{
    const mt_native_kernel *kr = mt_gemm_native_kernel();
    caches_ready();
    return kernel_describe[kernel_index(kr)];
}

const mt_gemm_backend mt_gemm_backend_native = {
    .id = MT_BACKEND_NATIVE,
    .accepts = NULL,
    .sgemm = native_sgemm,
    .describe = native_describe,
};
