/* matmul_chain.c — two fused matmuls in a row, y = act2(act1(x·w1 + b1)·w2 + b2),
 * the hidden activations kept in cache between them (an MLP's two Linear
 * layers: 784 -> 128 ReLU -> 10 for MNIST); and the sparse-input forms of
 * it and of mt_matmul_fused, where blocks of rows of x that are mostly
 * zeros read only the rows of w1 under their nonzeros (native/sparse.c).
 *
 * With the native backend the rows of x go through both products in blocks
 * whose hidden part [rows, H] fits in half of L1d (at least 4 register tiles
 * tall, so the kernels still see full tiles): layer 2 reads what layer 1 has
 * just written from L1, and the hidden matrix is never stored whole. With
 * several threads each block is one part of the pool (a block is both
 * products: no synchronisation between the layers). Other backends get the
 * two products over all rows through a per-thread hidden buffer.
 */
#include "backend_select.h"
#include "internal.h"
#include "native/native.h"
#include "unary_ops.h" /* mt_activation_check */

/* ---- checks ------------------------------------------------------------------ */

static mt_status check_matrix(const char *op, const char *what, const mt_tensor *t)
{
    mt_status s;
    if ((s = mt_tensor_check(op, what, t)) || (s = mt_check_f32(op, t)))
        return s;
    if (t->rank != 2)
        return mt_fail(MT_ERR_SHAPE, "%s: %s is %s, expected 2 dims", op, what, MT_SHAPE(t));
    return MT_OK;
}

static mt_status check_vector(const char *op, const char *what, const mt_tensor *t,
                              int64_t n)
{
    mt_status s;
    if (!t)
        return MT_OK;
    if ((s = mt_tensor_check(op, what, t)) || (s = mt_check_f32(op, t)))
        return s;
    if (t->rank != 1 || t->shape[0] != n)
        return mt_fail(MT_ERR_SHAPE, "%s: %s is %s, expected [%lld]", op, what,
                       MT_SHAPE(t), (long long)n);
    return MT_OK;
}

static mt_status check_chain(const char *op, const mt_tensor *x, const mt_tensor *w1,
                             const mt_tensor *b1, mt_activation act1, const mt_tensor *w2,
                             const mt_tensor *b2, mt_activation act2)
{
    mt_status s;
    if ((s = mt_activation_check(op, act1)) || (s = mt_activation_check(op, act2)) ||
        (s = check_matrix(op, "x", x)) || (s = check_matrix(op, "w1", w1)) ||
        (s = check_matrix(op, "w2", w2)))
        return s;
    if (x->shape[1] != w1->shape[0] || w1->shape[1] != w2->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: inner dimensions differ: x %s, w1 %s, w2 %s", op,
                       MT_SHAPE(x), MT_SHAPE(w1), MT_SHAPE(w2));
    if ((s = check_vector(op, "b1", b1, w1->shape[1])) ||
        (s = check_vector(op, "b2", b2, w2->shape[1])))
        return s;
    return MT_OK;
}

/* ---- running ------------------------------------------------------------------- */

enum { MAX_PARTS = 32 }; // what mt_pool_run takes

typedef struct chain {
    mt_gemm g1, g2;     /* layer 1 and 2 over all rows; g1.c is NULL (the hidden) */
    bool two;           /* false: g1 alone (mt_matmul_fused_sparse), g1.c set */
    bool sparse;        /* layer 1 may skip the zeros of x (the caller's w1 is finite) */
    int64_t rows;       /* per block */
    int parts;          /* pool parts; part i runs blocks i, i + parts, ... */
    float *hidden;      /* one [rows, H] block per part */
    int32_t *idx;       /* sparse: one [rows, K + 16] block per part, and val */
    float *val;
} chain;

/* Rows per block: the hidden block in half of L1d, but at least 4 register
 * tiles and at most a quarter of L2; the kernel's own MC where the caches
 * are unknown (wasm32: 1024 rows, so MNIST's batch of 256 is one block; in
 * 120-row blocks it ran as fast, docs/wasm.md). m rows that fit the least
 * block are one block, without reading the caches (a batch of one image:
 * `mnist predict`). */
