/* shape_layers.c — Flatten and Dropout: views of their input, never a copy. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

/* ---- Flatten ------------------------------------------------------------------ */

static mt_status flatten_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)n;
    int start = l->info.start_dim, end = l->info.end_dim, r = in->rank;
    if (start < -r || start >= r || end < -r || end >= r)
        return mt_fail(MT_ERR_SHAPE, "dims %d..%d are out of range for the %d dims %s "
                       "gives", start, end, r, from[0]);
    start = start < 0 ? start + r : start;
    end = end < 0 ? end + r : end;
    if (start > end)
        return mt_fail(MT_ERR_SHAPE, "start dim %d comes after end dim %d for the %d "
                       "dims %s gives", l->info.start_dim, l->info.end_dim, r, from[0]);
    int64_t merged = 1;
    for (int d = start; d <= end; d++) {
        if (in->dim[d] != 0 && merged > INT64_MAX / in->dim[d])
            return mt_fail(MT_ERR_OVERFLOW, "the merged dim overflows");
        merged *= in->dim[d];
    }
    out->dtype = in->dtype;
    out->rank = 0;
    for (int d = 0; d < r; d++) {
        if (d == start)
            out->dim[out->rank++] = merged;
        if (d < start || d > end)
            out->dim[out->rank++] = in->dim[d];
    }
    return MT_OK;
}

static mt_status flatten_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_flatten_into(in[0], l->info.start_dim, l->info.end_dim, out);
}

static const mt_layer_vtable flatten_vtable = {
    .n_inputs = 1,
    .flags = MT_LAYER_FLAG_VIEW,
    .infer = flatten_infer,
    .forward = flatten_forward,
};

mt_status mt_flatten_new(int start_dim, int end_dim, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "flatten: out is NULL");
    *out = NULL;
    bool in_range = start_dim >= -MT_MAX_RANK && start_dim < MT_MAX_RANK &&
                    end_dim >= -MT_MAX_RANK && end_dim < MT_MAX_RANK;
    if (!in_range || ((start_dim < 0) == (end_dim < 0) && start_dim > end_dim))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "flatten: dims %d..%d do not describe a "
                       "range of dims", start_dim, end_dim);
    mt_layer *l = nn_layer_alloc("flatten", &flatten_vtable, MT_LAYER_FLATTEN, "flatten", 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.start_dim = start_dim;
    l->info.end_dim = end_dim;
    *out = l;
    return MT_OK;
}

/* ---- Dropout ------------------------------------------------------------------ */

/* Inference: the input itself, as a borrowed view. */
static mt_status dropout_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_view_into(in[0], in[0]->rank, in[0]->shape, out);
}

static const mt_layer_vtable dropout_vtable = {
    .n_inputs = 1,
    .flags = MT_LAYER_FLAG_VIEW,
    .infer = nn_infer_same,
    .forward = dropout_forward,
};

mt_status mt_dropout_new(float rate, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dropout: out is NULL");
    *out = NULL;
    if (!(rate >= 0.0f && rate < 1.0f))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dropout: rate %g is not in [0, 1)",
                       (double)rate);
    char name[32];
    snprintf(name, sizeof name, "dropout %g", (double)rate);
    mt_layer *l = nn_layer_alloc("dropout", &dropout_vtable, MT_LAYER_DROPOUT, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.rate = rate;
    *out = l;
    return MT_OK;
}
