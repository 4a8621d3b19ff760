/* gemm_blis.c — BLIS through its typed API (bli_sgemm), then the epilogue.
 *
 * BLIS takes a row and a column stride for every operand, so transposed
 * and strided views go in as they are; only strides BLIS's own checks
 * would reject (zero strides, overlapping "general" strides) are refused
 * in accepts(), and the dispatcher then hands us a contiguous copy.
 *
 * Threads: a per-call rntm_t (bli_sgemm_ex), not bli_thread_set_num_threads,
 * so the count is never global state. This Debian BLIS runs its threads with
 * OpenMP; minitensor's own pool is idle while BLIS runs.
 *
 * BLIS is opened at run time (dynlib.h) when first selected, so programs
 * that never use it do not load it (nor its libgomp). The library file:
 * $MT_BLIS_LIBRARY, else libblis.so.4 (Debian's libblis4). Nothing of BLIS
 * is needed to build: the few types and functions used are declared below
 * as BLIS 0.9 (the soname-4 ABI) defines them — not from blis.h, whose
 * static helper functions an unoptimised build would emit with calls into
 * libblis. A library that says it is not 0.9 is refused when loaded.
 *
 * libblis also exports cblas_* and BLAS symbols with the same names as
 * OpenBLAS's; both are opened RTLD_LOCAL and looked up in their own handle,
 * so neither backend can ever call into the other's library.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dynlib.h"
#include "gemm.h"

/* ---- BLIS 0.9's interface (blis.h: gint_t is a long on LP64) ------------- */
typedef long blis_dim;                       /* dim_t, inc_t */
enum { BLIS_NO_TRANSPOSE = 0 };              /* trans_t */
enum { BLIS_KR = 0, BLIS_NUM_LOOPS = 6 };    /* bszid_t: thrloop[] index */

/* rntm_t: the per-call runtime (thread counts); filled as
 * BLIS_RNTM_INITIALIZER then bli_rntm_set_num_threads would fill it. */
typedef struct blis_rntm {
    bool auto_factor;
    blis_dim num_threads;
    blis_dim thrloop[BLIS_NUM_LOOPS];
    bool pack_a, pack_b, l3_sup;
    void *sba_pool;
    void *pba;
} blis_rntm;

static void (*p_sgemm_ex)(int transa, int transb, blis_dim m, blis_dim n, blis_dim k,
                          float *alpha, float *a, blis_dim rsa, blis_dim csa, float *b,
                          blis_dim rsb, blis_dim csb, float *beta, float *c, blis_dim rsc,
                          blis_dim csc, void *cntx, blis_rntm *rntm);
static char *(*p_version_str)(void);
static int (*p_arch_query_id)(void);
static char *(*p_arch_string)(int id);
static long (*p_enable_openmp)(void);
static long (*p_enable_pthreads)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[512];

static void load_library(void)
{
    static const mt_dynlib lib = {"BLIS", "MT_BLIS_LIBRARY", "libblis.so.4", "libblis4"};
    const mt_dynlib_symbol symbols[] = {
        {"bli_sgemm_ex", &p_sgemm_ex},
        {"bli_info_get_version_str", &p_version_str},
        {"bli_arch_query_id", &p_arch_query_id},
        {"bli_arch_string", &p_arch_string},
        {"bli_info_get_enable_openmp", &p_enable_openmp},
        {"bli_info_get_enable_pthreads", &p_enable_pthreads},
    };
    loaded = mt_dynlib_open(&lib, symbols, (int)(sizeof symbols / sizeof symbols[0]),
                            load_error, sizeof load_error);
    const char *version = loaded ? p_version_str() : NULL;
    if (loaded && (!version || strncmp(version, "0.9", 3) != 0)) {
        // rntm_t's layout is 0.9's: another version would read garbage
        snprintf(load_error, sizeof load_error, "BLIS: the library loaded is BLIS %s; "
                 "minitensor calls BLIS 0.9's interface (libblis.so.4)",
                 version ? version : "of unknown version");
        loaded = false;
    }
}