static int64_t block_rows(const mt_native_kernel *kr, int64_t m, int64_t h)
{
    if (m <= 4 * kr->mr)
        return 4 * kr->mr;
    const mt_native_caches c = mt_gemm_native_caches();
    const int64_t row_bytes = h * (int64_t)sizeof(float);
    int64_t rows = c.l1d ? c.l1d / 2 / row_bytes : mt_gemm_native_blocking(kr).mc;
    if (rows < 4 * kr->mr)
        rows = 4 * kr->mr;
    if (c.l2 && rows > c.l2 / 4 / row_bytes)
        rows = c.l2 / 4 / row_bytes;
    rows = rows / kr->mr * kr->mr;
    return rows < kr->mr ? kr->mr : rows;
}

/* Rows [i0, i0 + rows) through both layers, the hidden block at `hidden`;
 * part >= 0: inside the pool, with that part's packing buffers. */
static void chain_block(const chain *ch, int64_t i0, float *hidden, int part, int threads)
{
    const int64_t m = ch->g1.m - i0 < ch->rows ? ch->g1.m - i0 : ch->rows;
    const int64_t sparse_at = (part > 0 ? part : 0) * ch->rows * (ch->g1.k + 16);
    mt_gemm g1 = ch->g1, g2 = ch->g2;
    g1.m = g2.m = m;
    g1.a += i0 * g1.a_rs;
    if (ch->two) {
        g1.c = hidden;
        g2.a = hidden;
        g2.c += i0 * g2.c_rs;
    } else {
        g1.c += i0 * g1.c_rs;
    }
    if (ch->sparse && mt_gemm_native_sparse(&g1, ch->idx + sparse_at, ch->val + sparse_at))
        ; // layer 1 done
    else if (part >= 0)
        mt_gemm_native_serial_part(&g1, part);
    else
        mt_gemm_backend_native.sgemm(&g1, threads);
    if (!ch->two)
        return;
    if (part >= 0)
        mt_gemm_native_serial_part(&g2, part);
    else
        mt_gemm_backend_native.sgemm(&g2, threads);
}

static void chain_part(void *arg, int index)
{
    const chain *ch = arg;
    float *hidden = ch->two ? ch->hidden + index * ch->rows * ch->g1.n : NULL;
    for (int64_t i0 = index * ch->rows; i0 < ch->g1.m; i0 += ch->parts * ch->rows)
        chain_block(ch, i0, hidden, index, 1);
}

static mt_status run_native(const char *op, chain *ch, int threads)
{
    const mt_native_kernel *kr = mt_gemm_native_kernel();
    const int64_t m = ch->g1.m, h = ch->g1.n;
    ch->rows = block_rows(kr, m, h);
    const int64_t blocks = (m + ch->rows - 1) / ch->rows;
    ch->parts = blocks < MAX_PARTS ? (int)blocks : MAX_PARTS;
    const bool pooled = threads > 1 && ch->parts >= 2;
    const int64_t hidden_rows = pooled ? ch->parts * ch->rows : m < ch->rows ? m : ch->rows;
    ch->hidden = ch->two ? mt_scratch_floats(MT_SCRATCH_CHAIN_HIDDEN, hidden_rows * h) : NULL;
    if (ch->two && !ch->hidden)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the hidden block "
                       "[%lld,%lld]", op, (long long)ch->rows, (long long)h);
    if (ch->sparse) {
        const int64_t entries = hidden_rows * (ch->g1.k + 16);
        ch->idx = (int32_t *)mt_scratch_floats(MT_SCRATCH_SPARSE_IDX, entries);
        ch->val = mt_scratch_floats(MT_SCRATCH_SPARSE_VAL, entries);
        if (!ch->idx || !ch->val)
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the compacted "
                           "rows [%lld,%lld]", op, (long long)hidden_rows,
                           (long long)ch->g1.k);
    }
    if (pooled && mt_pool_run(chain_part, ch, ch->parts,
                              threads < ch->parts ? threads : ch->parts))
        return MT_OK;
    /* One thread, one block, or the pool busy: the blocks in turn, each
     * product split over the threads as a plain matmul would be. */
    for (int64_t i0 = 0; i0 < m; i0 += ch->rows)
        chain_block(ch, i0, ch->hidden, -1, threads);
    return MT_OK;
}

