/* test_attention.c — attention.h: values against PyTorch float64 (explicit
 * softmax(q·kᵀ·scale)·v: torch 1.13 has no F.scaled_dot_product_attention;
 * reference/make_reduce_norm_attention_refs.py), the KV-cache property, no
 * heap in steady state, and every error path. */
#include "test_util.h"
#include "reference/reduce_norm_attention_refs.h"

static mt_tensor *make(int rank, const int64_t *shape, const float *data)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t));
    return t;
}

static mt_tensor *random_tensor(int rank, const int64_t *shape, uint64_t seed)
{
    mt_tensor *t;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        ((float *)t->data)[i] = rand_unit(&seed);
    return t;
}

/* q [1,2,3,4], k [1,2,5,4], v [1,2,5,2], causal (bottom-right), scale 0.5. */
static void test_causal_against_torch(void **state)
{
    (void)state;
    mt_tensor *q = make(4, (int64_t[]){1, 2, 3, 4}, Q), *k = make(4, (int64_t[]){1, 2, 5, 4}, K);
    mt_tensor *v = make(4, (int64_t[]){1, 2, 5, 2}, V), *r;
    assert_ok(mt_scaled_dot_product_attention(q, k, v, NULL, true, 0.5f, &r));
    assert_int_equal(r->rank, 4);
    assert_int_equal(r->shape[2], 3);
    assert_int_equal(r->shape[3], 2);
    assert_close(r->data, ATTN_CAUSAL, 12, 1e-6, 1e-5);
    mt_tensor_free(r);
    /* the same as a BOOL mask tril(Lk - Lq), through the _into form */
    uint8_t tril[15];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++)
            tril[i * 5 + j] = j <= i + 2;
    mt_tensor *mask, *out;
    assert_ok(mt_tensor_from_data(MT_DTYPE_BOOL, 2, (int64_t[]){3, 5}, tril, &mask));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 2, 3, 2}, &out));
    assert_ok(mt_scaled_dot_product_attention_into(q, k, v, mask, false, 0.5f, out));
    assert_close(out->data, ATTN_CAUSAL, 12, 1e-6, 1e-5);
    mt_tensor *all[] = {q, k, v, mask, out};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);
}

/* Attention of the last query over the full k/v equals the last row of full
 * causal attention (and rows t0.. equal a q of rows t0.. with causal). Both
 * paths: [2,3,6,8] runs fused rows, [1,2,40,16] the matmul path. */
