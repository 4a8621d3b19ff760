/* test_ops.c — elementwise ops with broadcasting, relu, scale, reductions,
 * softmax; references from NumPy (reference/make_refs.py). */
#include "test_util.h"
#include "reference/ops_refs.h"

static mt_tensor *make(int rank, const int64_t *shape, const float *data)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t));
    return t;
}

static void test_broadcast_add_sub_mul(void **state)
{
    (void)state;
    mt_tensor *x = make(2, (int64_t[]){3, 4}, REF_X34);
    mt_tensor *y = make(1, (int64_t[]){4}, REF_Y4);
    mt_tensor *col = make(2, (int64_t[]){3, 1}, REF_COL31);
    mt_tensor *row = make(2, (int64_t[]){1, 4}, REF_ROW14);
    mt_tensor *r;
    assert_ok(mt_add(x, y, &r));   /* the bias add: [3,4] + [4] */
    assert_int_equal(r->rank, 2);
    assert_close(r->data, REF_ADD_X34_Y4, 12, 1e-6, 1e-6);
    mt_tensor_free(r);
    assert_ok(mt_sub(col, row, &r));   /* [3,1] - [1,4] -> [3,4] */
    assert_int_equal(r->shape[0], 3);
    assert_int_equal(r->shape[1], 4);
    assert_close(r->data, REF_SUB_COL31_ROW14, 12, 1e-6, 1e-6);
    mt_tensor_free(r);
    assert_ok(mt_mul(x, col, &r));
    assert_close(r->data, REF_MUL_X34_COL31, 12, 1e-6, 1e-6);
    mt_tensor_free(r);
    mt_tensor *all[] = {x, y, col, row};
    for (int i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

static void test_broadcast_edges(void **state)
{
    (void)state;
    float one = 2.0f;
    mt_tensor *x = make(2, (int64_t[]){3, 4}, REF_X34);
    mt_tensor *s = make(0, NULL, &one);   /* scalar broadcasts everywhere */
    mt_tensor *r;
    assert_ok(mt_mul(s, x, &r));
    float want[12];
    for (int i = 0; i < 12; i++)
        want[i] = 2.0f * REF_X34[i];
    assert_close(r->data, want, 12, 0, 0);
    mt_tensor_free(r);
    /* zero-size: [0,4] + [4] -> [0,4] */
    mt_tensor *e, *y = make(1, (int64_t[]){4}, REF_Y4);
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){0, 4}, &e));
    assert_ok(mt_add(e, y, &r));
    assert_int_equal(r->shape[0], 0);
    mt_tensor_free(r);
    /* [3,4] + [3] does not broadcast */
    mt_tensor *bad = make(1, (int64_t[]){3}, REF_COL31);
    assert_fails(mt_add(x, bad, &r), MT_ERR_SHAPE, "add: shapes do not broadcast: a [3,4] and b [3]");
    /* transposed view as input: x^T + x^T */
    mt_tensor xt;
    assert_ok(mt_transpose_into(x, 0, 1, &xt));
    assert_ok(mt_add(&xt, &xt, &r));
    float v;
    assert_ok(mt_tensor_get_f32(r, (int64_t[]){3, 2}, &v));
    assert_true(v == 2.0f * REF_X34[2 * 4 + 3]);
    mt_tensor_free(r);
    mt_tensor *all[] = {x, s, e, y, bad};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);
}

static void test_into_and_in_place(void **state)
{
    (void)state;
    mt_tensor *x = make(2, (int64_t[]){3, 4}, REF_X34);
    mt_tensor *y = make(1, (int64_t[]){4}, REF_Y4);
    assert_ok(mt_add_into(x, y, x));   /* in place */
    assert_close(x->data, REF_ADD_X34_Y4, 12, 1e-6, 1e-6);
    mt_tensor *wrong;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){4, 3}, &wrong));
    assert_fails(mt_add_into(x, y, wrong), MT_ERR_SHAPE, "add: out is [4,3], result is [3,4]");
    mt_tensor *i32;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 2, (int64_t[]){3, 4}, &i32));
    assert_fails(mt_add_into(x, y, i32), MT_ERR_DTYPE, "add: out [3,4] has dtype I32; the result is F32");
    assert_fails(mt_add(x, i32, &wrong), MT_ERR_DTYPE, "add: [3,4] has dtype I32");
    assert_fails(mt_add(x, NULL, &wrong), MT_ERR_INVALID_ARGUMENT, "add: b is NULL");
    assert_fails(mt_relu(x, NULL), MT_ERR_INVALID_ARGUMENT, "relu: out is NULL");
    mt_tensor_free(wrong);
    mt_tensor_free(i32);
    mt_tensor_free(x);
    mt_tensor_free(y);
}

