/* mask_layers.c — the layers of padded batches: the padding mask made from
 * token ids (Keras' Embedding(mask_zero=True), PyTorch's `ids == pad`) or
 * from float steps (Keras' Masking), the fill of masked steps, and the
 * global 1-D pools that skip them (Keras' GlobalAveragePooling1D with a
 * mask), the first and last kept step among them. The masks themselves
 * are BOOL (or any dtype) graph values [N, L]. */
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"

/* ---- padding mask ------------------------------------------------------------------ */

typedef struct padding_state {
    int64_t pad_id;
    bool keep;      /* true where id != pad_id (Keras); else where id == pad_id */
} padding_state;

static mt_status padding_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    char a[160];
    if (!mt_nn_is_integer(in[0].dtype) || in[0].rank != 2)
        return mt_fail(mt_nn_is_integer(in[0].dtype) ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                       "expects integer token ids [N,L], %s gives %s %s", from[0],
                       mt_dtype_name(in[0].dtype), mt_nn_shape_text(&in[0], a, sizeof a));
    *out = in[0];
    out->dtype = MT_DTYPE_BOOL;
    return MT_OK;
}

/* One id of any integer dtype, as int64 (a U64 above INT64_MAX wraps, and
 * is no pad id of a vocabulary anyway). */
static int64_t id_at(const mt_tensor *t, int64_t offset)
{
    const char *p = (const char *)t->data + offset * (int64_t)mt_dtype_size(t->dtype);
    switch (t->dtype) {
    case MT_DTYPE_I64: return *(const int64_t *)(const void *)p;
    case MT_DTYPE_I32: return *(const int32_t *)(const void *)p;
    case MT_DTYPE_I16: return *(const int16_t *)(const void *)p;
    case MT_DTYPE_I8: return *(const int8_t *)(const void *)p;
    case MT_DTYPE_U64: return (int64_t)*(const uint64_t *)(const void *)p;
    case MT_DTYPE_U32: return *(const uint32_t *)(const void *)p;
    case MT_DTYPE_U16: return *(const uint16_t *)(const void *)p;
    default: return *(const uint8_t *)(const void *)p;
    }
}

static mt_status padding_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const padding_state *st = l->state;
    const mt_tensor *x = in[0];
    uint8_t *o = out->data;
    for (int64_t i = 0; i < x->shape[0]; i++)
        for (int64_t j = 0; j < x->shape[1]; j++)
            o[i * x->shape[1] + j] =
                (id_at(x, i * x->stride[0] + j * x->stride[1]) == st->pad_id) != st->keep;
    return MT_OK;
}

static const mt_layer_vtable padding_vtable = {
    .n_inputs = 1,
    .infer = padding_infer,
    .forward = padding_forward,
};

