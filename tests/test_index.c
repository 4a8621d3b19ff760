/* test_index.c — index.h and the shape views of view.h: every error path,
 * the views' aliasing and strides (values printed by PyTorch 1.13's
 * .stride()/.storage_offset()), reshape's copy rule, in-place tril. The
 * ops' values over many shapes are in the op table (tests/op_table). */
#include "test_util.h"

/* x = arange(n) as F32 with `shape`. */
static mt_tensor *arange(int rank, const int64_t *shape)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t));
    float *p = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        p[i] = (float)i;
    return t;
}

static mt_tensor *ints64(int rank, const int64_t *shape, const int64_t *v)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_I64, rank, shape, v, &t));
    return t;
}

static mt_tensor *ints32(int rank, const int64_t *shape, const int32_t *v)
{
    mt_tensor *t = NULL;
    assert_ok(mt_tensor_from_data(MT_DTYPE_I32, rank, shape, v, &t));
    return t;
}

static bool all_equal(const mt_tensor *t, float v)
{
    const float *p = t->data;
    for (int64_t i = 0; i < mt_tensor_numel(t); i++)
        if (p[i] != v)
            return false;
    return true;
}

/* ---- gathering: errors -------------------------------------------------------- */

static void test_index_select_errors(void **state)
{
    (void)state;
    mt_tensor *x = arange(2, (int64_t[]){5, 3});
    mt_tensor *ix = ints64(1, (int64_t[]){3}, (int64_t[]){0, 7, 1});
    mt_tensor *neg = ints32(1, (int64_t[]){2}, (int32_t[]){1, -1});
    mt_tensor *fl = arange(1, (int64_t[]){2});
    mt_tensor *ix2 = ints64(2, (int64_t[]){1, 2}, (int64_t[]){0, 1});
    mt_tensor *out = NULL, *sink = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){3, 3}, -5.0f, &out));

    assert_fails(mt_index_select(NULL, 0, ix, &sink), MT_ERR_INVALID_ARGUMENT, "x is NULL");
    assert_fails(mt_index_select(x, 0, NULL, &sink), MT_ERR_INVALID_ARGUMENT,
                 "index is NULL");
    assert_fails(mt_index_select(x, 0, fl, &sink), MT_ERR_DTYPE,
                 "indices must be I32 or I64");
    assert_fails(mt_index_select(x, 0, ix2, &sink), MT_ERR_SHAPE, "must be 1-D");
    assert_fails(mt_index_select(x, 2, ix, &sink), MT_ERR_INVALID_ARGUMENT,
                 "dim 2 out of range");
    /* the bad index by value, position and the dim size; out untouched */
    assert_fails(mt_index_select(x, 0, ix, &sink), MT_ERR_INVALID_ARGUMENT,
                 "index 7 at position [1] is out of range for dim 0 of size 5");
    assert_fails(mt_index_select_into(x, 0, ix, out), MT_ERR_INVALID_ARGUMENT, "index 7");
    assert_true(all_equal(out, -5.0f));
    /* negative indices are errors, as in torch.index_select */
    assert_fails(mt_index_select(x, -1, neg, &sink), MT_ERR_INVALID_ARGUMENT,
                 "index -1 at position [1] is out of range for dim 1 of size 3");
    assert_null(sink);
    /* out: NULL, wrong shape, wrong dtype, overlapping x */
    int64_t ok_v[3] = {4, 0, 1};
    mt_tensor *ok = ints64(1, (int64_t[]){3}, ok_v);
    assert_fails(mt_index_select(x, 0, ok, NULL), MT_ERR_INVALID_ARGUMENT, "out is NULL");
    mt_tensor *bad_shape = arange(2, (int64_t[]){3, 2});
    assert_fails(mt_index_select_into(x, 0, ok, bad_shape), MT_ERR_SHAPE,
                 "out is [3,2], result is [3,3]");
    mt_tensor *bad_dtype = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F64, 2, (int64_t[]){3, 3}, &bad_dtype));
    assert_fails(mt_index_select_into(x, 0, ok, bad_dtype), MT_ERR_DTYPE,
                 "has dtype F64, result is F32");
    mt_tensor rows;
    assert_ok(mt_narrow_into(x, 0, 1, 3, &rows));
    assert_fails(mt_index_select_into(x, 0, ok, &rows), MT_ERR_INVALID_ARGUMENT,
                 "overlaps an input");
    /* the good call: rows 4, 0, 1 */
    assert_ok(mt_index_select_into(x, 0, ok, out));
    const float want[9] = {12, 13, 14, 0, 1, 2, 3, 4, 5};
    assert_close(out->data, want, 9, 0, 0);
    mt_tensor *all[] = {x, ix, neg, fl, ix2, out, ok, bad_shape, bad_dtype};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

