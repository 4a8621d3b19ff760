/* ops_reduce.c — reductions over dims on a tape: sum, mean, var, std,
 * logsumexp, amax, amin over a dim list (or all dims), max and min over one
 * dim.
 *
 * Every reduction walks x once in row-major order; an element's output is
 * at Σ index[i]·ostride[i], where ostride is the kept-dims output's stride
 * and 0 for a reduced dim (the output is contiguous, so dropping the
 * reduced size-1 dims (keepdim false) does not move anything). Sums run in
 * double. */
#include <math.h>

#include "tape_ops_internal.h"

typedef enum {
    RED_SUM, RED_MEAN, RED_VAR, RED_STD, RED_LOGSUMEXP, RED_AMAX, RED_AMIN, RED_MAX, RED_MIN
} red_kind;

static const char *const red_names[] = {"tape_sum", "tape_mean", "tape_var", "tape_std",
                                        "tape_logsumexp", "tape_amax", "tape_amin",
                                        "tape_max", "tape_min"};

typedef struct plan {
    uint32_t mask;                 /* bit i: dim i is reduced */
    int64_t ostride[MT_MAX_RANK];  /* 0 on reduced dims */
    int64_t count;                 /* elements per output */
    int out_rank;
    int64_t out_shape[MT_MAX_RANK];
} plan;

static void plan_make(const mt_tensor *x, uint32_t mask, bool keepdim, plan *p)
{
    p->mask = mask;
    p->count = 1;
    p->out_rank = 0;
    int64_t stride = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        bool red = mask >> i & 1;
        p->ostride[i] = red ? 0 : stride;
        stride *= red ? 1 : x->shape[i];
        p->count *= red ? x->shape[i] : 1;
    }
    for (int i = 0; i < x->rank; i++)
        if (!(mask >> i & 1) || keepdim)
            p->out_shape[p->out_rank++] = (mask >> i & 1) ? 1 : x->shape[i];
}

/* for each element of x (in row-major order): o = its output's offset,
 * xv = its value, pos = its index along dim `along` (if along >= 0). */
#define EACH(x, p, along, body)                                                   \
    do {                                                                          \
        if (mt_tensor_numel(x) > 0) {                                             \
            int64_t index_[MT_MAX_RANK] = {0};                                    \
            do {                                                                  \
                int64_t o = 0;                                                    \
                for (int i_ = 0; i_ < (x)->rank; i_++)                            \
                    o += index_[i_] * (p)->ostride[i_];                           \
                float xv = *(const float *)mt_element_ptr((x), index_);           \
                int64_t pos = (along) >= 0 ? index_[(along)] : 0;                 \
                (void)pos, (void)xv;                                              \
                body;                                                             \
            } while (mt_index_next((x)->rank, (x)->shape, index_));               \
        }                                                                         \
    } while (0)

static int along_of(uint32_t mask)
{
    for (int i = 0; i < MT_MAX_RANK; i++)
        if (mask >> i & 1)
            return i;
    return -1;
}

