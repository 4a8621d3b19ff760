/* shape_layers.c — Flatten, Reshape and Dropout: views of their input,
 * never a copy; and Permute, which copies (a permuted view cannot be
 * flattened). */
#include <stdio.h>
#include <string.h>

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
    mt_layer *l = mt_nn_layer_alloc("flatten", &flatten_vtable, MT_LAYER_FLATTEN, "flatten", 0);
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
    .infer = mt_nn_infer_same,
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
    mt_layer *l = mt_nn_layer_alloc("dropout", &dropout_vtable, MT_LAYER_DROPOUT, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.rate = rate;
    *out = l;
    return MT_OK;
}

/* ---- Reshape ------------------------------------------------------------------ */

typedef struct reshape_state {
    int rank;                      /* of a sample */
    int64_t shape[MT_MAX_RANK];    /* a sample's shape; one entry may be -1 */
} reshape_state;

/* dim[0..rank] = [n, sample…] for samples of `have` values, the -1
 * resolved; false if they do not fit. */
static bool reshape_dims(const reshape_state *st, int64_t n, int64_t have, int64_t *dim)
{
    int64_t known = 1;
    int free_dim = -1;
    for (int d = 0; d < st->rank; d++) {
        if (st->shape[d] < 0)
            free_dim = d;
        else if (__builtin_mul_overflow(known, st->shape[d], &known))
            return false;
    }
    int64_t fill = known ? have / known : 0;
    if (free_dim < 0 ? known != have : known == 0 || fill * known != have)
        return false;
    dim[0] = n;
    for (int d = 0; d < st->rank; d++)
        dim[d + 1] = d == free_dim ? fill : st->shape[d];
    return true;
}

static mt_status reshape_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)n;
    const reshape_state *st = l->state;
    int64_t have = 1;
    for (int d = 1; d < in->rank; d++)
        if (__builtin_mul_overflow(have, in->dim[d], &have))
            return mt_fail(MT_ERR_OVERFLOW, "the sample size %s gives overflows", from[0]);
    if (in->rank < 1 || !reshape_dims(st, in->dim[0], have, out->dim))
        return mt_fail(MT_ERR_SHAPE, "cannot view the %lld values per sample %s gives as %s",
                       (long long)have, from[0], l->name + strlen("reshape "));
    out->dtype = in->dtype;
    out->rank = st->rank + 1;
    return MT_OK;
}

static mt_status reshape_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const mt_tensor *x = in[0];
    const reshape_state *st = l->state;
    int64_t dim[MT_MAX_RANK], have = 1;
    for (int d = 1; d < x->rank; d++)
        have *= x->shape[d];   /* the planned shape: checked when added */
    char xs[160];
    if (x->rank < 1 || !reshape_dims(st, x->shape[0], have, dim))
        return mt_fail(MT_ERR_SHAPE, "%s: input %s does not fit", l->name,
                       mt_tensor_describe(x, xs, sizeof xs));
    return mt_view_into(x, st->rank + 1, dim, out);
}

static const mt_layer_vtable reshape_vtable = {
    .n_inputs = 1,
    .flags = MT_LAYER_FLAG_VIEW,
    .infer = reshape_infer,
    .forward = reshape_forward,
};

mt_status mt_reshape_new(int rank, const int64_t *sample_shape, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "reshape: out is NULL");
    *out = NULL;
    if (rank < 1 || rank >= MT_MAX_RANK || !sample_shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "reshape: a sample shape of %d dims (1 to "
                       "%d)", rank, MT_MAX_RANK - 1);
    char name[192] = "reshape [N";   /* the layer keeps what fits */
    int free_dims = 0;
    for (int d = 0; d < rank; d++) {
        free_dims += sample_shape[d] == -1;
        if (sample_shape[d] < -1 || free_dims > 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "reshape: dim %d of the sample shape is "
                           "%lld (>= 0, or one -1)", d, (long long)sample_shape[d]);
        char part[24];   /* 7 dims of at most 20 digits fit `name` */
        snprintf(part, sizeof part, ",%lld", (long long)sample_shape[d]);
        strcat(name, part);
    }
    strcat(name, "]");
    mt_layer *l = mt_nn_layer_alloc("reshape", &reshape_vtable, MT_LAYER_RESHAPE, name,
                                    sizeof(reshape_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    reshape_state *st = l->state;
    st->rank = rank;
    memcpy(st->shape, sample_shape, (size_t)rank * sizeof *sample_shape);
    *out = l;
    return MT_OK;
}

/* ---- Permute ------------------------------------------------------------------ */

typedef struct permute_state {
    int perm[MT_MAX_RANK];   /* over all dims, perm[0] = 0 (the batch) */
} permute_state;

static mt_status permute_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)n;
    const permute_state *st = l->state;
    int rank = l->info.dim;
    if (in->rank != rank)
        return mt_fail(MT_ERR_SHAPE, "expects %d dims, %s gives %d", rank, from[0],
                       in->rank);
    *out = *in;
    for (int d = 0; d < rank; d++)
        out->dim[d] = in->dim[st->perm[d]];
    return MT_OK;
}

static mt_status permute_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const permute_state *st = l->state;
    mt_tensor v;
    mt_status s = mt_permute_into(in[0], st->perm, &v);
    return s ? s : mt_tensor_copy_into(&v, out);
}

static const mt_layer_vtable permute_vtable = {
    .n_inputs = 1,
    .infer = permute_infer,
    .forward = permute_forward,
};

mt_status mt_permute_new(int rank, const int *perm, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "permute: out is NULL");
    *out = NULL;
    if (rank < 2 || rank > MT_MAX_RANK || !perm)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "permute: %d dims (2 to %d, the batch "
                       "included)", rank, MT_MAX_RANK);
    char name[MT_NAME_MAX] = "permute (";
    size_t at = strlen(name);
    unsigned seen = 0;
    for (int d = 0; d < rank; d++) {
        if (perm[d] < 0 || perm[d] >= rank || (seen >> perm[d] & 1u) || (d == 0 && perm[0]))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "permute: perm[%d] = %d: expected a "
                           "permutation of 0..%d that keeps the batch dim 0 first", d,
                           perm[d], rank - 1);
        seen |= 1u << perm[d];
        at += (size_t)snprintf(name + at, sizeof name - at, "%s%d", d ? "," : "", perm[d]);
    }
    strcat(name, ")");
    mt_layer *l = mt_nn_layer_alloc("permute", &permute_vtable, MT_LAYER_PERMUTE, name,
                                    sizeof(permute_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    permute_state *st = l->state;
    memcpy(st->perm, perm, (size_t)rank * sizeof *perm);
    l->info.dim = rank;
    *out = l;
    return MT_OK;
}
