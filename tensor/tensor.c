/* tensor.c — creating, describing, copying and freeing tensors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- shared checks ------------------------------------------------------- */

mt_shape_text mt_shape_text_of(const mt_tensor *t)
{
    mt_shape_text out;
    mt_tensor_describe(t, out.s, sizeof out.s);
    return out;
}

char *mt_tensor_describe(const mt_tensor *t, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if (!t) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    size_t len = 0;
    buf[0] = '\0';
#define APPEND(...)                                                          \
    do {                                                                     \
        if (len < size) {                                                    \
            int n_ = snprintf(buf + len, size - len, __VA_ARGS__);           \
            len += n_ > 0 ? (size_t)n_ : 0;                                  \
        }                                                                    \
    } while (0)
    if (t->name[0])
        APPEND("%s ", t->name);
    APPEND("[");
    for (int d = 0; d < t->rank && d < MT_MAX_RANK; d++)
        APPEND(d ? ",%lld" : "%lld", (long long)t->shape[d]);
    APPEND("]");
#undef APPEND
    return buf;
}

bool mt_dim_resolve(int dim, int rank, int *resolved)
{
    int d = dim < 0 ? dim + rank : dim;
    if (d < 0 || d >= rank)
        return false;
    *resolved = d;
    return true;
}

/* The product of the nonzero dims must fit too: strides are computed from
 * it, so [0, 2^40, 2^40] is an overflow even though it holds no element. */
bool mt_shape_numel(int rank, const int64_t *shape, int64_t *numel)
{
    int64_t n = 1;
    bool empty = false;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0)
            return false;
        if (shape[d] == 0) {
            empty = true;
            continue;
        }
        if (n > INT64_MAX / shape[d])
            return false;
        n *= shape[d];
    }
    *numel = empty ? 0 : n;
    return true;
}

