/* native.h (internal) — minitensor's own sgemm: kernels, packing, threads.
 *
 * The native backend computes the mt_gemm contract of gemm.h with the
 * Goto/BLIS structure, with the A micro-panel (the broadcast operand) held
 * in L1 and the B block in L2 (gemm_native.c says why):
 *
 *   for pc in K step KC:
 *     for ic in M step MC:            A block  MC×KC  lives in L3
 *       (pack A(ic:ic+MC, pc:pc+KC) into MR-tall micro-panels)
 *       for jc in N step NC:          B block  KC×NC  lives in L2
 *         pack B(pc:pc+KC, jc:jc+NC) into NR-wide micro-panels
 *         for ir in MC step MR:       A micro-panel MR×KC stays in L1
 *           for jr in NC step NR:     B micro-panels stream from L2
 *             micro-kernel: C(MR×NR) (+)= A-panel · B-panel, and on the
 *             last KC block also + bias, ReLU (the fused epilogue; other
 *             activations run over each finished slice of C)
 *
 * The micro-kernel reads A through its strides, so A is packed only when
 * it has no unit stride; B is read in place while it is compact enough to
 * stay cached (small problems: no packing at all, one KC block). M == 1
 * with contiguous B rows is a gemv; small M with contiguous B columns
 * (PyTorch [out,in] weights seen through a transpose) is dot products; a
 * narrow C (N <= NR/2, e.g. 10 logits) is computed transposed. Every ISA
 * (portable C, AVX2+FMA, AVX-512, wasm SIMD128) supplies one
 * mt_native_kernel table entry; the best one the CPU supports is chosen
 * once, at the first call. Threads split C into independent slices run
 * on a small persistent pool (pool.c). See gemm_native.c for the measured
 * thresholds.
 */
#ifndef MT_NATIVE_H
#define MT_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../gemm.h"

#include "minitensor/error.h"  /* mt_status */
#include "minitensor/memory.h" /* mt_alloc, mt_dealloc */

/* ---- the micro-kernel contract --------------------------------------------
 * One call computes an m×n tile (m <= MR, n <= NR) of
 *   C = [C +] A·B [+ bias] [ReLU]
 *   A(i,p) = a[i*a_rs + p*a_cs]   i < m (rows >= m are never read, unless
 *                                  flag MT_TILE_PACKED_A: a packed panel,
 *                                  zero-padded to MR rows)
 *   B(p,j) = b[p*b_rs + j]        j < NR: always NR readable columns (the
 *                                  driver packs a ragged last panel)
 *   C(i,j) = c[i*c_rs + j*c_cs]   only i < m, j < n are touched
 * k >= 1. bias (flag MT_TILE_BIAS) points at the tile's first column. */
enum {
    MT_TILE_ACCUM = 1, /* add to C (not the first KC block) */
    MT_TILE_BIAS = 2,  /* add bias[j] (last KC block only) */
    MT_TILE_RELU = 4,  /* max(0, x), NaN kept (last KC block only) */
    MT_TILE_PACKED_A = 8 /* a is a packed panel: a_rs 1, a_cs MR, MR rows */
};

typedef struct mt_tile {
    int64_t k;
    const float *a;
    int64_t a_rs, a_cs;
    const float *b;
    int64_t b_rs;
    float *c;
    int64_t c_rs, c_cs;
    const float *bias;
    int m, n;
    int flags;
} mt_tile;

typedef void (*mt_tile_fn)(const mt_tile *t);

/* y(1×n) = act(x(1×k) · B(k×n) + bias) with B rows contiguous (b_cs == 1),
 * written to y with stride y_cs. Streams B once: the M == 1 fast path. */
typedef void (*mt_gemv_fn)(int64_t n, int64_t k, const float *x,
                           int64_t x_cs, const float *b, int64_t b_rs,
                           float *y, int64_t y_cs, const float *bias,
                           int flags);

/* C(m×n) = act(A·B + bias) with A rows contiguous (a_cs == 1) and B columns
 * contiguous (b_rs == 1): dot products, B read in place. The small-M path
 * for transposed weights (x · Wᵀ with W stored [out, in], as PyTorch). */
typedef void (*mt_dot_fn)(int64_t m, int64_t n, int64_t k, const float *a,
                          int64_t a_rs, const float *b, int64_t b_cs, float *c,
                          int64_t c_rs, int64_t c_cs, const float *bias,
                          int flags);

