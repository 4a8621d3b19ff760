/* merge_layers.c — Add, Multiply, Subtract, Average, Maximum, Minimum, Dot
 * and Concat: the layers that join branches of a graph. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/view.h"

/* ---- broadcasting ------------------------------------------------------------------ */

/* The inputs of the elementwise merges broadcast as NumPy does (each dim
 * equal or 1 in one of them): a squeeze-and-excitation gate [N,H,W,C] ·
 * [N,1,1,C]. An input of a lower rank gets dims of 1 after its batch, as
 * Keras' Merge expands it: [N,T,C] · [N,C] is [N,T,C] · [N,1,C]. */
static mt_status broadcast_infer(int n, const mt_shape *in, const char *const *from,
                                 mt_shape *out)
{
    char a[160], b[160];
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 1};
    for (int j = 0; j < n; j++)
        out->rank = in[j].rank > out->rank ? in[j].rank : out->rank;
    for (int d = 0; d < out->rank; d++)
        out->dim[d] = 1;
    int set_by[MT_MAX_RANK] = {0};   /* the input that gave each dim its size */
    for (int j = 0; j < n; j++) {
        const mt_shape *y = &in[j];
        if (y->dtype != MT_DTYPE_F32)
            return mt_fail(MT_ERR_DTYPE, "expects F32 inputs, %s gives %s", from[j],
                           mt_dtype_name(y->dtype));
        int clash = y->rank >= 1 ? -1 : 0;
        for (int d = 0; clash < 0 && d < y->rank; d++) {
            int od = d ? d + out->rank - y->rank : 0;
            int64_t *o = &out->dim[od];
            if (*o != y->dim[d] && *o != 1 && y->dim[d] != 1) {
                clash = od;
            } else if (*o == 1 && y->dim[d] != 1) {
                *o = y->dim[d];
                set_by[od] = j;
            }
        }
        if (clash >= 0) {
            /* named with the input that set the clashing dim: in [N,4] +
             * [N,3,1] + [N,2,1] the second and third clash, not the first */
            const int k = set_by[clash];
            return mt_fail(MT_ERR_SHAPE, "expects inputs that broadcast (each dim equal or "
                           "1), %s gives %s and %s gives %s%s", from[k],
                           mt_nn_shape_text(&in[k], a, sizeof a), from[j],
                           mt_nn_shape_text(y, b, sizeof b), y->rank == in[k].rank ? "" :
                           " (a lower rank gets dims of 1 after the batch, as in Keras)");
        }
    }
    return MT_OK;
}

/* *view: x, or x as a view of out's rank (in t): dims of 1 inserted after
 * its batch, and for the first input (expand) broadcast to out's shape, so
 * that the fold's first step writes all of out even if only a later input
 * has a dim. */
static mt_status merge_operand(const mt_tensor *x, const mt_tensor *out, bool expand,
                               mt_tensor t[2], const mt_tensor **view)
{
    int k = 0;
    mt_status s = MT_OK;
    for (*view = x; !s && (*view)->rank < out->rank; k ^= 1) {
        s = mt_unsqueeze_into(*view, 1, &t[k]);
        *view = &t[k];
    }
    if (!s && expand) {
        s = mt_expand_into(*view, out->rank, out->shape, &t[k]);
        *view = &t[k];
    }
    return s;
}

/* ---- Add, Multiply, Subtract, Average, Maximum, Minimum ----------------------------- */

/* The elementwise merges: Keras' Add, Multiply, … layers, `x + f(x)` or
 * `x * gate` in PyTorch. They fold left, as Keras does: ((a ∘ b) ∘ c). */
typedef enum merge_op { MERGE_ADD, MERGE_MUL, MERGE_SUB, MERGE_AVG, MERGE_MAX, MERGE_MIN } merge_op;

static const char *const merge_names[] = {"add", "multiply", "subtract", "average",
                                          "maximum", "minimum"};

typedef struct merge_state {
    merge_op op;
    mt_activation act;   /* applied after the merge (an absorbed ReLU) */
} merge_state;

static mt_status merge_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    const merge_state *st = l->state;
    if (st->op == MERGE_SUB ? n != 2 : n < 2)
        return mt_fail(MT_ERR_SHAPE, "expects %s inputs, given %d",
                       st->op == MERGE_SUB ? "2" : "2 or more", n);
    return broadcast_infer(n, in, from, out);
}

