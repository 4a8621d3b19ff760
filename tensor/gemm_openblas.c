/* gemm_openblas.c — OpenBLAS sgemm (and sgemv for one-row products).
 *
 * OpenBLAS is opened at run time (dynlib.h), on the first mt_backend_set /
 * MT_BACKEND naming it or the first small product AUTO wants it for: a
 * program that never uses it does not pay for loading it (linked, OpenBLAS
 * and BLIS with libgfortran, libquadmath and libgomp, and the thread pool
 * OpenBLAS starts in its constructor, were 3 MB of RSS and ~9 of the 10 ms
 * of `mnist predict`). The library file: $MT_OPENBLAS_LIBRARY, else
 * libopenblas.so.0 (Debian's libopenblas0). No cblas.h is needed to build:
 * the few functions used are declared here, with CBLAS's standard values.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE under -std=c11 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <strings.h>

#include "dynlib.h"
#include "gemm.h"
#include "native/cpu_x86.h"

enum CBLAS_ORDER { CblasRowMajor = 101 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

static void (*cblas_sgemm)(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta,
                           enum CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta,
                           float *c, int ldc);
static void (*cblas_sgemv)(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE t, int m, int n,
                           float alpha, const float *a, int lda, const float *x, int incx,
                           float beta, float *y, int incy);
static void (*openblas_set_num_threads)(int num_threads);
static int (*openblas_get_num_procs)(void);
static char *(*openblas_get_config)(void);
static char *(*openblas_get_corename)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[512];

static void load_library(void)
{
    static const mt_dynlib lib = {"OpenBLAS", "MT_OPENBLAS_LIBRARY", "libopenblas.so.0",
                                  "libopenblas0"};
    const mt_dynlib_symbol symbols[] = {
        {"cblas_sgemm", &cblas_sgemm},
        {"cblas_sgemv", &cblas_sgemv},
        {"openblas_set_num_threads", &openblas_set_num_threads},
        {"openblas_get_num_procs", &openblas_get_num_procs},
        {"openblas_get_config", &openblas_get_config},
        {"openblas_get_corename", &openblas_get_corename},
    };
    loaded = mt_dynlib_open(&lib, symbols, (int)(sizeof symbols / sizeof symbols[0]),
                            load_error, sizeof load_error);
}

static const char *openblas_load(void)
{
    pthread_once(&load_once, load_library);
    return loaded ? NULL : load_error;
}

/* A matrix of rows x cols with strides (rs, cs) as a BLAS operand:
 * row-major NoTrans with ld = rs, or Trans with ld = cs. */
typedef struct blas_operand {
    bool ok;
    enum CBLAS_TRANSPOSE trans;
    int ld;
} blas_operand;

static blas_operand operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    int64_t c1 = cols > 1 ? cols : 1, r1 = rows > 1 ? rows : 1;
    if (cs == 1 || cols <= 1) {
        int64_t ld = rows <= 1 ? c1 : rs;
        if (ld >= c1 && ld <= INT32_MAX)
            return (blas_operand){true, CblasNoTrans, (int)ld};
    }
    if (rs == 1 || rows <= 1) {
        int64_t ld = cols <= 1 ? r1 : cs;
        if (ld >= r1 && ld <= INT32_MAX)
            return (blas_operand){true, CblasTrans, (int)ld};
    }
    return (blas_operand){false, CblasNoTrans, 0};
}

static bool fits_int(int64_t v) { return v <= INT32_MAX; }

static bool openblas_accepts(const mt_gemm *g)
{
    return fits_int(g->m) && fits_int(g->n) && fits_int(g->k) &&
           operand(g->m, g->k, g->a_rs, g->a_cs).ok &&
           operand(g->k, g->n, g->b_rs, g->b_cs).ok &&
           operand(g->m, g->n, g->c_rs, g->c_cs).ok &&
           operand(g->m, g->n, g->c_rs, g->c_cs).trans == CblasNoTrans;
}

/* ---- threads -------------------------------------------------------------
 * OpenBLAS gives every thread that runs a GEMM a buffer of ~128 MiB of
 * address space on its first call, and when that allocation fails it retries
 * forever (0.3.21's blas_memory_alloc): under an address-space limit
 * (ulimit -v) a call that asks for too many threads never returns. So
 * threads are capped at the CPUs OpenBLAS sees (more only oversubscribe),
 * and before a thread count OpenBLAS has not run with yet, the address space
 * its new buffers need is reserved once (PROT_NONE, released at once): if
 * that fails, fewer threads; if even one does not fit, the product runs on
 * the native kernel instead of hanging. */

/* Per thread: its 128 MiB buffer, and the 128 MiB glibc maps (then trims
 * to 64) for the malloc arena of a thread that first allocates. */
#define BUFFER_RESERVE ((size_t)256 << 20)

