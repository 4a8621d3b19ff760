/* minitensor/backend.h — which matmul implementation runs, on how many threads.
 *
 * Backends (all compute the same C = act(A·B + bias)):
 *   MT_BACKEND_NAIVE     the reference triple loop; always compiled in.
 *   MT_BACKEND_NATIVE    minitensor's own packed, cache-blocked kernel.
 *   MT_BACKEND_OPENBLAS  OpenBLAS sgemm/sgemv, if built with it.
 *   MT_BACKEND_BLIS      BLIS, if built with it.
 *   MT_BACKEND_AUTO      per call, the fastest available for the shape.
 * OpenBLAS and BLIS are loaded at run time (dlopen), not linked: the first
 * time a program selects one, or AUTO first wants OpenBLAS for a small
 * product; never otherwise. Files: libopenblas.so.0 and libblis.so.4, or
 * what MT_OPENBLAS_LIBRARY / MT_BLIS_LIBRARY name. One that cannot be
 * loaded (missing, not that library, or a statically linked program) is
 * unavailable: selecting it fails with a message naming the file, the
 * loader's reason and the Debian package; AUTO uses the native kernel.
 * The environment variable MT_BACKEND (naive|native|openblas|blis|auto) sets
 * the initial choice; MT_NUM_THREADS (decimal digits, 1..1024) the initial
 * thread count. An invalid value of either is an error at the first matmul.
 * The API below overrides both.
 *
 * The native backend picks its micro-kernel once, at its first matmul, from
 * the CPU (AVX-512 12×32 on cores with two 512-bit FMA units, else AVX-512
 * 8×32; AVX2+FMA 6×16; portable C 4×8; wasm SIMD128 4×8), and its cache
 * blocking from the cache sizes the CPU reports. MT_NATIVE_KERNEL forces
 * the kernel: avx512, avx512-12x32, avx2+fma (or avx2), generic,
 * wasm-simd128, or auto (the default; also when unset or empty). A name
 * that is unknown or that this CPU cannot run makes every native matmul
 * fail with MT_ERR_UNSUPPORTED and a message listing the kernels it can.
 * mt_backend_describe(MT_BACKEND_NATIVE) names the kernel and blocking.
 *
 * Threads: minitensor sets the BLAS libraries' thread counts itself and never
 * runs two thread pools at once (its own workers never call into BLAS).
 */
#ifndef MINITENSOR_BACKEND_H
#define MINITENSOR_BACKEND_H

#include <stdbool.h>

#include "minitensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_backend {
    MT_BACKEND_AUTO = 0,
    MT_BACKEND_NAIVE,
    MT_BACKEND_NATIVE,
    MT_BACKEND_OPENBLAS,
    MT_BACKEND_BLIS,
    MT_BACKEND_COUNT
} mt_backend;

/* "auto", "naive", "native", "openblas", "blis"; "invalid" otherwise. */
const char *mt_backend_name(mt_backend backend);

/* Parse one of the names above (case-sensitive). */
mt_status mt_backend_from_name(const char *name, mt_backend *backend);

/* True if this build (and, for BLAS, the library loaded at run time) can
 * use the backend. AUTO, NAIVE and NATIVE are always available. */
bool mt_backend_available(mt_backend backend);

/* Choose the backend for later matmuls on every thread; loads its library
 * first (OpenBLAS, BLIS). Fails with MT_ERR_UNSUPPORTED, the choice
 * unchanged, if it is not built in or its library cannot be loaded. */
mt_status mt_backend_set(mt_backend backend);
mt_backend mt_backend_get(void);

/* Threads used by matmul (own kernel and BLAS alike); n >= 1.
 * Default: MT_NUM_THREADS, else the number of available cores. */
mt_status mt_num_threads_set(int n);
int mt_num_threads_get(void);

/* MT_OK if MT_BACKEND and MT_NUM_THREADS (read once, on first use) hold
 * values this build can use; otherwise the error the first matmul would
 * report, naming the variable and its value. Programs call it at start-up
 * to report a bad setting before doing any work. */
mt_status mt_backend_env_check(void);

/* One line describing the backend as loaded, e.g. the OpenBLAS config
 * string ("OpenBLAS 0.3.21 DYNAMIC_ARCH … Zen MAX_THREADS=64"), or the
 * kernel the native backend picked ("native avx2+fma 6x16"); for a BLAS
 * backend that cannot be loaded, why not (loading it if not yet tried).
 * Never NULL. */
const char *mt_backend_describe(mt_backend backend);

#ifdef __cplusplus
}
#endif
#endif