static mt_status merge_step(merge_op op, const mt_tensor *x, const mt_tensor *y, mt_tensor *out)
{
    switch (op) {
    case MERGE_ADD:
    case MERGE_AVG: return mt_add_into(x, y, out);
    case MERGE_MUL: return mt_mul_into(x, y, out);
    case MERGE_SUB: return mt_sub_into(x, y, out);
    case MERGE_MAX: return mt_maximum_into(x, y, out);
    case MERGE_MIN: return mt_minimum_into(x, y, out);
    }
    return mt_fail(MT_ERR_INVALID_ARGUMENT, "merge: unknown op %d", (int)op);
}

static mt_status merge_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)scratch;
    const merge_state *st = l->state;
    mt_tensor tx[2], ty[2];
    const mt_tensor *x, *y;
    mt_status s = merge_operand(in[0], out, true, tx, &x);
    if (!s && !(s = merge_operand(in[1], out, false, ty, &y)))
        s = merge_step(st->op, x, y, out);
    for (int j = 2; !s && j < n; j++)
        if (!(s = merge_operand(in[j], out, false, ty, &y)))
            s = merge_step(st->op, out, y, out);
    if (!s && st->op == MERGE_AVG) {
        /* Keras divides the sum by n (x / 3, not x · (1/3): one rounding) */
        float *o = out->data, count = (float)n;
        for (int64_t i = 0, numel = mt_tensor_numel(out); i < numel; i++)
            o[i] /= count;
    }
    if (!s && st->act != MT_ACTIVATION_NONE)
        s = mt_activation_apply_into(out, st->act, out);
    return s;
}

static mt_status merge_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                              mt_layer **fused);

static const mt_layer_vtable merge_vtable = {
    .n_inputs = 0,
    .infer = merge_infer,
    .forward = merge_forward,
    .absorb = merge_absorb,
};

static mt_status merge_new(merge_op op, mt_layer_kind kind, mt_layer **out)
{
    const char *op_name = merge_names[op];
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op_name);
    *out = mt_nn_layer_alloc(op_name, &merge_vtable, kind, op_name, sizeof(merge_state));
    if (!*out)
        return MT_ERR_OUT_OF_MEMORY;
    ((merge_state *)(*out)->state)->op = op;
    return MT_OK;
}

/* A following activation (a residual block's ReLU) applied as it writes. */
static mt_status merge_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                              mt_layer **fused)
{
    const merge_state *st = l->state;
    if (e->scale || e->shift || e->act == MT_ACTIVATION_NONE || st->act != MT_ACTIVATION_NONE)
        return MT_ERR_UNSUPPORTED;
    mt_status s = merge_new(st->op, l->info.kind, fused);
    if (!s) {
        ((merge_state *)(*fused)->state)->act = e->act;
        snprintf((*fused)->name, sizeof (*fused)->name, "%s+%s", merge_names[st->op],
                 mt_activation_name(e->act));
    }
    return s;
}

mt_status mt_add_new(mt_layer **out)
{
    return merge_new(MERGE_ADD, MT_LAYER_ADD, out);
}

mt_status mt_multiply_new(mt_layer **out)
{
    return merge_new(MERGE_MUL, MT_LAYER_MULTIPLY, out);
}

mt_status mt_subtract_new(mt_layer **out)
{
    return merge_new(MERGE_SUB, MT_LAYER_SUBTRACT, out);
}

mt_status mt_average_new(mt_layer **out)
{
    return merge_new(MERGE_AVG, MT_LAYER_AVERAGE, out);
}

mt_status mt_maximum_new(mt_layer **out)
{
    return merge_new(MERGE_MAX, MT_LAYER_MAXIMUM, out);
}

mt_status mt_minimum_new(mt_layer **out)
{
    return merge_new(MERGE_MIN, MT_LAYER_MINIMUM, out);
}

/* ---- Dot ---------------------------------------------------------------------------- */

/* Keras' Dot(axes=(a, b), normalize): x [N, …] and y [N, …] summed
 * together along x's dim a and y's dim b (batch_dot). */
typedef struct dot_state {
    int axis[2];      /* as given: 1 … rank-1, or negative from the end */
    bool normalize;   /* l2-normalize both along their axes first (cosine) */
} dot_state;

static int dot_axis(int axis, int rank)
{
    return axis < 0 ? axis + rank : axis;
}

