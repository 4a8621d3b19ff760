/* test_tensor.c — creation, dtypes, elements, copies, views, ownership. */
#include "test_util.h"
#include "reference/ops_refs.h"

static void test_zeros_and_full(void **state)
{
    (void)state;
    mt_tensor *t, *f;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &t));
    assert_int_equal(t->rank, 2);
    assert_int_equal(t->stride[0], 3);
    assert_int_equal(t->stride[1], 1);
    assert_int_equal(mt_tensor_numel(t), 6);
    assert_int_equal(t->ownership, MT_OWNERSHIP_OWNED);
    assert_true(((uintptr_t)t->data % 64) == 0);
    for (int i = 0; i < 6; i++)
        assert_true(((float *)t->data)[i] == 0.0f);
    assert_ok(mt_tensor_full(0, NULL, 2.5f, &f));   /* a scalar */
    assert_int_equal(mt_tensor_numel(f), 1);
    assert_true(*(float *)f->data == 2.5f);
    mt_tensor_free(t);
    mt_tensor_free(f);
}

static void test_zero_size(void **state)
{
    (void)state;
    mt_tensor *t, *v;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){4, 0, 2}, &t));
    assert_int_equal(mt_tensor_numel(t), 0);
    assert_ok(mt_flatten(t, 0, -1, &v));
    assert_int_equal(v->shape[0], 0);
    mt_tensor_free(v);
    mt_tensor_free(t);
}

static void test_from_data_copies_and_wrap_borrows(void **state)
{
    (void)state;
    float data[4] = {1, 2, 3, 4};
    mt_tensor *copy, *wrap;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 2}, data, &copy));
    assert_ok(mt_tensor_wrap(MT_DTYPE_F32, 2, (int64_t[]){2, 2}, data, &wrap));
    assert_int_equal(wrap->ownership, MT_OWNERSHIP_BORROWED);
    data[3] = 40;
    float v;
    assert_ok(mt_tensor_get_f32(copy, (int64_t[]){1, 1}, &v));
    assert_true(v == 4.0f);
    assert_ok(mt_tensor_get_f32(wrap, (int64_t[]){1, 1}, &v));
    assert_true(v == 40.0f);
    mt_tensor_free(copy);
    mt_tensor_free(wrap);
    assert_true(data[3] == 40.0f);   /* wrap did not free the caller's memory */
}

static void test_from_u8_scales_pixels(void **state)
{
    (void)state;
    const uint8_t px[4] = {0, 51, 255, 128};
    mt_tensor *t;
    assert_ok(mt_tensor_from_u8(2, (int64_t[]){2, 2}, px, 1.0f / 255.0f, &t));
    const float want[4] = {0.0f, 0.2f, 1.0f, 128.0f / 255.0f};
    assert_close(t->data, want, 4, 1e-7, 1e-6);
    mt_tensor_free(t);
}