/* The sparse-input product of one row (matmul_sparse.c):
 *   compact: the nonzero entries of x[0..k) (contiguous) as positions
 *            idx[] and values val[] (room for k of each, plus 16 floats of
 *            overhang the kernel may write past the last one); returns
 *            how many. NaN counts as nonzero.
 *   sparse_gemv: y(1×n) = act(Σ_t val[t]·B(idx[t], :) + bias), B rows
 *            contiguous (row stride b_rs), y contiguous: a gemv that reads
 *            only the rows of B under nonzero x. */
typedef int64_t (*mt_compact_fn)(int64_t k, const float *x, int32_t *idx,
                                 float *val);
typedef void (*mt_sparse_gemv_fn)(int64_t n, int64_t nnz, const int32_t *idx,
                                  const float *val, const float *b,
                                  int64_t b_rs, float *y, const float *bias,
                                  int flags);

/* m[i] = max(m[i], v[i]) for i < count, NaN propagating as max_pool2d does
 * (a NaN in either stays NaN): the pool fused into a conv (conv_rows.c). */
typedef void (*mt_max_fn)(int64_t count, float *m, const float *v);

/* Winograd F(2×2, 3×3) with a 2×2 max pool, one tile, every channel
 * (winograd.h: mt_winograd_in / mt_winograd_out, which the kernels compile
 * under their ISA flags). */
typedef void (*mt_winograd_in_fn)(int64_t cin, const float *d, int64_t rs, int64_t cs,
                                  float *v, int64_t plane);
typedef void (*mt_winograd_out_fn)(int64_t cout, const float *m, int64_t plane,
                                   const float *bias, bool relu, float *y);

/* Packing: A block (m×k) into ceil(m/MR) panels of MR×k (p-major, rows
 * zero-padded); B block (k×n) into ceil(n/NR) panels of k×NR. */
typedef void (*mt_pack_a_fn)(int64_t m, int64_t k, const float *a,
                             int64_t a_rs, int64_t a_cs, float *dst);
typedef void (*mt_pack_b_fn)(int64_t k, int64_t n, const float *b,
                             int64_t b_rs, int64_t b_cs, float *dst);

typedef struct mt_native_kernel {
    const char *name;        /* "avx2+fma" — also the force_kernel key */
    const char *description; /* "native avx2+fma 6x16" */
    int mr, nr;              /* register tile */
    int lanes;               /* floats per FMA: the vector width */
    int mc, kc, nc;          /* cache blocking when the caches are unknown
                              * (wasm32): see mt_native_blocking_for */
    mt_tile_fn tile;
    mt_gemv_fn gemv;         /* (optional: NULL = generic) */
    mt_dot_fn dot;           /* (optional: NULL = generic) */
    int dot_max_m;           /* dot path up to this M (measured crossover) */
    int pack_min_m;          /* pack B, and A when N >= 4·NR, from this M on
                              * whatever the layout (0: only when the layout
                              * or B's span asks for it; measured per kernel) */
    bool pack_aliased_a;     /* pack an A whose row pitch is a multiple of the
                              * L1d way (its MR rows would share one set) */
    mt_compact_fn compact;   /* (optional: NULL = generic) */
    mt_sparse_gemv_fn sparse_gemv; /* (optional: NULL = generic) */
    mt_max_fn max;           /* (optional: NULL = generic) */
    mt_pack_a_fn pack_a;     /* (optional: NULL = generic) */
    mt_pack_b_fn pack_b;     /* (optional: NULL = generic) */
    mt_winograd_in_fn winograd_in;   /* (optional: NULL = generic) */
    mt_winograd_out_fn winograd_out; /* (optional: NULL = generic) */
    bool (*supported)(void); /* run-time CPU check (optional: NULL = yes) */
    bool (*auto_ok)(void);   /* may the automatic choice take it on this
                              * CPU (optional: NULL = yes; asked once) */
} mt_native_kernel;

/* Kernel table entries, best first; only those compiled for this target. */
#if defined(__x86_64__) || defined(_M_X64)
#define MT_NATIVE_X86 1
extern const mt_native_kernel mt_native_kernel_avx512;
extern const mt_native_kernel mt_native_kernel_avx512_12x32;
/* 512-bit FMAs the core retires per cycle (1 or 2): from the CPU model
 * where its family always has the same count (mt_native_avx512_fma_units_of),
 * else measured against ymm FMAs (kernel_avx512.c; ~0.3 ms the first time,
 * then remembered). Only on a CPU with AVX-512. */
