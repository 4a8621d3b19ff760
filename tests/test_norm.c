/* test_norm.c — norm.h: values against PyTorch float64 references
 * (reference/make_reduce_norm_attention_refs.py), in-place use and every
 * error path. The op table (tests/op_table) covers the value space. */
#include "test_util.h"
#include "reference/reduce_norm_attention_refs.h"

static mt_tensor *make(int rank, const int64_t *shape, const float *data)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, rank, shape, data, &t));
    return t;
}

static void test_values_against_torch(void **state)
{
    (void)state;
    mt_tensor *y = make(2, (int64_t[]){2, 3}, Y23), *w = make(1, (int64_t[]){3}, W3);
    mt_tensor *b = make(1, (int64_t[]){3}, B3), *r;
    assert_ok(mt_layer_norm(y, 1, w, b, 1e-5f, &r));
    assert_close(r->data, LN_Y, 6, 1e-6, 1e-5);
    mt_tensor_free(r);
    assert_ok(mt_rms_norm(y, 1, w, 1e-6f, &r));
    assert_close(r->data, RMS_Y, 6, 1e-6, 1e-5);
    mt_tensor_free(r);
    /* batch_norm with running_mean = B3, running_var = |W3| + 0.5 */
    float var[3];
    for (int i = 0; i < 3; i++)
        var[i] = fabsf(W3[i]) + 0.5f;
    mt_tensor *rv = make(1, (int64_t[]){3}, var);
    assert_ok(mt_batch_norm(y, 1, b, rv, NULL, NULL, 1e-5f, &r));
    assert_close(r->data, BN_Y, 6, 1e-6, 1e-5);
    mt_tensor_free(r);
    mt_tensor *z = make(3, (int64_t[]){2, 4, 3}, Z243);
    assert_ok(mt_group_norm(z, 2, 1, NULL, NULL, 1e-5f, &r));
    assert_close(r->data, GN_Z_2, 24, 1e-6, 1e-5);
    mt_tensor_free(r);
    /* no positions ([2,4,0], its data NULL): an empty result, as torch
     * (fuzz/regressions-io/loaders/group_norm_empty_input) */
    mt_tensor *e = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){2, 4, 0}, &e));
    assert_ok(mt_group_norm(e, 2, 1, NULL, NULL, 1e-5f, &r));
    assert_int_equal(mt_tensor_numel(r), 0);
    assert_int_equal(r->shape[1], 4);
    mt_tensor_free(r);
    mt_tensor_free(e);
    /* in place: out is x itself */
    assert_ok(mt_group_norm_into(z, 2, 1, NULL, NULL, 1e-5f, z));
    assert_close(z->data, GN_Z_2, 24, 1e-6, 1e-5);
    assert_ok(mt_layer_norm_into(y, 1, w, b, 1e-5f, y));
    assert_close(y->data, LN_Y, 6, 1e-6, 1e-5);
    mt_tensor *all[] = {y, w, b, rv, z};
    for (int i = 0; i < 5; i++)
        mt_tensor_free(all[i]);
}