static void test_relu_and_scale(void **state)
{
    (void)state;
    const float in[5] = {-2.0f, -0.0f, 0.0f, 3.5f, NAN};
    const float relu[5] = {0.0f, -0.0f, 0.0f, 3.5f, NAN};
    const float scaled[5] = {1.0f, 0.0f, -0.0f, -1.75f, NAN};
    mt_tensor *x = make(1, (int64_t[]){5}, in), *r, *s;
    assert_ok(mt_relu(x, &r));
    assert_close(r->data, relu, 5, 0, 0);
    assert_ok(mt_mul_scalar(x, -0.5f, &s));
    assert_close(s->data, scaled, 5, 0, 0);
    mt_tensor_free(x);
    mt_tensor_free(r);
    mt_tensor_free(s);
}

static void test_softmax_log_softmax(void **state)
{
    (void)state;
    mt_tensor *x = make(2, (int64_t[]){3, 4}, REF_X34), *r;
    assert_ok(mt_softmax(x, 1, &r));
    assert_close(r->data, REF_SOFTMAX_X34_DIM1, 12, 1e-7, 1e-6);
    mt_tensor_free(r);
    assert_ok(mt_softmax(x, -2, &r));   /* dim 0, counted from the end */
    assert_close(r->data, REF_SOFTMAX_X34_DIM0, 12, 1e-7, 1e-6);
    mt_tensor_free(r);
    assert_ok(mt_log_softmax(x, -1, &r));
    assert_close(r->data, REF_LOG_SOFTMAX_X34_DIM1, 12, 1e-6, 1e-6);
    mt_tensor_free(r);
    mt_tensor *big = make(2, (int64_t[]){2, 3}, REF_BIG23);
    assert_ok(mt_softmax(big, 1, &r));   /* exp(1002) would overflow */
    assert_close(r->data, REF_SOFTMAX_BIG23, 6, 1e-7, 1e-6);
    mt_tensor_free(r);
    assert_fails(mt_softmax(x, 2, &r), MT_ERR_INVALID_ARGUMENT, "softmax: dim 2 out of range for [3,4]");
    mt_tensor_free(big);
    mt_tensor_free(x);
}

static void test_reductions(void **state)
{
    (void)state;
    mt_tensor *x = make(2, (int64_t[]){3, 4}, REF_X34), *r;
    assert_ok(mt_sum(x, 0, false, &r));
    assert_int_equal(r->rank, 1);
    assert_close(r->data, REF_SUM_X34_DIM0, 4, 1e-6, 1e-6);
    mt_tensor_free(r);
    assert_ok(mt_sum(x, 1, true, &r));
    assert_int_equal(r->rank, 2);
    assert_int_equal(r->shape[1], 1);
    assert_close(r->data, REF_SUM_X34_DIM1, 3, 1e-6, 1e-6);
    mt_tensor_free(r);
    assert_ok(mt_max(x, 1, false, &r));
    assert_close(r->data, REF_MAX_X34_DIM1, 3, 0, 0);
    mt_tensor_free(r);
    assert_ok(mt_argmax(x, 1, false, &r));
    assert_int_equal(r->dtype, MT_DTYPE_I64);
    for (int i = 0; i < 3; i++)
        assert_int_equal(((int64_t *)r->data)[i], REF_ARGMAX_X34_DIM1[i]);
    mt_tensor_free(r);
    /* argmax over dim 0 of a transposed view = argmax over dim 1 of x^T */
    mt_tensor xt;
    assert_ok(mt_transpose_into(x, 0, 1, &xt));
    assert_ok(mt_argmax(&xt, 1, false, &r));
    for (int i = 0; i < 4; i++)
        assert_int_equal(((int64_t *)r->data)[i], REF_ARGMAX_X34_DIM0[i]);
    mt_tensor_free(r);
    /* ties pick the first; NaN counts as the maximum (NumPy) */
    const float tie[4] = {1, 5, 5, 2}, nan[4] = {1, NAN, 9, 2};
    mt_tensor *t = make(1, (int64_t[]){4}, tie), *n = make(1, (int64_t[]){4}, nan);
    assert_ok(mt_argmax(t, 0, false, &r));
    assert_int_equal(r->rank, 0);
    assert_int_equal(*(int64_t *)r->data, 1);
    mt_tensor_free(r);
    assert_ok(mt_argmax(n, 0, false, &r));
    assert_int_equal(*(int64_t *)r->data, 1);
    mt_tensor_free(r);
    /* empty dims: sum is 0, max is an error */
    mt_tensor *e;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 0}, &e));
    assert_ok(mt_sum(e, 1, false, &r));
    assert_true(((float *)r->data)[0] == 0.0f && ((float *)r->data)[1] == 0.0f);
    mt_tensor_free(r);
    assert_fails(mt_max(e, 1, false, &r), MT_ERR_SHAPE, "max: dim 1 of [2,0] is empty");
    mt_tensor *out;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){3}, &out));
    assert_fails(mt_argmax_into(x, 1, false, out), MT_ERR_DTYPE, "out has dtype F32, needs I64");
    mt_tensor *all[] = {x, t, n, e, out};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_add_sub_mul),
        cmocka_unit_test(test_broadcast_edges),
        cmocka_unit_test(test_into_and_in_place),
        cmocka_unit_test(test_relu_and_scale),
        cmocka_unit_test(test_softmax_log_softmax),
        cmocka_unit_test(test_reductions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
