/* sparse.c — the sparse-input product: C = act(A·B + bias) for an A that is
 * mostly zeros (the pixels of a digit, one-hot or bag-of-words features).
 *
 * Each row of A is compacted to its nonzero entries (kr->compact), then a
 * gemv reads only the rows of B under them (kr->sparse_gemv): a row with
 * z nonzeros costs z rows of B instead of K. An MNIST digit has ~150 of
 * 784 pixels inked, so one image reads ~75 KB of the first layer's 401 KB.
 *
 * What it gives up is the register tiling: a dense GEMM loads each B value
 * once per MR rows of A, the sparse gemv once per nonzero, from wherever B
 * lives (L2 for the MNIST layer). So a block of rows goes this way only
 * while its density stays under what the two rates allow (SPARSE_MAX_DENSITY
 * below, measured); denser blocks return to the dense kernel.
 *
 * Skipping a zero is exact only against a finite weight: 0 × inf is NaN in
 * the dense product. The caller answers for that (matmul_chain.c).
 */
#include "native.h"

/* A block goes sparse while nonzeros × SPARSE_COST <= rows × K: one
 * nonzero costs about what SPARSE_COST dense multiply-adds per output
 * column do. A nonzero streams a row of B from L2 (half a 64-byte line per
 * cycle on Zen 3/4, a line on the Intel cores with two 512-bit FMA units),
 * while the dense kernel retires its FMAs per cycle (16 floats on Zen 4,
 * 32 on those Intel cores): the two scale together, about 2 to 1, plus
 * the compaction. Measured (784 -> 128 -> 10 at batch 256, x zero at
 * random, one thread, Zen 4): the two paths cross at density 0.40 with
 * AVX-512 (2.5 to 1) and 0.33 with AVX2 forced (3 to 1). */
enum { SPARSE_COST = 3 };

bool mt_gemm_native_sparse(const mt_gemm *g, int32_t *idx, float *val)
{
    if (g->a_cs != 1 || g->b_cs != 1 || g->c_cs != 1 || g->k == 0 || g->m == 0 ||
        g->k > INT32_MAX)
        return false;
    const mt_native_kernel *kr = mt_gemm_native_kernel();
    mt_compact_fn compact = kr->compact ? kr->compact : mt_native_compact_generic;
    mt_sparse_gemv_fn gemv = kr->sparse_gemv ? kr->sparse_gemv
                                             : mt_native_sparse_gemv_generic;
    const int64_t room = g->k + 16;
    int64_t total = 0;
    for (int64_t i = 0; i < g->m; i++) {
        int64_t nnz = compact(g->k, g->a + i * g->a_rs, idx + i * room, val + i * room);
        idx[i * room + room - 1] = (int32_t)nnz; // the count, past the overhang
        total += nnz;
        // over budget, or the first four rows already too dense: a dense
        // input (or a hidden layer's, half zeros after a ReLU) pays for the
        // compaction of four rows per block only
        if (total * SPARSE_COST > (i >= 3 ? i + 1 : g->m) * g->k)
            return false;
    }
    const int flags = (g->bias ? MT_TILE_BIAS : 0) |
                      (g->act == MT_ACTIVATION_RELU ? MT_TILE_RELU : 0);
    for (int64_t i = 0; i < g->m; i++)
        gemv(g->n, idx[i * room + room - 1], idx + i * room, val + i * room, g->b,
             g->b_rs, g->c + i * g->c_rs, g->bias, flags);
    if (g->act != MT_ACTIVATION_RELU)
        mt_gemm_activate(g, g->c, g->m, g->n);
    return true;
}