static void test_dtype_names_and_sizes(void **state)
{
    (void)state;
    static const struct { mt_dtype d; const char *name; size_t size; } table[] = {
        {MT_DTYPE_F32, "F32", 4}, {MT_DTYPE_F16, "F16", 2}, {MT_DTYPE_BF16, "BF16", 2},
        {MT_DTYPE_F64, "F64", 8}, {MT_DTYPE_I64, "I64", 8}, {MT_DTYPE_I32, "I32", 4},
        {MT_DTYPE_I16, "I16", 2}, {MT_DTYPE_I8, "I8", 1},   {MT_DTYPE_U64, "U64", 8},
        {MT_DTYPE_U32, "U32", 4}, {MT_DTYPE_U16, "U16", 2}, {MT_DTYPE_U8, "U8", 1},
        {MT_DTYPE_BOOL, "BOOL", 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        mt_dtype d;
        assert_string_equal(mt_dtype_name(table[i].d), table[i].name);
        assert_int_equal(mt_dtype_size(table[i].d), table[i].size);
        assert_ok(mt_dtype_from_name(table[i].name, &d));
        assert_int_equal(d, table[i].d);
    }
    mt_dtype d;
    assert_fails(mt_dtype_from_name("f32", &d), MT_ERR_DTYPE, "\"f32\"");
    assert_fails(mt_dtype_from_name("F8_E4M3", &d), MT_ERR_DTYPE, "F8_E4M3");
    assert_string_equal(mt_dtype_name((mt_dtype)99), "INVALID");
}

static void test_conversions_to_f32(void **state)
{
    (void)state;
    size_t nh = sizeof REF_F16_BITS / sizeof REF_F16_BITS[0];
    mt_tensor *h, *hf;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F16, 1, (int64_t[]){(int64_t)nh}, REF_F16_BITS, &h));
    assert_ok(mt_tensor_to_f32(h, &hf));
    assert_close(hf->data, REF_F16_VALUES, nh, 0, 0);   /* exact */
    size_t nb = sizeof REF_BF16_BITS / sizeof REF_BF16_BITS[0];
    mt_tensor *b, *bf;
    assert_ok(mt_tensor_from_data(MT_DTYPE_BF16, 1, (int64_t[]){(int64_t)nb}, REF_BF16_BITS, &b));
    assert_ok(mt_tensor_to_f32(b, &bf));
    assert_close(bf->data, REF_BF16_VALUES, nb, 0, 0);
    const double d[3] = {0.1, -1e300, 3.0};
    const int64_t i64[3] = {-5, 0, 1ll << 40};
    const uint8_t bools[3] = {0, 1, 7};
    mt_tensor *td, *ti, *tb, *fd, *fi, *fb;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F64, 1, (int64_t[]){3}, d, &td));
    assert_ok(mt_tensor_from_data(MT_DTYPE_I64, 1, (int64_t[]){3}, i64, &ti));
    assert_ok(mt_tensor_from_data(MT_DTYPE_BOOL, 1, (int64_t[]){3}, bools, &tb));
    assert_ok(mt_tensor_to_f32(td, &fd));
    assert_ok(mt_tensor_to_f32(ti, &fi));
    assert_ok(mt_tensor_to_f32(tb, &fb));
    const float wd[3] = {0.1f, -INFINITY, 3.0f};
    const float wi[3] = {-5.0f, 0.0f, 1099511627776.0f};
    const float wb[3] = {0.0f, 1.0f, 1.0f};
    assert_close(fd->data, wd, 3, 0, 0);
    assert_close(fi->data, wi, 3, 0, 0);
    assert_close(fb->data, wb, 3, 0, 0);
    mt_tensor *all[] = {h, hf, b, bf, td, ti, tb, fd, fi, fb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        mt_tensor_free(all[i]);
}

static void test_get_set_and_errors(void **state)
{
    (void)state;
    mt_tensor *t;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &t));
    assert_ok(mt_tensor_set_f32(t, (int64_t[]){1, 2}, 7.0f));
    assert_true(((float *)t->data)[5] == 7.0f);
    float v;
    assert_fails(mt_tensor_get_f32(t, (int64_t[]){2, 0}, &v), MT_ERR_INVALID_ARGUMENT,
                 "index 2 out of range for dim 0 of [2,3]");
    assert_fails(mt_tensor_get_f32(t, NULL, &v), MT_ERR_INVALID_ARGUMENT, "index is NULL");
    assert_fails(mt_tensor_get_f32(NULL, (int64_t[]){0, 0}, &v), MT_ERR_INVALID_ARGUMENT,
                 "tensor is NULL");
    mt_tensor *i;
    assert_ok(mt_tensor_zeros(MT_DTYPE_I32, 1, (int64_t[]){2}, &i));
    assert_fails(mt_tensor_set_f32(i, (int64_t[]){0}, 1.0f), MT_ERR_DTYPE, "has dtype I32, not F32");
    assert_fails(mt_tensor_fill(i, 1.0f), MT_ERR_DTYPE, "dtype I32");
    mt_tensor_free(i);
    mt_tensor_free(t);
}

