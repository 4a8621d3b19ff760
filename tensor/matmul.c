/* matmul.c — the one matmul entry point: validate, broadcast batches, pick a
 * backend per 2-D problem, hand it strided operands (copying only what a
 * backend cannot take as it is). */
#include <assert.h>
#include <string.h>

#include "backend_select.h"
#include "internal.h"
#include "native/native.h" /* mt_gemm_native_env_check, _thresholds */
#include "unary_ops.h"

/* Copy a rows x cols strided matrix into this thread's row-major scratch s. */
static const float *pack_rows(mt_scratch_id s, const float *x, int64_t rows, int64_t cols,
                              int64_t rs, int64_t cs)
{
    float *p = mt_scratch_floats(s, rows * cols);
    if (!p)
        return NULL;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            p[i * cols + j] = x[i * rs + j * cs];
    return p;
}

/* ---- choosing a backend ---------------------------------------------------- */

/* AUTO: the per-shape policy. OpenBLAS wins small products with M > 1 (its
 * call costs less than the native driver's); the native kernel wins the
 * rest, including M = 1 (its gemv: 3.6 vs 3.9 us for 1x784x128 on Zen 4).
 * The crossover is a per-call cost in cycles times the native kernel's FMAs
 * per cycle, so it follows the machine (native/thresholds.c: 64³ on Zen 4,
 * twice that with two 512-bit FMA units) — unless OpenBLAS does not know
 * the CPU and runs a generic kernel (0.3.21 on Emerald Rapids: Prescott,
 * SSE3, 18-32 GFLOP/s against the native kernel's 130-150). */
mt_backend mt_gemm_auto_choice(const mt_gemm *g)
{
#ifdef MT_HAVE_OPENBLAS
    /* OpenBLAS is loaded here, the first time it is wanted; if it cannot
     * be, the native kernel runs instead, silently (AUTO promises a result,
     * not a library). */
    const mt_gemm_backend *blas;
    if (mt_native_small_for_blas(mt_gemm_native_thresholds(), g->m, g->n, g->k) &&
        (blas = mt_gemm_backend_of(MT_BACKEND_OPENBLAS)) && (!blas->tuned || blas->tuned()))
        return MT_BACKEND_OPENBLAS;
#endif
    (void)g;
    return MT_BACKEND_NATIVE;
}

mt_status mt_gemm_run(const char *op, mt_gemm g, mt_backend backend, int threads)
{
    if (g.m == 0 || g.n == 0)
        return MT_OK;
    if (g.k == 0) {   /* empty sum: C = act(bias) */
        for (int64_t i = 0; i < g.m; i++)
            for (int64_t j = 0; j < g.n; j++)
                g.c[i * g.c_rs + j * g.c_cs] = g.bias ? g.bias[j] : 0.0f;
        mt_gemm_activate(&g, g.c, g.m, g.n);
        return MT_OK;
    }
    if (backend == MT_BACKEND_AUTO)
        backend = mt_gemm_auto_choice(&g);
    if (backend == MT_BACKEND_NATIVE) {
        mt_status st = mt_gemm_native_env_check(); // a bad MT_NATIVE_KERNEL
        if (st)
            return st;
    }
    /* non-NULL: an explicit choice was loaded when it was made */
    const mt_gemm_backend *impl = mt_gemm_backend_of(backend);
    assert(impl);
    if (impl->accepts && !impl->accepts(&g)) {
        /* Rare (e.g. a BLAS given a view with no unit stride): run the
         * backend on row-major copies, then scatter C back. */
        mt_gemm packed = g;
        packed.a = pack_rows(MT_SCRATCH_MATMUL_A, g.a, g.m, g.k, g.a_rs, g.a_cs);
        packed.b = pack_rows(MT_SCRATCH_MATMUL_B, g.b, g.k, g.n, g.b_rs, g.b_cs);
        packed.c = mt_scratch_floats(MT_SCRATCH_MATMUL_C, g.m * g.n);
        if (!packed.a || !packed.b || !packed.c)
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: no memory to copy strided operands",
                           op);
        packed.a_rs = g.k, packed.a_cs = 1;
        packed.b_rs = g.n, packed.b_cs = 1;
        packed.c_rs = g.n, packed.c_cs = 1;
        impl->sgemm(&packed, threads);
        for (int64_t i = 0; i < g.m; i++)
            for (int64_t j = 0; j < g.n; j++)
                g.c[i * g.c_rs + j * g.c_cs] = packed.c[i * g.n + j];
        return MT_OK;
    }
    impl->sgemm(&g, threads);
    return MT_OK;
}