mt_status mt_padding_mask_new(int64_t pad_id, mt_mask_mode mode, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "padding_mask: out is NULL");
    *out = NULL;
    if (mode != MT_MASK_MODE_KEEP && mode != MT_MASK_MODE_IGNORE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "padding_mask: mode %d is not KEEP or IGNORE",
                       (int)mode);
    char name[64];
    snprintf(name, sizeof name, "padding_mask id %s %lld",
             mode == MT_MASK_MODE_KEEP ? "!=" : "==", (long long)pad_id);
    mt_layer *l = mt_nn_layer_alloc("padding_mask", &padding_vtable, MT_LAYER_MASK,
                                    name, sizeof(padding_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    padding_state *st = l->state;
    st->pad_id = pad_id;
    st->keep = mode == MT_MASK_MODE_KEEP;
    *out = l;
    return MT_OK;
}

/* ---- Masking: the mask of float steps -------------------------------------------- */

/* Masking's and masked fill's state: a value and which steps the mask keeps.
 * Masking: true where a feature != value (Keras), else where all == value;
 * masked fill: the mask says which steps stay (Keras), else which are filled. */
typedef struct value_state {
    float value;
    bool keep;
} value_state;

/* A layer of `vtable` holding (value, mode); op names it in errors. */
static mt_status value_layer_new(const char *op, const mt_layer_vtable *vtable, float value,
                                 mt_mask_mode mode, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (mode != MT_MASK_MODE_KEEP && mode != MT_MASK_MODE_IGNORE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: mode %d is not KEEP or IGNORE", op,
                       (int)mode);
    char name[64];
    snprintf(name, sizeof name, "%s %g", op, (double)value);
    mt_layer *l = mt_nn_layer_alloc(op, vtable, MT_LAYER_MASK, name, sizeof(value_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    value_state *st = l->state;
    st->value = value;
    st->keep = mode == MT_MASK_MODE_KEEP;
    *out = l;
    return MT_OK;
}

static mt_status masking_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    char a[160];
    if (in[0].dtype != MT_DTYPE_F32 || in[0].rank != 3)
        return mt_fail(in[0].dtype == MT_DTYPE_F32 ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                       "expects F32 steps [N,L,C], %s gives %s %s", from[0],
                       mt_dtype_name(in[0].dtype), mt_nn_shape_text(&in[0], a, sizeof a));
    *out = in[0];
    out->rank = 2;
    out->dtype = MT_DTYPE_BOOL;
    return MT_OK;
}

static mt_status masking_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const value_state *st = l->state;
    const mt_tensor *x = in[0];
    const int64_t *xs = x->stride;
    uint8_t *o = out->data;
    for (int64_t i = 0; i < x->shape[0]; i++)
        for (int64_t j = 0; j < x->shape[1]; j++) {
            const float *step = (const float *)x->data + i * xs[0] + j * xs[1];
            bool any = false;   // a feature other than the value (NaN is one)
            for (int64_t k = 0; k < x->shape[2] && !any; k++)
                any = step[k * xs[2]] != st->value;
            o[i * x->shape[1] + j] = any == st->keep;
        }
    return MT_OK;
}

static const mt_layer_vtable masking_vtable = {
    .n_inputs = 1,
    .infer = masking_infer,
    .forward = masking_forward,
};

mt_status mt_masking_new(float mask_value, mt_mask_mode mode, mt_layer **out)
{
    return value_layer_new("masking", &masking_vtable, mask_value, mode, out);
}

/* ---- masked fill ------------------------------------------------------------------- */

static mt_status fill_infer(const mt_layer *l, int n, const mt_shape *in,
                            const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    char a[160], b[160];
    if (in[0].dtype != MT_DTYPE_F32 || in[0].rank < 2)
        return mt_fail(in[0].dtype == MT_DTYPE_F32 ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                       "expects F32 [N,L,…], %s gives %s %s", from[0],
                       mt_dtype_name(in[0].dtype), mt_nn_shape_text(&in[0], a, sizeof a));
    if (in[1].rank != 2 || in[1].dim[0] != in[0].dim[0] || in[1].dim[1] != in[0].dim[1])
        return mt_fail(MT_ERR_SHAPE, "expects a mask [N,L] = [%lld,%lld] (%s gives %s), %s "
                       "gives %s", (long long)in[0].dim[0], (long long)in[0].dim[1], from[0],
                       mt_nn_shape_text(&in[0], a, sizeof a), from[1],
                       mt_nn_shape_text(&in[1], b, sizeof b));
    *out = in[0];
    return MT_OK;
}

/* The mask as F32 [N,L]. */
static size_t mask_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)l;
    return n == 2 ? (size_t)(in[0].dim[0] * in[0].dim[1]) * sizeof(float) : 0;
}

static mt_status fill_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n;
    const value_state *st = l->state;
    float *m = scratch, *o = out->data;
    mt_status s = mt_nn_mask_f32(in[1], m);
    if (s || (s = mt_tensor_copy_into(in[0], out)))
        return s;
    int64_t steps = out->shape[0] * out->shape[1];
    int64_t size = mt_tensor_numel(out) / (steps ? steps : 1);
    for (int64_t i = 0; i < steps; i++)
        if ((m[i] != 0.0f) != st->keep)
            for (int64_t k = 0; k < size; k++)
                o[i * size + k] = st->value;
    return MT_OK;
}

static const mt_layer_vtable fill_vtable = {
    .n_inputs = 2,
    .infer = fill_infer,
    .forward = fill_forward,
    .scratch_bytes = mask_scratch,
};

mt_status mt_masked_fill_new(float value, mt_mask_mode mode, mt_layer **out)
{
    return value_layer_new("masked_fill", &fill_vtable, value, mode, out);
}

/* ---- global 1-D pools, first and last step --------------------------------------- */

typedef enum pool1d_kind { POOL_AVG, POOL_MAX, POOL_FIRST, POOL_LAST } pool1d_kind;

static const char *const pool1d_op[4] = {"global_avg_pool1d", "global_max_pool1d",
                                         "first_step", "last_step"};

typedef struct pool1d_state {
    pool1d_kind kind;
    mt_mask_mode mask;   /* NONE: one input */
} pool1d_state;