static void check_kv_cache(int64_t b, int64_t h, int64_t t, int64_t e)
{
    int64_t shape[] = {b, h, t, e};
    mt_tensor *q = random_tensor(4, shape, 1), *k = random_tensor(4, shape, 2);
    mt_tensor *v = random_tensor(4, shape, 3), *full, *last;
    assert_ok(mt_scaled_dot_product_attention(q, k, v, NULL, true, 0.0f, &full));
    for (int64_t t0 = t - 1; t0 >= t - 3; t0 -= 2) {
        mt_tensor qs, fs;
        assert_ok(mt_narrow_into(q, 2, t0, t - t0, &qs));
        assert_ok(mt_narrow_into(full, 2, t0, t - t0, &fs));
        for (int causal = 0; causal <= (t0 == t - 1); causal++) {
            /* one query sees every key: causal or not gives the same */
            bool c = t0 != t - 1 || causal;
            assert_ok(mt_scaled_dot_product_attention(&qs, k, v, NULL, c, 0.0f, &last));
            mt_tensor *want;
            assert_ok(mt_tensor_contiguous(&fs, &want));
            assert_close(last->data, want->data, (size_t)mt_tensor_numel(want), 1e-6, 1e-5);
            mt_tensor_free(want);
            mt_tensor_free(last);
        }
    }
    mt_tensor *all[] = {q, k, v, full};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

static void test_kv_cache(void **state)
{
    (void)state;
    check_kv_cache(2, 3, 6, 8);
    check_kv_cache(1, 2, 40, 16);
}

/* A fully masked row gives zeros (torch: NaN); the _into form allocates
 * nothing for a small step, and nothing once warm for a large one. */
static void test_masked_row_and_no_heap(void **state)
{
    (void)state;
    mt_tensor *q = random_tensor(3, (int64_t[]){2, 3, 4}, 4);
    mt_tensor *k = random_tensor(3, (int64_t[]){2, 5, 4}, 5);
    mt_tensor *v = random_tensor(3, (int64_t[]){2, 5, 3}, 6);
    float madd[15];
    for (int i = 0; i < 15; i++)
        madd[i] = i < 5 ? -INFINITY : 0.0f;   /* row 0: every key -inf */
    mt_tensor *mask = make(2, (int64_t[]){3, 5}, madd), *out;
    assert_ok(mt_tensor_full(3, (int64_t[]){2, 3, 3}, 9.0f, &out));
    alloc_probe probe;
    probe_install(&probe, -1);
    assert_ok(mt_scaled_dot_product_attention_into(q, k, v, mask, false, 0.0f, out));
    probe_remove();
    assert_int_equal(probe.allocations, 0);
    for (int bi = 0; bi < 2; bi++)
        for (int c = 0; c < 3; c++) {
            assert_true(((float *)out->data)[bi * 9 + c] == 0.0f);
            assert_true(isfinite(((float *)out->data)[bi * 9 + 3 + c]));
        }
    mt_tensor *all[] = {q, k, v, mask, out};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);

    int64_t big[] = {1, 2, 64, 16};
    q = random_tensor(4, big, 7);
    k = random_tensor(4, big, 8);
    v = random_tensor(4, big, 9);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, big, &out));
    probe_install(&probe, -1);   /* (installing an allocator drops cached buffers) */
    assert_ok(mt_scaled_dot_product_attention_into(q, k, v, NULL, true, 0.0f, out));
    assert_true(probe.allocations > 0);   /* the first call sizes the scratch */
    probe.allocations = 0;
    assert_ok(mt_scaled_dot_product_attention_into(q, k, v, NULL, true, 0.0f, out));
    probe_remove();
    assert_int_equal(probe.allocations, 0);
    mt_tensor *all2[] = {q, k, v, out};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all2[i]);
}

