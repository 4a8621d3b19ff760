/* sort.c — torch.sort and torch.topk along one dim (reduce.h). Each lane is
 * read once into scratch (keys and their indices); sort is a merge sort of
 * the indices (stable), topk keeps its k best in a binary heap when k is
 * small beside the lane and sorts them, else sorts the lane. */
#include <math.h>
#include <string.h>

#include "minitensor/reduce.h"
#include "internal.h"

/* A lane's keys and the order being built. `descending`: larger first. */
typedef struct lane {
    const float *key;
    bool descending;
} lane;

/* Whether element a goes before element b: NaN counts as larger than
 * every number (torch), equal keys (0 and -0 too) keep their order. */
static bool before(const lane *l, int64_t a, int64_t b)
{
    float x = l->key[a], y = l->key[b];
    bool xn = isnan(x), yn = isnan(y);
    if (xn || yn) {
        if (xn && yn)
            return a < b;
        return l->descending ? xn : yn;
    }
    if (x != y)
        return l->descending ? x > y : x < y;
    return a < b;
}

/* Stable merge sort of idx[0..n-1] by before(), tmp as scratch (n). */
static void merge_sort(const lane *l, int64_t *idx, int64_t *tmp, int64_t n)
{
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = before(l, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[o++] = idx[i++];
            while (j < hi)
                tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

/* heap[0..n-1] with its last-in-order element at the root: sift heap[at]
 * down. */
static void sift_down(const lane *l, int64_t *heap, int64_t n, int64_t at)
{
    for (;;) {
        int64_t c = 2 * at + 1, worst = at;
        if (c < n && before(l, heap[worst], heap[c]))
            worst = c;
        if (c + 1 < n && before(l, heap[worst], heap[c + 1]))
            worst = c + 1;
        if (worst == at)
            return;
        int64_t t = heap[at];
        heap[at] = heap[worst];
        heap[worst] = t;
        at = worst;
    }
}

/* The first k of the lane's n elements in order into idx[0..k-1]; idx and
 * tmp hold n. */
static void select_first(const lane *l, int64_t n, int64_t k, int64_t *idx, int64_t *tmp)
{
    if (k == 0)
        return;
    if (k > n / 8) {   // most of the lane: sort it all
        for (int64_t i = 0; i < n; i++)
            idx[i] = i;
        merge_sort(l, idx, tmp, n);
        return;
    }
    for (int64_t i = 0; i < k; i++)
        idx[i] = i;
    for (int64_t i = k / 2; i-- > 0;)
        sift_down(l, idx, k, i);
    for (int64_t i = k; i < n; i++)
        if (before(l, i, idx[0])) {
            idx[0] = i;
            sift_down(l, idx, k, 0);
        }
    merge_sort(l, idx, tmp, k);
}

/* The outputs' checks: what the op was asked for, resolved. */
typedef struct sort_call {
    const char *op;
    int d;          /* the dim, resolved (0 for a scalar) */
    int64_t n, k;   /* the lane's length; how many to keep */
} sort_call;

static mt_status prepare(const char *op, const mt_tensor *x, int dim, int64_t k, bool topk,
                         sort_call *c)
{
    mt_status s = mt_tensor_check(op, "input", x);
    if (s || (s = mt_check_f32(op, x)))
        return s;
    c->op = op;
    if (!mt_dim_resolve(dim, x->rank ? x->rank : 1, &c->d))   // a scalar: 0 or -1
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s", op, dim,
                       MT_SHAPE(x));
    c->n = x->rank ? x->shape[c->d] : 1;
    // a scalar's topk is the scalar for k 0 as for k 1 (torch 1.13: the
    // result has no dim to be empty along)
    c->k = topk && x->rank ? k : c->n;
    if (topk && (k < 0 || k > c->n))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: k %lld out of range for dim %d of %s "
                       "(0 to %lld)", op, (long long)k, dim, MT_SHAPE(x), (long long)c->n);
    return MT_OK;
}

/* The result shape: x's with dim c->d of length k. */
static void result_shape(const mt_tensor *x, const sort_call *c, int64_t *shape)
{
    memcpy(shape, x->shape, (size_t)x->rank * sizeof *shape);
    if (x->rank)
        shape[c->d] = c->k;
}