static mt_status reduce_backward(mt_tape *tape, const tape_node *n)
{
    mt_value *x = n->in[0];
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, x, &dst);
    if (s || !dst)
        return s;
    red_kind kind = (red_kind)(n->i >> 32);
    plan p;
    plan_make(x->data, (uint32_t)(n->i & 0xffffffff), true, &p);
    const float *g = n->out->grad->data, *y = n->out->data->data;
    const float *saved = n->saved ? n->saved->data : NULL;
    const int64_t *arg = n->saved ? n->saved->data : NULL;
    float *d = dst->data;
    int64_t k = 0, along = kind >= RED_MAX ? along_of(p.mask) : -1;
    double denom = fmax(0.0, (double)p.count - (double)n->f);   /* var/std: N - correction */
    switch (kind) {
    case RED_SUM: EACH(x->data, &p, -1, d[k++] = g[o]); break;
    case RED_MEAN: EACH(x->data, &p, -1, d[k++] = (float)(g[o] / (double)p.count)); break;
    case RED_VAR:
        EACH(x->data, &p, -1, d[k++] = (float)(2.0 * g[o] * (xv - saved[o]) / denom));
        break;
    case RED_STD:   /* torch: grad / (2·std) · var', 0 where std is 0 (a constant group) */
        EACH(x->data, &p, -1,
             d[k++] = y[o] == 0.0f ? 0.0f
                                   : (float)(g[o] * (xv - saved[o]) / (denom * y[o])));
        break;
    case RED_LOGSUMEXP: EACH(x->data, &p, -1, d[k++] = g[o] * expf(xv - y[o])); break;
    case RED_AMAX:
    case RED_AMIN: {
        /* torch: the gradient splits evenly over the elements equal to the
         * extreme, grad · mask / mask.sum(): NaN over a group whose extreme
         * is NaN (no element equals it) */
        mt_tensor *ties;
        int64_t n_out = mt_tensor_numel(n->out->data);
        if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_F64, 1, &n_out, &ties)))
            return tape_fail_prefixed(s, n->op);
        double *count = ties->data;
        EACH(x->data, &p, -1, count[o] += xv == y[o]);
        EACH(x->data, &p, -1, d[k++] = (float)(g[o] * (double)(xv == y[o]) / count[o]));
        break;
    }
    case RED_MAX:
    case RED_MIN: EACH(x->data, &p, along, d[k++] = pos == arg[o] ? g[o] : 0.0f); break;
    }
    return mt_grad_commit(tape, x, dst);
}

/* the forward sums: sum of x (or of exp(x - m) with m the max, for
 * logsumexp; or of (x - mean)² for var/std) per output, in double */