static mt_status run_chain(const char *op, chain *ch)
{
    mt_backend backend;
    int threads;
    mt_status s = mt_backend_current(&backend, &threads);
    if (s)
        return s;
    if (ch->g1.m == 0 || (ch->two ? ch->g2.n : ch->g1.n) == 0)
        return MT_OK;
    if (backend == MT_BACKEND_AUTO) // the big product decides for both
        backend = ch->sparse && !mt_gemm_native_thresholds().blas_always
                      ? MT_BACKEND_NATIVE : mt_gemm_auto_choice(&ch->g1);
    if (backend == MT_BACKEND_NATIVE && ch->g1.k > 0 && ch->g1.n > 0) {
        if ((s = mt_gemm_native_env_check()))
            return s;
        return run_native(op, ch, threads);
    }
    if (!ch->two)
        return mt_gemm_run(op, ch->g1, backend, threads);
    float *hidden = mt_scratch_floats(MT_SCRATCH_CHAIN_HIDDEN, ch->g1.m * ch->g1.n + 1);
    if (!hidden)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the hidden [%lld,%lld]",
                       op, (long long)ch->g1.m, (long long)ch->g1.n);
    ch->g1.c = hidden;
    ch->g2.a = hidden;
    if ((s = mt_gemm_run(op, ch->g1, backend, threads)))
        return s;
    return mt_gemm_run(op, ch->g2, backend, threads);
}

/* A bias as a contiguous array: its data, or a copy in scratch `id`. */
static const float *bias_data(const mt_tensor *b, mt_scratch_id id)
{
    if (!b)
        return NULL;
    if (b->stride[0] == 1 || b->shape[0] <= 1)
        return b->data;
    float *p = mt_scratch_floats(id, b->shape[0]);
    for (int64_t j = 0; p && j < b->shape[0]; j++)
        p[j] = ((const float *)b->data)[j * b->stride[0]];
    return p;
}

static mt_status chain_into(const char *op, bool sparse, const mt_tensor *x,
                            const mt_tensor *w1, const mt_tensor *b1, mt_activation act1,
                            const mt_tensor *w2, const mt_tensor *b2, mt_activation act2,
                            mt_tensor *out)
{
    const float *bias1 = bias_data(b1, MT_SCRATCH_MATMUL_BIAS);
    const float *bias2 = bias_data(b2, MT_SCRATCH_CHAIN_BIAS2);
    if ((b1 && !bias1) || (b2 && !bias2))
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot copy a bias", op);
    const int64_t h = w1->shape[1];
    chain ch = {
        .g1 = {.m = x->shape[0], .n = h, .k = x->shape[1],
               .a = x->data, .a_rs = x->stride[0], .a_cs = x->stride[1],
               .b = w1->data, .b_rs = w1->stride[0], .b_cs = w1->stride[1],
               .c_rs = h, .c_cs = 1, .bias = bias1,
               .act = act1, .act_rows = mt_activation_rows},
        .g2 = {.m = x->shape[0], .n = w2->shape[1], .k = h,
               .a_rs = h, .a_cs = 1,
               .b = w2->data, .b_rs = w2->stride[0], .b_cs = w2->stride[1],
               .c = out->data, .c_rs = out->stride[0], .c_cs = out->stride[1],
               .bias = bias2, .act = act2, .act_rows = mt_activation_rows},
        .two = true,
        .sparse = sparse,
    };
    return run_chain(op, &ch);
}

static mt_status check_out(const char *op, const mt_tensor *x, const mt_tensor *w1,
                           const mt_tensor *b1, const mt_tensor *w2, const mt_tensor *b2,
                           const mt_tensor *out)
{
    mt_status s;
    if ((s = check_matrix(op, "out", out)))
        return s;
    const mt_tensor *w = w2 ? w2 : w1;
    if (out->shape[0] != x->shape[0] || out->shape[1] != w->shape[1])
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, expected [%lld,%lld] (x %s, %s %s)", op,
                       MT_SHAPE(out), (long long)x->shape[0], (long long)w->shape[1],
                       MT_SHAPE(x), w2 ? "w2" : "w", MT_SHAPE(w));
    if (mt_tensors_overlap(out, x) || mt_tensors_overlap(out, w1) ||
        (w2 && mt_tensors_overlap(out, w2)) || (b1 && mt_tensors_overlap(out, b1)) ||
        (b2 && mt_tensors_overlap(out, b2)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps an input", op,
                       MT_SHAPE(out));
    return MT_OK;
}

static mt_status fused2_into(const char *op, bool sparse, const mt_tensor *x,
                             const mt_tensor *w1, const mt_tensor *b1, mt_activation act1,
                             const mt_tensor *w2, const mt_tensor *b2, mt_activation act2,
                             mt_tensor *out)
{
    mt_status s;
    if ((s = check_chain(op, x, w1, b1, act1, w2, b2, act2)) ||
        (s = check_out(op, x, w1, b1, w2, b2, out)))
        return s;
    return chain_into(op, sparse, x, w1, b1, act1, w2, b2, act2, out);
}

