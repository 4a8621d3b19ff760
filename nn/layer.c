/* layer.c — what all layers share: the constructor for any vtable, info,
 * running one layer alone, freeing. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/memory.h"
#include "minitensor/view.h"

enum { STATE_ALIGN = 16 };

static size_t state_offset(void)
{
    return (sizeof(mt_layer) + STATE_ALIGN - 1) / STATE_ALIGN * STATE_ALIGN;
}

mt_layer *mt_nn_layer_alloc(const char *op, const mt_layer_vtable *vt, mt_layer_kind kind,
                            const char *name, size_t state_size)
{
    size_t bytes = state_offset() + state_size;
    mt_layer *l = mt_alloc(bytes, STATE_ALIGN);
    if (!l) {
        mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the layer", op);
        return NULL;
    }
    memset(l, 0, bytes);
    l->vt = vt;
    l->state = state_size ? (unsigned char *)l + state_offset() : NULL;
    l->info.kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->info.name = l->name;
    return l;
}

mt_status mt_layer_new(const mt_layer_vtable *vtable, void *state, const char *name,
                       mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "layer_new: out is NULL");
    *out = NULL;
    if (!vtable || !vtable->infer || !vtable->forward)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "layer_new %s: the vtable needs infer "
                       "and forward", name ? name : "");
    if (vtable->n_inputs < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "layer_new %s: n_inputs %d is negative",
                       name ? name : "", vtable->n_inputs);
    mt_layer *l = mt_nn_layer_alloc("layer_new", vtable, MT_LAYER_CUSTOM, name ? name : "", 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->state = state;
    *out = l;
    return MT_OK;
}

void *mt_layer_state(const mt_layer *layer) { return layer ? layer->state : NULL; }

const char *mt_layer_name(const mt_layer *layer) { return layer ? layer->name : ""; }

mt_status mt_nn_hold(const mt_tensor *t, bool contiguous, mt_tensor **out)
{
    if (t->dtype == MT_DTYPE_F32 && (!contiguous || mt_tensor_is_contiguous(t)))
        return mt_view(t, t->rank, t->shape, out);
    mt_status s = t->dtype == MT_DTYPE_F32 ? mt_tensor_contiguous(t, out)
                                           : mt_tensor_to_f32(t, out);
    if (!s)
        mt_tensor_name_set(*out, t->name);
    return s;
}

mt_status mt_nn_hold_for(const char *layer, const char *what, const mt_tensor *t,
                         bool contiguous, mt_tensor **out)
{
    mt_status s = mt_nn_hold(t, contiguous, out);
    if (!s)
        return MT_OK;
    char why[512], ts[160];
    snprintf(why, sizeof why, "%s", mt_last_error());
    return mt_fail(s, "%s: cannot hold %s %s: %s", layer, what,
                   mt_tensor_describe(t, ts, sizeof ts), why);
}

mt_status mt_nn_check_weight(const char *layer, const char *what, const mt_tensor *t)
{
    return t ? mt_tensor_check(layer, what, t) : MT_OK;
}

mt_status mt_nn_infer_same(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)l, (void)n, (void)from;
    *out = in[0];
    return MT_OK;
}

mt_status mt_nn_infer_same_f32(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    if (in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "expects F32, %s gives %s", from[0],
                       mt_dtype_name(in->dtype));
    return mt_nn_infer_same(l, n, in, from, out);
}

mt_status mt_nn_forward_as(const mt_layer *inner, int n, const mt_tensor *x,
                           const mt_shape *x_as, const mt_shape *out_as, void *scratch,
                           mt_tensor *out)
{
    mt_tensor xv, yv, copy;
    mt_status s = mt_view_into(x, x_as->rank, x_as->dim, &xv);
    if (s) {   /* dims not evenly strided (a sliced input): view a copy */
        mt_clear_error();
        if ((s = mt_tensor_wrap_into(x->dtype, x->rank, x->shape, scratch, &copy)) ||
            (s = mt_tensor_copy_into(x, &copy)) ||
            (s = mt_view_into(&copy, x_as->rank, x_as->dim, &xv)))
            return s;
    }
    if ((s = mt_view_into(out, out_as->rank, out_as->dim, &yv)))
        return s;
    mt_shape xs = {.dtype = x->dtype, .rank = x->rank};
    memcpy(xs.dim, x->shape, (size_t)x->rank * sizeof *x->shape);
    size_t skip = mt_nn_shape_bytes(&xs);
    return inner->vt->forward(inner, n, (const mt_tensor *const[]){&xv},
                              skip ? (char *)scratch + skip : scratch, &yv);
}

size_t mt_nn_forward_as_scratch(const mt_layer *inner, int n, const mt_shape *in,
                                const mt_shape *in_as)
{
    size_t own = mt_nn_shape_bytes(in);
    size_t theirs = inner->vt->scratch_bytes ? inner->vt->scratch_bytes(inner, n, in_as) : 0;
    return own > SIZE_MAX - theirs ? SIZE_MAX : own + theirs;
}

const char *mt_nn_shape_text(const mt_shape *s, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < s->rank && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? "," : "",
                                (long long)s->dim[d]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
    return buf;
}