/* ---- shapes ---------------------------------------------------------------- */

typedef struct matmul_plan {
    mt_tensor a, b;                 /* operands promoted to rank >= 2 */
    bool a_vector, b_vector;        /* 1-D inputs (numpy's promotion) */
    int batch_rank;
    int64_t batch[MT_MAX_RANK];     /* broadcast batch shape */
    int out_rank;
    int64_t out_shape[MT_MAX_RANK]; /* as the caller sees it */
} matmul_plan;

/* t with a dim of 1 inserted at position pos (stride irrelevant). */
static void insert_unit_dim(mt_tensor *t, int pos)
{
    for (int d = t->rank; d > pos; d--) {
        t->shape[d] = t->shape[d - 1];
        t->stride[d] = t->stride[d - 1];
    }
    t->shape[pos] = 1;
    t->stride[pos] = 0;
    t->rank++;
}

static mt_status plan_matmul(const char *op, const mt_tensor *a, const mt_tensor *b,
                             matmul_plan *p)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "a", a)) || (s = mt_tensor_check(op, "b", b)) ||
        (s = mt_check_f32(op, a)) || (s = mt_check_f32(op, b)))
        return s;
    if (a->rank == 0 || b->rank == 0)
        return mt_fail(MT_ERR_SHAPE, "%s: an operand has no dim: %s x %s",
                       op, MT_SHAPE(a), MT_SHAPE(b));
    p->a = *a;
    p->b = *b;
    p->a_vector = a->rank == 1;
    p->b_vector = b->rank == 1;
    if (p->a_vector)
        insert_unit_dim(&p->a, 0);
    if (p->b_vector)
        insert_unit_dim(&p->b, 1);
    int ar = p->a.rank, br = p->b.rank;
    if (p->a.shape[ar - 1] != p->b.shape[br - 2])
        return mt_fail(MT_ERR_SHAPE, "%s: inner dimensions differ: %s x %s", op,
                       MT_SHAPE(a), MT_SHAPE(b));
    int abr = ar - 2, bbr = br - 2;
    p->batch_rank = abr > bbr ? abr : bbr;
    for (int i = 0; i < p->batch_rank; i++) {
        int da = abr - p->batch_rank + i, db = bbr - p->batch_rank + i;
        int64_t sa = da >= 0 ? p->a.shape[da] : 1, sb = db >= 0 ? p->b.shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return mt_fail(MT_ERR_SHAPE, "%s: batch dims do not broadcast: %s x %s", op,
                           MT_SHAPE(a), MT_SHAPE(b));
        p->batch[i] = sa == 1 ? sb : sa;
    }
    if (p->batch_rank + 2 - p->a_vector - p->b_vector > MT_MAX_RANK)
        return mt_fail(MT_ERR_SHAPE, "%s: result rank exceeds %d", op, MT_MAX_RANK);
    int r = 0;
    for (int i = 0; i < p->batch_rank; i++)
        p->out_shape[r++] = p->batch[i];
    if (!p->a_vector)
        p->out_shape[r++] = p->a.shape[ar - 2];
    if (!p->b_vector)
        p->out_shape[r++] = p->b.shape[br - 1];
    p->out_rank = r;
    int64_t numel;
    if (!mt_shape_numel(r, p->out_shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: result size overflows", op);
    return MT_OK;
}

static mt_status check_bias(const char *op, const mt_tensor *bias, int64_t n)
{
    mt_status s;
    if ((s = mt_tensor_check(op, "bias", bias)) || (s = mt_check_f32(op, bias)))
        return s;
    if (bias->rank != 1 || bias->shape[0] != n)
        return mt_fail(MT_ERR_SHAPE, "%s: bias is %s, expected [%lld]", op,
                       MT_SHAPE(bias), (long long)n);
    return MT_OK;
}

/* The activation of a product: act, and the function that applies it
 * unless it is NONE or RELU (mt_gemm.act_rows; NULL where the entry point
 * admits only those two). */
typedef struct epilogue {
    mt_activation act;
    mt_act_rows_fn act_rows;
} epilogue;

/* Runs every batch of the plan into out (validated). */
static mt_status execute(const char *op, const matmul_plan *p, const mt_tensor *bias,
                         epilogue e, mt_tensor *out)
{
    mt_backend backend;
    int threads;
    mt_status s = mt_backend_current(&backend, &threads);
    if (s || mt_tensor_numel(out) == 0)   /* nothing to write (and out->data may be NULL) */
        return s;
    mt_tensor c = *out;   /* promoted to [batch..., M, N] */
    if (p->a_vector)
        insert_unit_dim(&c, c.rank - (p->b_vector ? 0 : 1));
    if (p->b_vector)
        insert_unit_dim(&c, c.rank);
    const mt_tensor *a = &p->a, *b = &p->b;
    int ar = a->rank, br = b->rank, cr = c.rank;
    const float *bias_data = NULL;
    if (bias) {
        bias_data = bias->data;
        if (bias->stride[0] != 1 && bias->shape[0] > 1 &&
            !(bias_data = pack_rows(MT_SCRATCH_MATMUL_BIAS, bias->data, 1, bias->shape[0], 0,
                                    bias->stride[0])))
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot copy bias", op);
    }
    mt_gemm g = {
        .m = a->shape[ar - 2], .n = b->shape[br - 1], .k = a->shape[ar - 1],
        .a_rs = a->stride[ar - 2], .a_cs = a->stride[ar - 1],
        .b_rs = b->stride[br - 2], .b_cs = b->stride[br - 1],
        .c_rs = c.stride[cr - 2], .c_cs = c.stride[cr - 1],
        .bias = bias_data, .act = e.act, .act_rows = e.act_rows,
    };
    int64_t index[MT_MAX_RANK] = {0};
    int64_t nbatch;
    mt_shape_numel(p->batch_rank, p->batch, &nbatch);
    for (int64_t i = 0; i < nbatch; i++) {
        int64_t oa = 0, ob = 0, oc = 0;
        for (int d = 0; d < p->batch_rank; d++) {
            int da = ar - 2 - p->batch_rank + d, db = br - 2 - p->batch_rank + d;
            if (da >= 0 && a->shape[da] != 1)
                oa += index[d] * a->stride[da];
            if (db >= 0 && b->shape[db] != 1)
                ob += index[d] * b->stride[db];
            oc += index[d] * c.stride[d];
        }
        // K = 0: a and b are empty, their data may be NULL (no offset on it)
        g.a = a->data ? (const float *)a->data + oa : NULL;
        g.b = b->data ? (const float *)b->data + ob : NULL;
        g.c = (float *)c.data + oc;
        if ((s = mt_gemm_run(op, g, backend, threads)))
            return s;
        mt_index_next(p->batch_rank, p->batch, index);
    }
    return MT_OK;
}

static mt_status matmul_into(const char *op, const mt_tensor *a, const mt_tensor *b,
                             const mt_tensor *bias, epilogue e, mt_tensor *out)
{
    matmul_plan p;
    mt_status s = plan_matmul(op, a, b, &p);
    if (s || (s = mt_tensor_check(op, "out", out)))
        return s;
    if (bias && (s = check_bias(op, bias, p.b.shape[p.b.rank - 1])))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, p.out_rank, p.out_shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, %s x %s gives %s", op, MT_SHAPE(out),
                       MT_SHAPE(a), MT_SHAPE(b), MT_SHAPE(&want));
    if (mt_tensors_overlap(out, a) || mt_tensors_overlap(out, b) ||
        (bias && mt_tensors_overlap(out, bias)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps an input", op,
                       MT_SHAPE(out));
    // its dtype, and no stride 0 (an expanded out: results would collide)
    if ((s = mt_check_out(op, out, MT_DTYPE_F32, p.out_rank, p.out_shape)))
        return s;
    return execute(op, &p, bias, e, out);
}

static mt_status matmul_new(const char *op, const mt_tensor *a, const mt_tensor *b,
                            const mt_tensor *bias, epilogue e, mt_tensor **out)
{
    matmul_plan p;
    mt_status s = plan_matmul(op, a, b, &p);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    if (bias && (s = check_bias(op, bias, p.b.shape[p.b.rank - 1])))
        return s;
    mt_tensor *c;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, p.out_rank, p.out_shape, &c)))
        return s;
    if ((s = execute(op, &p, bias, e, c))) {
        mt_tensor_free(c);
        return s;
    }
    *out = c;
    return MT_OK;
}