int mt_native_avx512_fma_units(void);
extern const mt_native_kernel mt_native_kernel_avx2;
#endif
#if defined(__wasm_simd128__)
extern const mt_native_kernel mt_native_kernel_wasm128;
#endif
extern const mt_native_kernel mt_native_kernel_generic;

/* Packing (panels.c): portable, used by every kernel without its own. */
void mt_native_pack_a_generic(int64_t m, int64_t k, const float *a,
                              int64_t a_rs, int64_t a_cs, float *dst,
                              int mr);
void mt_native_pack_b_generic(int64_t k, int64_t n, const float *b,
                              int64_t b_rs, int64_t b_cs, float *dst,
                              int nr);

/* Scalar store of an MR×NR accumulator block (row stride ld) into C under
 * t's flags; the edge / general-stride path every kernel shares
 * (panels.c). */
void mt_native_store_tile(const mt_tile *t, const float *acc, int ld);

/* Portable gemv and dot products (kernel_generic.c): the fallbacks of
 * kernels without their own. */
void mt_native_gemv_generic(int64_t n, int64_t k, const float *x,
                            int64_t x_cs, const float *b, int64_t b_rs,
                            float *y, int64_t y_cs, const float *bias,
                            int flags);
void mt_native_dot_generic(int64_t m, int64_t n, int64_t k, const float *a,
                           int64_t a_rs, const float *b, int64_t b_cs,
                           float *c, int64_t c_rs, int64_t c_cs,
                           const float *bias, int flags);

/* Portable NaN-propagating max (kernel_generic.c). */
void mt_native_max_generic(int64_t count, float *m, const float *v);

/* Portable compaction and sparse gemv (kernel_generic.c). */
int64_t mt_native_compact_generic(int64_t k, const float *x, int32_t *idx,
                                  float *val);
void mt_native_sparse_gemv_generic(int64_t n, int64_t nnz, const int32_t *idx,
                                   const float *val, const float *b,
                                   int64_t b_rs, float *y, const float *bias,
                                   int flags);

/* ---- the caches (cache.c) -------------------------------------------------
 * Data cache sizes in bytes as the CPU reports them (Linux: sysfs; else
 * x86-64 cpuid leaf 4, or 0x8000001D on AMD), 0 where unknown (wasm32). l3
 * is one logical CPU's share: the L3 size over the CPUs sharing it. Reads
 * the CPU each call; gemm_native.c calls it once. */
typedef struct mt_native_caches {
    int64_t l1d, l2, l3;
    int64_t l1d_way;   /* L1d bytes / associativity: addresses this far apart share a set */
} mt_native_caches;
#ifdef __wasm__
/* Nothing to read: inline, so that gemm_native.c's code for known caches
 * folds away (the module's size budget). */
static inline mt_native_caches mt_native_caches_detect(void) { return (mt_native_caches){0}; }
#else
mt_native_caches mt_native_caches_detect(void);
#endif
/* The two sources alone (all 0 where absent), for tests. */
mt_native_caches mt_native_caches_sysfs(void);
mt_native_caches mt_native_caches_cpuid(void);

/* Cache blocking of one kernel (multiples of its mr / nr; kc of 8). */
typedef struct mt_native_blocking {
    int mc, kc, nc;
} mt_native_blocking;

/* The rule (documented in gemm_native.c) applied to kernel geometry and
 * caches; the kernel's own constants where a cache size is 0. Pure. */
mt_native_blocking mt_native_blocking_for(const mt_native_kernel *k,
                                          mt_native_caches caches);

/* The caches and kr's blocking as used, computed once (thread-safe). */
mt_native_caches mt_gemm_native_caches(void);
mt_native_blocking mt_gemm_native_blocking(const mt_native_kernel *kr);

/* ---- dispatch thresholds (thresholds.c) -----------------------------------
 * Sizes where a fixed per-call cost (in cycles) meets the work: the rule and
 * its measurements are in thresholds.c. */
typedef struct mt_native_thresholds {
    int64_t fmas_per_cycle;    /* the kernel's peak: lanes × FMA units */
    int64_t auto_small_fmas;   /* AUTO: M > 1 products up to this go to OpenBLAS */
    int64_t min_fmas_per_part; /* threads: a slice of C has at least this */
    int64_t min_vector_fmas_per_row; /* … times M for a vector product (M <=
                                      * dot_max_m: bound by reading B) */
    bool blas_always;          /* AUTO: OpenBLAS for every product (the
                                * kernel is slower per FMA: the portable one) */
} mt_native_thresholds;