static void test_creation_errors(void **state)
{
    (void)state;
    mt_tensor *t = NULL;
    assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){2}, NULL),
                 MT_ERR_INVALID_ARGUMENT, "out is NULL");
    assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 9, (int64_t[9]){1}, &t),
                 MT_ERR_INVALID_ARGUMENT, "rank 9 out of range 0..8");
    assert_fails(mt_tensor_zeros(MT_DTYPE_F32, -1, NULL, &t), MT_ERR_INVALID_ARGUMENT,
                 "rank -1");
    assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, -2}, &t),
                 MT_ERR_INVALID_ARGUMENT, "dim 1 is negative (-2)");
    assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 2, NULL, &t), MT_ERR_INVALID_ARGUMENT,
                 "shape is NULL");
    assert_fails(mt_tensor_zeros((mt_dtype)42, 1, (int64_t[]){1}, &t), MT_ERR_DTYPE,
                 "invalid dtype 42");
    assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 3,
                                 (int64_t[]){INT64_C(1) << 31, INT64_C(1) << 31, 4}, &t),
                 MT_ERR_OVERFLOW, "overflow");
    assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 3,
                                 (int64_t[]){0, INT64_C(1) << 40, INT64_C(1) << 40}, &t),
                 MT_ERR_OVERFLOW, "overflow");
    assert_fails(mt_tensor_zeros(MT_DTYPE_F64, 1, (int64_t[]){INT64_MAX / 2}, &t),
                 MT_ERR_OVERFLOW, "overflow");
    /* 4 TiB: more than malloc gives, or (32-bit size_t) more than it can ask */
    if ((uint64_t)SIZE_MAX >> 42)
        assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){INT64_C(1) << 40}, &t),
                     MT_ERR_OUT_OF_MEMORY, "cannot allocate");
    else
        assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){INT64_C(1) << 40}, &t),
                     MT_ERR_OVERFLOW, "1099511627776 elements of F32 overflow size_t");
    assert_fails(mt_tensor_wrap(MT_DTYPE_F32, 1, (int64_t[]){2}, NULL, &t),
                 MT_ERR_INVALID_ARGUMENT, "data is NULL");
    assert_fails(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){2}, NULL, &t),
                 MT_ERR_INVALID_ARGUMENT, "data is NULL");
    assert_fails(mt_tensor_from_u8(1, (int64_t[]){2}, NULL, 1.0f, &t),
                 MT_ERR_INVALID_ARGUMENT, "pixels is NULL");
    assert_null(t);
}

/* Every allocation failing in turn gives a clean error and leaks nothing
 * (LeakSanitizer and valgrind check the "nothing"). */
static void test_out_of_memory_is_clean(void **state)
{
    (void)state;
    alloc_probe probe;
    for (long fail_after = 0; fail_after < 2; fail_after++) {
        mt_tensor *t = NULL;
        probe_install(&probe, fail_after);
        assert_fails(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){16}, &t),
                     MT_ERR_OUT_OF_MEMORY, "tensor_zeros: cannot allocate");
        assert_int_equal(probe.live, 0);
        probe_remove();
        assert_null(t);
    }
    mt_tensor *base;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 2}, &base));
    mt_tensor *v = NULL;
    probe_install(&probe, 0);
    assert_fails(mt_transpose(base, 0, 1, &v), MT_ERR_OUT_OF_MEMORY, "transpose");
    probe_remove();
    assert_null(v);
    mt_tensor_free(base);
}

static void test_views_share_data(void **state)
{
    (void)state;
    mt_tensor *x, *t, *r, *p, *n, *s;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){3, 4}, REF_X34, &x));
    assert_ok(mt_transpose(x, 0, 1, &t));
    assert_int_equal(t->shape[0], 4);
    assert_int_equal(t->stride[0], 1);
    assert_int_equal(t->stride[1], 4);
    assert_ptr_equal(t->data, x->data);
    assert_false(mt_tensor_is_contiguous(t));
    float v;
    assert_ok(mt_tensor_get_f32(t, (int64_t[]){3, 1}, &v));
    assert_true(v == REF_X34[1 * 4 + 3]);
    /* reshape of a contiguous tensor, with an inferred dim */
    assert_ok(mt_view(x, 3, (int64_t[]){2, -1, 2}, &r));
    assert_int_equal(r->shape[1], 3);
    assert_ok(mt_tensor_get_f32(r, (int64_t[]){1, 2, 1}, &v));
    assert_true(v == REF_X34[11]);
    /* permute(1,0) == transpose */
    assert_ok(mt_permute(x, (int[]){1, 0}, &p));
    assert_true(mt_tensor_same_shape(p, t) && p->stride[0] == t->stride[0]);
    /* narrow rows 1..2 and slice columns ::2 */
    assert_ok(mt_narrow(x, 0, 1, 2, &n));
    assert_ok(mt_slice(n, 1, 0, 4, 2, &s));
    assert_int_equal(s->shape[0], 2);
    assert_int_equal(s->shape[1], 2);
    const float want[4] = {REF_X34[4], REF_X34[6], REF_X34[8], REF_X34[10]};
    mt_tensor *c;
    assert_ok(mt_tensor_contiguous(s, &c));
    assert_true(mt_tensor_is_contiguous(c));
    assert_close(c->data, want, 4, 0, 0);
    /* a view keeps its base alive: free the base first */
    mt_tensor_free(x);
    assert_ok(mt_tensor_get_f32(s, (int64_t[]){1, 1}, &v));
    assert_true(v == REF_X34[10]);
    mt_tensor *all[] = {t, r, p, n, s, c};
    for (size_t i = 0; i < 6; i++)
        mt_tensor_free(all[i]);
}