static const epilogue no_act = {MT_ACTIVATION_NONE, NULL};

mt_status mt_matmul(const mt_tensor *a, const mt_tensor *b, mt_tensor **out)
{
    return matmul_new("matmul", a, b, NULL, no_act, out);
}

mt_status mt_matmul_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out)
{
    return matmul_into("matmul", a, b, NULL, no_act, out);
}

/* ---- fused: mt_matmul_fused(_into) are inline (ops.h) ----------------------
 * They call _relu for NONE and RELU, _any for the rest: with a constant act
 * the compiler keeps one call, and a program that fuses only ReLU links
 * none of mt_activation_rows (erfcf, tanhf, six row loops: 2.4 KB of
 * the wasm module). Their external definitions are here too, for callers that take
 * their address or do not inline. */
extern inline mt_status mt_matmul_fused(const mt_tensor *a, const mt_tensor *b,
                                        const mt_tensor *bias, mt_activation act,
                                        mt_tensor **out);
extern inline mt_status mt_matmul_fused_into(const mt_tensor *a, const mt_tensor *b,
                                             const mt_tensor *bias, mt_activation act,
                                             mt_tensor *out);

static mt_status check_relu(mt_activation act)
{
    if (act != MT_ACTIVATION_NONE && act != MT_ACTIVATION_RELU)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "matmul_fused: activation %d is not none or relu", (int)act);
    return MT_OK;
}