/* The rule for a kernel `lanes` floats wide on a core retiring fma_units
 * such FMAs per cycle. Pure (values < 1 count as 1). */
mt_native_thresholds mt_native_thresholds_for(int lanes, int fma_units);

/* AUTO's rule: does an m×n×k product go to OpenBLAS (where built in)?
 * M > 1 and at most t.auto_small_fmas FMAs (the native gemv wins M = 1),
 * or any product when t.blas_always. */
bool mt_native_small_for_blas(mt_native_thresholds t, int64_t m, int64_t n, int64_t k);

/* 512-bit FMA units of an AVX-512 CPU from its cpuid vendor (12 chars,
 * "GenuineIntel" / "AuthenticAMD") and display family and model: 1 or 2
 * where every part of that model has the same count, 0 where parts differ
 * (Skylake-SP/Cascade Lake: Gold 6xxx two, Silver one) or the model is not
 * known. Pure. */
int mt_native_avx512_fma_units_of(const char *vendor, unsigned family, unsigned model);

/* FMA units at `lanes` floats wide: for 512 bits the CPU's (once), else 2. */
int mt_native_fma_units(int lanes);

/* The rule applied to the kernel the next call will use. */
mt_native_thresholds mt_gemm_native_thresholds(void);

/* ---- kernel selection (testing and benchmarking) --------------------------
 * Force the kernel by name ("avx512", "avx512-12x32", "avx2+fma" or "avx2",
 * "generic"); NULL or "auto" returns to the automatic choice. Returns false
 * (and changes nothing) if the name is unknown or the CPU cannot run it.
 * The variable MT_NATIVE_KERNEL in the environment does the same at the
 * first call. Not thread-safe against concurrent matmuls: call it between
 * them. */
bool mt_gemm_native_force_kernel(const char *name);

/* MT_ERR_UNSUPPORTED with a message naming the value and the kernels this CPU
 * runs if MT_NATIVE_KERNEL names none of them; MT_OK otherwise (unset,
 * empty, "auto" or valid). matmul.c calls it before each native call. */
mt_status mt_gemm_native_env_check(void);

/* The kernel the next call will use. */
const mt_native_kernel *mt_gemm_native_kernel(void);

/* Names of the kernels this CPU can run, best first, NULL-terminated:
 * read once with the machine, the same list for the life of the process. */
const char *const *mt_gemm_native_kernel_names(void);

/* Frees the packing buffers of the calling thread and of the pool, and
 * stops the worker threads (restarted on demand). Call it with no matmul
 * running: before changing the allocator, or for a leak checker. Buffers
 * of other application threads are freed when those threads exit. */
void mt_gemm_native_release(void);

/* ---- the thread pool (pool.c) --------------------------------------------
 * Runs fn(arg, i) once for each i in [0, parts) (2..32 parts) on the
 * calling thread and threads-1 persistent workers, and returns when all
 * are done. Parts are claimed dynamically: participant i (the caller is 0)
 * first takes part i, then any part still unclaimed, so a worker slow to
 * wake or preempted by another process leaves its work to the others.
 * fn must not depend on the thread it runs on. Returns false without
 * running anything if the pool is busy (another thread is using it), no
 * worker can be started, or this build has no threads; the caller then
 * runs serially. */
typedef void (*mt_pool_fn)(void *arg, int index);
bool mt_pool_run(mt_pool_fn fn, void *arg, int parts, int threads);

/* g on the calling thread with the packing buffers of pool part `part`
 * (< 32): only inside an mt_pool_run job, which owns those buffers. So a
 * job's parts allocate nothing once each part has run once, whichever
 * thread claims them (matmul_chain.c). */
void mt_gemm_native_serial_part(const mt_gemm *g, int part);

/* g (NONE or any activation) as sparse-input gemvs on the calling thread
 * (sparse.c), if its rows are sparse enough to gain: false, C untouched,
 * if they are not or the layout is not one the kernels take (A, B and C
 * need unit column strides). idx and val hold g->m × (g->k + 16) entries
 * each. A zero of A is skipped: exact only for a finite B. */
bool mt_gemm_native_sparse(const mt_gemm *g, int32_t *idx, float *val);

/* Stops and joins the workers (restarted by the next mt_pool_run). */
void mt_pool_shutdown(void);

#endif
