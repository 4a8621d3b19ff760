/* grid_sample_layer.c — a spatial transformer's two steps as layers:
 * AffineGrid (theta [N,2,3] -> grid [N,h,w,2]) and GridSample (images and
 * grid -> sampled images), running mt_affine_grid / mt_grid_sample. */
#include <stdio.h>

#include "layer_internal.h"

typedef struct affine_grid_state {
    int64_t h, w;
    bool align_corners;
} affine_grid_state;

static mt_status affine_grid_infer(const mt_layer *l, int n, const mt_shape *in,
                                   const char *const *from, mt_shape *out)
{
    (void)n;
    const affine_grid_state *st = l->state;
    char a[160];
    if (in[0].dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "expects F32 theta, %s gives %s", from[0],
                       mt_dtype_name(in[0].dtype));
    if (in[0].rank != 3 || in[0].dim[1] != 2 || in[0].dim[2] != 3)
        return mt_fail(MT_ERR_SHAPE, "expects theta [N,2,3] (a [N,6] through "
                       "mt_reshape_new(2, {2, 3})), %s gives %s", from[0],
                       mt_nn_shape_text(&in[0], a, sizeof a));
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 4,
                      .dim = {in[0].dim[0], st->h, st->w, 2}};
    return MT_OK;
}

static mt_status affine_grid_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                     void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const affine_grid_state *st = l->state;
    return mt_affine_grid_into(in[0], st->h, st->w, st->align_corners, out);
}

static const mt_layer_vtable affine_grid_vtable = {
    .n_inputs = 1, .infer = affine_grid_infer, .forward = affine_grid_forward};

mt_status mt_affine_grid_new(int64_t h, int64_t w, bool align_corners, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "affine_grid: out is NULL");
    *out = NULL;
    if (h < 1 || w < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "affine_grid: size (%lld,%lld) must be >= 1",
                       (long long)h, (long long)w);
    char name[64];
    snprintf(name, sizeof name, "affine_grid %lldx%lld", (long long)h, (long long)w);
    mt_layer *l = mt_nn_layer_alloc("affine_grid", &affine_grid_vtable, MT_LAYER_AFFINE_GRID,
                                    name, sizeof(affine_grid_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(affine_grid_state *)l->state = (affine_grid_state){h, w, align_corners};
    *out = l;
    return MT_OK;
}

static mt_status grid_sample_infer(const mt_layer *l, int n, const mt_shape *in,
                                   const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    char a[160], b[160];
    for (int j = 0; j < 2; j++)
        if (in[j].dtype != MT_DTYPE_F32)
            return mt_fail(MT_ERR_DTYPE, "expects F32 inputs, %s gives %s", from[j],
                           mt_dtype_name(in[j].dtype));
    if (in[0].rank != 4 || in[1].rank != 4 || in[1].dim[3] != 2)
        return mt_fail(MT_ERR_SHAPE, "expects images [N,H,W,C] and a grid [N,OH,OW,2], %s "
                       "gives %s and %s gives %s", from[0],
                       mt_nn_shape_text(&in[0], a, sizeof a), from[1],
                       mt_nn_shape_text(&in[1], b, sizeof b));
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 4,
                      .dim = {in[0].dim[0], in[1].dim[1], in[1].dim[2], in[0].dim[3]}};
    return MT_OK;
}

static mt_status grid_sample_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                     void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_grid_sample_into(in[0], in[1], l->state, out);
}

static const mt_layer_vtable grid_sample_vtable = {
    .n_inputs = 2, .infer = grid_sample_infer, .forward = grid_sample_forward};

mt_status mt_grid_sample_new(const mt_grid_sample_params *params, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "grid_sample: out is NULL");
    *out = NULL;
    const mt_grid_sample_params p = params ? *params : (mt_grid_sample_params){0};
    if ((unsigned)p.mode > MT_GRID_SAMPLE_MODE_BICUBIC ||
        (unsigned)p.padding > MT_GRID_SAMPLE_PADDING_REFLECTION)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "grid_sample: unknown mode %d or padding %d",
                       (int)p.mode, (int)p.padding);
    mt_layer *l = mt_nn_layer_alloc("grid_sample", &grid_sample_vtable, MT_LAYER_GRID_SAMPLE,
                                    "grid_sample", sizeof p);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(mt_grid_sample_params *)l->state = p;
    *out = l;
    return MT_OK;
}
