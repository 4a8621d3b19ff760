/* merge_layers.c — Add, Multiply and Concat: the layers that join branches
 * of a graph. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/view.h"

/* "[1,3]" into buf. */
static const char *shape_text(const mt_shape *s, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < s->rank && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? "," : "",
                                (long long)s->dim[d]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
    return buf;
}

/* ---- Add ------------------------------------------------------------------------ */

typedef struct add_state {
    mt_activation act;   /* applied after the sum (an absorbed ReLU) */
} add_state;

static mt_status add_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)l;
    char a[160], b[160];
    if (n < 2)
        return mt_fail(MT_ERR_SHAPE, "expects 2 or more inputs, given %d", n);
    for (int j = 0; j < n; j++) {
        if (in[j].dtype != MT_DTYPE_F32)
            return mt_fail(MT_ERR_DTYPE, "expects F32 inputs, %s gives %s", from[j],
                           mt_dtype_name(in[j].dtype));
        if (in[j].rank != in[0].rank ||
            memcmp(in[j].dim, in[0].dim, (size_t)in[0].rank * sizeof in[0].dim[0]))
            return mt_fail(MT_ERR_SHAPE, "expects inputs of the same shape, %s gives %s "
                           "and %s gives %s", from[0], shape_text(&in[0], a, sizeof a),
                           from[j], shape_text(&in[j], b, sizeof b));
    }
    *out = in[0];
    return MT_OK;
}

static mt_status add_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)scratch;
    const add_state *st = l->state;
    mt_status s = mt_add_into(in[0], in[1], out);
    for (int j = 2; !s && j < n; j++)
        s = mt_add_into(out, in[j], out);
    if (!s && st->act != MT_ACTIVATION_NONE)
        s = mt_activation_apply_into(out, st->act, out);
    return s;
}

static mt_status add_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                            mt_layer **fused)
{
    const add_state *st = l->state;
    if (e->scale || e->shift || e->act == MT_ACTIVATION_NONE || st->act != MT_ACTIVATION_NONE)
        return MT_ERR_UNSUPPORTED;
    mt_status s = mt_add_new(fused);
    if (!s) {
        ((add_state *)(*fused)->state)->act = e->act;
        snprintf((*fused)->name, sizeof (*fused)->name, "add+%s", mt_activation_name(e->act));
    }
    return s;
}

static const mt_layer_vtable add_vtable = {
    .n_inputs = 0,
    .infer = add_infer,
    .forward = add_forward,
    .absorb = add_absorb,
};

mt_status mt_add_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "add: out is NULL");
    *out = mt_nn_layer_alloc("add", &add_vtable, MT_LAYER_ADD, "add", sizeof(add_state));
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

/* ---- Multiply ----------------------------------------------------------------------- */

/* The product of two inputs, broadcast as NumPy does (same rank; each dim
 * equal or 1 in one of them): a squeeze-and-excitation gate [N,H,W,C] ·
 * [N,1,1,C]. */
static mt_status mul_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    char a[160], b[160];
    const mt_shape *x = &in[0], *y = &in[1];
    if (x->dtype != MT_DTYPE_F32 || y->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "expects F32 inputs, %s gives %s and %s gives %s",
                       from[0], mt_dtype_name(x->dtype), from[1], mt_dtype_name(y->dtype));
    bool fits = x->rank == y->rank;
    *out = *x;
    for (int d = 0; fits && d < x->rank; d++) {
        fits = x->dim[d] == y->dim[d] || x->dim[d] == 1 || y->dim[d] == 1;
        out->dim[d] = x->dim[d] == 1 ? y->dim[d] : x->dim[d];
    }
    if (!fits)
        return mt_fail(MT_ERR_SHAPE, "expects inputs that broadcast (same rank, each dim "
                       "equal or 1), %s gives %s and %s gives %s", from[0],
                       shape_text(x, a, sizeof a), from[1], shape_text(y, b, sizeof b));
    return MT_OK;
}

static mt_status mul_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_mul_into(in[0], in[1], out);
}

static const mt_layer_vtable mul_vtable = {
    .n_inputs = 2,
    .infer = mul_infer,
    .forward = mul_forward,
};

mt_status mt_multiply_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "multiply: out is NULL");
    *out = mt_nn_layer_alloc("multiply", &mul_vtable, MT_LAYER_MULTIPLY, "multiply", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
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
        bool fits = in[j].rank == r && in[j].dtype == in[0].dtype;
        for (int d = 0; fits && d < r; d++)
            fits = d == dim || in[j].dim[d] == in[0].dim[d];
        if (!fits)
            return mt_fail(MT_ERR_SHAPE, "expects inputs that differ only in dim %d, %s "
                           "gives %s and %s gives %s", l->info.dim, from[0],
                           shape_text(&in[0], a, sizeof a), from[j],
                           shape_text(&in[j], b, sizeof b));
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
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "concat: out is NULL");
    *out = NULL;
    if (dim < -MT_MAX_RANK || dim >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "concat: dim %d is out of range -%d..%d",
                       dim, MT_MAX_RANK, MT_MAX_RANK - 1);
    char name[32];
    snprintf(name, sizeof name, "concat dim %d", dim);
    mt_layer *l = mt_nn_layer_alloc("concat", &concat_vtable, MT_LAYER_CONCAT, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.dim = dim;
    *out = l;
    return MT_OK;
}
