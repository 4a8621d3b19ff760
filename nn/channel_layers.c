/* channel_layers.c — layers that move channels or pixels around, each a
 * copy through a view: Narrow (torch.chunk/split/narrow of one piece),
 * ChannelShuffle (ShuffleNet), PixelShuffle and PixelUnshuffle, all on
 * channels-last activations. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

/* "[N,8,8,4]" for messages (the batch is 1 when the layer is added) */
static const char *dims_str(const mt_shape *s, char *buf, size_t size)
{
    size_t at = (size_t)snprintf(buf, size, "[N");
    for (int d = 1; d < s->rank && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, ",%lld", (long long)s->dim[d]);
    if (at < size)
        snprintf(buf + at, size - at, "]");
    return buf;
}

/* ---- Narrow ------------------------------------------------------------------- */

typedef struct narrow_state {
    int dim;                  /* as given: 1.. or negative from the end */
    int64_t start, length;
} narrow_state;

static mt_status narrow_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)n;
    const narrow_state *st = l->state;
    int d = st->dim < 0 ? st->dim + in->rank : st->dim;
    char got[160];
    if (d < 1 || d >= in->rank || st->start + st->length > in->dim[d])
        return mt_fail(MT_ERR_SHAPE, "expects a dim %d (not the batch) holding at least "
                       "%lld entries, %s gives %s", st->dim,
                       (long long)(st->start + st->length), from[0],
                       dims_str(in, got, sizeof got));
    *out = *in;
    out->dim[d] = st->length;
    return MT_OK;
}

static mt_status narrow_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const narrow_state *st = l->state;
    int d = st->dim < 0 ? st->dim + in[0]->rank : st->dim;
    mt_tensor v;
    mt_status s = mt_narrow_into(in[0], d, st->start, st->length, &v);
    return s ? s : mt_tensor_copy_into(&v, out);
}

static const mt_layer_vtable narrow_vtable = {
    .n_inputs = 1, .infer = narrow_infer, .forward = narrow_forward};

mt_status mt_narrow_new(int dim, int64_t start, int64_t length, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "narrow: out is NULL");
    *out = NULL;
    if (dim == 0 || dim < -MT_MAX_RANK + 1 || dim >= MT_MAX_RANK || start < 0 ||
        length < 1 || start > INT64_MAX - length)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "narrow: dim %d, start %lld, length %lld: "
                       "expected a dim other than the batch (0) within -%d..%d, start >= 0, "
                       "length >= 1", dim, (long long)start, (long long)length,
                       MT_MAX_RANK - 1, MT_MAX_RANK - 1);
    char name[64];
    snprintf(name, sizeof name, "narrow dim %d [%lld:%lld]", dim, (long long)start,
             (long long)(start + length));
    mt_layer *l = mt_nn_layer_alloc("narrow", &narrow_vtable, MT_LAYER_NARROW, name,
                                    sizeof(narrow_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(narrow_state *)l->state = (narrow_state){dim, start, length};
    l->info.dim = dim;
    *out = l;
    return MT_OK;
}

/* ---- ChannelShuffle ----------------------------------------------------------------
 * [N, …, C] with C = g·k: channel i·k + j goes to j·g + i (PyTorch's
 * x.view(N, g, k, H, W).transpose(1, 2) on NCHW). The last dim viewed as
 * [g, k], read as [k, g] into the output. */

static mt_status shuffle_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)n;
    int64_t g = l->info.in_channels;
    char got[160];
    if (in->rank < 2 || in->rank >= MT_MAX_RANK)   /* it views C as [groups, C/groups] */
        return mt_fail(MT_ERR_SHAPE, "expects [N, …, C] with 2 to %d dims, %s gives %s",
                       MT_MAX_RANK - 1, from[0], dims_str(in, got, sizeof got));
    if (in->dim[in->rank - 1] % g)
        return mt_fail(MT_ERR_SHAPE, "expects [N, …, C] with C a multiple of %lld groups "
                       "(channels last), %s gives %s", (long long)g, from[0],
                       dims_str(in, got, sizeof got));
    *out = *in;
    return MT_OK;
}

static mt_status shuffle_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const mt_tensor *x = in[0];
    int r = x->rank;
    int64_t g = l->info.in_channels, shape[MT_MAX_RANK];
    int perm[MT_MAX_RANK];
    for (int d = 0; d < r; d++)
        shape[d] = x->shape[d], perm[d] = d;
    shape[r - 1] = g;
    shape[r] = x->shape[r - 1] / g;
    perm[r - 1] = r, perm[r] = r - 1;
    mt_tensor split, moved;
    mt_status s = mt_view_into(x, r + 1, shape, &split);
    if (!s)
        s = mt_permute_into(&split, perm, &moved);
    return s ? s : mt_reshape_into(&moved, r, out->shape, out);
}

