/* gemm_openblas.c — OpenBLAS sgemm (and sgemv for one-row products). */
#include <cblas.h>

#include "gemm.h"

/* OpenBLAS extensions, declared by its cblas.h in most builds; repeated here
 * so a plain reference cblas.h also compiles. */
void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);

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

static int current_threads;

static void openblas_sgemm(const mt_gemm *g, int threads)
{
    if (threads != current_threads) {
        openblas_set_num_threads(threads);
        current_threads = threads;
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

const mt_gemm_backend mt_gemm_backend_openblas = {
    .id = MT_BACKEND_OPENBLAS,
    .accepts = openblas_accepts,
    .sgemm = openblas_sgemm,
    .describe = openblas_describe,
};