static mt_status pool1d_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    const pool1d_state *st = l->state;
    char a[160], b[160];
    int want = st->mask == MT_MASK_MODE_NONE ? 1 : 2;
    if (n != want)
        return mt_fail(MT_ERR_SHAPE, "expects %s, given %d",
                       want == 1 ? "1 input (no mask)" : "2 inputs (x, mask)", n);
    if (in[0].dtype != MT_DTYPE_F32 || in[0].rank != 3)
        return mt_fail(in[0].dtype == MT_DTYPE_F32 ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                       "expects F32 [N,L,C], %s gives %s %s", from[0],
                       mt_dtype_name(in[0].dtype), mt_nn_shape_text(&in[0], a, sizeof a));
    if (n == 2 && (in[1].rank != 2 || in[1].dim[0] != in[0].dim[0] ||
                   in[1].dim[1] != in[0].dim[1]))
        return mt_fail(MT_ERR_SHAPE, "expects a mask [N,L] = [%lld,%lld] (%s gives %s), %s "
                       "gives %s", (long long)in[0].dim[0], (long long)in[0].dim[1], from[0],
                       mt_nn_shape_text(&in[0], a, sizeof a), from[1],
                       mt_nn_shape_text(&in[1], b, sizeof b));
    *out = in[0];
    out->rank = 2;
    out->dim[1] = in[0].dim[2];
    return MT_OK;
}

static mt_status pool1d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    const pool1d_state *st = l->state;
    const mt_tensor *x = in[0];
    int64_t b = x->shape[0], len = x->shape[1], c = x->shape[2];
    const int64_t *xs = x->stride;
    float *m = scratch, *o = out->data;
    mt_status s = n == 2 ? mt_nn_mask_f32(in[1], m) : MT_OK;
    if (s)
        return s;
    bool keep = st->mask != MT_MASK_MODE_IGNORE, max = st->kind == POOL_MAX;
    for (int64_t i = 0; i < b; i++) {
        float *row = o + i * c;
        int64_t kept = 0;
        for (int64_t k = 0; k < c; k++)
            row[k] = max ? -INFINITY : 0.0f;
        // first / last: the one step taken, scanned from its end
        bool one = st->kind == POOL_FIRST || st->kind == POOL_LAST;
        for (int64_t t = 0; t < len && !(one && kept); t++) {
            int64_t j = st->kind == POOL_LAST ? len - 1 - t : t;
            if (n == 2 && (m[i * len + j] != 0.0f) != keep)
                continue;
            const float *xr = (const float *)x->data + i * xs[0] + j * xs[1];
            kept++;
            for (int64_t k = 0; k < c; k++) {
                float v = xr[k * xs[2]];
                if (!max)
                    row[k] += v;
                else if (v > row[k] || isnan(v))
                    row[k] = isnan(row[k]) ? row[k] : v;
            }
        }
        // no step kept: zeros, not the frameworks' NaN (0/0) or -inf
        for (int64_t k = 0; k < c; k++)
            row[k] = !kept ? 0.0f : st->kind == POOL_AVG ? row[k] / (float)kept : row[k];
    }
    return MT_OK;
}

static const mt_layer_vtable pool1d_vtable = {
    .n_inputs = 0,
    .infer = pool1d_infer,
    .forward = pool1d_forward,
    .scratch_bytes = mask_scratch,
};

static mt_status pool1d_new(pool1d_kind kind, mt_mask_mode mask, mt_layer **out)
{
    const char *op = pool1d_op[kind];
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (mask != MT_MASK_MODE_NONE && mask != MT_MASK_MODE_KEEP && mask != MT_MASK_MODE_IGNORE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: mask mode %d is not NONE, KEEP or IGNORE",
                       op, (int)mask);
    char name[64];
    snprintf(name, sizeof name, "%s%s", op,
             mask == MT_MASK_MODE_NONE ? "" : mask == MT_MASK_MODE_KEEP ? " masked (keep)"
                                                                       : " masked (ignore)");
    mt_layer *l = mt_nn_layer_alloc(op, &pool1d_vtable, MT_LAYER_GLOBAL_POOL1D, name,
                                    sizeof(pool1d_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    pool1d_state *st = l->state;
    st->kind = kind;
    st->mask = mask;
    *out = l;
    return MT_OK;
}

mt_status mt_global_avg_pool1d_new(mt_mask_mode mask, mt_layer **out)
{
    return pool1d_new(POOL_AVG, mask, out);
}

mt_status mt_global_max_pool1d_new(mt_mask_mode mask, mt_layer **out)
{
    return pool1d_new(POOL_MAX, mask, out);
}

mt_status mt_first_step_new(mt_mask_mode mask, mt_layer **out)
{
    return pool1d_new(POOL_FIRST, mask, out);
}

mt_status mt_last_step_new(mt_mask_mode mask, mt_layer **out)
{
    return pool1d_new(POOL_LAST, mask, out);
}
