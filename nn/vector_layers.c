/* vector_layers.c — Keras' RepeatVector and UnitNormalization: a sample's
 * feature vector repeated, or scaled to unit L2 norm. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/reduce.h"
#include "minitensor/view.h"

/* ---- RepeatVector ------------------------------------------------------------------- */

typedef struct repeat_state {
    int64_t n;
} repeat_state;

static mt_status repeat_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)n;
    const repeat_state *st = l->state;
    char a[160];
    if (in->dtype != MT_DTYPE_F32 || in->rank != 2)
        return mt_fail(in->dtype != MT_DTYPE_F32 ? MT_ERR_DTYPE : MT_ERR_SHAPE,
                       "expects F32 [N,D], %s gives %s %s", from[0],
                       mt_dtype_name(in->dtype), mt_nn_shape_text(in, a, sizeof a));
    if (in->dim[1] > INT64_MAX / st->n)
        return mt_fail(MT_ERR_SHAPE, "%lld repeats of %s %s overflow", (long long)st->n,
                       from[0], mt_nn_shape_text(in, a, sizeof a));
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 3, .dim = {in->dim[0], st->n, in->dim[1]}};
    return MT_OK;
}

static mt_status repeat_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    mt_tensor one, repeated;   // x [N,D] as [N,1,D], then [N,n,D] with stride 0
    mt_status s = mt_unsqueeze_into(in[0], 1, &one);
    if (!s)
        s = mt_expand_into(&one, 3, out->shape, &repeated);
    return s ? s : mt_tensor_copy_into(&repeated, out);
}

static const mt_layer_vtable repeat_vtable = {
    .n_inputs = 1,
    .infer = repeat_infer,
    .forward = repeat_forward,
};

mt_status mt_repeat_vector_new(int64_t n, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "repeat_vector: out is NULL");
    *out = NULL;
    if (n < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "repeat_vector: n %lld, expected >= 1",
                       (long long)n);
    char name[48];
    snprintf(name, sizeof name, "repeat_vector %lld", (long long)n);
    mt_layer *l = mt_nn_layer_alloc("repeat_vector", &repeat_vtable, MT_LAYER_REPEAT_VECTOR,
                                    name, sizeof(repeat_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    ((repeat_state *)l->state)->n = n;
    *out = l;
    return MT_OK;
}

/* ---- UnitNormalization --------------------------------------------------------------- */

typedef struct unit_norm_state {
    int n_axes;
    int axes[MT_MAX_RANK];   /* as given: negative from the end */
} unit_norm_state;

/* The axes resolved for rank into dims; false if one is the batch, out of
 * range or repeated. */
static bool unit_norm_dims(const unit_norm_state *st, int rank, int *dims)
{
    for (int i = 0; i < st->n_axes; i++) {
        dims[i] = st->axes[i] < 0 ? st->axes[i] + rank : st->axes[i];
        if (dims[i] < 1 || dims[i] >= rank)
            return false;
        for (int j = 0; j < i; j++)
            if (dims[j] == dims[i])
                return false;
    }
    return true;
}

static mt_status unit_norm_infer(const mt_layer *l, int n, const mt_shape *in,
                                 const char *const *from, mt_shape *out)
{
    (void)n;
    const unit_norm_state *st = l->state;
    int dims[MT_MAX_RANK];
    char a[160];
    if (in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "expects F32, %s gives %s", from[0],
                       mt_dtype_name(in->dtype));
    if (!unit_norm_dims(st, in->rank, dims))
        return mt_fail(MT_ERR_SHAPE, "its axes must be distinct dims of %s %s other than the "
                       "batch", from[0], mt_nn_shape_text(in, a, sizeof a));
    *out = *in;
    return MT_OK;
}

/* The shape of the norms: x's with the axes 1. */
static void unit_norm_shape(const unit_norm_state *st, int rank, const int64_t *dim,
                            int64_t *kept, int *dims)
{
    unit_norm_dims(st, rank, dims);
    memcpy(kept, dim, (size_t)rank * sizeof *kept);
    for (int i = 0; i < st->n_axes; i++)
        kept[dims[i]] = 1;
}

static size_t unit_norm_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    int64_t kept[MT_MAX_RANK];
    int dims[MT_MAX_RANK];
    unit_norm_shape(l->state, in->rank, in->dim, kept, dims);
    mt_shape norms = {.dtype = MT_DTYPE_F32, .rank = in->rank};
    memcpy(norms.dim, kept, sizeof kept);
    return mt_nn_shape_bytes(&norms);
}

/* Keras: x · min(rsqrt(Σx²), 1/1e-12) */
static mt_status unit_norm_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                   void *scratch, mt_tensor *out)
{
    (void)n;
    const unit_norm_state *st = l->state;
    const mt_tensor *x = in[0];
    int64_t kept[MT_MAX_RANK];
    int dims[MT_MAX_RANK];
    unit_norm_shape(st, x->rank, x->shape, kept, dims);
    mt_tensor norms;
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, x->rank, kept, scratch, &norms);
    if (!s)
        s = mt_mul_into(x, x, out);
    if (!s)
        s = mt_sum_dims_into(out, dims, st->n_axes, true, &norms);
    if (s)
        return s;
    float *r = norms.data;
    for (int64_t i = 0, count = mt_tensor_numel(&norms); i < count; i++) {
        float inv = 1.0f / sqrtf(r[i]);
        r[i] = inv > 1e12f ? 1e12f : inv;   /* NaN stays NaN, as in Keras */
    }
    return mt_mul_into(x, &norms, out);
}

static const mt_layer_vtable unit_norm_vtable = {
    .n_inputs = 1,
    .infer = unit_norm_infer,
    .forward = unit_norm_forward,
    .scratch_bytes = unit_norm_scratch,
};

mt_status mt_unit_norm_new(int n_axes, const int *axes, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "unit_norm: out is NULL");
    *out = NULL;
    if (!axes || n_axes < 1 || n_axes >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "unit_norm: %d axes%s, expected 1 to %d",
                       n_axes, axes ? "" : " (NULL)", MT_MAX_RANK - 1);
    char name[64];
    size_t len = (size_t)snprintf(name, sizeof name, "unit_norm axes");
    for (int i = 0; i < n_axes; i++) {
        if (!axes[i] || axes[i] < -MT_MAX_RANK || axes[i] >= MT_MAX_RANK)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "unit_norm: axis %d: each must be a dim "
                           "other than the batch (1 … %d, or negative from the end)",
                           axes[i], MT_MAX_RANK - 1);
        if (len < sizeof name)
            len += (size_t)snprintf(name + len, sizeof name - len, " %d", axes[i]);
    }
    mt_layer *l = mt_nn_layer_alloc("unit_norm", &unit_norm_vtable, MT_LAYER_UNIT_NORM, name,
                                    sizeof(unit_norm_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    unit_norm_state *st = l->state;
    st->n_axes = n_axes;
    memcpy(st->axes, axes, (size_t)n_axes * sizeof *axes);
    *out = l;
    return MT_OK;
}