mt_status mt_matmul_fused_relu(const mt_tensor *a, const mt_tensor *b, const mt_tensor *bias,
                               mt_activation act, mt_tensor **out)
{
    mt_status s = check_relu(act);
    return s ? s : matmul_new("matmul_fused", a, b, bias, (epilogue){act, NULL}, out);
}

mt_status mt_matmul_fused_relu_into(const mt_tensor *a, const mt_tensor *b,
                                    const mt_tensor *bias, mt_activation act, mt_tensor *out)
{
    mt_status s = check_relu(act);
    return s ? s : matmul_into("matmul_fused", a, b, bias, (epilogue){act, NULL}, out);
}

mt_status mt_matmul_fused_any(const mt_tensor *a, const mt_tensor *b, const mt_tensor *bias,
                              mt_activation act, mt_tensor **out)
{
    mt_status s = mt_activation_check("matmul_fused", act);
    return s ? s : matmul_new("matmul_fused", a, b, bias,
                              (epilogue){act, mt_activation_rows}, out);
}

mt_status mt_matmul_fused_any_into(const mt_tensor *a, const mt_tensor *b,
                                   const mt_tensor *bias, mt_activation act, mt_tensor *out)
{
    mt_status s = mt_activation_check("matmul_fused", act);
    return s ? s : matmul_into("matmul_fused", a, b, bias,
                               (epilogue){act, mt_activation_rows}, out);
}