static void test_errors(void **state)
{
    (void)state;
    mt_tensor *q = random_tensor(4, (int64_t[]){1, 2, 3, 4}, 1);
    mt_tensor *k = random_tensor(4, (int64_t[]){1, 2, 5, 4}, 2);
    mt_tensor *v = random_tensor(4, (int64_t[]){1, 2, 5, 2}, 3);
    mt_tensor *k3 = random_tensor(4, (int64_t[]){1, 3, 5, 4}, 4);
    mt_tensor *ke = random_tensor(4, (int64_t[]){1, 2, 5, 3}, 5);
    mt_tensor *v6 = random_tensor(4, (int64_t[]){1, 2, 6, 2}, 6);
    mt_tensor *vec = random_tensor(1, (int64_t[]){4}, 7);
    mt_tensor *r = NULL, *i64, *mwrong, *out;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 2, (int64_t[]){3, 5}, &i64));
    assert_ok(mt_tensor_zeros(MT_DTYPE_BOOL, 2, (int64_t[]){3, 4}, &mwrong));
    const char *op = "scaled_dot_product_attention";
    assert_fails(mt_scaled_dot_product_attention(NULL, k, v, NULL, false, 0, &r),
                 MT_ERR_INVALID_ARGUMENT, op);
    assert_fails(mt_scaled_dot_product_attention(q, NULL, v, NULL, false, 0, &r),
                 MT_ERR_INVALID_ARGUMENT, op);
    assert_fails(mt_scaled_dot_product_attention(q, k, v, NULL, false, 0, NULL),
                 MT_ERR_INVALID_ARGUMENT, "scaled_dot_product_attention: out is NULL");
    assert_fails(mt_scaled_dot_product_attention(q, k, i64, NULL, false, 0, &r), MT_ERR_DTYPE,
                 op);
    assert_fails(mt_scaled_dot_product_attention(vec, k, v, NULL, false, 0, &r), MT_ERR_SHAPE,
                 "scaled_dot_product_attention: q [4] needs rank >= 2");
    assert_fails(mt_scaled_dot_product_attention(q, ke, v, NULL, false, 0, &r), MT_ERR_SHAPE,
                 "q [1,2,3,4], k [1,2,5,3], v [1,2,5,2]: need q [...,Lq,E], k [...,Lk,E]");
    assert_fails(mt_scaled_dot_product_attention(q, k, v6, NULL, false, 0, &r), MT_ERR_SHAPE,
                 "v [1,2,6,2]: need");
    assert_fails(mt_scaled_dot_product_attention(q, k3, v, NULL, false, 0, &r), MT_ERR_SHAPE,
                 "leading dims of q [1,2,3,4], k [1,3,5,4], v [1,2,5,2] do not broadcast");
    assert_fails(mt_scaled_dot_product_attention(q, k, v, i64, false, 0, &r), MT_ERR_DTYPE,
                 "mask has dtype I64, needs BOOL or F32");
    assert_fails(mt_scaled_dot_product_attention(q, k, v, mwrong, false, 0, &r), MT_ERR_SHAPE,
                 "mask [3,4] does not broadcast to the scores [1,2,3,5]");
    assert_fails(mt_scaled_dot_product_attention(q, k, v, NULL, false, INFINITY, &r),
                 MT_ERR_INVALID_ARGUMENT, "scale inf is not finite");
    assert_null(r);
    /* _into: shape, dtype, overlap, out untouched */
    assert_ok(mt_tensor_full(4, (int64_t[]){1, 2, 3, 3}, 7.0f, &out));
    assert_fails(mt_scaled_dot_product_attention_into(q, k, v, NULL, false, 0, out),
                 MT_ERR_SHAPE, "out is [1,2,3,3], result is [1,2,3,2]");
    mt_tensor over;   /* q's own memory as out: [1,2,3,2] of q [1,2,3,4] */
    assert_ok(mt_narrow_into(q, 3, 0, 2, &over));
    assert_fails(mt_scaled_dot_product_attention_into(q, k, v, NULL, false, 0, &over),
                 MT_ERR_INVALID_ARGUMENT, "out [1,2,3,2] overlaps an input");
    assert_fails(mt_scaled_dot_product_attention_into(q, k, v, NULL, false, 0, i64),
                 MT_ERR_DTYPE, op);
    mt_tensor *cell, spread;   /* an out with stride 0 */
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, (int64_t[]){1, 2, 1, 2}, &cell));
    assert_ok(mt_expand_into(cell, 4, (int64_t[]){1, 2, 3, 2}, &spread));
    assert_fails(mt_scaled_dot_product_attention_into(q, k, v, NULL, false, 0, &spread),
                 MT_ERR_INVALID_ARGUMENT, "has stride 0 in dim 2");
    mt_tensor_free(cell);
    for (int i = 0; i < 18; i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    mt_tensor *all[] = {q, k, v, k3, ke, v6, vec, i64, mwrong, out};
    for (int i = 0; i < 10; i++)
        mt_tensor_free(all[i]);
}

#if SIZE_MAX == UINT32_MAX
/* A 32-bit size_t (wasm32): a broadcast sequence of 33000 (no memory) has
 * 33000 x 33000 scores, 4.4 GB, whose byte count wrapped to 61 MB; the
 * matmul then wrote past the buffer (wasm: "memory access out of bounds").
 * Refused, the output untouched. (With a 64-bit size_t it simply runs.) */
