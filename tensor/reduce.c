/* reduce.c — reductions over one dim, a list of dims or all dims: sum, mean,
 * var, std, min, max, argmin, argmax, logsumexp (semantics in reduce.h). */
#include <math.h>

#include "minitensor/reduce.h"
#include "internal.h"

typedef enum {
    RED_SUM, RED_MEAN, RED_VAR, RED_STD, RED_MIN, RED_MAX, RED_ARGMIN, RED_ARGMAX,
    RED_LOGSUMEXP
} red_op;

static const char *const red_names[] = {"sum", "mean", "var", "std", "min", "max",
                                        "argmin", "argmax", "logsumexp"};

static bool needs_elements(red_op op) { return op >= RED_MIN && op <= RED_ARGMAX; }
static bool is_arg(red_op op) { return op == RED_ARGMIN || op == RED_ARGMAX; }

/* The reduced part of t, seen from one output element: a sub-tensor walked
 * row-major (rank >= 1; dims that are contiguous in memory merged). */
typedef struct lanes {
    int rank;
    int64_t shape[MT_MAX_RANK], stride[MT_MAX_RANK];
    int64_t count;
} lanes;

/* A resolved reduction: kept dims with their input and output strides. */
typedef struct red_plan {
    red_op op;
    int correction;
    lanes r;
    bool reduced[MT_MAX_RANK];     /* per input dim */
    int kept;
    int64_t kshape[MT_MAX_RANK], kin[MT_MAX_RANK], kout[MT_MAX_RANK];
    int out_rank;
    int64_t out_shape[MT_MAX_RANK];
} red_plan;

/* Appends dim (n, s) to a row-major walk, merging it into the previous dim
 * when that one steps over exactly n*s elements. */
static void push_dim(int *rank, int64_t *shape, int64_t *stride, int64_t n, int64_t s)
{
    if (n == 1)
        return;
    if (*rank > 0 && shape[*rank - 1] != 0 && n != 0 &&
        stride[*rank - 1] == n * s) {
        shape[*rank - 1] *= n;
        stride[*rank - 1] = s;
        return;
    }
    shape[*rank] = n;
    stride[*rank] = s;
    (*rank)++;
}

/* ---- one output element: walks over the runs of the reduced sub-tensor ---- */

/* Offset of the run at idx (over the first rank-1 dims). */
static int64_t run_offset(const lanes *l, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < l->rank - 1; d++)
        off += idx[d] * l->stride[d];
    return off;
}

/* Runs the statement that follows once per run (innermost dim) of the
 * reduced sub-tensor l at x: p points at the run, n elements, stride s.
 * Once per function (it declares n, s and its index). */
#define FOR_EACH_RUN(l, x, p, n, s)                                           \
    int64_t n = (l)->shape[(l)->rank - 1], s = (l)->stride[(l)->rank - 1];   \
    int64_t idx_[MT_MAX_RANK] = {0};                                        \
    for (bool more_ = (l)->count > 0; more_;                                \
         more_ = mt_index_next((l)->rank - 1, (l)->shape, idx_))            \
        for (const float *p = (x) + run_offset((l), idx_); p; p = NULL)

static double lane_sum(const float *x, const lanes *l)
{
    double acc = 0.0;
    FOR_EACH_RUN(l, x, p, n, s)
        acc += mt_run_moment(p, n, s, 0.0, false);
    return acc;
}

static double lane_sq_dev(const float *x, const lanes *l, double mean)
{
    double acc = 0.0;
    FOR_EACH_RUN(l, x, p, n, s)
        acc += mt_run_moment(p, n, s, mean, true);
    return acc;
}

/* Row-major position of the first extreme (max if want_max); the first NaN
 * wins (torch). count >= 1. */
