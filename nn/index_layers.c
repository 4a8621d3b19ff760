/* index_layers.c — Embedding (token ids -> rows of a table) and Pad. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/index.h"
#include "minitensor/view.h"

/* ---- Embedding -------------------------------------------------------------------- */

typedef struct emb_state {
    mt_tensor *weight;   /* [num, dim] F32; one reference */
} emb_state;

static mt_status emb_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)n;
    if (in->dtype != MT_DTYPE_I32 && in->dtype != MT_DTYPE_I64)
        return mt_fail(MT_ERR_DTYPE, "expects I32 or I64 token ids, %s gives %s", from[0],
                       mt_dtype_name(in->dtype));
    if (in->rank >= MT_MAX_RANK)
        return mt_fail(MT_ERR_SHAPE, "expects ids of rank < %d, %s gives %d", MT_MAX_RANK,
                       from[0], in->rank);
    *out = *in;
    out->dtype = MT_DTYPE_F32;
    out->dim[out->rank++] = l->info.out_features;
    return MT_OK;
}

static mt_status emb_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const emb_state *st = l->state;
    return mt_embedding_into(in[0], st->weight, out);
}

static void emb_release(void *state) { mt_tensor_free(((emb_state *)state)->weight); }

static const mt_layer_vtable emb_vtable = {
    .n_inputs = 1,
    .infer = emb_infer,
    .forward = emb_forward,
    .release = emb_release,
};

mt_status mt_embedding_new(const mt_tensor *weight, mt_layer **out)
{
    if (!weight || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "embedding: %s is NULL",
                       weight ? "out" : "weight");
    *out = NULL;
    char name[MT_NAME_MAX + 16], ws[160];
    snprintf(name, sizeof name, "embedding%s%s", weight->name[0] ? " " : "", weight->name);
    mt_status s = mt_nn_check_weight(name, "weight", weight);
    if (s)
        return s;
    if (weight->rank != 2 || weight->shape[0] < 1 || weight->shape[1] < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s, expected [num, dim]", name,
                       mt_tensor_describe(weight, ws, sizeof ws));
    mt_layer *l = mt_nn_layer_alloc("embedding", &emb_vtable, MT_LAYER_EMBEDDING, name,
                                    sizeof(emb_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    emb_state *st = l->state;
    s = weight->dtype == MT_DTYPE_F32
                      ? mt_view(weight, 2, weight->shape, &st->weight)
                      : mt_tensor_to_f32(weight, &st->weight);
    if (s) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = weight->shape[0];    /* table rows */
    l->info.out_features = weight->shape[1];   /* embedding dim */
    *out = l;
    return MT_OK;
}

/* ---- Pad ---------------------------------------------------------------------------- */

enum { MAX_PADS = 2 * MT_MAX_RANK };

typedef struct pad_state {
    int n_pads;
    int64_t pads[MAX_PADS];
    mt_pad_mode mode;
    float value;
} pad_state;

static mt_status pad_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)n;
    const pad_state *st = l->state;
    if (st->n_pads / 2 > in->rank || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 with at least %d dims, %s gives %s with "
                       "%d", st->n_pads / 2, from[0], mt_dtype_name(in->dtype), in->rank);
    *out = *in;
    for (int p = 0; p < st->n_pads / 2; p++) {   /* the first pair pads the last dim */
        int d = in->rank - 1 - p;
        int64_t lo = st->pads[2 * p], hi = st->pads[2 * p + 1], size = in->dim[d], len;
        /* each crop within the dim first, so that kept cannot wrap; pads past
         * INT64_MAX / 4 mt_pad_into refuses */
        bool wraps = lo < -size || hi < -size || lo > INT64_MAX / 4 || hi > INT64_MAX / 4 ||
                     __builtin_add_overflow(size, lo, &len) ||
                     __builtin_add_overflow(len, hi, &out->dim[d]);
        /* what circular mode wraps around: the entries the crops keep */
        int64_t kept = wraps ? 0 : size + (lo < 0 ? lo : 0) + (hi < 0 ? hi : 0);
        if (wraps || out->dim[d] < 0 ||
            (st->mode == MT_PAD_REFLECT && (lo >= in->dim[d] || hi >= in->dim[d])) ||
            (st->mode == MT_PAD_REPLICATE && in->dim[d] < 1) ||
            (st->mode == MT_PAD_CIRCULAR && (lo > kept || hi > kept)))
            return mt_fail(MT_ERR_SHAPE, "pads (%lld,%lld) do not fit dim %d of size %lld "
                           "%s gives", (long long)st->pads[2 * p],
                           (long long)st->pads[2 * p + 1], d, (long long)in->dim[d],
                           from[0]);
    }
    return MT_OK;
}

static mt_status pad_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const pad_state *st = l->state;
    return mt_pad_into(in[0], st->n_pads, st->pads, st->mode, st->value, out);
}

static const mt_layer_vtable pad_vtable = {
    .n_inputs = 1,
    .infer = pad_infer,
    .forward = pad_forward,
};

mt_status mt_pad_new(int n_pads, const int64_t *pads, mt_pad_mode mode, float value,
                     mt_layer **out)
{
    if (!out || (n_pads && !pads))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pad: NULL argument");
    *out = NULL;
    if (n_pads < 0 || n_pads % 2 || n_pads > MAX_PADS)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pad: %d pads, expected an even number up "
                       "to %d", n_pads, MAX_PADS);
    if ((unsigned)mode > MT_PAD_CIRCULAR)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pad: unknown mode %d", (int)mode);
    mt_layer *l = mt_nn_layer_alloc("pad", &pad_vtable, MT_LAYER_PAD, "pad", sizeof(pad_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    pad_state *st = l->state;
    st->n_pads = n_pads;
    if (n_pads)
        memcpy(st->pads, pads, (size_t)n_pads * sizeof *pads);
    st->mode = mode;
    st->value = value;
    *out = l;
    return MT_OK;
}