static void test_scores_past_size_t(void **state)
{
    (void)state;
    float one = 1.0f;
    mt_tensor *s = make(3, (int64_t[]){1, 1, 1}, &one), *x, *out;
    assert_ok(mt_expand(s, 3, (int64_t[]){1, 33000, 1}, &x));
    assert_ok(mt_tensor_full(3, (int64_t[]){1, 33000, 1}, 7.0f, &out));
    assert_fails(mt_scaled_dot_product_attention_into(x, x, x, NULL, false, 0.0f, out),
                 MT_ERR_OUT_OF_MEMORY, "cannot allocate 33000 x 33000 scores");
    for (int64_t i = 0; i < 33000; i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    mt_tensor_free(out);
    mt_tensor_free(x);
    mt_tensor_free(s);
}
#endif

/* Broadcast q, k, v whose Lq·Lk (2^32 · 2^32) passes int64: refused as an
 * overflow, with no signed overflow on the way (the fused-path estimate
 * Lq·Lk·(E + Ev) is taken in double; UBSan in CI). */
static void test_scores_past_int64(void **state)
{
    (void)state;
    float one = 1.0f;
    mt_tensor *s = make(2, (int64_t[]){1, 1}, &one), *q, *k, *v, *y = NULL;
    const int64_t big = INT64_C(1) << 32;
    assert_ok(mt_expand(s, 2, (int64_t[]){big, 1}, &q));
    assert_ok(mt_expand(s, 2, (int64_t[]){big, 1}, &k));
    assert_ok(mt_expand(s, 2, (int64_t[]){big, 1}, &v));
    assert_fails(mt_scaled_dot_product_attention(q, k, v, NULL, false, 0.0f, &y),
                 MT_ERR_OVERFLOW, "4294967296 x 4294967296 scores overflow");
    assert_null(y);
    mt_tensor_free(v);
    mt_tensor_free(k);
    mt_tensor_free(q);
    mt_tensor_free(s);
}

/* The arguments of one attention_into under the probe. */
typedef struct attn_call {
    const mt_tensor *q, *k, *v, *mask;
} attn_call;

static mt_status attn_call_run(const void *ctx, mt_tensor *out)
{
    const attn_call *c = ctx;
    return mt_scaled_dot_product_attention_into(c->q, c->k, c->v, c->mask, false, 0.25f, out);
}

/* Out of memory at each allocation in turn leaves out as it was: the
 * matmul path (scores in scratch, two products per head) over two batches
 * of three heads, k seen through a transpose, a bool mask; out transposed.
 * The successful run gives mt_scaled_dot_product_attention's values, which
 * the PyTorch tests check. */
static void test_out_of_memory_leaves_out(void **state)
{
    (void)state;
    mt_tensor *q = random_tensor(4, (const int64_t[]){2, 3, 24, 16}, 3);
    mt_tensor *kt = random_tensor(4, (const int64_t[]){2, 3, 16, 20}, 5), *k = NULL;
    mt_tensor *v = random_tensor(4, (const int64_t[]){2, 3, 20, 8}, 7), *mask = NULL;
    assert_ok(mt_transpose(kt, 2, 3, &k));
    assert_ok(mt_tensor_zeros(MT_DTYPE_BOOL, 2, (const int64_t[]){24, 20}, &mask));
    for (int i = 0; i < 24 * 20; i++)
        ((uint8_t *)mask->data)[i] = i % 7 != 0;
    attn_call c = {q, k, v, mask};
    mt_tensor *want = NULL, *base = NULL, *out = NULL, *tr = NULL;
    assert_ok(mt_scaled_dot_product_attention(q, k, v, mask, false, 0.25f, &want));
    assert_ok(mt_transpose(want, 2, 3, &tr));
    mt_tensor_free(want);
    assert_ok(mt_tensor_contiguous(tr, &want));   /* [2,3,8,24]: out's base */
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 4, want->shape, &base));
    assert_ok(mt_transpose(base, 2, 3, &out));
    assert_oom_leaves_out(attn_call_run, &c, base, out, want);
    mt_tensor_free(out);
    mt_tensor_free(base);
    mt_tensor_free(tr);
    mt_tensor_free(want);
    mt_tensor_free(mask);
    mt_tensor_free(k);
    mt_tensor_free(v);
    mt_tensor_free(kt);
    mt_tensor_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causal_against_torch),
        cmocka_unit_test(test_kv_cache),
        cmocka_unit_test(test_masked_row_and_no_heap),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_scores_past_int64),
        cmocka_unit_test(test_out_of_memory_leaves_out),
#if SIZE_MAX == UINT32_MAX
        cmocka_unit_test(test_scores_past_size_t),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
