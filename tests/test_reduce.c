/* test_reduce.c — reduce.h: values against PyTorch float64 references
 * (reference/make_reduce_norm_attention_refs.py) and every error path. The
 * op table (tests/op_table) covers the value space broadly. */
#include "test_util.h"
#include "reference/reduce_norm_attention_refs.h"

static mt_tensor *make(int rank, const int64_t *shape, const float *data)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t));
    return t;
}

static mt_tensor *x234(void) { return make(3, (int64_t[]){2, 3, 4}, X234); }

static void test_values_against_torch(void **state)
{
    (void)state;
    mt_tensor *x = x234(), *r;
    assert_ok(mt_sum_dims(x, (int[]){0, -1}, 2, true, &r));   /* x.sum((0,2), keepdim) */
    assert_int_equal(r->rank, 3);
    assert_int_equal(r->shape[0], 1);
    assert_int_equal(r->shape[1], 3);
    assert_int_equal(r->shape[2], 1);
    assert_close(r->data, SUM_0_2_KEEP, 3, 1e-6, 1e-6);
    mt_tensor_free(r);
    assert_ok(mt_var(x, -1, 0, false, &r));
    assert_close(r->data, VAR_NEG1_C0, 6, 1e-6, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_std(x, 1, 2, false, &r));
    assert_close(r->data, STD_1_C2, 8, 1e-6, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_max_dims(x, NULL, 0, false, &r));   /* NaN propagates */
    assert_int_equal(r->rank, 0);
    assert_true(isnan(((float *)r->data)[0]));
    mt_tensor_free(r);
    assert_ok(mt_argmax_all(x, false, &r));   /* NaN counts as the maximum */
    assert_int_equal(r->dtype, MT_DTYPE_I64);
    assert_int_equal(((int64_t *)r->data)[0], ARGMAX_ALL);
    mt_tensor_free(r);
    assert_ok(mt_argmin(x, 1, false, &r));
    for (int i = 0; i < 8; i++)
        assert_int_equal(((int64_t *)r->data)[i], ARGMIN_1[i]);
    mt_tensor_free(r);
    assert_ok(mt_logsumexp(x, 0, false, &r));
    assert_close(r->data, LSE_0, 12, 1e-6, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_cumsum(x, 1, &r));
    assert_close(r->data, CUMSUM_1, 24, 1e-6, 1e-5);
    mt_tensor_free(r);
    mt_tensor_free(x);
}

static void test_empty_and_special(void **state)
{
    (void)state;
    mt_tensor *e, *r;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 0}, &e));
    assert_ok(mt_sum(e, 1, false, &r));   /* sum of nothing = 0 */
    assert_true(((float *)r->data)[0] == 0.0f && ((float *)r->data)[1] == 0.0f);
    mt_tensor_free(r);
    assert_ok(mt_mean(e, 1, false, &r));   /* mean of nothing = NaN */
    assert_true(isnan(((float *)r->data)[0]));
    mt_tensor_free(r);
    assert_ok(mt_logsumexp(e, 1, false, &r));   /* log(0) */
    assert_true(isinf(((float *)r->data)[0]) && ((float *)r->data)[0] < 0);
    mt_tensor_free(r);
    assert_ok(mt_max(e, 0, false, &r));   /* [2,0] over dim 0 -> [0]: fine */
    assert_int_equal(r->shape[0], 0);
    mt_tensor_free(r);
    /* var of one element: 0/0 = NaN; correction 3 on two elements: x/0 = inf */
    mt_tensor *two = make(1, (int64_t[]){2}, (float[]){1.0f, 2.0f});
    assert_ok(mt_var(two, 0, 3, false, &r));
    assert_true(isinf(((float *)r->data)[0]));
    mt_tensor_free(r);
    mt_tensor *lse = make(1, (int64_t[]){2}, (float[]){-INFINITY, INFINITY});
    assert_ok(mt_logsumexp(lse, 0, false, &r));
    assert_true(isinf(((float *)r->data)[0]) && ((float *)r->data)[0] > 0);
    mt_tensor_free(r);
    mt_tensor_free(lse);
    lse = make(1, (int64_t[]){2}, (float[]){-INFINITY, -INFINITY});
    assert_ok(mt_logsumexp(lse, 0, false, &r));
    assert_true(isinf(((float *)r->data)[0]) && ((float *)r->data)[0] < 0);
    mt_tensor_free(r);
    /* a scalar takes dim 0 and -1 */
    float v = 2.5f;
    mt_tensor *s = make(0, NULL, &v);
    assert_ok(mt_sum(s, -1, true, &r));
    assert_int_equal(r->rank, 0);
    assert_true(((float *)r->data)[0] == 2.5f);
    mt_tensor_free(r);
    mt_tensor *all[] = {e, two, lse, s};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