static mt_status dot_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)n;
    const dot_state *st = l->state;
    char a[160], b[160];
    int ax[2];
    for (int j = 0; j < 2; j++) {
        if (in[j].dtype != MT_DTYPE_F32)
            return mt_fail(MT_ERR_DTYPE, "expects F32 inputs, %s gives %s", from[j],
                           mt_dtype_name(in[j].dtype));
        ax[j] = dot_axis(st->axis[j], in[j].rank);
        if (in[j].rank < 2 || ax[j] < 1 || ax[j] >= in[j].rank)
            return mt_fail(MT_ERR_SHAPE, "axis %d must be a dim of %s %s other than the batch",
                           st->axis[j], from[j], mt_nn_shape_text(&in[j], a, sizeof a));
    }
    if (in[0].dim[0] != in[1].dim[0] || in[0].dim[ax[0]] != in[1].dim[ax[1]])
        return mt_fail(MT_ERR_SHAPE, "expects the same batch and %s's dim %d equal to %s's "
                       "dim %d, %s gives %s and %s gives %s", from[0], ax[0], from[1], ax[1],
                       from[0], mt_nn_shape_text(&in[0], a, sizeof a), from[1],
                       mt_nn_shape_text(&in[1], b, sizeof b));
    if (in[0].rank + in[1].rank - 3 > MT_MAX_RANK)
        return mt_fail(MT_ERR_SHAPE, "the output would have rank %d, more than %d: %s gives "
                       "%s and %s gives %s", in[0].rank + in[1].rank - 3, MT_MAX_RANK, from[0],
                       mt_nn_shape_text(&in[0], a, sizeof a), from[1],
                       mt_nn_shape_text(&in[1], b, sizeof b));
    /* x's dims but the axis, then y's but the batch and the axis; [N,1] if none */
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 1, .dim = {in[0].dim[0]}};
    for (int j = 0; j < 2; j++)
        for (int d = 1; d < in[j].rank; d++)
            if (d != ax[j])
                out->dim[out->rank++] = in[j].dim[d];
    if (out->rank == 1)
        out->dim[out->rank++] = 1;
    return MT_OK;
}

/* The offset of t[batch, rest…, 0 at skip], rest the flat index over t's
 * dims other than 0 and skip. */
static int64_t dot_offset(const mt_tensor *t, int skip, int64_t batch, int64_t rest)
{
    int64_t off = batch * t->stride[0];
    for (int d = t->rank - 1; d >= 1; d--)
        if (d != skip) {
            off += (rest % t->shape[d]) * t->stride[d];
            rest /= t->shape[d];
        }
    return off;
}

/* Keras' normalize: x · min(rsqrt(Σx²), 1/1e-7) */
static double dot_inv_norm(const float *p, int64_t stride, int64_t len)
{
    double ss = 0;
    for (int64_t k = 0; k < len; k++)
        ss += (double)p[k * stride] * p[k * stride];
    return ss > 1e-14 ? 1.0 / sqrt(ss) : 1e7;
}

/* With normalize: y's inverse norms for one batch row (ny doubles), each
 * computed once, not once per x vector. */
static size_t dot_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const dot_state *st = l->state;
    if (!st->normalize)
        return 0;
    mt_shape ys = {.dtype = MT_DTYPE_F64, .rank = in[1].rank - 2};
    for (int d = 1, k = 0; d < in[1].rank; d++)
        if (d != dot_axis(st->axis[1], in[1].rank))
            ys.dim[k++] = in[1].dim[d];
    return mt_nn_shape_bytes(&ys);
}

static mt_status dot_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n;
    const dot_state *st = l->state;
    double *ys = scratch;
    const mt_tensor *x = in[0], *y = in[1];
    int ax = dot_axis(st->axis[0], x->rank), ay = dot_axis(st->axis[1], y->rank);
    int64_t len = x->shape[ax], batch = x->shape[0], nx = 1, ny = 1;
    for (int d = 1; d < x->rank; d++)
        nx *= d == ax ? 1 : x->shape[d];
    for (int d = 1; d < y->rank; d++)
        ny *= d == ay ? 1 : y->shape[d];
    const float *xd = x->data, *yd = y->data;
    float *o = out->data;
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t j = 0; st->normalize && j < ny; j++)
            ys[j] = dot_inv_norm(yd + dot_offset(y, ay, b, j), y->stride[ay], len);
        for (int64_t i = 0; i < nx; i++) {
            const float *xp = xd + dot_offset(x, ax, b, i);
            double xs = st->normalize ? dot_inv_norm(xp, x->stride[ax], len) : 1.0;
            for (int64_t j = 0; j < ny; j++) {
                const float *yp = yd + dot_offset(y, ay, b, j);
                double acc = 0;
                for (int64_t k = 0; k < len; k++)
                    acc += (double)xp[k * x->stride[ax]] * yp[k * y->stride[ay]];
                if (st->normalize)
                    acc *= xs * ys[j];
                o[(b * nx + i) * ny + j] = (float)acc;
            }
        }
    }
    return MT_OK;
}