static int64_t lane_arg(const float *x, const lanes *l, bool want_max)
{
    int64_t pos = 0, best = 0;
    float bv = x[0];
    if (isnan(bv))
        return 0;
    FOR_EACH_RUN(l, x, p, n, s)
        for (int64_t i = 0; i < n; i++, pos++) {
            float v = p[i * s];
            if (isnan(v))
                return pos;
            if (want_max ? v > bv : v < bv) {
                bv = v;
                best = pos;
            }
        }
    return best;
}

/* The largest element, or the first NaN; -inf if there are none. */
static float lane_max_nan(const float *x, const lanes *l)
{
    float m = -INFINITY;
    FOR_EACH_RUN(l, x, p, n, s)
        for (int64_t i = 0; i < n; i++) {
            float v = p[i * s];
            if (isnan(v))
                return v;
            m = v > m ? v : m;
        }
    return m;
}

static double lane_sum_exp(const float *x, const lanes *l, float m)
{
    double acc = 0.0;
    FOR_EACH_RUN(l, x, p, n, s)
        for (int64_t i = 0; i < n; i++)
            acc += exp((double)p[i * s] - m);
    return acc;
}

static float lane_logsumexp(const float *x, const lanes *l)
{
    float m = lane_max_nan(x, l);
    if (isnan(m) || isinf(m))   /* NaN; all -inf (or nothing): -inf; any +inf: inf */
        return m;
    return (float)(m + log(lane_sum_exp(x, l, m)));
}

/* The value of one output element; x points at its first input element. */
static void reduce_one(const red_plan *p, const float *x, void *o)
{
    const lanes *l = &p->r;
    double n = (double)l->count;
    switch (p->op) {
    case RED_SUM: *(float *)o = (float)lane_sum(x, l); break;
    case RED_MEAN: *(float *)o = (float)(lane_sum(x, l) / n); break;
    case RED_VAR:
    case RED_STD: {
        double dof = n - p->correction > 0 ? n - p->correction : 0.0;
        double var = lane_sq_dev(x, l, lane_sum(x, l) / n) / dof;
        *(float *)o = (float)(p->op == RED_STD ? sqrt(var) : var);
        break;
    }
    case RED_MIN:
    case RED_MAX: {
        int64_t pos = lane_arg(x, l, p->op == RED_MAX), off = 0;
        for (int d = l->rank - 1; d >= 0; d--) {   /* position -> offset */
            off += pos % l->shape[d] * l->stride[d];
            pos /= l->shape[d];
        }
        *(float *)o = x[off];
        break;
    }
    case RED_ARGMIN:
    case RED_ARGMAX: *(int64_t *)o = lane_arg(x, l, p->op == RED_ARGMAX); break;
    case RED_LOGSUMEXP: *(float *)o = lane_logsumexp(x, l); break;
    }
}

/* ---- many outputs at once: the innermost input dim is kept ------------------ */

enum { COLS = 32 };   /* outputs per block: 128 bytes of each input row */

/* Sum of (x - shift[c])^k for nc adjacent outputs (input stride cs): every
 * step of the reduced walk reads nc neighbouring floats, not one column. */
static void columns_moment(const float *x, const lanes *l, int64_t nc, int64_t cs,
                           const double *shift, bool square, double *acc)
{
    for (int64_t c = 0; c < nc; c++)
        acc[c] = 0.0;
    FOR_EACH_RUN(l, x, p, n, s)
        for (int64_t i = 0; i < n; i++) {
            const float *row = p + i * s;
            for (int64_t c = 0; c < nc; c++) {
                double d = row[c * cs] - (shift ? shift[c] : 0.0);
                acc[c] += square ? d * d : d;
            }
        }
}