static const char *blis_load(void)
{
    pthread_once(&load_once, load_library);
    return loaded ? NULL : load_error;
}

/* (rows × cols, rs, cs) with the stride of a unit dimension replaced by a
 * value BLIS accepts (it checks strides even where they are unused).
 * False if BLIS would reject the strides. */
static bool blis_strides(int64_t rows, int64_t cols, int64_t *rs, int64_t *cs)
{
    if (rows <= 1)
        *rs = 1;
    if (cols <= 1)
        *cs = 1;
    if (rows == 0 || cols == 0)
        return true;
    if (*rs <= 0 || *cs <= 0)
        return false;
    if (*rs == 1 && *cs == 1)
        return rows == 1 || cols == 1;
    if (*rs == 1)
        return *cs >= rows;
    if (*cs == 1)
        return *rs >= cols;
    if (*rs == *cs)
        return rows == 1 || cols == 1;
    return *rs < *cs ? rows * *rs <= *cs : cols * *cs <= *rs;
}

typedef struct blis_call {
    int64_t a_rs, a_cs, b_rs, b_cs, c_rs, c_cs;
} blis_call;

static bool blis_prepare(const mt_gemm *g, blis_call *s)
{
    *s = (blis_call){g->a_rs, g->a_cs, g->b_rs, g->b_cs, g->c_rs, g->c_cs};
    return blis_strides(g->m, g->k, &s->a_rs, &s->a_cs) &&
           blis_strides(g->k, g->n, &s->b_rs, &s->b_cs) &&
           blis_strides(g->m, g->n, &s->c_rs, &s->c_cs);
}

static bool blis_accepts(const mt_gemm *g)
{
    blis_call s;
    return blis_prepare(g, &s);
}

/* Below this many multiply-adds BLIS runs on one thread: waking its OpenMP
 * team costs more than the product (and on a busy machine, milliseconds). */
enum { BLIS_MIN_FMAS_PER_THREAD = 1 << 18 };

static void blis_sgemm(const mt_gemm *g, int threads)
{
    if (g->m == 0 || g->n == 0)
        return;
    if (g->k == 0) { // C = act(bias) or 0, without asking BLIS about k = 0
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->n; j++)
                g->c[i * g->c_rs + j * g->c_cs] = 0.0f;
        mt_gemm_epilogue(g);
        return;
    }
    // the thread count goes in a per-call runtime object, not BLIS's global
    // setting, so concurrent callers and other BLIS users do not interfere
    const int64_t fit = g->m * g->n * g->k / BLIS_MIN_FMAS_PER_THREAD;
    if (fit < threads)
        threads = fit > 1 ? (int)fit : 1;
    blis_rntm rntm = {.auto_factor = true, .num_threads = threads,
                      .thrloop = {-1, -1, -1, -1, -1, -1}, .l3_sup = true};
    rntm.thrloop[BLIS_KR] = 1; // bli_rntm_set_num_threads: ways unset, pr ways 1
    blis_call s;
    (void)blis_prepare(g, &s); // the dispatcher checked accepts()
    float one = 1.0f, zero = 0.0f;
    p_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, g->m, g->n, g->k, &one,
                 (float *)g->a, s.a_rs, s.a_cs, (float *)g->b, s.b_rs, s.b_cs,
                 &zero, g->c, s.c_rs, s.c_cs, NULL, &rntm);
    mt_gemm_epilogue(g);
}

static char description[128];
static pthread_once_t description_once = PTHREAD_ONCE_INIT;

static void describe_init(void)
{
    snprintf(description, sizeof description, "BLIS %s %s%s%s",
             p_version_str(), p_arch_string(p_arch_query_id()),
             p_enable_openmp() ? " openmp" : "", p_enable_pthreads() ? " pthreads" : "");
}

static const char *blis_describe(void)
{
    pthread_once(&description_once, describe_init);
    return description;
}

const mt_gemm_backend mt_gemm_backend_blis = {
    .id = MT_BACKEND_BLIS,
    .accepts = blis_accepts,
    .sgemm = blis_sgemm,
    .describe = blis_describe,
    .load = blis_load,
};