static mt_status reduce(red_kind kind, mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                        float correction, bool keepdim, mt_value **out)
{
    const char *op = red_names[kind];
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)))
        return s;
    const mt_tensor *t = x->data;
    if (n_dims < 0 || n_dims > t->rank || (n_dims > 0 && !dims))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d dims for %s", op, n_dims, MT_SHAPE(t));
    uint32_t mask = n_dims == 0 ? (1u << t->rank) - 1 : 0;
    for (int k = 0; k < n_dims; k++) {
        int d;
        if (!mt_dim_resolve(dims[k], t->rank, &d) || (mask >> d & 1))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range or repeated "
                           "for %s", op, dims[k], MT_SHAPE(t));
        mask |= 1u << d;
    }
    plan p;
    plan_make(t, mask, keepdim, &p);
    if (kind >= RED_LOGSUMEXP && p.count == 0)
        return mt_fail(MT_ERR_SHAPE, "%s: reducing an empty dim of %s", op, MT_SHAPE(t));
    mt_value *v;
    mt_tensor *acc, *saved = NULL;
    if ((s = mt_tape_value(tape, op, p.out_rank, p.out_shape, &v)))
        return s;
    int64_t n_out = mt_tensor_numel(v->data);
    if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_F64, 1, &n_out, &acc)))
        return tape_fail_prefixed(s, op);
    double *a = acc->data;
    float *y = v->data->data;
    if (kind >= RED_AMAX) {
        mt_tensor *idx;
        if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_I64, 1, &n_out, &idx)))
            return tape_fail_prefixed(s, op);
        int64_t *arg = idx->data;
        for (int64_t o = 0; o < n_out; o++)
            arg[o] = -1;
        float sign = kind == RED_MAX || kind == RED_AMAX ? 1.0f : -1.0f;
        /* the first extreme along the dim wins (torch's index); NaN beats all */
        EACH(t, &p, kind >= RED_MAX ? along_of(mask) : -1, {
            float best = y[o] * sign;
            if (arg[o] < 0 || (xv == xv && best == best && xv * sign > best) ||
                (xv != xv && best == best)) {
                y[o] = xv;
                arg[o] = pos;
            }
        });
        saved = kind >= RED_MAX ? idx : NULL;
    } else if (kind == RED_LOGSUMEXP) {
        for (int64_t o = 0; o < n_out; o++)
            y[o] = -INFINITY;
        EACH(t, &p, -1, y[o] = xv > y[o] ? xv : y[o]);
        /* an infinite max m stays m (torch): exp(x - m) would be NaN */
        EACH(t, &p, -1, a[o] += isinf(y[o]) ? 1.0 : exp((double)xv - y[o]));
        for (int64_t o = 0; o < n_out; o++)
            y[o] = (float)(y[o] + log(a[o]));
    } else {
        EACH(t, &p, -1, a[o] += xv);
        double scale = kind == RED_SUM ? 1.0 : 1.0 / (double)p.count;
        for (int64_t o = 0; o < n_out; o++)
            y[o] = (float)(a[o] * scale);
        if (kind == RED_VAR || kind == RED_STD) {
            if ((s = mt_tape_scratch(tape, op, 1, &n_out, &saved)))
                return s;
            float *mean = saved->data;
            for (int64_t o = 0; o < n_out; o++)
                mean[o] = y[o], a[o] = 0.0;
            /* squared deviations from the float mean the backward also uses */
            EACH(t, &p, -1, a[o] += ((double)xv - mean[o]) * ((double)xv - mean[o]));
            /* torch: Σ / max(0, N - c), so inf (or 0/0 = NaN) past the count */
            double denom = fmax(0.0, (double)p.count - (double)correction);
            for (int64_t o = 0; o < n_out; o++) {
                double var = a[o] / denom;
                y[o] = (float)(kind == RED_STD ? sqrt(var) : var);
            }
        }
    }
    tape_node node = {.op = op, .backward = reduce_backward, .out = v, .in = {x},
                      .saved = saved, .f = correction, .i = (int64_t)kind << 32 | mask};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_sum(mt_tape *tape, mt_value *x, const int *dims, int n_dims, bool keepdim,
                      mt_value **out)
{ return reduce(RED_SUM, tape, x, dims, n_dims, 0.0f, keepdim, out); }
mt_status mt_tape_mean(mt_tape *tape, mt_value *x, const int *dims, int n_dims, bool keepdim,
                       mt_value **out)
{ return reduce(RED_MEAN, tape, x, dims, n_dims, 0.0f, keepdim, out); }
mt_status mt_tape_var(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                      float correction, bool keepdim, mt_value **out)
{ return reduce(RED_VAR, tape, x, dims, n_dims, correction, keepdim, out); }
mt_status mt_tape_std(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                      float correction, bool keepdim, mt_value **out)
{ return reduce(RED_STD, tape, x, dims, n_dims, correction, keepdim, out); }
mt_status mt_tape_logsumexp(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                            bool keepdim, mt_value **out)
{ return reduce(RED_LOGSUMEXP, tape, x, dims, n_dims, 0.0f, keepdim, out); }
mt_status mt_tape_amax(mt_tape *tape, mt_value *x, const int *dims, int n_dims, bool keepdim,
                       mt_value **out)
{ return reduce(RED_AMAX, tape, x, dims, n_dims, 0.0f, keepdim, out); }
mt_status mt_tape_amin(mt_tape *tape, mt_value *x, const int *dims, int n_dims, bool keepdim,
                       mt_value **out)
{ return reduce(RED_AMIN, tape, x, dims, n_dims, 0.0f, keepdim, out); }
mt_status mt_tape_max(mt_tape *tape, mt_value *x, int dim, bool keepdim, mt_value **out)
{ return reduce(RED_MAX, tape, x, &dim, 1, 0.0f, keepdim, out); }
mt_status mt_tape_min(mt_tape *tape, mt_value *x, int dim, bool keepdim, mt_value **out)
{ return reduce(RED_MIN, tape, x, &dim, 1, 0.0f, keepdim, out); }