static void test_errors(void **state)
{
    (void)state;
    mt_tensor *x = x234(), *r = NULL, *e, *idx;
    assert_fails(mt_sum(NULL, 0, false, &r), MT_ERR_INVALID_ARGUMENT, "sum");
    assert_fails(mt_mean(x, 0, false, NULL), MT_ERR_INVALID_ARGUMENT, "mean: out is NULL");
    assert_fails(mt_var(x, 3, 1, false, &r), MT_ERR_INVALID_ARGUMENT,
                 "var: dim 3 out of range for [2,3,4]");
    assert_fails(mt_std(x, -4, 1, false, &r), MT_ERR_INVALID_ARGUMENT, "dim -4 out of range");
    assert_fails(mt_sum_dims(x, (int[]){0, -3}, 2, false, &r), MT_ERR_INVALID_ARGUMENT,
                 "sum: dim -3 appears twice in the dim list for [2,3,4]");
    assert_fails(mt_max_dims(x, NULL, 2, false, &r), MT_ERR_INVALID_ARGUMENT,
                 "max: bad dim list");
    assert_fails(mt_min_dims(x, (int[]){0}, -1, false, &r), MT_ERR_INVALID_ARGUMENT,
                 "min: bad dim list");
    assert_fails(mt_var(x, 0, -1, false, &r), MT_ERR_INVALID_ARGUMENT,
                 "var: correction -1 is negative");
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 1, (int64_t[]){3}, &idx));
    assert_fails(mt_logsumexp(idx, 0, false, &r), MT_ERR_DTYPE, "logsumexp");
    assert_fails(mt_cumsum(idx, 0, &r), MT_ERR_DTYPE, "cumsum");
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, 0}, &e));
    assert_fails(mt_max(e, 1, false, &r), MT_ERR_SHAPE, "max: dim 1 of [3,0] is empty");
    assert_fails(mt_argmin_all(e, false, &r), MT_ERR_SHAPE, "argmin: dim 1 of [3,0] is empty");
    assert_fails(mt_min_dims(e, NULL, 0, false, &r), MT_ERR_SHAPE, "min:");
    assert_null(r);   /* never written on failure */
    mt_tensor_free(e);

    /* _into: dtype, shape, overlap; out untouched */
    mt_tensor *out;
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 4}, 7.0f, &out));
    assert_fails(mt_argmax_into(x, 1, false, out), MT_ERR_DTYPE, "argmax: out has dtype F32, "
                 "needs I64");
    assert_fails(mt_sum_into(x, 2, false, out), MT_ERR_SHAPE,
                 "sum: out is [2,4], reducing [2,3,4] gives [2,3]");
    assert_fails(mt_sum_into(x, 1, true, out), MT_ERR_SHAPE, "gives [2,1,4]");
    for (int i = 0; i < 8; i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    mt_tensor row;   /* out overlapping the input: x[:, 0:1, :] */
    assert_ok(mt_narrow_into(x, 1, 0, 1, &row));
    assert_fails(mt_sum_into(x, 1, true, &row), MT_ERR_INVALID_ARGUMENT,
                 "sum: out [2,1,4] overlaps the input [2,3,4]");
    assert_true(((float *)x->data)[0] == X234[0]);
    /* cumsum: in place is fine, a shifted view of the input is not */
    mt_tensor a, b;
    assert_ok(mt_narrow_into(x, 2, 0, 3, &a));
    assert_ok(mt_narrow_into(x, 2, 1, 3, &b));
    assert_fails(mt_cumsum_into(&a, 2, &b), MT_ERR_INVALID_ARGUMENT,
                 "cumsum: out [2,3,3] partially overlaps the input [2,3,3]");
    assert_fails(mt_softmax_into(&a, 2, &b), MT_ERR_INVALID_ARGUMENT, "softmax:");
    assert_fails(mt_cumsum_into(x, 3, x), MT_ERR_INVALID_ARGUMENT, "cumsum: dim 3");
    mt_tensor *cell, wide;   /* an out whose elements share memory (stride 0) */
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 1, 1}, &cell));
    assert_ok(mt_expand_into(cell, 3, (int64_t[]){2, 3, 1}, &wide));
    assert_fails(mt_sum_into(x, 2, true, &wide), MT_ERR_INVALID_ARGUMENT,
                 "sum: out [2,3,1] has stride 0 in dim 1");
    mt_tensor_free(cell);
    assert_ok(mt_cumsum_into(x, 1, x));
    assert_close(x->data, CUMSUM_1, 24, 1e-6, 1e-5);
    mt_tensor_free(out);
    mt_tensor_free(idx);
    mt_tensor_free(x);
}