/* sum, mean, var, std of nc adjacent outputs (output stride os). */
static void reduce_columns(const red_plan *p, const float *x, int64_t nc, int64_t cs,
                           float *o, int64_t os)
{
    double sum[COLS], sq[COLS], mean[COLS];
    double n = (double)p->r.count;
    columns_moment(x, &p->r, nc, cs, NULL, false, sum);
    for (int64_t c = 0; c < nc; c++)
        mean[c] = sum[c] / n;
    if (p->op == RED_SUM || p->op == RED_MEAN) {
        for (int64_t c = 0; c < nc; c++)
            o[c * os] = (float)(p->op == RED_SUM ? sum[c] : mean[c]);
        return;
    }
    double dof = n - p->correction > 0 ? n - p->correction : 0.0;
    columns_moment(x, &p->r, nc, cs, mean, true, sq);
    for (int64_t c = 0; c < nc; c++)
        o[c * os] = (float)(p->op == RED_STD ? sqrt(sq[c] / dof) : sq[c] / dof);
}

static bool is_moment(red_op op) { return op <= RED_STD; }

static void reduce_apply(const red_plan *p, const mt_tensor *t, mt_tensor *out)
{
    if (mt_tensor_numel(out) == 0)
        return;
    size_t esize = mt_dtype_size(out->dtype);
    /* sum/mean/var/std keeping the innermost dim (e.g. [N,D] over N): blocks
     * of COLS outputs walk the reduced dims together (5-10x faster) */
    bool columns = is_moment(p->op) && t->rank > 0 && !p->reduced[t->rank - 1];
    int outer = columns ? p->kept - 1 : p->kept;
    int64_t idx[MT_MAX_RANK] = {0};
    do {
        int64_t it = 0, io = 0;
        for (int d = 0; d < outer; d++) {
            it += idx[d] * p->kin[d];
            io += idx[d] * p->kout[d];
        }
        const float *x = (const float *)t->data + it;
        if (!columns) {
            reduce_one(p, x, (char *)out->data + io * (int64_t)esize);
            continue;
        }
        int64_t ncol = p->kshape[outer], cs = p->kin[outer], os = p->kout[outer];
        for (int64_t c0 = 0; c0 < ncol; c0 += COLS)
            reduce_columns(p, x + c0 * cs, ncol - c0 < COLS ? ncol - c0 : COLS, cs,
                           (float *)out->data + io + c0 * os, os);
    } while (mt_index_next(outer, p->kshape, idx));
}

/* ---- validation ------------------------------------------------------------ */

/* Resolves dims into a mask and the output shape; fills p (out strides come
 * later, from the real output). */
static mt_status plan_reduce(red_op op, const mt_tensor *t, const int *dims, int n_dims,
                             bool keepdim, int correction, red_plan *p)
{
    const char *name = red_names[op];
    mt_status s = mt_tensor_check(name, "input", t);
    if (s || (s = mt_check_f32(name, t)))
        return s;
    if (n_dims < 0 || n_dims > MT_MAX_RANK || (n_dims > 0 && !dims))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: bad dim list (%d dims%s) for %s",
                       name, n_dims, n_dims > 0 && !dims ? ", NULL" : "", MT_SHAPE(t));
    if (correction < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: correction %d is negative", name,
                       correction);
    bool reduced[MT_MAX_RANK] = {false};
    for (int i = 0; i < n_dims; i++) {
        int d;
        /* a scalar takes dim 0 / -1 as torch does */
        if (!mt_dim_resolve(dims[i], t->rank ? t->rank : 1, &d))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s",
                           name, dims[i], MT_SHAPE(t));
        if (reduced[d])
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d appears twice in the "
                           "dim list for %s", name, dims[i], MT_SHAPE(t));
        reduced[d] = true;
    }
    *p = (red_plan){.op = op, .correction = correction};
    p->r.count = 1;
    for (int d = 0; d < t->rank; d++) {
        p->reduced[d] = n_dims == 0 || reduced[d];
        if (p->reduced[d]) {
            push_dim(&p->r.rank, p->r.shape, p->r.stride, t->shape[d], t->stride[d]);
            p->r.count *= t->shape[d];
            if (keepdim)
                p->out_shape[p->out_rank++] = 1;
        } else {
            p->kshape[p->kept] = t->shape[d];
            p->kin[p->kept++] = t->stride[d];
            p->out_shape[p->out_rank++] = t->shape[d];
        }
    }
    if (p->r.rank == 0) {   /* nothing (or only 1s) reduced: one element */
        p->r.rank = 1;
        p->r.shape[0] = p->r.count;
        p->r.stride[0] = 0;
    }
    for (int d = 0; needs_elements(op) && d < t->rank; d++)
        if (p->reduced[d] && t->shape[d] == 0)
            return mt_fail(MT_ERR_SHAPE, "%s: dim %d of %s is empty (no element to "
                           "choose)", name, d, MT_SHAPE(t));
    return MT_OK;
}