static void test_embedding_errors_and_rows(void **state)
{
    (void)state;
    mt_tensor *w = arange(2, (int64_t[]){5, 3});
    mt_tensor *bad = ints64(2, (int64_t[]){2, 2}, (int64_t[]){1, 2, 9, 0});
    mt_tensor *w1 = arange(1, (int64_t[]){5});
    mt_tensor *fl = arange(1, (int64_t[]){2});
    mt_tensor *sink = NULL;
    assert_fails(mt_embedding(NULL, w, &sink), MT_ERR_INVALID_ARGUMENT, "indices is NULL");
    assert_fails(mt_embedding(bad, NULL, &sink), MT_ERR_INVALID_ARGUMENT, "weight is NULL");
    assert_fails(mt_embedding(fl, w, &sink), MT_ERR_DTYPE, "must be I32 or I64");
    assert_fails(mt_embedding(bad, w1, &sink), MT_ERR_SHAPE, "weight [5] must be [num, dim]");
    assert_fails(mt_embedding(bad, w, &sink), MT_ERR_INVALID_ARGUMENT,
                 "embedding: index 9 at position [1,0] is out of range for dim 0 of size 5");
    mt_tensor *eight = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, &eight));
    assert_fails(mt_embedding(eight, w, &sink), MT_ERR_SHAPE, "would exceed rank 8");
    assert_null(sink);

    /* I32 indices through a transposed view: torch gives
     * embedding([[4,1,3],[0,1,2]], arange(15).reshape(5,3)) */
    mt_tensor *ind = ints32(2, (int64_t[]){3, 2}, (int32_t[]){4, 0, 1, 1, 3, 2});
    mt_tensor ind_t;
    assert_ok(mt_transpose_into(ind, 0, 1, &ind_t));
    mt_tensor *e;
    assert_ok(mt_embedding(&ind_t, w, &e));
    assert_int_equal(e->rank, 3);
    assert_int_equal(e->shape[0], 2);
    assert_int_equal(e->shape[1], 3);
    assert_int_equal(e->shape[2], 3);
    const float want[18] = {12, 13, 14, 3, 4, 5, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_close(e->data, want, 18, 0, 0);
    /* rows with a gap between them (weight[:, 1:3]) on the memcpy path */
    mt_tensor cols;
    assert_ok(mt_narrow_into(w, 1, 1, 2, &cols));
    mt_tensor *pick = ints64(1, (int64_t[]){2}, (int64_t[]){4, 0});
    mt_tensor *g;
    assert_ok(mt_embedding(pick, &cols, &g));
    assert_close(g->data, ((const float[]){13, 14, 1, 2}), 4, 0, 0);
    mt_tensor_free(g);
    mt_tensor_free(pick);
    /* into an out that is the weight's storage */
    mt_tensor wv;
    assert_ok(mt_view_into(w, 2, (int64_t[]){5, 3}, &wv));
    mt_tensor *one_row = ints64(1, (int64_t[]){5}, (int64_t[]){0, 1, 2, 3, 4});
    assert_fails(mt_embedding_into(one_row, w, &wv), MT_ERR_INVALID_ARGUMENT,
                 "overlaps an input");
    assert_fails(mt_embedding_into(&ind_t, w, &wv), MT_ERR_SHAPE,
                 "out is [5,3], result is [2,3,3]");
    mt_tensor *all[] = {w, bad, w1, fl, eight, ind, e, one_row};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

static void test_take_along_dim_errors(void **state)
{
    (void)state;
    mt_tensor *x = arange(2, (int64_t[]){2, 3});
    mt_tensor *ix1 = ints64(1, (int64_t[]){2}, (int64_t[]){0, 1});
    mt_tensor *ix = ints64(2, (int64_t[]){2, 1}, (int64_t[]){2, 3});
    mt_tensor *ix_wide = ints64(2, (int64_t[]){3, 1}, (int64_t[]){0, 0, 0});
    mt_tensor *sink = NULL;
    assert_fails(mt_take_along_dim(x, ix1, 1, &sink), MT_ERR_SHAPE,
                 "x [2,3] and indices [2] must have the same rank");
    assert_fails(mt_take_along_dim(x, ix_wide, 1, &sink), MT_ERR_SHAPE,
                 "do not broadcast outside dim 1");
    assert_fails(mt_take_along_dim(x, ix, 1, &sink), MT_ERR_INVALID_ARGUMENT,
                 "index 3 at position [1,0] is out of range for dim 1 of size 3");
    assert_fails(mt_take_along_dim(x, ix, 5, &sink), MT_ERR_INVALID_ARGUMENT,
                 "dim 5 out of range");
    assert_null(sink);
    mt_tensor *all[] = {x, ix1, ix, ix_wide};
    for (size_t i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

/* ---- joining: errors ---------------------------------------------------------- */

static void test_concat_stack_errors(void **state)
{
    (void)state;
    mt_tensor *a = arange(2, (int64_t[]){2, 3});
    mt_tensor *b = arange(2, (int64_t[]){4, 3});
    mt_tensor *c = arange(3, (int64_t[]){1, 2, 3});
    mt_tensor *s0 = arange(0, NULL);
    mt_tensor *i64 = ints64(2, (int64_t[]){1, 3}, (int64_t[]){1, 2, 3});
    mt_tensor *sink = NULL;
    assert_fails(mt_concat(NULL, 1, 0, &sink), MT_ERR_INVALID_ARGUMENT, "tensors is NULL");
    assert_fails(mt_concat((const mt_tensor *[]){a}, 0, 0, &sink), MT_ERR_INVALID_ARGUMENT,
                 "count 0 must be >= 1");
    assert_fails(mt_concat((const mt_tensor *[]){a, NULL}, 2, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "tensors[1] is NULL");
    assert_fails(mt_concat((const mt_tensor *[]){a, c}, 2, 0, &sink), MT_ERR_SHAPE,
                 "tensors[1] [1,2,3] does not match tensors[0] [2,3]");
    assert_fails(mt_concat((const mt_tensor *[]){a, b}, 2, 1, &sink), MT_ERR_SHAPE,
                 "outside dim 1");
    assert_fails(mt_concat((const mt_tensor *[]){a, i64}, 2, 0, &sink), MT_ERR_DTYPE,
                 "tensors[1] [1,3] is I64, tensors[0] is F32");
    assert_fails(mt_concat((const mt_tensor *[]){s0}, 1, 0, &sink), MT_ERR_SHAPE,
                 "concat needs rank >= 1");
    assert_fails(mt_concat((const mt_tensor *[]){a, b}, 2, -3, &sink),
                 MT_ERR_INVALID_ARGUMENT, "dim -3 out of range");
    assert_fails(mt_stack((const mt_tensor *[]){a, b}, 2, 0, &sink), MT_ERR_SHAPE,
                 "tensors[1] [4,3] differs from tensors[0] [2,3]");
    assert_fails(mt_stack((const mt_tensor *[]){a, a}, 2, 3, &sink),
                 MT_ERR_INVALID_ARGUMENT, "dim 3 out of range");
    assert_null(sink);
    /* out overlapping an input (out is b's storage, b is tensors[1]) */
    mt_tensor *out = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){6, 3}, &out));
    mt_tensor head;
    assert_ok(mt_narrow_into(out, 0, 0, 4, &head));
    assert_fails(mt_concat_into((const mt_tensor *[]){a, &head}, 2, 0, out),
                 MT_ERR_INVALID_ARGUMENT, "overlaps tensors[1] [4,3]");
    assert_fails(mt_stack_into((const mt_tensor *[]){a, a}, 2, 0, out), MT_ERR_SHAPE,
                 "out is [6,3], result is [2,2,3]");
    /* an expanded out would have several results land on one element */
    mt_tensor *row = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){3}, &row));
    mt_tensor wide;
    assert_ok(mt_expand_into(row, 2, (int64_t[]){6, 3}, &wide));
    assert_fails(mt_concat_into((const mt_tensor *[]){a, b}, 2, 0, &wide),
                 MT_ERR_INVALID_ARGUMENT, "out [6,3] has stride 0 in dim 0");
    mt_tensor_free(row);
    /* concat of a transposed and a sliced view, into a transposed out */
    mt_tensor at, bs, ot;
    mt_tensor *x = arange(2, (int64_t[]){3, 2});           /* at = x.T: [2,3] */
    assert_ok(mt_transpose_into(x, 0, 1, &at));
    assert_ok(mt_slice_into(b, 0, 0, 4, 2, &bs));          /* rows 0, 2 of b */
    mt_tensor *o = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){3, 4}, -1.0f, &o));
    assert_ok(mt_transpose_into(o, 0, 1, &ot));            /* [4,3] */
    assert_ok(mt_concat_into((const mt_tensor *[]){&at, &bs}, 2, 0, &ot));
    /* torch.cat([x.T, b[::2]]).T.flatten() */
    const float want[12] = {0, 1, 0, 6, 2, 3, 1, 7, 4, 5, 2, 8};
    assert_close(o->data, want, 12, 0, 0);
    mt_tensor *all[] = {a, b, c, s0, i64, out, x, o};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