static void test_reshape_non_contiguous(void **state)
{
    (void)state;
    mt_tensor *x, *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){3, 4}, REF_X34, &x));
    assert_ok(mt_transpose(x, 0, 1, &t));   /* [4,3], strides (1,4) */
    mt_tensor v;
    assert_fails(mt_view_into(t, 1, (int64_t[]){12}, &v), MT_ERR_SHAPE,
                 "view: cannot view non-contiguous [4,3] as [12]");
    /* flatten is a view too, and says so under its own name */
    assert_fails(mt_flatten_into(t, 0, -1, &v), MT_ERR_SHAPE,
                 "flatten: cannot view non-contiguous [4,3] as [12]");
    /* splitting a dim of a transposed view is expressible */
    assert_ok(mt_view_into(t, 3, (int64_t[]){2, 2, 3}, &v));
    assert_int_equal(v.stride[0], 2);
    assert_int_equal(v.stride[1], 1);
    assert_int_equal(v.stride[2], 4);
    assert_fails(mt_view_into(x, 2, (int64_t[]){5, -1}, &v), MT_ERR_SHAPE,
                 "cannot infer dim 1");
    assert_fails(mt_view_into(x, 2, (int64_t[]){5, 3}, &v), MT_ERR_SHAPE,
                 "[3,4] has 12 elements, [5,3] needs 15");
    mt_tensor_free(t);
    mt_tensor_free(x);
}

static void test_flatten_keras_style(void **state)
{
    (void)state;
    uint8_t px[2 * 28 * 28];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)i;
    mt_tensor *x;
    assert_ok(mt_tensor_from_u8(3, (int64_t[]){2, 28, 28}, px, 1.0f, &x));
    mt_tensor flat;   /* borrowed, on the stack: no allocation */
    assert_ok(mt_flatten_into(x, 1, -1, &flat));
    assert_int_equal(flat.rank, 2);
    assert_int_equal(flat.shape[1], 784);
    float v;
    assert_ok(mt_tensor_get_f32(&flat, (int64_t[]){1, 783}, &v));
    assert_true(v == (float)(uint8_t)(784 + 783));
    mt_tensor_free(&flat);   /* a caller struct: ignored */
    assert_fails(mt_flatten_into(x, 2, 1, &flat), MT_ERR_INVALID_ARGUMENT,
                 "dims 2..1 invalid for [2,28,28]");
    mt_tensor_free(x);
}

static void test_view_errors(void **state)
{
    (void)state;
    mt_tensor *x;
    mt_tensor v;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){3, 4}, &x));
    assert_fails(mt_transpose_into(x, 0, 2, &v), MT_ERR_INVALID_ARGUMENT,
                 "dims 0,2 out of range for [3,4]");
    assert_fails(mt_permute_into(x, (int[]){0, 0}, &v), MT_ERR_INVALID_ARGUMENT,
                 "not a permutation");
    assert_fails(mt_narrow_into(x, 1, 2, 3, &v), MT_ERR_INVALID_ARGUMENT,
                 "[2, 2+3) out of range for dim 1 of [3,4]");
    assert_fails(mt_slice_into(x, 0, 0, 3, 0, &v), MT_ERR_INVALID_ARGUMENT,
                 "step 0 must be >= 1");
    assert_fails(mt_transpose_into(NULL, 0, 1, &v), MT_ERR_INVALID_ARGUMENT,
                 "input is NULL");
    assert_fails(mt_transpose_into(x, 0, 1, NULL), MT_ERR_INVALID_ARGUMENT,
                 "output is NULL");
    /* Python-style slice clamping: x[-2:100] along dim 1 */
    assert_ok(mt_slice_into(x, 1, -2, 100, 1, &v));
    assert_int_equal(v.shape[1], 2);
    mt_tensor_free(x);
}