/* Output strides of the kept dims, read from out (keepdim's 1s skipped). */
static void plan_out_strides(red_plan *p, const mt_tensor *t, const mt_tensor *out,
                             bool keepdim)
{
    for (int d = 0, k = 0, o = 0; d < t->rank; d++) {
        if (!p->reduced[d])
            p->kout[k++] = out->stride[o++];
        else if (keepdim)
            o++;
    }
}

static mt_dtype result_dtype(red_op op) { return is_arg(op) ? MT_DTYPE_I64 : MT_DTYPE_F32; }

static mt_status reduce_into(red_op op, const mt_tensor *t, const int *dims, int n_dims,
                             bool keepdim, int correction, mt_tensor *out)
{
    const char *name = red_names[op];
    red_plan p;
    mt_status s = plan_reduce(op, t, dims, n_dims, keepdim, correction, &p);
    if (s || (s = mt_tensor_check(name, "out", out)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, result_dtype(op), p.out_rank, p.out_shape, NULL);
    if (out->dtype != want.dtype)
        return mt_fail(MT_ERR_DTYPE, "%s: out has dtype %s, needs %s", name,
                       mt_dtype_name(out->dtype), mt_dtype_name(want.dtype));
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, reducing %s gives %s", name,
                       MT_SHAPE(out), MT_SHAPE(t), MT_SHAPE(&want));
    if ((s = mt_check_out(name, out, want.dtype, p.out_rank, p.out_shape)))
        return s;   /* a stride-0 out */
    if (mt_tensors_overlap(out, t))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input %s", name,
                       MT_SHAPE(out), MT_SHAPE(t));
    plan_out_strides(&p, t, out, keepdim);
    reduce_apply(&p, t, out);
    return MT_OK;
}

static mt_status reduce_new(red_op op, const mt_tensor *t, const int *dims, int n_dims,
                            bool keepdim, int correction, mt_tensor **out)
{
    red_plan p;
    mt_status s = plan_reduce(op, t, dims, n_dims, keepdim, correction, &p);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", red_names[op]);
    mt_tensor *r;
    if ((s = mt_tensor_zeros(result_dtype(op), p.out_rank, p.out_shape, &r)))
        return s;
    plan_out_strides(&p, t, r, keepdim);
    reduce_apply(&p, t, r);
    *out = r;
    return MT_OK;
}

/* ---- public entry points ------------------------------------------------------ */

#define ONE_DIM(t, dim) (t), (int[]){(dim)}, 1

