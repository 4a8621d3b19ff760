/* backend_select.h (internal) — backend lookup for the matmul dispatcher. */
#ifndef MT_BACKEND_SELECT_H
#define MT_BACKEND_SELECT_H

#include "gemm.h"

/* The implementation of a concrete backend, NULL if not built in or if its
 * library cannot be loaded (the first call for a BLAS backend loads it). */
const mt_gemm_backend *mt_gemm_backend_of(mt_backend backend);

/* The backend and thread count in force (env on first use, then the API).
 * Fails if MT_BACKEND / MT_NUM_THREADS hold values this build cannot use. */
mt_status mt_backend_current(mt_backend *backend, int *threads);

/* The product g (validated) on `backend` (AUTO: chosen per shape) with
 * `threads`: the dispatcher's core (matmul.c). Fails only for a bad
 * MT_NATIVE_KERNEL or no memory for copies of strided operands. */
mt_status mt_gemm_run(const char *op, mt_gemm g, mt_backend backend, int threads);

/* The backend AUTO picks for g (matmul.c). */
mt_backend mt_gemm_auto_choice(const mt_gemm *g);

#endif