static const mt_layer_vtable dot_vtable = {
    .n_inputs = 2,
    .infer = dot_infer,
    .forward = dot_forward,
    .scratch_bytes = dot_scratch,
};

mt_status mt_dot_new(int axis_x, int axis_y, bool normalize, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dot: out is NULL");
    *out = NULL;
    if (!axis_x || !axis_y || axis_x < -MT_MAX_RANK || axis_x >= MT_MAX_RANK ||
        axis_y < -MT_MAX_RANK || axis_y >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dot: axes (%d, %d): each must be a dim "
                       "other than the batch (1 … %d, or negative from the end)", axis_x,
                       axis_y, MT_MAX_RANK - 1);
    char name[48];
    snprintf(name, sizeof name, "dot axes (%d, %d)%s", axis_x, axis_y,
             normalize ? " normalized" : "");
    mt_layer *l = mt_nn_layer_alloc("dot", &dot_vtable, MT_LAYER_DOT, name, sizeof(dot_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    dot_state *st = l->state;
    st->axis[0] = axis_x;
    st->axis[1] = axis_y;
    st->normalize = normalize;
    *out = l;
    return MT_OK;
}

/* ---- Concat ------------------------------------------------------------------------ */

static mt_status concat_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    int r = in[0].rank, dim = l->info.dim;
    char a[160], b[160];
    if (dim < -r || dim >= r)
        return mt_fail(MT_ERR_SHAPE, "dim %d is out of range for the %d dims %s gives", dim,
                       r, from[0]);
    dim = dim < 0 ? dim + r : dim;
    *out = in[0];
    for (int j = 1; j < n; j++) {
        if (in[j].dtype != in[0].dtype)
            return mt_fail(MT_ERR_DTYPE, "expects inputs of one dtype, %s gives %s and %s "
                           "gives %s", from[0], mt_dtype_name(in[0].dtype), from[j],
                           mt_dtype_name(in[j].dtype));
        bool fits = in[j].rank == r;
        for (int d = 0; fits && d < r; d++)
            fits = d == dim || in[j].dim[d] == in[0].dim[d];
        if (!fits)
            return mt_fail(MT_ERR_SHAPE, "expects inputs that differ only in dim %d, %s "
                           "gives %s and %s gives %s", l->info.dim, from[0],
                           mt_nn_shape_text(&in[0], a, sizeof a), from[j],
                           mt_nn_shape_text(&in[j], b, sizeof b));
        if (in[j].dim[dim] > INT64_MAX - out->dim[dim])
            return mt_fail(MT_ERR_OVERFLOW, "dim %d of the joined shape overflows: %s gives "
                           "%s, %s gives %s", l->info.dim, from[0],
                           mt_nn_shape_text(&in[0], a, sizeof a), from[j],
                           mt_nn_shape_text(&in[j], b, sizeof b));
        out->dim[dim] += in[j].dim[dim];
    }
    return MT_OK;
}

static mt_status concat_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)scratch;
    int dim = l->info.dim < 0 ? l->info.dim + out->rank : l->info.dim;
    int64_t at = 0;
    for (int j = 0; j < n; j++) {
        mt_tensor dst;
        mt_status s = mt_narrow_into(out, dim, at, in[j]->shape[dim], &dst);
        if (s || (s = mt_tensor_copy_into(in[j], &dst)))
            return s;
        at += in[j]->shape[dim];
    }
    return MT_OK;
}

static const mt_layer_vtable concat_vtable = {
    .n_inputs = 0,
    .infer = concat_infer,
    .forward = concat_forward,
};

mt_status mt_concat_new(int dim, mt_layer **out)
{
    return mt_nn_dim_layer_new("concat", &concat_vtable, MT_LAYER_CONCAT, dim, out);
}