/* ---- pad, flip, tril: errors -------------------------------------------------- */

static void test_pad_errors(void **state)
{
    (void)state;
    mt_tensor *x = arange(3, (int64_t[]){1, 2, 4});
    mt_tensor *xi = ints64(1, (int64_t[]){2}, (int64_t[]){1, 2});
    mt_tensor *e = arange(2, (int64_t[]){2, 0});
    mt_tensor *sink = NULL;
    const int64_t p2[2] = {1, 2};
    assert_fails(mt_pad(NULL, 2, p2, MT_PAD_CONSTANT, 0, &sink), MT_ERR_INVALID_ARGUMENT,
                 "x is NULL");
    assert_fails(mt_pad(xi, 2, p2, MT_PAD_CONSTANT, 0, &sink), MT_ERR_DTYPE, "has dtype I64, not F32");
    assert_fails(mt_pad(x, 3, (int64_t[]){1, 1, 1}, MT_PAD_CONSTANT, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "3 pads for [1,2,4]");
    assert_fails(mt_pad(x, 8, (int64_t[8]){0}, MT_PAD_CONSTANT, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "8 pads");
    assert_fails(mt_pad(x, 2, NULL, MT_PAD_CONSTANT, 0, &sink), MT_ERR_INVALID_ARGUMENT,
                 "pads is NULL");
    assert_fails(mt_pad(x, 2, p2, (mt_pad_mode)7, 0, &sink), MT_ERR_INVALID_ARGUMENT,
                 "invalid mode 7");
    /* reflect needs pad < size: 4 on a dim of 4 fails, 3 passes */
    assert_fails(mt_pad(x, 2, (int64_t[]){4, 0}, MT_PAD_REFLECT, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT,
                 "reflect pads (4,0) must be less than dim 2's size 4 in [1,2,4]");
    assert_fails(mt_pad(x, 4, (int64_t[]){0, 0, 0, 2}, MT_PAD_REFLECT, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "dim 1's size 2");
    assert_fails(mt_pad(x, 2, (int64_t[]){-1, 4}, MT_PAD_REFLECT, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "reflect pads (-1,4) must be less than");
    assert_fails(mt_pad(x, 2, (int64_t[]){-5, 1}, MT_PAD_REPLICATE, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "crop more than dim 2's size 4");
    assert_fails(mt_pad(e, 2, (int64_t[]){1, 0}, MT_PAD_REPLICATE, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "replicate cannot pad empty dim 1");
    assert_fails(mt_pad(x, 2, (int64_t[]){-3, -2}, MT_PAD_CONSTANT, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "crop more than dim 2's size 4");
    /* pads whose negation or sum overflows int64 (UBSan caught -INT64_MIN) */
    assert_fails(mt_pad(x, 2, (int64_t[]){INT64_MIN, 0}, MT_PAD_CONSTANT, 0, &sink),
                 MT_ERR_INVALID_ARGUMENT, "crop more than dim 2's size 4");
    assert_fails(mt_pad(x, 2, (int64_t[]){-INT64_MAX, -INT64_MAX}, MT_PAD_CONSTANT, 0,
                        &sink),
                 MT_ERR_INVALID_ARGUMENT, "crop more than dim 2's size 4");
    /* a broadcast dim near INT64_MAX: its size plus the pads wrapped (UBSan) */
    mt_tensor *one = NULL, *wide = NULL;
    assert_ok(mt_tensor_full(1, (int64_t[]){1}, 1.0f, &one));
    assert_ok(mt_expand(one, 1, (int64_t[]){INT64_MAX - 1}, &wide));
    for (int mode = MT_PAD_CONSTANT; mode <= MT_PAD_CIRCULAR; mode++)
        assert_fails(mt_pad(wide, 2, (int64_t[]){INT64_MAX / 4, 0}, (mt_pad_mode)mode, 0,
                            &sink),
                     MT_ERR_OVERFLOW, "pad: pads (2305843009213693951,0) on dim 0's size "
                     "9223372036854775806 in [9223372036854775806] overflow");
    mt_tensor_free(wide);
    mt_tensor_free(one);
    assert_null(sink);
    assert_ok(mt_pad(x, 2, (int64_t[]){3, 3}, MT_PAD_REFLECT, 0, &sink));
    assert_int_equal(sink->shape[2], 10);
    /* torch: F.pad(arange(8).reshape(1,2,4), (3,3), 'reflect')[0,1] */
    const float row1[10] = {7, 6, 5, 4, 5, 6, 7, 6, 5, 4};
    assert_close((float *)sink->data + 10, row1, 10, 0, 0);
    mt_tensor *out = NULL;
    assert_ok(mt_tensor_full(3, (int64_t[]){1, 2, 9}, 3.0f, &out));
    assert_fails(mt_pad_into(x, 2, (int64_t[]){3, 3}, MT_PAD_REFLECT, 0, out), MT_ERR_SHAPE,
                 "out is [1,2,9], result is [1,2,10]");
    assert_true(all_equal(out, 3.0f));
    mt_tensor *all[] = {x, xi, e, sink, out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

static void test_flip_tril_errors_and_in_place(void **state)
{
    (void)state;
    mt_tensor *x = arange(2, (int64_t[]){3, 4});
    mt_tensor *v = arange(1, (int64_t[]){4});
    mt_tensor *sink = NULL;
    assert_fails(mt_flip(x, (int[]){0, -2}, 2, &sink), MT_ERR_INVALID_ARGUMENT,
                 "dim 0 appears twice");
    assert_fails(mt_flip(x, (int[]){2}, 1, &sink), MT_ERR_INVALID_ARGUMENT,
                 "dim 2 out of range for [3,4]");
    assert_fails(mt_flip(x, NULL, 1, &sink), MT_ERR_INVALID_ARGUMENT,
                 "flip: dims is NULL (n_dims 1)");
    assert_fails(mt_flip(x, (int[]){0}, -1, &sink), MT_ERR_INVALID_ARGUMENT,
                 "flip: n_dims -1 < 0");
    assert_fails(mt_flip_into(x, (int[]){0}, 1, x), MT_ERR_INVALID_ARGUMENT,
                 "out [3,4] overlaps x [3,4]");
    assert_fails(mt_tril(v, 0, &sink), MT_ERR_SHAPE, "tril: x [4] must have at least 2 dims");
    assert_fails(mt_triu(NULL, 0, &sink), MT_ERR_INVALID_ARGUMENT, "triu: x is NULL");
    assert_null(sink);
    /* in place: torch.tril(arange(12).reshape(3,4), 1) */
    assert_ok(mt_tril_into(x, 1, x));
    const float tril1[12] = {0, 1, 0, 0, 4, 5, 6, 0, 8, 9, 10, 11};
    assert_close(x->data, tril1, 12, 0, 0);
    /* a partial overlap is refused, and out is untouched */
    mt_tensor shifted;
    assert_ok(mt_narrow_into(x, 1, 1, 3, &shifted));
    mt_tensor left;
    assert_ok(mt_narrow_into(x, 1, 0, 3, &left));
    assert_fails(mt_triu_into(&left, 0, &shifted), MT_ERR_INVALID_ARGUMENT,
                 "(only out == x may)");
    assert_close(x->data, tril1, 12, 0, 0);
    /* huge diagonals: everything or nothing kept, no overflow */
    assert_ok(mt_triu(x, INT64_MAX, &sink));
    assert_true(all_equal(sink, 0.0f));
    mt_tensor_free(sink);
    assert_ok(mt_tril(x, INT64_MIN, &sink));
    assert_true(all_equal(sink, 0.0f));
    mt_tensor_free(sink);
    assert_ok(mt_tril(x, INT64_MAX, &sink));
    assert_close(sink->data, tril1, 12, 0, 0);
    mt_tensor_free(sink);
    mt_tensor_free(x);
    mt_tensor_free(v);
}

/* ---- views -------------------------------------------------------------------- */

static void assert_strides(const mt_tensor *t, int rank, const int64_t *shape,
                           const int64_t *stride)
{
    assert_int_equal(t->rank, rank);
    for (int d = 0; d < rank; d++) {
        assert_int_equal(t->shape[d], shape[d]);
        assert_int_equal(t->stride[d], stride[d]);
    }
}

static void test_unsqueeze_squeeze_expand(void **state)
{
    (void)state;
    mt_tensor *b = arange(3, (int64_t[]){2, 3, 4});
    mt_tensor v, u;
    assert_ok(mt_transpose_into(b, 0, 2, &v));   /* torch: strides (1, 4, 12) */
    assert_ok(mt_unsqueeze_into(&v, 1, &u));
    assert_strides(&u, 4, (int64_t[]){4, 1, 3, 2}, (int64_t[]){1, 12, 4, 12});
    assert_ok(mt_unsqueeze_into(&v, -1, &u));
    assert_strides(&u, 4, (int64_t[]){4, 3, 2, 1}, (int64_t[]){1, 4, 12, 1});
    assert_ok(mt_unsqueeze_into(&v, 0, &u));
    assert_strides(&u, 4, (int64_t[]){1, 4, 3, 2}, (int64_t[]){4, 1, 4, 12});
    assert_fails(mt_unsqueeze_into(&v, 4, &u), MT_ERR_INVALID_ARGUMENT, "dim 4 out of range");
    assert_fails(mt_unsqueeze_into(&v, -5, &u), MT_ERR_INVALID_ARGUMENT, "dim -5");
    mt_tensor *r8 = NULL;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, &r8));
    assert_fails(mt_unsqueeze_into(r8, 0, &u), MT_ERR_INVALID_ARGUMENT, "at most rank 8");

    /* zeros(1,5)[:, ::2]: [1,3] strides (5,2); squeeze(0) -> (2,) */
    mt_tensor *z = arange(2, (int64_t[]){1, 5});
    mt_tensor s, q;
    assert_ok(mt_slice_into(z, 1, 0, 5, 2, &s));
    assert_ok(mt_squeeze_into(&s, 0, &q));
    assert_strides(&q, 1, (int64_t[]){3}, (int64_t[]){2});
    assert_ok(mt_squeeze_into(&s, 1, &q));   /* size 3: unchanged, as torch */
    assert_strides(&q, 2, (int64_t[]){1, 3}, (int64_t[]){5, 2});
    assert_ok(mt_squeeze_all_into(r8, &q));
    assert_int_equal(q.rank, 0);
    assert_ok(mt_squeeze_into(&q, -1, &q));   /* a scalar stays a scalar */
    assert_int_equal(q.rank, 0);
    assert_fails(mt_squeeze_into(&s, 2, &q), MT_ERR_INVALID_ARGUMENT, "dim 2 out of range");

    /* zeros(3,1).expand(2,3,4) strides (0,1,0); expand(2,-1,5) the same */
    mt_tensor *c = arange(2, (int64_t[]){3, 1});
    mt_tensor *e;
    assert_ok(mt_expand(c, 3, (int64_t[]){2, 3, 4}, &e));
    assert_strides(e, 3, (int64_t[]){2, 3, 4}, (int64_t[]){0, 1, 0});
    assert_ptr_equal(e->data, c->data);
    assert_ok(mt_expand_into(c, 3, (int64_t[]){2, -1, 5}, &u));
    assert_strides(&u, 3, (int64_t[]){2, 3, 5}, (int64_t[]){0, 1, 0});
    assert_fails(mt_expand_into(c, 3, (int64_t[]){2, 4, 5}, &u), MT_ERR_SHAPE,
                 "cannot expand dim 0 of [3,1] (size 3) to 4");
    assert_fails(mt_expand_into(c, 3, (int64_t[]){-1, 3, 5}, &u), MT_ERR_INVALID_ARGUMENT,
                 "size -1 not allowed for new leading dim 0");
    assert_fails(mt_expand_into(c, 1, (int64_t[]){3}, &u), MT_ERR_INVALID_ARGUMENT,
                 "rank 1 must be 2..8");
    /* writing through the base is seen through the view, at every column */
    float nine = 9.0f;
    memcpy((float *)c->data + 1, &nine, sizeof nine);
    float got;
    assert_ok(mt_tensor_get_f32(e, (int64_t[]){1, 1, 3}, &got));
    assert_true(got == 9.0f);
    /* the heap view keeps c alive */
    mt_tensor_free(c);
    assert_ok(mt_tensor_get_f32(e, (int64_t[]){0, 1, 0}, &got));
    assert_true(got == 9.0f);
    mt_tensor_free(e);
    mt_tensor_free(b);
    mt_tensor_free(r8);
    mt_tensor_free(z);
}

static void test_split_chunk(void **state)
{
    (void)state;
    mt_tensor *x = arange(2, (int64_t[]){5, 3});
    mt_tensor views[4];
    memset(views, 0, sizeof views);   /* compared bytewise at the end */
    int count = -1;
    /* torch.split(arange(15).reshape(5,3), 2): offsets 0, 6, 12; [2,3],[2,3],[1,3] */
    assert_ok(mt_split(x, 2, 0, NULL, 0, &count));
    assert_int_equal(count, 3);
    assert_ok(mt_split(x, 2, 0, views, 4, &count));
    assert_int_equal(count, 3);
    const int64_t off[3] = {0, 6, 12}, rows[3] = {2, 2, 1};
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(views[i].data, (float *)x->data + off[i]);
        assert_strides(&views[i], 2, (int64_t[]){rows[i], 3}, (int64_t[]){3, 1});
        assert_int_equal(views[i].ownership, MT_OWNERSHIP_BORROWED);
    }
    /* torch.split(x, 2**63 - 1): one piece, the whole tensor (the count
     * was computed as size + split_size - 1: a signed overflow) */
    assert_ok(mt_split(x, INT64_MAX, 0, views, 4, &count));
    assert_int_equal(count, 1);
    assert_ptr_equal(views[0].data, x->data);
    assert_strides(&views[0], 2, (int64_t[]){5, 3}, (int64_t[]){3, 1});
    /* along dim -1: [5,2] at 0 and [5,1] at 2 */
    assert_ok(mt_split(x, 2, -1, views, 4, &count));
    assert_int_equal(count, 2);
    assert_ptr_equal(views[1].data, (float *)x->data + 2);
    assert_strides(&views[1], 2, (int64_t[]){5, 1}, (int64_t[]){3, 1});
    /* writing through the base is seen through a piece */
    ((float *)x->data)[14] = -1.0f;
    float got;
    assert_ok(mt_tensor_get_f32(&views[1], (int64_t[]){4, 0}, &got));
    assert_true(got == -1.0f);

    /* torch.split(arange(15).reshape(5,3), [1,0,2], 1): offsets 0, 1, 1 */
    assert_ok(mt_split_with_sizes(x, (int64_t[]){1, 0, 2}, 3, 1, views));
    assert_strides(&views[0], 2, (int64_t[]){5, 1}, (int64_t[]){3, 1});
    assert_strides(&views[1], 2, (int64_t[]){5, 0}, (int64_t[]){3, 1});
    assert_strides(&views[2], 2, (int64_t[]){5, 2}, (int64_t[]){3, 1});
    assert_ptr_equal(views[2].data, (float *)x->data + 1);
    assert_ok(mt_tensor_get_f32(&views[2], (int64_t[]){4, 1}, &got));
    assert_true(got == -1.0f);

    /* torch.chunk(arange(6), 4): three pieces of 2 at 0, 2, 4 */
    mt_tensor *six = arange(1, (int64_t[]){6});
    assert_ok(mt_chunk(six, 4, 0, views, 4, &count));
    assert_int_equal(count, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(views[i].shape[0], 2);
        assert_ptr_equal(views[i].data, (float *)six->data + 2 * i);
    }
    /* a size-0 dim: split gives one empty piece, chunk gives `chunks` */
    mt_tensor *empty = arange(2, (int64_t[]){0, 3});
    assert_ok(mt_split(empty, 2, 0, views, 4, &count));
    assert_int_equal(count, 1);
    assert_ok(mt_split(empty, 0, 0, views, 4, &count));
    assert_int_equal(count, 1);
    assert_ok(mt_chunk(empty, 3, 0, views, 4, &count));
    assert_int_equal(count, 3);
    assert_int_equal(views[2].shape[0], 0);

    /* errors write nothing */
    mt_tensor before[4];
    memcpy(before, views, sizeof views);
    count = -7;
    assert_fails(mt_split(x, 0, 0, views, 4, &count), MT_ERR_INVALID_ARGUMENT,
                 "split_size 0 invalid for dim 0 of [5,3]");
    assert_fails(mt_split(x, -2, 0, views, 4, &count), MT_ERR_INVALID_ARGUMENT,
                 "split_size -2 invalid");
    assert_fails(mt_split(x, 1, 0, views, 4, &count), MT_ERR_INVALID_ARGUMENT,
                 "gives 5 views, the array holds 4");
    assert_fails(mt_chunk(x, 0, 0, views, 4, &count), MT_ERR_INVALID_ARGUMENT,
                 "chunks 0 must be >= 1");
    assert_fails(mt_chunk(x, 2, 2, views, 4, &count), MT_ERR_INVALID_ARGUMENT,
                 "dim 2 out of range");
    assert_fails(mt_split(x, 2, 0, views, 4, NULL), MT_ERR_INVALID_ARGUMENT,
                 "count is NULL");
    assert_fails(mt_split_with_sizes(x, (int64_t[]){2, 2}, 2, 0, views),
                 MT_ERR_INVALID_ARGUMENT, "sizes sum to 4, dim 0 of [5,3] is 5");
    assert_fails(mt_split_with_sizes(x, (int64_t[]){4, 2}, 2, 0, views),
                 MT_ERR_INVALID_ARGUMENT, "size 2 at 1 does not fit dim 0 of [5,3]");
    assert_fails(mt_split_with_sizes(x, (int64_t[]){6, -1}, 2, 0, views),
                 MT_ERR_INVALID_ARGUMENT, "size 6 at 0");
    assert_fails(mt_split_with_sizes(x, NULL, 2, 0, views), MT_ERR_INVALID_ARGUMENT,
                 "sizes or views is NULL");
    assert_int_equal(count, -7);
    assert_memory_equal(before, views, sizeof views);
    mt_tensor_free(x);
    mt_tensor_free(six);
    mt_tensor_free(empty);
}

/* ---- view vs reshape ---------------------------------------------------------- */

static void test_view_and_reshape(void **state)
{
    (void)state;
    mt_tensor *x = arange(2, (int64_t[]){3, 4});
    mt_tensor t;
    assert_ok(mt_transpose_into(x, 0, 1, &t));   /* [4,3] strides (1,4) */
    mt_tensor *r;
    assert_fails(mt_view(&t, 2, (int64_t[]){2, 6}, &r), MT_ERR_SHAPE,
                 "cannot view non-contiguous [4,3] as [2,6]");
    /* reshape copies: torch x.T.reshape(2,6) */
    assert_ok(mt_reshape(&t, 2, (int64_t[]){2, -1}, &r));
    assert_int_equal(r->ownership, MT_OWNERSHIP_OWNED);
    assert_true(mt_tensor_is_contiguous(r));
    const float want[12] = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};
    assert_close(r->data, want, 12, 0, 0);
    mt_tensor_free(r);
    /* ... and is a view when strides allow: data shared */
    assert_ok(mt_reshape(x, 3, (int64_t[]){2, 3, 2}, &r));
    assert_int_equal(r->ownership, MT_OWNERSHIP_VIEW);
    assert_ptr_equal(r->data, x->data);
    mt_tensor_free(r);
    /* reshape_into: into a transposed out (both sides strided) */
    mt_tensor *o = NULL;
    assert_ok(mt_tensor_full(2, (int64_t[]){6, 2}, -1.0f, &o));
    mt_tensor ot;
    assert_ok(mt_transpose_into(o, 0, 1, &ot));   /* [2,6] */
    assert_ok(mt_reshape_into(&t, 2, (int64_t[]){2, 6}, &ot));
    mt_tensor *back;
    assert_ok(mt_tensor_contiguous(&ot, &back));
    assert_close(back->data, want, 12, 0, 0);
    mt_tensor_free(back);
    assert_fails(mt_reshape_into(&t, 2, (int64_t[]){3, 4}, &ot), MT_ERR_SHAPE,
                 "out is [2,6], result is [3,4]");
    assert_fails(mt_reshape_into(&t, 2, (int64_t[]){5, 3}, &ot), MT_ERR_SHAPE,
                 "[4,3] has 12 elements, [5,3] needs 15");
    mt_tensor xv;
    assert_ok(mt_view_into(x, 2, (int64_t[]){4, 3}, &xv));
    assert_fails(mt_reshape_into(&t, 2, (int64_t[]){4, 3}, &xv), MT_ERR_INVALID_ARGUMENT,
                 "overlaps the input");
    assert_fails(mt_reshape(&t, 1, (int64_t[]){12}, NULL), MT_ERR_INVALID_ARGUMENT,
                 "output is NULL");
    mt_tensor_free(o);
    mt_tensor_free(x);
}

/* Broadcast (stride 0) inputs are read in place: torch.cat([arange(3).expand(2,3),
 * arange(3).reshape(1,3) + 10]) and embedding of tensor([4]).expand(2,3). */
static void test_expanded_inputs(void **state)
{
    (void)state;
    mt_tensor *row = arange(1, (int64_t[]){3});
    mt_tensor *tail = arange(2, (int64_t[]){1, 3});
    for (int i = 0; i < 3; i++)
        ((float *)tail->data)[i] += 10.0f;
    mt_tensor wide;
    assert_ok(mt_expand_into(row, 2, (int64_t[]){2, 3}, &wide));
    mt_tensor *c;
    assert_ok(mt_concat((const mt_tensor *[]){&wide, tail}, 2, 0, &c));
    assert_close(c->data, ((const float[]){0, 1, 2, 0, 1, 2, 10, 11, 12}), 9, 0, 0);
    mt_tensor_free(c);
    mt_tensor *four = ints32(1, (int64_t[]){1}, (int32_t[]){4});
    mt_tensor many;
    assert_ok(mt_expand_into(four, 2, (int64_t[]){2, 3}, &many));
    mt_tensor *w = arange(2, (int64_t[]){5, 2});
    mt_tensor *e;
    assert_ok(mt_embedding(&many, w, &e));
    assert_int_equal(e->rank, 3);
    for (int i = 0; i < 6; i++)
        assert_close((float *)e->data + 2 * i, ((const float[]){8, 9}), 2, 0, 0);
    mt_tensor_free(e);
    mt_tensor *all[] = {row, tail, four, w};
    for (size_t i = 0; i < 4; i++)
        mt_tensor_free(all[i]);
}

/* Allocation failures: a clear status, *out untouched, nothing left allocated. */
static void test_out_of_memory(void **state)
{
    (void)state;
    mt_tensor *x = arange(2, (int64_t[]){3, 4});
    mt_tensor *ix = ints64(1, (int64_t[]){2}, (int64_t[]){2, 0});
    mt_tensor t;
    assert_ok(mt_transpose_into(x, 0, 1, &t));
    alloc_probe probe;
    mt_tensor *out = NULL;
    for (long fail_after = 0; fail_after < 2; fail_after++) {
        probe_install(&probe, fail_after);
        assert_fails(mt_reshape(&t, 1, (int64_t[]){12}, &out), MT_ERR_OUT_OF_MEMORY,
                     "reshape");
        assert_fails(mt_index_select(x, 1, ix, &out), MT_ERR_OUT_OF_MEMORY, "index_select");
        assert_fails(mt_concat((const mt_tensor *[]){x, x}, 2, 1, &out),
                     MT_ERR_OUT_OF_MEMORY, "concat");
        assert_fails(mt_embedding(ix, x, &out), MT_ERR_OUT_OF_MEMORY, "embedding");
        assert_fails(mt_stack((const mt_tensor *[]){x, x}, 2, 0, &out),
                     MT_ERR_OUT_OF_MEMORY, "stack");
        assert_fails(mt_pad(x, 2, (int64_t[]){1, 1}, MT_PAD_REPLICATE, 0, &out),
                     MT_ERR_OUT_OF_MEMORY, "pad");
        assert_fails(mt_flip(x, (int[]){0}, 1, &out), MT_ERR_OUT_OF_MEMORY, "flip");
        assert_fails(mt_triu(x, 0, &out), MT_ERR_OUT_OF_MEMORY, "triu");
        probe_remove();
        assert_null(out);
        assert_int_equal(probe.live, 0);
    }
    probe_install(&probe, 0);
    assert_fails(mt_expand(x, 3, (int64_t[]){2, 3, 4}, &out), MT_ERR_OUT_OF_MEMORY,
                 "expand: cannot allocate a view");
    probe_remove();
    assert_null(out);
    mt_tensor_free(x);
    mt_tensor_free(ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_select_errors),
        cmocka_unit_test(test_embedding_errors_and_rows),
        cmocka_unit_test(test_take_along_dim_errors),
        cmocka_unit_test(test_concat_stack_errors),
        cmocka_unit_test(test_pad_errors),
        cmocka_unit_test(test_flip_tril_errors_and_in_place),
        cmocka_unit_test(test_unsqueeze_squeeze_expand),
        cmocka_unit_test(test_split_chunk),
        cmocka_unit_test(test_view_and_reshape),
        cmocka_unit_test(test_expanded_inputs),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