mt_status mt_matmul_fused2_into(const mt_tensor *x, const mt_tensor *w1, const mt_tensor *b1,
                                mt_activation act1, const mt_tensor *w2, const mt_tensor *b2,
                                mt_activation act2, mt_tensor *out)
{
    return fused2_into("matmul_fused2", false, x, w1, b1, act1, w2, b2, act2, out);
}

mt_status mt_matmul_fused2_sparse_into(const mt_tensor *x, const mt_tensor *w1,
                                       const mt_tensor *b1, mt_activation act1,
                                       const mt_tensor *w2, const mt_tensor *b2,
                                       mt_activation act2, mt_tensor *out)
{
    return fused2_into("matmul_fused2_sparse", true, x, w1, b1, act1, w2, b2, act2, out);
}

mt_status mt_matmul_fused_sparse_into(const mt_tensor *x, const mt_tensor *w,
                                      const mt_tensor *b, mt_activation act, mt_tensor *out)
{
    const char *op = "matmul_fused_sparse";
    mt_status s;
    if ((s = mt_activation_check(op, act)) || (s = check_matrix(op, "x", x)) ||
        (s = check_matrix(op, "w", w)))
        return s;
    if (x->shape[1] != w->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: inner dimensions differ: x %s, w %s", op,
                       MT_SHAPE(x), MT_SHAPE(w));
    if ((s = check_vector(op, "b", b, w->shape[1])) ||
        (s = check_out(op, x, w, b, NULL, NULL, out)))
        return s;
    const float *bias = bias_data(b, MT_SCRATCH_MATMUL_BIAS);
    if (b && !bias)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot copy the bias", op);
    chain ch = {
        .g1 = {.m = x->shape[0], .n = w->shape[1], .k = x->shape[1],
               .a = x->data, .a_rs = x->stride[0], .a_cs = x->stride[1],
               .b = w->data, .b_rs = w->stride[0], .b_cs = w->stride[1],
               .c = out->data, .c_rs = out->stride[0], .c_cs = out->stride[1],
               .bias = bias, .act = act, .act_rows = mt_activation_rows},
        .sparse = true,
    };
    return run_chain(op, &ch);
}

mt_status mt_matmul_fused2(const mt_tensor *x, const mt_tensor *w1, const mt_tensor *b1,
                           mt_activation act1, const mt_tensor *w2, const mt_tensor *b2,
                           mt_activation act2, mt_tensor **out)
{
    const char *op = "matmul_fused2";
    mt_status s = check_chain(op, x, w1, b1, act1, w2, b2, act2);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *y;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){x->shape[0], w2->shape[1]}, &y)))
        return s;
    if ((s = chain_into(op, false, x, w1, b1, act1, w2, b2, act2, y))) {
        mt_tensor_free(y);
        return s;
    }
    *out = y;
    return MT_OK;
}

/* The result tensor for x [M,K] through w [.,N], filled by `into`; freed
 * again on failure. */
static mt_status new_out(const char *op, const mt_tensor *x, const mt_tensor *w,
                         mt_tensor **out, mt_tensor **y)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_status s;
    if ((s = check_matrix(op, "x", x)) || (s = check_matrix(op, "w", w)))
        return s;
    return mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){x->shape[0], w->shape[1]}, y);
}

mt_status mt_matmul_fused2_sparse(const mt_tensor *x, const mt_tensor *w1,
                                  const mt_tensor *b1, mt_activation act1,
                                  const mt_tensor *w2, const mt_tensor *b2,
                                  mt_activation act2, mt_tensor **out)
{
    mt_tensor *y = NULL;
    mt_status s = new_out("matmul_fused2_sparse", x, w2, out, &y);
    if (!s && (s = mt_matmul_fused2_sparse_into(x, w1, b1, act1, w2, b2, act2, y))) {
        mt_tensor_free(y);
        return s;
    }
    if (!s)
        *out = y;
    return s;
}

mt_status mt_matmul_fused_sparse(const mt_tensor *x, const mt_tensor *w,
                                 const mt_tensor *b, mt_activation act, mt_tensor **out)
{
    mt_tensor *y = NULL;
    mt_status s = new_out("matmul_fused_sparse", x, w, out, &y);
    if (!s && (s = mt_matmul_fused_sparse_into(x, w, b, act, y))) {
        mt_tensor_free(y);
        return s;
    }
    if (!s)
        *out = y;
    return s;
}
