/* gemm.h (internal) — the one interface every matmul backend implements.
 *
 * A backend computes C = act(A·B + bias) for one 2-D problem:
 *   A(i,p) = a[i*a_rs + p*a_cs]   i < m, p < k
 *   B(p,j) = b[p*b_rs + j*b_cs]   p < k, j < n
 *   C(i,j) = c[i*c_rs + j*c_cs]   written, never accumulated into
 * bias (NULL or n floats) is added to every row, then act is applied
 * (mt_gemm_activate).
 * k == 0 gives C = act(bias) (or 0). m or n == 0 writes nothing.
 * Strides are in elements and non-negative; C does not overlap A or B.
 * The dispatcher (matmul.c) validates everything first: a backend may
 * assume the descriptor is well formed.
 */
#ifndef MT_GEMM_H
#define MT_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/backend.h"
#include "minitensor/ops.h"

/* Applies act in place to an m×n block (mt_activation_rows' signature). */
typedef void (*mt_act_rows_fn)(mt_activation act, float *c, int64_t m, int64_t n,
                               int64_t rs, int64_t cs);

typedef struct mt_gemm {
    int64_t m, n, k;
    const float *a;
    int64_t a_rs, a_cs;
    const float *b;
    int64_t b_rs, b_cs;
    float *c;
    int64_t c_rs, c_cs;
    const float *bias;   /* [n] or NULL */
    mt_activation act;
    /* Applies an act other than NONE and RELU (mt_activation_rows). The
     * dispatcher sets it only where such an act can come in, so a program
     * that fuses nothing but ReLU never links the other activations' math
     * (erfcf, tanhf, ...): backends reach them only through this pointer.
     * NULL otherwise. */
    mt_act_rows_fn act_rows;
} mt_gemm;

/* act of g applied in place to the m×n block c(i,j) = c[i*c_rs + j*c_cs]
 * of g's C (gemm_naive.c). */
void mt_gemm_activate(const mt_gemm *g, float *c, int64_t m, int64_t n);

typedef struct mt_gemm_backend {
    mt_backend id;
    /* Can this backend take g as it is? BLAS needs one unit stride per
     * matrix; the dispatcher copies otherwise. (optional: NULL = any) */
    bool (*accepts)(const mt_gemm *g);
    /* Compute g on `threads` threads (>= 1). */
    void (*sgemm)(const mt_gemm *g, int threads);
    /* One-line description for mt_backend_describe; only after load. */
    const char *(*describe)(void);
    /* Loads the library the backend calls (once; thread-safe): NULL when
     * the backend is usable, else one sentence saying why not. accepts,
     * sgemm and describe are called only after it returned NULL.
     * (optional: NULL = nothing to load) */
    const char *(*load)(void);
    /* Does the library run kernels made for this CPU? AUTO gives small
     * products only to a backend that does. (optional: NULL = yes; only
     * after load) */
    bool (*tuned)(void);
} mt_gemm_backend;

/* The reference: a plain triple loop accumulating in float, kept
 * forever as the algorithmic truth every other backend is tested against. */
void mt_gemm_naive(const mt_gemm *g);

/* Applies bias and act to row-major C rows [0,m) — for backends whose core
 * cannot fuse the epilogue (BLAS). */
void mt_gemm_epilogue(const mt_gemm *g);

/* Backends compiled into this build. */
extern const mt_gemm_backend mt_gemm_backend_naive;
extern const mt_gemm_backend mt_gemm_backend_native;
#ifdef MT_HAVE_OPENBLAS
extern const mt_gemm_backend mt_gemm_backend_openblas;
#endif
#ifdef MT_HAVE_BLIS
extern const mt_gemm_backend mt_gemm_backend_blis;
#endif

#endif