static void test_copy_into_converts(void **state)
{
    (void)state;
    const int32_t vals[4] = {1, -2, 3, -4};
    mt_tensor *i, *f;
    assert_ok(mt_tensor_from_data(MT_DTYPE_I32, 2, (int64_t[]){2, 2}, vals, &i));
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 2}, &f));
    mt_tensor it;
    assert_ok(mt_transpose_into(i, 0, 1, &it));
    assert_ok(mt_tensor_copy_into(&it, f));
    const float want[4] = {1, 3, -2, -4};
    assert_close(f->data, want, 4, 0, 0);
    assert_fails(mt_tensor_copy_into(f, i), MT_ERR_DTYPE, "cannot convert F32 to I32");
    mt_tensor *g;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){4}, &g));
    assert_fails(mt_tensor_copy_into(f, g), MT_ERR_SHAPE, "dst [4], src [2,2]");
    mt_tensor_free(g);
    mt_tensor_free(i);
    mt_tensor_free(f);
}

/* dst and src over the same memory in different layouts: the result is
 * numpy.copyto's (src read as a whole first); a dst with a stride of 0 is
 * refused, as torch's copy_ refuses it, and left unchanged. */
static void test_copy_into_overlap(void **state)
{
    (void)state;
    mt_tensor *x;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 2},
                                  (float[]){1, 2, 3, 4}, &x));
    mt_tensor xt;
    assert_ok(mt_transpose_into(x, 0, 1, &xt));
    assert_ok(mt_tensor_copy_into(x, &xt));
    /* a = arange(1, 5).reshape(2, 2); numpy.copyto(a.T, a) */
    assert_close(x->data, ((float[]){1, 3, 2, 4}), 4, 0, 0);
    mt_tensor_free(x);

    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 3},
                                  (float[]){1, 2, 3, 4, 5, 6}, &x));
    mt_tensor left, right;
    assert_ok(mt_narrow_into(x, 1, 0, 2, &left));
    assert_ok(mt_narrow_into(x, 1, 1, 2, &right));
    assert_ok(mt_tensor_copy_into(&left, &right));
    /* c = arange(1, 7).reshape(2, 3); c[:, 1:3] = c[:, 0:2] */
    assert_close(x->data, ((float[]){1, 1, 2, 4, 4, 5}), 6, 0, 0);

    mt_tensor row, wide;
    assert_ok(mt_narrow_into(x, 0, 0, 1, &row));
    assert_ok(mt_expand_into(&row, 2, (int64_t[]){2, 3}, &wide));
    mt_tensor *y;
    assert_ok(mt_tensor_full(2, (int64_t[]){2, 3}, 9.0f, &y));
    assert_fails(mt_tensor_copy_into(y, &wide), MT_ERR_INVALID_ARGUMENT,
                 "tensor_copy: dst [2,3] has stride 0 in dim 0, so its elements overlap");
    assert_close(x->data, ((float[]){1, 1, 2, 4, 4, 5}), 6, 0, 0);
    mt_tensor_free(y);
    mt_tensor_free(x);
}

/* mt_tensor is a public struct: one filled by hand with a negative dim or
 * an element count past int64 is refused by every op (a sum of [-1,2]
 * succeeded; a sum of [2^63-1,2] read past the data). */
static void test_hand_made_tensors_checked(void **state)
{
    (void)state;
    float data[4] = {1, 2, 3, 4};
    mt_tensor t;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){2, 2}, data, &t));
    mt_tensor *out = NULL;
    t.shape[0] = -1;
    assert_fails(mt_sum(&t, 0, false, &out), MT_ERR_INVALID_ARGUMENT,
                 "sum: input [-1,2] has a negative dim or too many elements");
    assert_fails(mt_transpose(&t, 0, 1, &out), MT_ERR_INVALID_ARGUMENT,
                 "transpose: input [-1,2] has a negative dim or too many elements");
    t.shape[0] = INT64_MAX;
    assert_fails(mt_sum(&t, 0, false, &out), MT_ERR_INVALID_ARGUMENT,
                 "sum: input [9223372036854775807,2] has a negative dim or too many elements");
    assert_fails(mt_tensor_check_finite(&t), MT_ERR_INVALID_ARGUMENT, "too many elements");
    assert_null(out);
    /* the same check, public for users' own ops and layers */
    mt_tensor_name_set(&t, "w");
    assert_fails(mt_tensor_check("mylayer", "kernel", &t), MT_ERR_INVALID_ARGUMENT,
                 "mylayer: kernel w [9223372036854775807,2] has a negative dim or too many "
                 "elements");
    t.shape[0] = 2;
    assert_ok(mt_tensor_check("mylayer", "kernel", &t));
    t.data = NULL;
    assert_fails(mt_tensor_check("mylayer", "kernel", &t), MT_ERR_INVALID_ARGUMENT,
                 "mylayer: kernel w [2,2] has no data");
    t.rank = 9;
    assert_fails(mt_tensor_check(NULL, NULL, &t), MT_ERR_INVALID_ARGUMENT,
                 "tensor_check: tensor w is not a valid tensor (rank 9, dtype 0)");
    assert_fails(mt_tensor_check("mylayer", "bias", NULL), MT_ERR_INVALID_ARGUMENT,
                 "mylayer: bias is NULL");
}

