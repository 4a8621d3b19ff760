/* backend.c — choosing the matmul backend and the thread count. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if !defined(__wasm__)
#include <unistd.h>
#endif

#include "backend_select.h"

static const char *const backend_names[MT_BACKEND_COUNT] = {
    [MT_BACKEND_AUTO] = "auto",         [MT_BACKEND_NAIVE] = "naive",
    [MT_BACKEND_NATIVE] = "native",     [MT_BACKEND_OPENBLAS] = "openblas",
    [MT_BACKEND_BLIS] = "blis",
};

const char *mt_backend_name(mt_backend backend)
{
    return (unsigned)backend < MT_BACKEND_COUNT ? backend_names[backend] : "invalid";
}

mt_status mt_backend_from_name(const char *name, mt_backend *backend)
{
    if (!name || !backend)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "backend_from_name: NULL argument");
    for (int i = 0; i < MT_BACKEND_COUNT; i++) {
        if (strcmp(name, backend_names[i]) == 0) {
            *backend = (mt_backend)i;
            return MT_OK;
        }
    }
    return mt_fail(MT_ERR_INVALID_ARGUMENT,
                   "backend: unknown backend \"%s\" (auto|naive|native|openblas|blis)",
                   name);
}

/* The backend's implementation if compiled in (loaded or not), else NULL. */
static const mt_gemm_backend *built_in(mt_backend backend)
{
    switch (backend) {
    case MT_BACKEND_NAIVE: return &mt_gemm_backend_naive;
    case MT_BACKEND_NATIVE: return &mt_gemm_backend_native;
#ifdef MT_HAVE_OPENBLAS
    case MT_BACKEND_OPENBLAS: return &mt_gemm_backend_openblas;
#endif
#ifdef MT_HAVE_BLIS
    case MT_BACKEND_BLIS: return &mt_gemm_backend_blis;
#endif
    default: return NULL;
    }
}

/* Why a built-in backend cannot be used (its library did not load), or
 * NULL. Loads the library on first call. */
static const char *load_failure(const mt_gemm_backend *impl)
{
    return impl->load ? impl->load() : NULL;
}

const mt_gemm_backend *mt_gemm_backend_of(mt_backend backend)
{
    const mt_gemm_backend *impl = built_in(backend);
    return impl && !load_failure(impl) ? impl : NULL;
}

bool mt_backend_available(mt_backend backend)
{
    return backend == MT_BACKEND_AUTO || mt_gemm_backend_of(backend) != NULL;
}

/* ---- settings: from the environment on first use, then from the API ------- */

enum { UNSET = -1, INVALID = -2 };
static _Atomic int chosen_backend = UNSET;
static _Atomic int chosen_threads = UNSET;

static int default_threads(void)
{
#if defined(_SC_NPROCESSORS_ONLN)
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= 1024 ? (int)n : 1;
#else
    return 1;
#endif
}

static int backend_from_env(void)
{
    const char *env = getenv("MT_BACKEND");
    mt_backend b = MT_BACKEND_AUTO;
    if (env && *env && (mt_backend_from_name(env, &b) || !mt_backend_available(b)))
        return INVALID;
    return (int)b;
}

static int threads_from_env(void)
{
    const char *env = getenv("MT_NUM_THREADS");
    if (!env || !*env)
        return default_threads();
    /* Decimal digits only ("4", not " 4" or "+4"). Not strtol: it would
     * pull libc's number scanner (~2 KB) into every wasm module. */
    int n = 0;
    for (const char *p = env; *p; p++) {
        if (*p < '0' || *p > '9' || n > 1024)
            return INVALID;
        n = n * 10 + (*p - '0');
    }
    return n < 1 || n > 1024 ? INVALID : n;
}

mt_status mt_backend_current(mt_backend *backend, int *threads)
{
    int b = atomic_load(&chosen_backend);
    if (b == UNSET) {
        int expected = UNSET;
        atomic_compare_exchange_strong(&chosen_backend, &expected, backend_from_env());
        b = atomic_load(&chosen_backend);
    }
    int t = atomic_load(&chosen_threads);
    if (t == UNSET) {
        int expected = UNSET;
        atomic_compare_exchange_strong(&chosen_threads, &expected, threads_from_env());
        t = atomic_load(&chosen_threads);
    }
    if (b == INVALID) {
        const char *env = getenv("MT_BACKEND");
        mt_backend named;
        const mt_gemm_backend *impl =
            mt_backend_from_name(env, &named) == MT_OK ? built_in(named) : NULL;
        if (impl && load_failure(impl))
            return mt_fail(MT_ERR_UNSUPPORTED, "backend: MT_BACKEND=\"%s\": %s", env,
                           load_failure(impl));
        return mt_fail(MT_ERR_UNSUPPORTED,
                       "backend: MT_BACKEND=\"%s\" is not a backend this build has "
                       "(auto|naive|native%s%s)", getenv("MT_BACKEND"),
                       mt_backend_available(MT_BACKEND_OPENBLAS) ? "|openblas" : "",
                       mt_backend_available(MT_BACKEND_BLIS) ? "|blis" : "");
    }
    if (t == INVALID)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "backend: MT_NUM_THREADS=\"%s\" is not a count in 1..1024",
                       getenv("MT_NUM_THREADS"));
    *backend = (mt_backend)b;
    *threads = t;
    return MT_OK;
}

mt_status mt_backend_env_check(void)
{
    mt_backend b;
    int t;
    return mt_backend_current(&b, &t);
}

mt_status mt_backend_set(mt_backend backend)
{
    if ((unsigned)backend >= MT_BACKEND_COUNT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "backend_set: invalid backend %d",
                       (int)backend);
    const mt_gemm_backend *impl = built_in(backend);
    if (backend != MT_BACKEND_AUTO && !impl)
        return mt_fail(MT_ERR_UNSUPPORTED, "backend_set: %s is not built in",
                       mt_backend_name(backend));
    const char *why = impl ? load_failure(impl) : NULL;
    if (why)
        return mt_fail(MT_ERR_UNSUPPORTED, "backend_set: %s", why);
    atomic_store(&chosen_backend, (int)backend);
    return MT_OK;
}

mt_backend mt_backend_get(void)
{
    mt_backend b;
    int t;
    return mt_backend_current(&b, &t) == MT_OK ? b : MT_BACKEND_AUTO;
}

mt_status mt_num_threads_set(int n)
{
    if (n < 1 || n > 1024)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "set_num_threads: %d not in 1..1024", n);
#if defined(__wasm__)
    if (n != 1)
        return mt_fail(MT_ERR_UNSUPPORTED, "set_num_threads: wasm32 has one thread");
#endif
    atomic_store(&chosen_threads, n);
    return MT_OK;
}

int mt_num_threads_get(void)
{
    mt_backend b;
    int t;
    return mt_backend_current(&b, &t) == MT_OK ? t : 1;
}

const char *mt_backend_describe(mt_backend backend)
{
    if (backend == MT_BACKEND_AUTO)
        return "auto: per-shape choice among the built-in backends";
    const mt_gemm_backend *impl = built_in(backend);
    if (!impl)
        return "not built in";
    const char *why = load_failure(impl);
    return why ? why : impl->describe();
}
