/* rows_reduce.c — reduce.h in the op table: the one-dim form when the case
 * has `dim`, the dim-list form for `dims`, all dims when it has neither. */
#include "op_table.h"

typedef struct dim_args {
    bool single;
    int dim, n;
    int dims[MT_MAX_RANK];
} dim_args;

static dim_args dims_of(const op_case *c)
{
    dim_args a = {.single = op_has(c, "dim"), .dim = (int)op_int(c, "dim", 0)};
    int64_t buf[MT_MAX_RANK];
    int n = op_ints(c, "dims", buf, MT_MAX_RANK);
    a.n = n < 0 ? 0 : n;
    for (int i = 0; i < a.n; i++)
        a.dims[i] = (int)buf[i];
    return a;
}

#define KEEP(c) (op_int((c), "keepdim", 0) != 0)
#define CORR(c) ((int)op_int((c), "correction", 1))

/* sum, mean, min, max, logsumexp: (x, dim|dims, keepdim) */
#define PLAIN_ROWS(name)                                                        \
    static mt_status name##_new(const op_case *c, mt_tensor **out)               \
    {                                                                            \
        dim_args a = dims_of(c);                                                 \
        return a.single ? mt_##name(op_in(c, 0), a.dim, KEEP(c), out)            \
                        : mt_##name##_dims(op_in(c, 0), a.dims, a.n, KEEP(c), out); \
    }                                                                            \
    static mt_status name##_into(const op_case *c, mt_tensor *out)               \
    {                                                                            \
        dim_args a = dims_of(c);                                                 \
        return a.single ? mt_##name##_into(op_in(c, 0), a.dim, KEEP(c), out)     \
                        : mt_##name##_dims_into(op_in(c, 0), a.dims, a.n, KEEP(c), out); \
    }

/* var, std: (x, dim|dims, correction, keepdim) */
#define CORRECTED_ROWS(name)                                                    \
    static mt_status name##_new(const op_case *c, mt_tensor **out)               \
    {                                                                            \
        dim_args a = dims_of(c);                                                 \
        return a.single ? mt_##name(op_in(c, 0), a.dim, CORR(c), KEEP(c), out)   \
                        : mt_##name##_dims(op_in(c, 0), a.dims, a.n, CORR(c), KEEP(c), out); \
    }                                                                            \
    static mt_status name##_into(const op_case *c, mt_tensor *out)               \
    {                                                                            \
        dim_args a = dims_of(c);                                                 \
        return a.single                                                          \
            ? mt_##name##_into(op_in(c, 0), a.dim, CORR(c), KEEP(c), out)        \
            : mt_##name##_dims_into(op_in(c, 0), a.dims, a.n, CORR(c), KEEP(c), out); \
    }

/* argmin, argmax: (x, dim, keepdim) or all dims */
#define ARG_ROWS(name)                                                          \
    static mt_status name##_new(const op_case *c, mt_tensor **out)               \
    {                                                                            \
        return op_has(c, "dim") ? mt_##name(op_in(c, 0), (int)op_int(c, "dim", 0), KEEP(c), out) \
                                : mt_##name##_all(op_in(c, 0), KEEP(c), out);    \
    }                                                                            \
    static mt_status name##_into(const op_case *c, mt_tensor *out)               \
    {                                                                            \
        return op_has(c, "dim")                                                  \
            ? mt_##name##_into(op_in(c, 0), (int)op_int(c, "dim", 0), KEEP(c), out) \
            : mt_##name##_all_into(op_in(c, 0), KEEP(c), out);                   \
    }

/* cumsum, softmax, log_softmax: (x, dim) */
#define SCAN_ROWS(name)                                                         \
    static mt_status name##_new(const op_case *c, mt_tensor **out)               \
    { return mt_##name(op_in(c, 0), (int)op_int(c, "dim", 0), out); }            \
    static mt_status name##_into(const op_case *c, mt_tensor *out)               \
    { return mt_##name##_into(op_in(c, 0), (int)op_int(c, "dim", 0), out); }

/* sort, topk: the values and the indices each as a row */
static mt_status sort_new(const op_case *c, mt_tensor **out)
{ return mt_sort(op_in(c, 0), (int)op_int(c, "dim", 0), op_int(c, "descending", 0), out, NULL); }
static mt_status sort_into(const op_case *c, mt_tensor *out)
{ return mt_sort_into(op_in(c, 0), (int)op_int(c, "dim", 0), op_int(c, "descending", 0), out, NULL); }
static mt_status sort_indices_new(const op_case *c, mt_tensor **out)
{ return mt_sort(op_in(c, 0), (int)op_int(c, "dim", 0), op_int(c, "descending", 0), NULL, out); }
static mt_status sort_indices_into(const op_case *c, mt_tensor *out)
{ return mt_sort_into(op_in(c, 0), (int)op_int(c, "dim", 0), op_int(c, "descending", 0), NULL, out); }
static mt_status topk_new(const op_case *c, mt_tensor **out)
{
    return mt_topk(op_in(c, 0), op_int(c, "k", 0), (int)op_int(c, "dim", 0),
                   op_int(c, "largest", 1), out, NULL);
}
static mt_status topk_into(const op_case *c, mt_tensor *out)
{
    return mt_topk_into(op_in(c, 0), op_int(c, "k", 0), (int)op_int(c, "dim", 0),
                        op_int(c, "largest", 1), out, NULL);
}
static mt_status topk_indices_new(const op_case *c, mt_tensor **out)
{
    return mt_topk(op_in(c, 0), op_int(c, "k", 0), (int)op_int(c, "dim", 0),
                   op_int(c, "largest", 1), NULL, out);
}
static mt_status topk_indices_into(const op_case *c, mt_tensor *out)
{
    return mt_topk_into(op_in(c, 0), op_int(c, "k", 0), (int)op_int(c, "dim", 0),
                        op_int(c, "largest", 1), NULL, out);
}

PLAIN_ROWS(sum)
PLAIN_ROWS(mean)
PLAIN_ROWS(min)
PLAIN_ROWS(max)
PLAIN_ROWS(logsumexp)
CORRECTED_ROWS(var)
CORRECTED_ROWS(std)
ARG_ROWS(argmin)
ARG_ROWS(argmax)
SCAN_ROWS(cumsum)
SCAN_ROWS(softmax)
SCAN_ROWS(log_softmax)

const op_row op_rows_reduce[] = {
    {"sum", sum_new, sum_into, 0, 0},
    {"mean", mean_new, mean_into, 0, 0},
    {"var", var_new, var_into, 0, 0},
    {"std", std_new, std_into, 0, 0},
    {"min", min_new, min_into, 0, 0},
    {"max", max_new, max_into, 0, 0},
    {"logsumexp", logsumexp_new, logsumexp_into, 0, 0},
    {"argmin", argmin_new, argmin_into, 0, 0},
    {"argmax", argmax_new, argmax_into, 0, 0},
    {"cumsum", cumsum_new, cumsum_into, 0, 0},
    {"softmax", softmax_new, softmax_into, 0, 0},
    {"log_softmax", log_softmax_new, log_softmax_into, 0, 0},
    {"sort", sort_new, sort_into, 0, 0},
    {"sort_indices", sort_indices_new, sort_indices_into, 0, 0},
    {"topk", topk_new, topk_into, 0, 0},
    {"topk_indices", topk_indices_new, topk_indices_into, 0, 0},
    {0},
};
