/* sequential.c — layers in order: a builder over the graph (graph.c), which
 * checks shapes as layers are added, fuses, plans memory once per batch
 * size and runs passes that never touch the heap. */
#include <stdio.h>
#include <string.h>

#include "graph_internal.h"
#include "minitensor/memory.h"
#include "minitensor/view.h"

struct mt_sequential {
    mt_graph *graph;
    int count;           /* layers; node i + 1 runs layer i (node 0: the input) */
};

mt_status mt_sequential_new(int sample_rank, const int64_t *sample_shape,
                            mt_sequential **out)
{
    if (!out || !sample_shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_new: NULL argument");
    *out = NULL;
    if (sample_rank < 1 || sample_rank >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_new: sample rank %d is not "
                       "in 1..%d", sample_rank, MT_MAX_RANK - 1);
    for (int d = 0; d < sample_rank; d++)
        if (sample_shape[d] < 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_new: sample dim %d is "
                           "%lld, expected >= 1", d, (long long)sample_shape[d]);
    mt_sequential *m = mt_alloc(sizeof *m, _Alignof(mt_sequential));
    if (!m)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "sequential_new: cannot allocate the model");
    memset(m, 0, sizeof *m);
    mt_status s = mt_graph_new(&m->graph);
    if (!s) {
        mt_nn_graph_sequential_style(m->graph);
        s = mt_graph_input(m->graph, "input", MT_DTYPE_F32, sample_rank, sample_shape, NULL);
    }
    if (s) {
        mt_sequential_free(m);
        return s;
    }
    *out = m;
    return MT_OK;
}

mt_status mt_sequential_add(mt_sequential *model, mt_layer *layer)
{
    if (!model || !layer) {
        if (layer && !layer->in_model)
            mt_layer_free(layer);
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_add: %s is NULL",
                       model ? "layer" : "model");
    }
    if (layer->in_model)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_add: layer %d (%s) already "
                       "belongs to a model", model->count + 1, layer->name);
    char name[24];
    snprintf(name, sizeof name, "%d", model->count + 1);
    int prev = model->count, id;
    mt_status s = mt_graph_add(model->graph, name, layer, 1, &prev, &id);
    if (s)
        return s;
    mt_nn_graph_only_output(model->graph, id);
    model->count++;
    return MT_OK;
}

int mt_sequential_count(const mt_sequential *model)
{
    return model ? model->count : 0;
}

const mt_layer *mt_sequential_layer(const mt_sequential *model, int i)
{
    return model && i >= 0 && i < model->count ? mt_graph_layer(model->graph, i + 1) : NULL;
}

mt_status mt_sequential_bytes_needed(mt_sequential *model, int64_t n, size_t *bytes)
{
    if (!model || !bytes)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_bytes_needed: NULL argument");
    if (model->count == 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential: the model has no layers");
    return mt_graph_bytes_needed(model->graph, n, bytes);
}

/* ---- forward ------------------------------------------------------------------- */

static mt_status check_input(const mt_sequential *m, const mt_tensor *x)
{
    const mt_shape *want_shape = &m->graph->nodes[0].shape;   /* the input node */
    bool ok = x->rank == want_shape->rank && x->shape[0] >= 0;
    for (int d = 1; ok && d < x->rank; d++)
        ok = x->shape[d] == want_shape->dim[d];
    if (ok && x->dtype == MT_DTYPE_F32)
        return MT_OK;
    const mt_shape in = *want_shape;
    char xs[160], want[160] = "[N";
    size_t len = strlen(want);
    for (int d = 1; d < in.rank && len < sizeof want; d++)
        len += (size_t)snprintf(want + len, sizeof want - len, ",%lld",
                                (long long)in.dim[d]);
    mt_tensor_describe(x, xs, sizeof xs);
    if (!ok)
        return mt_fail(MT_ERR_SHAPE, "sequential: input is %s, expected %s]", xs, want);
    return mt_fail(MT_ERR_DTYPE, "sequential: input %s is %s, expected F32", xs,
                   mt_dtype_name(x->dtype));
}

mt_status mt_sequential_forward(mt_sequential *model, const mt_tensor *x,
                                const mt_tensor **y)
{
    if (!model || !x || !y)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_forward: NULL argument");
    *y = NULL;
    if (model->count == 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential: the model has no layers");
    mt_status s = check_input(model, x);   /* all the graph's own checks would do */
    return s ? s : mt_nn_graph_run(model->graph, x->shape[0], &x, y);
}

mt_status mt_sequential_forward_u8(mt_sequential *model, const uint8_t *data,
                                   int64_t n, float scale, float *out,
                                   size_t out_len)
{
    enum { BATCH = 256 };
    const char *op = "sequential_forward_u8";
    if (!model || n < 0 || (n > 0 && (!data || !out)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument or negative count", op);
    mt_shape tail, in;
    mt_graph_shape_get(model->graph, model->count, &tail);
    mt_graph_shape_get(model->graph, 0, &in);
    if (model->count == 0 || tail.rank != 2)
        return mt_fail(MT_ERR_SHAPE, "%s: the model gives rank-%d outputs, expected "
                       "[batch, features]", op, tail.rank);
    int64_t features = tail.dim[1];
    if (features > 0 && (uint64_t)n > out_len / (uint64_t)features)
        return mt_fail(MT_ERR_SHAPE, "%s: out holds %zu floats, %lld samples of %lld "
                       "features need more", op, out_len, (long long)n,
                       (long long)features);
    if (n == 0)
        return MT_OK;
    in.dim[0] = n < BATCH ? n : BATCH;
    int64_t sample = 1;
    for (int d = 1; d < in.rank; d++)
        sample *= in.dim[d];
    mt_tensor *x = NULL;
    mt_tensor all;
    mt_status s = mt_tensor_zeros(MT_DTYPE_F32, in.rank, in.dim, &x);
    if (!s)
        s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){n, features}, out, &all);
    for (int64_t i = 0; !s && i < n; i += in.dim[0]) {
        int64_t rows = n - i < in.dim[0] ? n - i : in.dim[0];
        mt_tensor batch, dst;   /* views: the first `rows` samples, their output rows */
        const mt_tensor *y;
        if ((s = mt_narrow_into(x, 0, 0, rows, &batch)) ||
            (s = mt_tensor_from_u8_into(data + i * sample, scale, &batch)) ||
            (s = mt_sequential_forward(model, &batch, &y)) ||
            (s = mt_narrow_into(&all, 0, i, rows, &dst)))
            break;
        s = mt_tensor_copy_into(y, &dst);
    }
    mt_tensor_free(x);
    return s;
}

mt_status mt_sequential_freeze(mt_sequential *model)
{
    if (!model)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_freeze: model is NULL");
    return mt_graph_freeze(model->graph);
}

void mt_sequential_free(mt_sequential *model)
{
    if (!model)
        return;
    mt_graph_free(model->graph);
    mt_dealloc(model);
}