/* torch.topk(torch.tensor(1.5), 0) in PyTorch 1.13 gives values 1.5 and
 * indices 0, as k = 1 does: a scalar result has no dim to be empty along
 * (before, k 0 left the scalar output unwritten: uninitialized for
 * mt_topk). */
static void test_topk_scalar_k0(void **state)
{
    (void)state;
    mt_tensor *x = NULL, *v = NULL, *i = NULL, *vi = NULL;
    assert_ok(mt_tensor_full(0, (int64_t[]){1}, 1.5f, &x));
    for (int64_t k = 0; k < 2; k++) {
        assert_ok(mt_topk(x, k, 0, true, &v, &i));
        assert_int_equal(v->rank, 0);
        assert_true(((float *)v->data)[0] == 1.5f);
        assert_int_equal(((int64_t *)i->data)[0], 0);
        mt_tensor_free(v);
        mt_tensor_free(i);
        assert_ok(mt_tensor_full(0, (int64_t[]){1}, 7.0f, &vi));
        assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 0, (int64_t[]){1}, &i));
        ((int64_t *)i->data)[0] = -1;
        assert_ok(mt_topk_into(x, k, -1, false, vi, i));
        assert_true(((float *)vi->data)[0] == 1.5f);
        assert_int_equal(((int64_t *)i->data)[0], 0);
        mt_tensor_free(vi);
        mt_tensor_free(i);
    }
    assert_fails(mt_topk(x, 2, 0, true, &v, &i), MT_ERR_INVALID_ARGUMENT, "topk: k 2");
    mt_tensor_free(x);
}

/* sort and topk: errors name the op and shapes; nothing is written on a
 * failure; I32 indices for _into; out of memory for the lane's scratch. */