static void test_errors(void **state)
{
    (void)state;
    mt_tensor *x, *w3, *w4, *r = NULL, *i64, *out;
    assert_ok(mt_tensor_full(3, (int64_t[]){2, 4, 3}, 1.0f, &x));
    assert_ok(mt_tensor_full(1, (int64_t[]){3}, 1.0f, &w3));
    assert_ok(mt_tensor_full(1, (int64_t[]){4}, 1.0f, &w4));
    assert_ok(mt_tensor_zeros(MT_DTYPE_I64, 3, (int64_t[]){2, 4, 3}, &i64));
    assert_fails(mt_layer_norm(NULL, 1, NULL, NULL, 1e-5f, &r), MT_ERR_INVALID_ARGUMENT,
                 "layer_norm");
    assert_fails(mt_layer_norm(x, 1, NULL, NULL, 1e-5f, NULL), MT_ERR_INVALID_ARGUMENT,
                 "layer_norm: out is NULL");
    assert_fails(mt_layer_norm(i64, 1, NULL, NULL, 1e-5f, &r), MT_ERR_DTYPE, "layer_norm");
    assert_fails(mt_layer_norm(x, 0, NULL, NULL, 1e-5f, &r), MT_ERR_INVALID_ARGUMENT,
                 "layer_norm: normalized_rank 0 out of 1..3 for x [2,4,3]");
    assert_fails(mt_rms_norm(x, 4, NULL, 1e-5f, &r), MT_ERR_INVALID_ARGUMENT,
                 "rms_norm: normalized_rank 4");
    assert_fails(mt_layer_norm(x, 1, w4, NULL, 1e-5f, &r), MT_ERR_SHAPE,
                 "layer_norm: weight is [4], expected [3]");
    assert_fails(mt_layer_norm(x, 2, w3, NULL, 1e-5f, &r), MT_ERR_SHAPE,
                 "layer_norm: weight is [3], expected [4,3]");
    assert_fails(mt_layer_norm(x, 1, w3, w4, 1e-5f, &r), MT_ERR_SHAPE,
                 "layer_norm: bias is [4], expected [3]");
    assert_fails(mt_rms_norm(x, 1, i64, 1e-5f, &r), MT_ERR_DTYPE, "rms_norm");
    assert_fails(mt_layer_norm(x, 1, NULL, NULL, -1.0f, &r), MT_ERR_INVALID_ARGUMENT,
                 "layer_norm: eps -1 must be finite and >= 0");
    assert_fails(mt_rms_norm(x, 1, NULL, NAN, &r), MT_ERR_INVALID_ARGUMENT, "eps");
    assert_fails(mt_batch_norm(x, 1, NULL, w4, NULL, NULL, 1e-5f, &r),
                 MT_ERR_INVALID_ARGUMENT, "batch_norm: running_mean is NULL");
    assert_fails(mt_batch_norm(x, 1, w4, w3, NULL, NULL, 1e-5f, &r), MT_ERR_SHAPE,
                 "batch_norm: running_var is [3], expected [4]");
    assert_fails(mt_batch_norm(x, -1, w4, w4, NULL, NULL, 1e-5f, &r), MT_ERR_SHAPE,
                 "batch_norm: running_mean is [4], expected [3]");
    assert_fails(mt_batch_norm(x, 1, w4, w4, w3, NULL, 1e-5f, &r), MT_ERR_SHAPE,
                 "batch_norm: weight is [3], expected [4]");
    assert_fails(mt_batch_norm(x, 0, w4, w4, NULL, NULL, 1e-5f, &r), MT_ERR_INVALID_ARGUMENT,
                 "batch_norm: channel_dim 0 is not in 1..2 for x [2,4,3] (dim 0 is the batch)");
    assert_fails(mt_batch_norm(x, 3, w4, w4, NULL, NULL, 1e-5f, &r), MT_ERR_INVALID_ARGUMENT,
                 "channel_dim 3");
    assert_fails(mt_batch_norm(w4, 0, w4, w4, NULL, NULL, 1e-5f, &r), MT_ERR_SHAPE,
                 "batch_norm: x [4] needs rank >= 2");
    assert_fails(mt_group_norm(x, 3, 1, NULL, NULL, 1e-5f, &r), MT_ERR_INVALID_ARGUMENT,
                 "group_norm: 3 groups do not divide the 4 channels of x [2,4,3]");
    assert_fails(mt_group_norm(x, 0, 1, NULL, NULL, 1e-5f, &r), MT_ERR_INVALID_ARGUMENT,
                 "group_norm: 0 groups");
    assert_fails(mt_group_norm(x, 2, 1, NULL, w3, 1e-5f, &r), MT_ERR_SHAPE,
                 "group_norm: bias is [3], expected [4]");
    assert_null(r);

    /* _into: shape, dtype, overlaps; out untouched on failure */
    assert_ok(mt_tensor_full(3, (int64_t[]){2, 4, 3}, 7.0f, &out));
    mt_tensor wrong, part;
    assert_ok(mt_narrow_into(out, 0, 0, 1, &wrong));
    assert_fails(mt_layer_norm_into(x, 1, NULL, NULL, 1e-5f, &wrong), MT_ERR_SHAPE,
                 "layer_norm: out is [1,4,3], x is [2,4,3]");
    assert_fails(mt_group_norm_into(x, 2, 1, NULL, NULL, 1e-5f, i64), MT_ERR_DTYPE,
                 "group_norm");
    /* out = x shifted by one element: partial overlap */
    mt_tensor *flat;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){7}, &flat));
    mt_tensor xa, xb;
    assert_ok(mt_narrow_into(flat, 0, 0, 6, &xa));
    assert_ok(mt_narrow_into(flat, 0, 1, 6, &xb));
    assert_fails(mt_rms_norm_into(&xa, 1, NULL, 1e-5f, &xb), MT_ERR_INVALID_ARGUMENT,
                 "rms_norm: out [6] partially overlaps x [6]");
    /* out over a parameter */
    mt_tensor *wide;
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 4}, 1.0f, &wide));
    mt_tensor wrow;
    assert_ok(mt_narrow_into(wide, 0, 0, 1, &wrow));
    mt_tensor w_as_vec;
    assert_ok(mt_view_into(&wrow, 1, (int64_t[]){4}, &w_as_vec));
    assert_fails(mt_batch_norm_into(wide, 1, &w_as_vec, &w_as_vec, NULL, NULL, 1e-5f, wide),
                 MT_ERR_INVALID_ARGUMENT, "batch_norm: out [2,4] overlaps parameter [4]");
    mt_tensor *cell, spread;   /* an out with stride 0 */
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){1, 4, 3}, &cell));
    assert_ok(mt_expand_into(cell, 3, (int64_t[]){2, 4, 3}, &spread));
    assert_fails(mt_group_norm_into(x, 2, 1, NULL, NULL, 1e-5f, &spread),
                 MT_ERR_INVALID_ARGUMENT, "group_norm: out [2,4,3] has stride 0 in dim 0");
    mt_tensor_free(cell);
    assert_ok(mt_narrow_into(out, 2, 0, 1, &part));
    for (int i = 0; i < 24; i++)
        assert_true(((float *)out->data)[i] == 7.0f);
    mt_tensor *all[] = {x, w3, w4, i64, out, flat, wide};
    for (int i = 0; i < 7; i++)
        mt_tensor_free(all[i]);
}

/* NHWC channel_dim -1 equals NCHW channel_dim 1 on the permuted view, and a
 * transposed (strided) x needs no copy. */
static void test_channel_last_matches(void **state)
{
    (void)state;
    mt_tensor *z = make(3, (int64_t[]){2, 4, 3}, Z243), *r;
    mt_tensor zl;   /* [2,3,4] view, channels last */
    assert_ok(mt_transpose_into(z, 1, 2, &zl));
    assert_ok(mt_group_norm(&zl, 2, -1, NULL, NULL, 1e-5f, &r));
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 4; c++)
            for (int s = 0; s < 3; s++) {
                float got = ((float *)r->data)[(n * 3 + s) * 4 + c];
                float want = GN_Z_2[(n * 4 + c) * 3 + s];
                assert_true(fabsf(got - want) <= 1e-6f + 1e-5f * fabsf(want));
            }
    mt_tensor_free(r);
    mt_tensor_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_against_torch),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_channel_last_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