static mt_status check_outs(const mt_tensor *x, const sort_call *c, const mt_tensor *values,
                            const mt_tensor *indices)
{
    if (!values && !indices)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: values and indices are both NULL", c->op);
    int64_t shape[MT_MAX_RANK];
    result_shape(x, c, shape);
    mt_status s;
    if (values && (s = mt_check_out(c->op, values, MT_DTYPE_F32, x->rank, shape)))
        return s;
    if (indices && (s = mt_check_out(c->op, indices, indices->dtype == MT_DTYPE_I32
                                                         ? MT_DTYPE_I32 : MT_DTYPE_I64,
                                     x->rank, shape)))
        return s;
    if ((values && mt_tensors_overlap(values, x)) || (indices && mt_tensors_overlap(indices, x)) ||
        (values && indices && mt_tensors_overlap(values, indices)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: values, indices and the input %s must "
                       "not overlap", c->op, MT_SHAPE(x));
    if (indices && indices->dtype == MT_DTYPE_I32 && c->n > INT32_MAX)
        return mt_fail(MT_ERR_OVERFLOW, "%s: I32 indices cannot index dim %d of %s", c->op,
                       c->d, MT_SHAPE(x));
    return MT_OK;
}

static void apply(const mt_tensor *x, const sort_call *c, bool descending, float *key,
                  int64_t *idx, int64_t *tmp, mt_tensor *values, mt_tensor *indices)
{
    const mt_tensor *shaped = values ? values : indices;
    if (mt_tensor_numel(shaped) == 0)
        return;
    bool scalar = x->rank == 0;
    int64_t sx = scalar ? 0 : x->stride[c->d];
    int64_t sv = values && !scalar ? values->stride[c->d] : 0;
    int64_t si = indices && !scalar ? indices->stride[c->d] : 0;
    int64_t outer[MT_MAX_RANK], index[MT_MAX_RANK] = {0};
    for (int i = 0; i < x->rank; i++)
        outer[i] = i == c->d ? 1 : x->shape[i];
    const lane l = {key, descending};
    do {
        const float *xp = (const float *)x->data;
        float *vp = values ? values->data : NULL;
        char *ip = indices ? indices->data : NULL;
        size_t isz = indices && indices->dtype == MT_DTYPE_I32 ? 4 : 8;
        for (int i = 0; i < x->rank; i++) {
            xp += index[i] * x->stride[i];
            if (vp)
                vp += index[i] * values->stride[i];
            if (ip)
                ip += index[i] * indices->stride[i] * (int64_t)isz;
        }
        for (int64_t i = 0; i < c->n; i++)
            key[i] = xp[i * sx];
        select_first(&l, c->n, c->k, idx, tmp);
        for (int64_t i = 0; i < c->k; i++) {
            if (vp)
                vp[i * sv] = key[idx[i]];
            if (ip && isz == 4) {
                int32_t v = (int32_t)idx[i];
                memcpy(ip + i * si * 4, &v, 4);
            } else if (ip) {
                memcpy(ip + i * si * 8, &idx[i], 8);
            }
        }
    } while (mt_index_next(x->rank, outer, index));
}

/* Runs c into values / indices (either may be NULL), checked; the lane's
 * scratch comes first, so that a failure writes nothing. */
static mt_status run(const mt_tensor *x, const sort_call *c, bool descending,
                     mt_tensor *values, mt_tensor *indices)
{
    // key (n floats, rounded up to an even count so that the int64s after
    // it are 8-byte aligned) and idx, tmp (n int64 each): 5n + 1 floats
    int64_t n = c->n > 0 ? c->n : 1;
    if (n > (INT64_MAX - 1) / 5)
        return mt_fail(MT_ERR_OVERFLOW, "%s: a lane of %lld elements", c->op, (long long)n);
    float *buf = mt_scratch_floats(MT_SCRATCH_SORT, 5 * n + 1);
    if (!buf)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: no memory for a lane of %lld elements",
                       c->op, (long long)n);
    int64_t *idx = (int64_t *)(buf + ((n + 1) / 2) * 2);   // 8-byte aligned
    apply(x, c, descending, buf, idx, idx + n, values, indices);
    return MT_OK;
}

static mt_status sort_into(const char *op, const mt_tensor *x, int dim, int64_t k, bool topk,
                           bool descending, mt_tensor *values, mt_tensor *indices)
{
    sort_call c;
    mt_status s = prepare(op, x, dim, k, topk, &c);
    if (s || (s = check_outs(x, &c, values, indices)))
        return s;
    return run(x, &c, descending, values, indices);
}

static mt_status sort_new(const char *op, const mt_tensor *x, int dim, int64_t k, bool topk,
                          bool descending, mt_tensor **values, mt_tensor **indices)
{
    sort_call c;
    mt_status s = prepare(op, x, dim, k, topk, &c);
    if (s)
        return s;
    if (!values && !indices)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: values and indices are both NULL", op);
    int64_t shape[MT_MAX_RANK];
    result_shape(x, &c, shape);
    mt_tensor *v = NULL, *i = NULL;
    if ((values && (s = mt_tensor_alloc(op, MT_DTYPE_F32, x->rank, shape, &v))) ||
        (indices && (s = mt_tensor_alloc(op, MT_DTYPE_I64, x->rank, shape, &i))) ||
        (s = run(x, &c, descending, v, i))) {
        mt_tensor_free(v);
        mt_tensor_free(i);
        return s;
    }
    if (values)
        *values = v;
    if (indices)
        *indices = i;
    return MT_OK;
}

mt_status mt_sort(const mt_tensor *x, int dim, bool descending, mt_tensor **values,
                  mt_tensor **indices)
{
    return sort_new("sort", x, dim, 0, false, descending, values, indices);
}

mt_status mt_sort_into(const mt_tensor *x, int dim, bool descending, mt_tensor *values,
                       mt_tensor *indices)
{
    return sort_into("sort", x, dim, 0, false, descending, values, indices);
}

mt_status mt_topk(const mt_tensor *x, int64_t k, int dim, bool largest, mt_tensor **values,
                  mt_tensor **indices)
{
    return sort_new("topk", x, dim, k, true, largest, values, indices);
}

mt_status mt_topk_into(const mt_tensor *x, int64_t k, int dim, bool largest,
                       mt_tensor *values, mt_tensor *indices)
{
    return sort_into("topk", x, dim, k, true, largest, values, indices);
}