static void test_sort_topk_errors(void **state)
{
    (void)state;
    mt_tensor *x = x234(), *v = NULL, *i = NULL, *i32, *ints;
    // out of memory for the lane's scratch (this thread's first sort): an
    // error, the outputs untouched
    assert_ok(mt_tensor_full(3, (int64_t[]){2, 3, 2}, 7.0f, &v));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 3, (int64_t[]){2, 3, 2}, &i32));
    alloc_probe p;
    probe_install(&p, 0);
    mt_status s = mt_topk_into(x, 2, 2, false, v, i32);
    probe_remove();
    assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
    assert_true(((float *)v->data)[0] == 7.0f);
    mt_tensor *v2 = v;
    v = NULL;
    assert_fails(mt_sort(x, 0, false, NULL, NULL), MT_ERR_INVALID_ARGUMENT,
                 "sort: values and indices are both NULL");
    assert_fails(mt_topk(NULL, 1, 0, true, &v, &i), MT_ERR_INVALID_ARGUMENT, "topk");
    assert_fails(mt_topk(x, 5, -1, true, &v, &i), MT_ERR_INVALID_ARGUMENT,
                 "topk: k 5 out of range for dim -1 of [2,3,4] (0 to 4)");
    assert_fails(mt_topk(x, -1, 0, true, &v, &i), MT_ERR_INVALID_ARGUMENT, "k -1 out of range");
    assert_fails(mt_sort(x, 3, true, &v, &i), MT_ERR_INVALID_ARGUMENT,
                 "sort: dim 3 out of range for [2,3,4]");
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 1, (int64_t[]){3}, &ints));
    assert_fails(mt_sort(ints, 0, false, &v, &i), MT_ERR_DTYPE, "sort");
    assert_null(v);
    assert_null(i);
    // _into: shapes, overlap with the input or between the outputs
    v = v2;
    assert_fails(mt_topk_into(x, 3, 2, true, v, i32), MT_ERR_SHAPE, "topk");
    mt_tensor head;
    assert_ok(mt_narrow_into(x, 2, 0, 2, &head));
    assert_fails(mt_topk_into(x, 2, 2, true, &head, NULL), MT_ERR_INVALID_ARGUMENT,
                 "must not overlap");
    for (int k = 0; k < 12; k++)
        assert_true(((float *)v->data)[k] == 7.0f);
    // I32 indices: torch.topk(x, 2, dim=2) of x234 (a NaN counts as the
    // largest), and largest=False
    static const int32_t top[12] = {1, 0, 3, 2, 2, 3, 3, 0, 1, 3, 1, 3},
                         bottom[12] = {3, 2, 1, 0, 1, 0, 1, 2, 2, 0, 0, 2};
    assert_ok(mt_topk_into(x, 2, 2, true, v, i32));
    for (int k = 0; k < 12; k++) {
        assert_int_equal(((int32_t *)i32->data)[k], top[k]);
        float want = X234[4 * (k / 2) + top[k]], got = ((float *)v->data)[k];
        assert_true(got == want || (isnan(got) && isnan(want)));
    }
    assert_ok(mt_topk_into(x, 2, -1, false, NULL, i32));
    assert_memory_equal(i32->data, bottom, sizeof bottom);
    mt_tensor_free(i32);
    mt_tensor_free(v);
    mt_tensor_free(ints);
    mt_tensor_free(x);
}

/* The reduction runs on strided views in place: a transposed input gives
 * the transposed answer, and an _into output with gaps gets only its slots. */
static void test_strided_views(void **state)
{
    (void)state;
    mt_tensor *x = x234(), *r, *big;
    mt_tensor xt, slots;
    assert_ok(mt_transpose_into(x, 0, 2, &xt));   /* [4,3,2] */
    assert_ok(mt_var(&xt, 0, 0, false, &r));       /* = var over x's last dim, transposed */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            float got = ((float *)r->data)[j * 2 + i], want = VAR_NEG1_C0[i * 3 + j];
            assert_true(isnan(want) ? isnan(got) : fabsf(got - want) <= 1e-5f);
        }
    mt_tensor_free(r);
    assert_ok(mt_tensor_full(2, (int64_t[]){3, 2}, -9.0f, &big));
    assert_ok(mt_narrow_into(big, 1, 0, 1, &slots));    /* [3,1], stride 2 */
    assert_fails(mt_sum_dims_into(x, (int[]){0, 2}, 2, true, &slots), MT_ERR_SHAPE,
                 "out is [3,1], reducing [2,3,4] gives [1,3,1]");
    mt_tensor slots3;
    assert_ok(mt_view_into(&slots, 3, (int64_t[]){1, 3, 1}, &slots3));
    assert_ok(mt_sum_dims_into(x, (int[]){0, 2}, 2, true, &slots3));
    for (int i = 0; i < 3; i++) {
        float got = ((float *)big->data)[i * 2];
        assert_true(isnan(SUM_0_2_KEEP[i]) ? isnan(got)
                                           : fabsf(got - SUM_0_2_KEEP[i]) <= 1e-6f);
        assert_true(((float *)big->data)[i * 2 + 1] == -9.0f);
    }
    mt_tensor_free(big);
    mt_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_against_torch),
        cmocka_unit_test(test_empty_and_special),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sort_topk_errors),
        cmocka_unit_test(test_topk_scalar_k0),
        cmocka_unit_test(test_strided_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