static const mt_layer_vtable shuffle_vtable = {
    .n_inputs = 1, .infer = shuffle_infer, .forward = shuffle_forward};

mt_status mt_channel_shuffle_new(int64_t groups, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "channel_shuffle: out is NULL");
    *out = NULL;
    if (groups < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "channel_shuffle: groups %lld, expected >= 1",
                       (long long)groups);
    char name[48];
    snprintf(name, sizeof name, "channel_shuffle %lld", (long long)groups);
    mt_layer *l = mt_nn_layer_alloc("channel_shuffle", &shuffle_vtable,
                                    MT_LAYER_CHANNEL_SHUFFLE, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.in_channels = groups;
    *out = l;
    return MT_OK;
}

/* ---- PixelShuffle, PixelUnshuffle ------------------------------------------------
 * PyTorch's channel c·r² + i·r + j of pixel (h, w) is channel c of pixel
 * (h·r + i, w·r + j). On NHWC: [N,H,W,C·r·r] viewed as [N,H,W,C,r,r],
 * read as [N,H,r,W,r,C], which is [N,H·r,W·r,C]; unshuffle the reverse. */

static mt_status pixel_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    (void)n;
    int64_t r = l->info.kernel_h;
    bool up = l->info.kind == MT_LAYER_PIXEL_SHUFFLE;
    char got[160];
    bool fits = in->rank == 4 && in->dtype == MT_DTYPE_F32;
    if (fits && up)
        fits = in->dim[3] % (r * r) == 0 && in->dim[1] <= INT64_MAX / r &&
               in->dim[2] <= INT64_MAX / r;
    else if (fits)
        fits = in->dim[1] % r == 0 && in->dim[2] % r == 0 && in->dim[3] <= INT64_MAX / r / r;
    if (!fits)
        return mt_fail(MT_ERR_SHAPE, "expects F32 NHWC [N,H,W,C] with %s, %s gives %s %s",
                       up ? "C a multiple of the factor squared" : "H and W multiples of "
                       "the factor", from[0], mt_dtype_name(in->dtype),
                       dims_str(in, got, sizeof got));
    *out = *in;
    out->dim[1] = up ? in->dim[1] * r : in->dim[1] / r;
    out->dim[2] = up ? in->dim[2] * r : in->dim[2] / r;
    out->dim[3] = up ? in->dim[3] / (r * r) : in->dim[3] * r * r;
    return MT_OK;
}

static mt_status pixel_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const mt_tensor *x = in[0];
    int64_t r = l->info.kernel_h, nb = x->shape[0];
    bool up = l->info.kind == MT_LAYER_PIXEL_SHUFFLE;
    const mt_tensor *small = up ? x : out;   /* the [N,H,W,C·r·r] side */
    int64_t h = small->shape[1], w = small->shape[2], c = small->shape[3] / (r * r);
    /* [N,H,W,C,r,r] <-> [N,H,r,W,r,C]: perm for the shuffle, its inverse
     * for the unshuffle */
    static const int to_big[6] = {0, 1, 4, 2, 5, 3}, to_small[6] = {0, 1, 3, 5, 2, 4};
    const int64_t small6[6] = {nb, h, w, c, r, r}, big6[6] = {nb, h, r, w, r, c};
    mt_tensor split, moved;
    mt_status s = mt_view_into(x, 6, up ? small6 : big6, &split);
    if (!s)
        s = mt_permute_into(&split, up ? to_big : to_small, &moved);
    return s ? s : mt_reshape_into(&moved, 4, out->shape, out);
}

static const mt_layer_vtable pixel_vtable = {
    .n_inputs = 1, .infer = pixel_infer, .forward = pixel_forward};

static mt_status pixel_new(const char *op, mt_layer_kind kind, int64_t factor, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (factor < 1 || factor > 65536)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: factor %lld, expected 1..65536", op,
                       (long long)factor);
    char name[48];
    snprintf(name, sizeof name, "%s %lld", op, (long long)factor);
    mt_layer *l = mt_nn_layer_alloc(op, &pixel_vtable, kind, name, 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.kernel_h = l->info.kernel_w = factor;
    *out = l;
    return MT_OK;
}

mt_status mt_pixel_shuffle_new(int64_t upscale_factor, mt_layer **out)
{
    return pixel_new("pixel_shuffle", MT_LAYER_PIXEL_SHUFFLE, upscale_factor, out);
}

mt_status mt_pixel_unshuffle_new(int64_t downscale_factor, mt_layer **out)
{
    return pixel_new("pixel_unshuffle", MT_LAYER_PIXEL_UNSHUFFLE, downscale_factor, out);
}
