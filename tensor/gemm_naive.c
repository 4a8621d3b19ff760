/* gemm_naive.c — the reference matmul: an algorithmic truth and a fallback. */
#include <assert.h>
#include "gemm.h"
#include "unary_ops.h"

void mt_gemm_naive(const mt_gemm *g)
{
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < g->n; j++) {
            float acc = 0.0f;
            for (int64_t p = 0; p < g->k; p++)
                acc += g->a[i * g->a_rs + p * g->a_cs] * g->b[p * g->b_rs + j * g->b_cs];
            if (g->bias)
                acc += g->bias[j];
            g->c[i * g->c_rs + j * g->c_cs] = acc;
        }
    }
    mt_gemm_activate(g, g->c, g->m, g->n);
}

void mt_gemm_activate(const mt_gemm *g, float *c, int64_t m, int64_t n)
{
    if (g->act == MT_ACTIVATION_RELU) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                float *v = c + i * g->c_rs + j * g->c_cs;
                *v = u_relu(*v, 0.0f, 0.0f);
            }
    } else if (g->act != MT_ACTIVATION_NONE) {
        /* whoever builds an mt_gemm with another act sets act_rows (gemm.h) */
        assert(g->act_rows);
        g->act_rows(g->act, c, m, n, g->c_rs, g->c_cs);
    }
}

void mt_gemm_epilogue(const mt_gemm *g)
{
    if (!g->bias && g->act == MT_ACTIVATION_NONE)
        return;
    for (int64_t i = 0; g->bias && i < g->m; i++) {
        float *row = g->c + i * g->c_rs;
        for (int64_t j = 0; j < g->n; j++)
            row[j * g->c_cs] += g->bias[j];
    }
    mt_gemm_activate(g, g->c, g->m, g->n);
}

static void naive_sgemm(const mt_gemm *g, int threads)
{
    (void)threads;
    mt_gemm_naive(g);
}

static const char *naive_describe(void) { return "naive reference triple loop"; }

const mt_gemm_backend mt_gemm_backend_naive = {
    .id = MT_BACKEND_NAIVE,
    .accepts = NULL,
    .sgemm = naive_sgemm,
    .describe = naive_describe,
};