mt_status mt_check_shape_arg(const char *op, int rank, const int64_t *shape)
{
    if (rank < 0 || rank > MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rank %d out of range 0..%d",
                       op, rank, MT_MAX_RANK);
    if (rank > 0 && !shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: shape is NULL", op);
    for (int d = 0; d < rank; d++)
        if (shape[d] < 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d is negative (%lld)",
                           op, d, (long long)shape[d]);
    int64_t numel;
    if (!mt_shape_numel(rank, shape, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: element count overflows", op);
    return MT_OK;
}

mt_status mt_tensor_check(const char *op, const char *what, const mt_tensor *t)
{
    op = op ? op : "tensor_check";   // a public call may name nothing
    what = what ? what : "tensor";
    if (!t)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, what);
    if (t->rank < 0 || t->rank > MT_MAX_RANK || (unsigned)t->dtype >= MT_DTYPE_COUNT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s%s%s is not a valid tensor (rank %d, "
                       "dtype %d)", op, what, t->name[0] ? " " : "", t->name, t->rank,
                       (int)t->dtype);
    /* a struct filled by hand: a negative dim made sums of shape [-1,2]
     * succeed, an overflowing count made loops run past the data */
    int64_t numel;
    bool shape_ok = mt_shape_numel(t->rank, t->shape, &numel);
    if (shape_ok && (t->data || numel == 0))
        return MT_OK;
    char ts[160];
    return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s %s %s", op, what,
                   mt_tensor_describe(t, ts, sizeof ts),
                   shape_ok ? "has no data" : "has a negative dim or too many elements");
}

mt_status mt_check_f32(const char *op, const mt_tensor *t)
{
    if (t->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "%s: %s has dtype %s, not F32 (convert with "
                       "mt_tensor_to_f32)", op, MT_SHAPE(t), mt_dtype_name(t->dtype));
    return MT_OK;
}

/* ---- creation ------------------------------------------------------------ */

void mt_tensor_init_contiguous(mt_tensor *t, mt_dtype dtype, int rank,
                               const int64_t *shape, void *data)
{
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->rank = rank;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        t->shape[d] = shape[d];
        t->stride[d] = stride;
        stride *= shape[d] ? shape[d] : 1;
    }
    t->data = data;
    t->ownership = MT_OWNERSHIP_BORROWED;
}

mt_tensor *mt_tensor_struct_new(void)
{
    mt_tensor *t = mt_alloc(sizeof *t, _Alignof(mt_tensor));
    if (t) {
        memset(t, 0, sizeof *t);
        t->refs_ = 1;
    }
    return t;
}

mt_status mt_tensor_alloc(const char *op, mt_dtype dtype, int rank,
                         const int64_t *shape, mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    if ((unsigned)dtype >= MT_DTYPE_COUNT)
        return mt_fail(MT_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
    mt_status s = mt_check_shape_arg(op, rank, shape);
    if (s)
        return s;
    int64_t numel = 0;
    mt_shape_numel(rank, shape, &numel);
    size_t esize = mt_dtype_size(dtype);
    if ((uint64_t)numel > SIZE_MAX / esize)
        return mt_fail(MT_ERR_OVERFLOW, "%s: %lld elements of %s overflow size_t",
                       op, (long long)numel, mt_dtype_name(dtype));
    size_t bytes = (size_t)numel * esize;
    mt_tensor *t = mt_tensor_struct_new();
    void *data = bytes ? mt_alloc(bytes, MT_ALIGN) : NULL;
    if (!t || (bytes && !data)) {
        mt_dealloc(t);
        mt_dealloc(data);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", op, bytes);
    }
    int refs = t->refs_;
    mt_tensor_init_contiguous(t, dtype, rank, shape, data);
    t->refs_ = refs;
    t->ownership = MT_OWNERSHIP_OWNED;
    t->block_ = data;
    *out = t;
    return MT_OK;
}

static size_t tensor_bytes(const mt_tensor *t)
{
    return (size_t)mt_tensor_numel(t) * mt_dtype_size(t->dtype);
}

mt_status mt_tensor_zeros(mt_dtype dtype, int rank,
                          const int64_t *shape, mt_tensor **out)
{
    mt_status s = mt_tensor_alloc("tensor_zeros", dtype, rank, shape, out);
    if (s == MT_OK && (*out)->data)
        memset((*out)->data, 0, tensor_bytes(*out));
    return s;
}

mt_status mt_tensor_full(int rank, const int64_t *shape,
                         float value, mt_tensor **out)
{
    mt_status s = mt_tensor_alloc("tensor_full", MT_DTYPE_F32, rank, shape, out);
    if (s == MT_OK) {
        float *p = (*out)->data;
        for (int64_t i = 0, n = mt_tensor_numel(*out); i < n; i++)
            p[i] = value;
    }
    return s;
}

mt_status mt_tensor_from_data(mt_dtype dtype, int rank,
                              const int64_t *shape, const void *data, mt_tensor **out)
{
    int64_t numel = 0;
    if (!data && rank >= 0 && rank <= MT_MAX_RANK && shape &&
        mt_shape_numel(rank, shape, &numel) && numel > 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tensor_from_data: data is NULL");
    if (!data && rank == 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tensor_from_data: data is NULL");
    mt_status s = mt_tensor_alloc("tensor_from_data", dtype, rank, shape, out);
    if (s == MT_OK && (*out)->data)
        memcpy((*out)->data, data, tensor_bytes(*out));
    return s;
}

/* Validates a wrap request; on success t is filled (BORROWED). */
static mt_status wrap_fill(const char *op, mt_tensor *t, mt_dtype dtype, int rank,
                           const int64_t *shape, void *data)
{
    if ((unsigned)dtype >= MT_DTYPE_COUNT)
        return mt_fail(MT_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dtype);
    mt_status s = mt_check_shape_arg(op, rank, shape);
    if (s)
        return s;
    int64_t numel = 0;
    mt_shape_numel(rank, shape, &numel);
    if ((uint64_t)numel > SIZE_MAX / mt_dtype_size(dtype))
        return mt_fail(MT_ERR_OVERFLOW, "%s: size overflows size_t", op);
    if (!data && numel > 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: data is NULL", op);
    mt_tensor_init_contiguous(t, dtype, rank, shape, data);
    return MT_OK;
}

mt_status mt_tensor_wrap_into(mt_dtype dtype, int rank,
                              const int64_t *shape, void *data, mt_tensor *t)
{
    if (!t)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tensor_wrap: tensor is NULL");
    mt_tensor filled;
    mt_status s = wrap_fill("tensor_wrap", &filled, dtype, rank, shape, data);
    if (s == MT_OK)
        *t = filled;
    return s;
}

mt_status mt_tensor_wrap(mt_dtype dtype, int rank,
                         const int64_t *shape, void *data, mt_tensor **out)
{
    const char *op = "tensor_wrap";
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor filled;
    mt_status s = wrap_fill(op, &filled, dtype, rank, shape, data);
    if (s)
        return s;
    mt_tensor *t = mt_tensor_struct_new();
    if (!t)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate a tensor", op);
    *t = filled;
    t->refs_ = 1;
    *out = t;
    return MT_OK;
}

mt_status mt_tensor_from_u8_into(const uint8_t *pixels, float scale, mt_tensor *dst)
{
    const char *op = "tensor_from_u8";
    mt_status s = mt_tensor_check(op, "dst", dst);
    if (s || (s = mt_check_f32(op, dst)))
        return s;
    int64_t n = mt_tensor_numel(dst);
    if (!pixels && n > 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pixels is NULL", op);
    if (mt_tensor_is_contiguous(dst)) {
        float *p = dst->data;
        for (int64_t i = 0; i < n; i++)
            p[i] = (float)pixels[i] * scale;
        return MT_OK;
    }
    int64_t index[MT_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
        *(float *)mt_element_ptr(dst, index) = (float)pixels[i] * scale;
        mt_index_next(dst->rank, dst->shape, index);
    }
    return MT_OK;
}

mt_status mt_tensor_from_u8(int rank, const int64_t *shape,
                            const uint8_t *pixels, float scale, mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tensor_from_u8: out is NULL");
    mt_tensor *t = NULL;
    mt_status s = mt_tensor_alloc("tensor_from_u8", MT_DTYPE_F32, rank, shape, &t);
    if (s)
        return s;
    if ((s = mt_tensor_from_u8_into(pixels, scale, t))) {
        mt_tensor_free(t);
        return s;
    }
    *out = t;
    return MT_OK;
}

void mt_tensor_free(mt_tensor *t)
{
    while (t && t->refs_ > 0) {
        if (--t->refs_ > 0)
            return;
        mt_tensor *base = t->base_;
        mt_dealloc(t->block_);
        mt_dealloc(t);
        t = base;  /* a view drops its reference to the base */
    }
}

/* ---- facts ---------------------------------------------------------------- */

int64_t mt_tensor_numel(const mt_tensor *t)
{
    if (!t || t->rank < 0 || t->rank > MT_MAX_RANK)
        return -1;
    int64_t n;
    return mt_shape_numel(t->rank, t->shape, &n) ? n : -1;
}

bool mt_tensor_is_contiguous(const mt_tensor *t)
{
    if (!t)
        return false;
    int64_t expected = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        if (t->shape[d] == 0)
            return true;
        if (t->shape[d] != 1 && t->stride[d] != expected)
            return false;
        expected *= t->shape[d];
    }
    return true;
}

/* Byte range [lo, hi) that t's elements touch. */
static void extent(const mt_tensor *t, const char **lo, const char **hi)
{
    int64_t span = 1;
    for (int d = 0; d < t->rank; d++)
        span += (t->shape[d] - 1) * t->stride[d];
    *lo = t->data;
    *hi = (const char *)t->data + span * (int64_t)mt_dtype_size(t->dtype);
}

bool mt_tensors_overlap(const mt_tensor *x, const mt_tensor *y)
{
    if (mt_tensor_numel(x) == 0 || mt_tensor_numel(y) == 0)
        return false;
    const char *xl, *xh, *yl, *yh;
    extent(x, &xl, &xh);
    extent(y, &yl, &yh);
    return xl < yh && yl < xh;
}

bool mt_tensor_same_shape(const mt_tensor *a, const mt_tensor *b)
{
    if (!a || !b || a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

mt_status mt_tensor_name_set(mt_tensor *t, const char *name)
{
    if (!t || !name)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tensor_name_set: NULL argument");
    size_t n = strlen(name);
    if (n > MT_NAME_MAX - 1)
        n = MT_NAME_MAX - 1;
    memcpy(t->name, name, n);
    t->name[n] = '\0';
    return MT_OK;
}

/* Element p of a floating dtype is NaN or ±Inf (F64 checked as a double, so
 * a large finite double is not reported). */
static bool element_is_finite(mt_dtype dtype, const void *p)
{
    if (dtype == MT_DTYPE_F64) {
        double v;
        memcpy(&v, p, sizeof v);
        return isfinite(v);
    }
    return isfinite(mt_element_to_f32(dtype, p));
}

/* All n floats finite (exponent not all ones)? Branch-free so the compiler
 * vectorizes it: checking the weights of a model at load is most of the
 * instructions `mnist predict` runs otherwise (55 per float element-wise). */
static bool f32_all_finite(const float *x, int64_t n)
{
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

mt_status mt_tensor_check_finite(const mt_tensor *t)
{
    const char *op = "tensor_check_finite";
    mt_status s = mt_tensor_check(op, "tensor", t);
    if (s)
        return s;
    if (t->dtype != MT_DTYPE_F32 && t->dtype != MT_DTYPE_F64 &&
        t->dtype != MT_DTYPE_F16 && t->dtype != MT_DTYPE_BF16)
        return MT_OK;
    if (mt_tensor_numel(t) == 0)
        return MT_OK;
    if (t->dtype == MT_DTYPE_F32 && mt_tensor_is_contiguous(t) &&
        f32_all_finite(t->data, mt_tensor_numel(t)))
        return MT_OK;
    /* element by element: any dtype and strides, and names the first bad one */
    int64_t index[MT_MAX_RANK] = {0}, flat = 0;
    do {
        const void *p = mt_element_ptr(t, index);
        if (!element_is_finite(t->dtype, p)) {
            char at[160];
            size_t len = 0;
            for (int d = 0; d < t->rank && len < sizeof at; d++) {
                int n = snprintf(at + len, sizeof at - len, d ? ",%lld" : "%lld",
                                 (long long)index[d]);
                len += n > 0 ? (size_t)n : 0;
            }
            if (t->rank == 0)
                at[0] = '\0';
            float v = mt_element_to_f32(t->dtype, p);
            return mt_fail(MT_ERR_FORMAT, "%s: %s holds %s at flat index %lld ([%s])",
                           op, MT_SHAPE(t),
                           isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf",
                           (long long)flat, at);
        }
        flat++;
    } while (mt_index_next(t->rank, t->shape, index));
    return MT_OK;
}

/* ---- elements and copies ------------------------------------------------- */

static mt_status check_index(const char *op, const mt_tensor *t, const int64_t *index)
{
    mt_status s = mt_tensor_check(op, "tensor", t);
    if (s)
        return s;
    if (t->rank > 0 && !index)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: index is NULL", op);
    for (int d = 0; d < t->rank; d++)
        if (index[d] < 0 || index[d] >= t->shape[d])
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: index %lld out of range for dim %d of %s",
                           op, (long long)index[d], d, MT_SHAPE(t));
    return MT_OK;
}

mt_status mt_tensor_get_f32(const mt_tensor *t, const int64_t *index, float *value)
{
    mt_status s = check_index("tensor_get_f32", t, index);
    if (s)
        return s;
    if (!value)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tensor_get_f32: value is NULL");
    *value = mt_element_to_f32(t->dtype, mt_element_ptr(t, index));
    return MT_OK;
}

mt_status mt_tensor_set_f32(mt_tensor *t, const int64_t *index, float value)
{
    mt_status s = check_index("tensor_set_f32", t, index);
    if (s || (s = mt_check_f32("tensor_set_f32", t)))
        return s;
    memcpy(mt_element_ptr(t, index), &value, sizeof value);
    return MT_OK;
}

mt_status mt_tensor_fill(mt_tensor *t, float value)
{
    mt_status s = mt_tensor_check("tensor_fill", "tensor", t);
    if (s || (s = mt_check_f32("tensor_fill", t)))
        return s;
    int64_t index[MT_MAX_RANK] = {0}, n = mt_tensor_numel(t);
    if (n == 0)
        return MT_OK;
    if (mt_tensor_is_contiguous(t)) {   /* one run: the common case (zeroing gradients) */
        float *d = t->data;
        for (int64_t i = 0; i < n; i++)
            d[i] = value;
        return MT_OK;
    }
    do {
        *(float *)mt_element_ptr(t, index) = value;
    } while (mt_index_next(t->rank, t->shape, index));
    return MT_OK;
}

mt_status mt_tensor_copy_into(const mt_tensor *src, mt_tensor *dst)
{
    const char *op = "tensor_copy";
    mt_status s = mt_tensor_check(op, "dst", dst);
    if (s || (s = mt_tensor_check(op, "src", src)))
        return s;
    if (!mt_tensor_same_shape(dst, src))
        return mt_fail(MT_ERR_SHAPE, "%s: shapes differ: dst %s, src %s",
                       op, MT_SHAPE(dst), MT_SHAPE(src));
    if (dst->dtype != src->dtype && dst->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "%s: cannot convert %s to %s (only to F32)",
                       op, mt_dtype_name(src->dtype), mt_dtype_name(dst->dtype));
    for (int d = 0; d < dst->rank; d++)   /* an expanded dst: elements share memory */
        if (dst->stride[d] == 0 && dst->shape[d] > 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dst %s has stride 0 in dim %d, "
                           "so its elements overlap", op, MT_SHAPE(dst), d);
    if (mt_tensor_numel(src) == 0)
        return MT_OK;
    if (dst->dtype == src->dtype && mt_tensor_is_contiguous(dst) &&
        mt_tensor_is_contiguous(src)) {
        memmove(dst->data, src->data, tensor_bytes(src));
        return MT_OK;
    }
    /* dst overlaps src in another layout (x into its own transpose, a
     * column into the next): the loop below would read elements it already
     * overwrote. Read src out first, as numpy.copyto does. */
    if (mt_tensors_overlap(dst, src) &&
        !(dst->dtype == src->dtype && mt_tensors_same_view(dst, src))) {
        mt_tensor *tmp;
        if ((s = mt_tensor_contiguous(src, &tmp)))
            return s;
        s = mt_tensor_copy_into(tmp, dst);
        mt_tensor_free(tmp);
        return s;
    }
    size_t esize = mt_dtype_size(src->dtype);
    int64_t index[MT_MAX_RANK] = {0};
    do {
        void *to = mt_element_ptr(dst, index);
        const void *from = mt_element_ptr(src, index);
        if (dst->dtype == src->dtype)
            memcpy(to, from, esize);
        else
            *(float *)to = mt_element_to_f32(src->dtype, from);
    } while (mt_index_next(src->rank, src->shape, index));
    return MT_OK;
}

/* A new OWNED contiguous copy of src in `dtype` (src's own or F32). */
static mt_status copy_as(const char *op, const mt_tensor *src, mt_dtype dtype,
                         mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_status s = mt_tensor_check(op, "src", src);
    if (s)
        return s;
    mt_tensor *t = NULL;
    if ((s = mt_tensor_alloc(op, dtype, src->rank, src->shape, &t)))
        return s;
    mt_tensor_copy_into(src, t);
    memcpy(t->name, src->name, sizeof t->name);
    *out = t;
    return MT_OK;
}

mt_status mt_tensor_contiguous(const mt_tensor *src, mt_tensor **out)
{
    return copy_as("tensor_contiguous", src, src ? src->dtype : MT_DTYPE_F32, out);
}

mt_status mt_tensor_to_f32(const mt_tensor *src, mt_tensor **out)
{
    return copy_as("tensor_to_f32", src, MT_DTYPE_F32, out);
}