mt_status mt_nn_dim_layer_new(const char *op, const mt_layer_vtable *vt, mt_layer_kind kind,
                              int dim, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (dim < -MT_MAX_RANK || dim >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d is out of range -%d..%d", op, dim,
                       MT_MAX_RANK, MT_MAX_RANK - 1);
    char name[MT_NAME_MAX];
    snprintf(name, sizeof name, "%s dim %d", op, dim);
    mt_layer *l = mt_nn_layer_alloc(op, vt, kind, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.dim = dim;
    *out = l;
    return MT_OK;
}

size_t mt_nn_shape_bytes(const mt_shape *s)
{
    uint64_t n = mt_dtype_size(s->dtype);
    for (int d = 0; d < s->rank; d++) {
        if (s->dim[d] && n > (SIZE_MAX / 2) / (uint64_t)s->dim[d])
            return SIZE_MAX;
        n *= (uint64_t)s->dim[d];
    }
    return ((size_t)n + 63) / 64 * 64;
}

mt_status mt_nn_mask_f32(const mt_tensor *mask, float *m)
{
    mt_tensor t;
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, mask->shape, m, &t);
    return s ? s : mt_tensor_copy_into(mask, &t);
}

bool mt_nn_is_integer(mt_dtype d)
{
    return d == MT_DTYPE_I64 || d == MT_DTYPE_I32 || d == MT_DTYPE_I16 || d == MT_DTYPE_I8 ||
           d == MT_DTYPE_U64 || d == MT_DTYPE_U32 || d == MT_DTYPE_U16 || d == MT_DTYPE_U8;
}

mt_status mt_nn_check_row_dim(int dim, const mt_shape *in, const char *from)
{
    if (dim < -in->rank || dim >= in->rank)
        return mt_fail(MT_ERR_SHAPE, "dim %d is out of range for the %d dims %s gives", dim,
                       in->rank, from);
    if (dim == 0 || dim == -in->rank)
        return mt_fail(MT_ERR_SHAPE, "dim %d is the batch of the %d dims %s gives (a dim "
                       "other than 0 expected: a model runs its batch in passes)", dim,
                       in->rank, from);
    return MT_OK;
}

mt_status mt_nn_check_finite(const char *op, const mt_tensor *t)
{
    mt_status s = mt_tensor_check_finite(t);
    if (!s)
        return MT_OK;
    /* "tensor_check_finite: …" -> "<op>: …": the layer names itself */
    static const char prefix[] = "tensor_check_finite: ";
    const char *why = mt_last_error();
    if (!strncmp(why, prefix, sizeof prefix - 1))
        why += sizeof prefix - 1;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", why);
    return mt_fail(s, "%s: %s", op, copy);
}

mt_status mt_nn_get(const mt_safetensors *file, const char *layer, const char *name,
                    mt_tensor **out)
{
    mt_status s = mt_safetensors_get(file, name, out);
    if (s) {
        char why[512];
        snprintf(why, sizeof why, "%s", mt_last_error());
        return mt_fail(s, "%s: %s", layer, why);
    }
    return MT_OK;
}

static void shape_of(const mt_tensor *t, mt_shape *s)
{
    s->dtype = t->dtype;
    s->rank = t->rank;
    memcpy(s->dim, t->shape, (size_t)t->rank * sizeof t->shape[0]);
}

mt_status mt_layer_info_get(const mt_layer *layer, mt_layer_info *info)
{
    if (!layer || !info)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "layer_get_info: NULL argument");
    *info = layer->info;
    return MT_OK;
}

mt_status mt_layer_forward(const mt_layer *layer, const mt_tensor *x, mt_tensor **out)
{
    if (!layer || !x || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "layer_forward: NULL argument");
    *out = NULL;
    // rank, dtype, dims and data before infer and scratch_bytes read the shape
    mt_status s = mt_nn_check_weight(layer->name, "input", x);
    if (s)
        return s;
    if (layer->vt->n_inputs > 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: takes %d inputs: run it in a graph",
                       layer->name, layer->vt->n_inputs);
    mt_shape in = {0}, shape = {0};
    shape_of(x, &in);
    const char *from = "the input";
    mt_clear_error();
    s = layer->vt->infer(layer, 1, &in, &from, &shape);
    if (s) {
        char why[512], xs[160];
        snprintf(why, sizeof why, "%s", mt_last_error()[0] ? mt_last_error()
                                                             : mt_status_name(s));
        return mt_fail(s, "%s: %s (input %s)", layer->name, why,
                       mt_tensor_describe(x, xs, sizeof xs));
    }
    size_t scratch_bytes = layer->vt->scratch_bytes ? layer->vt->scratch_bytes(layer, 1, &in)
                                                    : 0;
    void *scratch = scratch_bytes ? mt_alloc(scratch_bytes, 64) : NULL;
    if (scratch_bytes && !scratch)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes of scratch",
                       layer->name, scratch_bytes);
    if (layer->vt->flags & MT_LAYER_FLAG_VIEW) {
        /* Run the layer, then hand out its view (any place in x, any
         * strides: an RNN output's is part of each row) on the heap, as a
         * view of x that keeps x alive. */
        mt_tensor view;
        if (!(s = layer->vt->forward(layer, 1, &x, scratch, &view)) &&
            !(s = mt_view(x, x->rank, x->shape, out))) {
            (*out)->rank = view.rank;
            memcpy((*out)->shape, view.shape, sizeof view.shape);
            memcpy((*out)->stride, view.stride, sizeof view.stride);
            (*out)->data = view.data;
        }
        mt_dealloc(scratch);
        return s;
    }
    mt_tensor *y = NULL;
    // an empty output has nothing to compute: the layer does not run (its
    // inputs' data, and its scratch, may be NULL)
    if (!(s = mt_tensor_zeros(shape.dtype, shape.rank, shape.dim, &y)) &&
        mt_tensor_numel(y) > 0 && (s = layer->vt->forward(layer, 1, &x, scratch, y))) {
        mt_tensor_free(y);
        y = NULL;
    }
    mt_dealloc(scratch);
    *out = y;
    return s;
}

void mt_layer_free(mt_layer *layer)
{
    if (!layer || layer->in_model)   /* its model frees it */
        return;
    if (layer->vt->release && layer->state)
        layer->vt->release(layer->state);
    mt_dealloc(layer);
}