static atomic_flag threads_lock = ATOMIC_FLAG_INIT;
/* The last request and what it got, (request << 16) | threads: one atomic
 * word, so a reader never pairs one call's request with another's answer. */
static _Atomic int last_choice;
static int provisioned;   /* most threads that found room (under the lock) */
static int set_threads;   /* last passed to openblas_set_num_threads (under the lock) */

/* True if `threads` - provisioned more buffers fit in the address space. */
static bool buffers_fit(int threads)
{
    struct rlimit lim;
    if (threads <= provisioned || getrlimit(RLIMIT_AS, &lim) != 0 ||
        lim.rlim_cur == RLIM_INFINITY)
        return true;
    size_t bytes = (size_t)(threads - provisioned) * BUFFER_RESERVE;
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return false;
    munmap(p, bytes);
    return true;
}

/* The thread count to run OpenBLAS with for a request of `threads` (1..1024),
 * set in OpenBLAS; 0 if not even one thread's buffer fits. Thread-safe. */
static int openblas_threads(int threads)
{
    int choice = atomic_load_explicit(&last_choice, memory_order_acquire);
    if (choice >> 16 == threads)
        return choice & 0xffff;
    while (atomic_flag_test_and_set_explicit(&threads_lock, memory_order_acquire))
        ;   /* held for a few mmap/munmap pairs at most */
    int request = threads, procs = openblas_get_num_procs();
    if (procs >= 1 && threads > procs)
        threads = procs;
    while (threads > 0 && !buffers_fit(threads))
        threads--;
    if (threads > provisioned)
        provisioned = threads;
    if (threads > 0 && threads != set_threads) {
        openblas_set_num_threads(threads);
        set_threads = threads;
    }
    atomic_store_explicit(&last_choice, request << 16 | threads, memory_order_release);
    atomic_flag_clear_explicit(&threads_lock, memory_order_release);
    return threads;
}

static void openblas_sgemm(const mt_gemm *g, int threads)
{
    if (openblas_threads(threads) == 0) {
        mt_gemm_backend_native.sgemm(g, 1);
        return;
    }
    blas_operand a = operand(g->m, g->k, g->a_rs, g->a_cs);
    blas_operand b = operand(g->k, g->n, g->b_rs, g->b_cs);
    blas_operand c = operand(g->m, g->n, g->c_rs, g->c_cs);
    int m = (int)g->m, n = (int)g->n, k = (int)g->k;
    if (m == 1 && fits_int(g->a_cs) && g->c_cs == 1) {
        /* y[n] = x[k]·B: gemv on B (as stored) beats a 1-row gemm by ~4x. */
        int incx = (int)(k > 1 ? g->a_cs : 1);
        if (b.trans == CblasNoTrans)
            cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, g->b, b.ld, g->a,
                        incx, 0.0f, g->c, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, g->b, b.ld, g->a,
                        incx, 0.0f, g->c, 1);
    } else {
        cblas_sgemm(CblasRowMajor, a.trans, b.trans, m, n, k, 1.0f, g->a, a.ld, g->b,
                    b.ld, 0.0f, g->c, c.ld);
    }
    mt_gemm_epilogue(g);
}

static const char *openblas_describe(void) { return openblas_get_config(); }

/* OpenBLAS names the kernel set it runs ("SkylakeX", "Haswell", "Zen" on
 * x86-64 with AVX2). A CPU newer than the OpenBLAS build falls back to a
 * generic set: 0.3.21 (Debian 12) runs Emerald Rapids on "Prescott", SSE3
 * kernels at a fifth of the native kernel's speed. On a CPU with AVX2 and
 * FMA, the sets made for older cores are not this CPU's. Asked once (AUTO
 * asks at every small product; the set does not change after loading). */
static bool openblas_tuned_now(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const char *const older[] = {
        "unknown", "prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
        "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "sandybridge",
        "bobcat", "bulldozer", "piledriver", "steamroller", "katmai", "coppermine",
        "northwood", "banias", "generic"};
    if (!(MT_X86_HAS(AVX2, "avx2") && MT_X86_HAS(FMA, "fma")))
        return true;
    const char *core = openblas_get_corename();
    for (size_t i = 0; core && i < sizeof older / sizeof *older; i++)
        if (!strcasecmp(core, older[i]))
            return false;
#endif
    return true;
}

static bool openblas_tuned(void)
{
    static _Atomic int known; // 0 not asked yet, 1 tuned, 2 not (a race asks twice: harmless)
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (!k) {
        k = openblas_tuned_now() ? 1 : 2;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k == 1;
}

const mt_gemm_backend mt_gemm_backend_openblas = {
    .id = MT_BACKEND_OPENBLAS,
    .accepts = openblas_accepts,
    .sgemm = openblas_sgemm,
    .describe = openblas_describe,
    .load = openblas_load,
    .tuned = openblas_tuned,
};