mt_status mt_sum(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_SUM, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_sum_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_SUM, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_sum_dims(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                      mt_tensor **out)
{ return reduce_new(RED_SUM, t, dims, n_dims, keepdim, 0, out); }
mt_status mt_sum_dims_into(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                           mt_tensor *out)
{ return reduce_into(RED_SUM, t, dims, n_dims, keepdim, 0, out); }

mt_status mt_mean(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_MEAN, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_mean_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_MEAN, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_mean_dims(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                       mt_tensor **out)
{ return reduce_new(RED_MEAN, t, dims, n_dims, keepdim, 0, out); }
mt_status mt_mean_dims_into(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                            mt_tensor *out)
{ return reduce_into(RED_MEAN, t, dims, n_dims, keepdim, 0, out); }

mt_status mt_var(const mt_tensor *t, int dim, int correction, bool keepdim,
                 mt_tensor **out)
{ return reduce_new(RED_VAR, ONE_DIM(t, dim), keepdim, correction, out); }
mt_status mt_var_into(const mt_tensor *t, int dim, int correction, bool keepdim,
                      mt_tensor *out)
{ return reduce_into(RED_VAR, ONE_DIM(t, dim), keepdim, correction, out); }
mt_status mt_var_dims(const mt_tensor *t, const int *dims, int n_dims, int correction,
                      bool keepdim, mt_tensor **out)
{ return reduce_new(RED_VAR, t, dims, n_dims, keepdim, correction, out); }
mt_status mt_var_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                           int correction, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_VAR, t, dims, n_dims, keepdim, correction, out); }

mt_status mt_std(const mt_tensor *t, int dim, int correction, bool keepdim,
                 mt_tensor **out)
{ return reduce_new(RED_STD, ONE_DIM(t, dim), keepdim, correction, out); }
mt_status mt_std_into(const mt_tensor *t, int dim, int correction, bool keepdim,
                      mt_tensor *out)
{ return reduce_into(RED_STD, ONE_DIM(t, dim), keepdim, correction, out); }
mt_status mt_std_dims(const mt_tensor *t, const int *dims, int n_dims, int correction,
                      bool keepdim, mt_tensor **out)
{ return reduce_new(RED_STD, t, dims, n_dims, keepdim, correction, out); }
mt_status mt_std_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                           int correction, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_STD, t, dims, n_dims, keepdim, correction, out); }

mt_status mt_min(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_MIN, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_min_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_MIN, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_min_dims(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                      mt_tensor **out)
{ return reduce_new(RED_MIN, t, dims, n_dims, keepdim, 0, out); }
mt_status mt_min_dims_into(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                           mt_tensor *out)
{ return reduce_into(RED_MIN, t, dims, n_dims, keepdim, 0, out); }

mt_status mt_max(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_MAX, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_max_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_MAX, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_max_dims(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                      mt_tensor **out)
{ return reduce_new(RED_MAX, t, dims, n_dims, keepdim, 0, out); }
mt_status mt_max_dims_into(const mt_tensor *t, const int *dims, int n_dims, bool keepdim,
                           mt_tensor *out)
{ return reduce_into(RED_MAX, t, dims, n_dims, keepdim, 0, out); }

mt_status mt_argmin(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_ARGMIN, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_argmin_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_ARGMIN, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_argmin_all(const mt_tensor *t, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_ARGMIN, t, NULL, 0, keepdim, 0, out); }
mt_status mt_argmin_all_into(const mt_tensor *t, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_ARGMIN, t, NULL, 0, keepdim, 0, out); }

mt_status mt_argmax(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_ARGMAX, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_argmax_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_ARGMAX, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_argmax_all(const mt_tensor *t, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_ARGMAX, t, NULL, 0, keepdim, 0, out); }
mt_status mt_argmax_all_into(const mt_tensor *t, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_ARGMAX, t, NULL, 0, keepdim, 0, out); }

mt_status mt_logsumexp(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out)
{ return reduce_new(RED_LOGSUMEXP, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_logsumexp_into(const mt_tensor *t, int dim, bool keepdim, mt_tensor *out)
{ return reduce_into(RED_LOGSUMEXP, ONE_DIM(t, dim), keepdim, 0, out); }
mt_status mt_logsumexp_dims(const mt_tensor *t, const int *dims, int n_dims,
                            bool keepdim, mt_tensor **out)
{ return reduce_new(RED_LOGSUMEXP, t, dims, n_dims, keepdim, 0, out); }
mt_status mt_logsumexp_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                                 bool keepdim, mt_tensor *out)
{ return reduce_into(RED_LOGSUMEXP, t, dims, n_dims, keepdim, 0, out); }