static void test_names_in_messages(void **state)
{
    (void)state;
    mt_tensor *w;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){784, 128}, &w));
    assert_ok(mt_tensor_name_set(w, "d1_w"));
    char buf[64];
    assert_string_equal(mt_tensor_describe(w, buf, sizeof buf), "d1_w [784,128]");
    assert_string_equal(mt_tensor_describe(w, buf, 8), "d1_w [7");
    mt_tensor_free(w);
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(mt_version(), MT_VERSION_STRING);
    assert_string_equal(mt_status_name(MT_ERR_SHAPE), "MT_ERR_SHAPE");
    assert_string_equal(mt_status_name((mt_status)77), "MT_STATUS_UNKNOWN");
    mt_fail(MT_ERR_IO, "x %d", 3);
    assert_string_equal(mt_last_error(), "x 3");
    mt_clear_error();
    assert_string_equal(mt_last_error(), "");
}

/* Non-finite values are found in row-major order through any strides; the
 * message names the tensor, the value, the flat and the multi-index. */
static void test_check_finite(void **state)
{
    (void)state;
    float v[6] = {1, 2, 3, 4, 5, 6};
    mt_tensor t, tt;
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, v, &t));
    assert_ok(mt_tensor_name_set(&t, "d1_w"));
    assert_ok(mt_tensor_check_finite(&t));
    v[4] = NAN;                                       /* element [1,1] */
    assert_fails(mt_tensor_check_finite(&t), MT_ERR_FORMAT,
                 "d1_w [2,3] holds NaN at flat index 4 ([1,1])");
    v[4] = 5;
    v[2] = -INFINITY;                                 /* [0,2]; transposed [2,0] */
    assert_fails(mt_tensor_check_finite(&t), MT_ERR_FORMAT, "-Inf at flat index 2 ([0,2])");
    assert_ok(mt_transpose_into(&t, 0, 1, &tt));
    assert_fails(mt_tensor_check_finite(&tt), MT_ERR_FORMAT, "flat index 4 ([2,0])");
    uint16_t h[2] = {0x3C00, 0x7C00};                 /* F16 1.0, +Inf */
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F16, 1, (int64_t[]){2}, h, &t));
    assert_fails(mt_tensor_check_finite(&t), MT_ERR_FORMAT, "+Inf at flat index 1");
    double d[1] = {1e300};                            /* finite as F64 */
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_F64, 1, (int64_t[]){1}, d, &t));
    assert_ok(mt_tensor_check_finite(&t));
    int32_t i[1] = {-1};
    assert_ok(mt_tensor_wrap_into(MT_DTYPE_I32, 1, (int64_t[]){1}, i, &t));
    assert_ok(mt_tensor_check_finite(&t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeros_and_full),
        cmocka_unit_test(test_zero_size),
        cmocka_unit_test(test_from_data_copies_and_wrap_borrows),
        cmocka_unit_test(test_from_u8_scales_pixels),
        cmocka_unit_test(test_dtype_names_and_sizes),
        cmocka_unit_test(test_conversions_to_f32),
        cmocka_unit_test(test_get_set_and_errors),
        cmocka_unit_test(test_creation_errors),
        cmocka_unit_test(test_out_of_memory_is_clean),
        cmocka_unit_test(test_views_share_data),
        cmocka_unit_test(test_reshape_non_contiguous),
        cmocka_unit_test(test_flatten_keras_style),
        cmocka_unit_test(test_view_errors),
        cmocka_unit_test(test_copy_into_converts),
        cmocka_unit_test(test_copy_into_overlap),
        cmocka_unit_test(test_hand_made_tensors_checked),
        cmocka_unit_test(test_names_in_messages),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_check_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
