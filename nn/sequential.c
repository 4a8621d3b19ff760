/* sequential.c — layers in order: shapes checked as layers are added, outputs
 * planned once per batch size in an arena, passes that never touch the heap. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/arena.h"
#include "minitensor/memory.h"
#include "minitensor/view.h"

typedef struct nn_step {
    mt_layer *layer;
    bool folded;      /* a ReLU already applied by the Linear/Conv2D before it */
    bool fuse_relu;   /* a Linear/Conv2D that also applies the next layer's ReLU */
    mt_tensor *buf;   /* output storage in the arena (computing layers) */
    mt_tensor view;   /* output struct (view layers) */
    mt_tensor part;   /* the first rows of buf, for a last pass of fewer rows */
} nn_step;

struct mt_sequential {
    nn_shape input;      /* [1, sample...]: the declared input, batch 1 */
    nn_shape tail;       /* the last layer's output for that input */
    nn_step *steps;
    int count, cap;
    mt_arena *arena;
    int64_t planned_n;   /* batch the step buffers are sized for; -1: none */
    int64_t pass_rows;   /* samples per pass through the layers (<= planned_n) */
    mt_tensor *whole;    /* the output of all planned_n samples when a batch
                          * takes several passes, else NULL */
};

/* A batch whose activations (all layers' outputs) would take more than this
 * goes through the layers in passes of fewer samples, so that each layer
 * reads its input from cache rather than memory; the outputs are gathered
 * into one tensor. Measured on the Fashion CNN (146 KiB of activations per
 * image, so 14 per pass; bench_fashion --batches 256): one thread 11.7K ->
 * 13.6K images/s, two threads 15.0K -> 20.1K; 1, 4 and 8 MiB did as well
 * as 2 on one thread, 8 MiB worse on two (17.0K). */
enum { PASS_BYTES = 2 * 1024 * 1024 };

/* Re-raise the current error with the layer's place in front. */
static mt_status layer_error(mt_status s, int i, const mt_layer *l, const char *sep)
{
    char why[512];
    snprintf(why, sizeof why, "%s", mt_last_error());
    return mt_fail(s, "sequential: layer %d (%s)%s%s", i + 1, l->name, sep, why);
}

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
    mt_status s = mt_arena_new(0, &m->arena);
    if (s) {
        mt_dealloc(m);
        return s;
    }
    m->input.rank = sample_rank + 1;
    m->input.dim[0] = 1;
    memcpy(m->input.dim + 1, sample_shape, (size_t)sample_rank * sizeof *sample_shape);
    m->tail = m->input;
    m->planned_n = -1;
    *out = m;
    return MT_OK;
}

/* Room for one more step. */
static mt_status reserve(mt_sequential *m)
{
    if (m->count < m->cap)
        return MT_OK;
    int cap = m->cap ? 2 * m->cap : 8;
    nn_step *steps = mt_alloc((size_t)cap * sizeof *steps, _Alignof(nn_step));
    if (!steps)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "sequential_add: cannot grow the model");
    if (m->count)
        memcpy(steps, m->steps, (size_t)m->count * sizeof *steps);
    mt_dealloc(m->steps);
    m->steps = steps;
    m->cap = cap;
    return MT_OK;
}

mt_status mt_sequential_add(mt_sequential *model, mt_layer *layer)
{
    if (!model || !layer) {
        mt_layer_free(layer);
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_add: %s is NULL",
                       model ? "layer" : "model");
    }
    /* Not freed: it is another model's (or this one's) to free. */
    if (layer->owned)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_add: layer %s already "
                       "belongs to a model (a layer can be added once)", layer->name);
    nn_shape next;
    mt_status s = layer->ops->infer(layer, &model->tail, &next,
                                    model->count ? "the previous layer" : "the input");
    if (s)
        s = layer_error(s, model->count, layer, " ");
    if (!s)
        s = reserve(model);
    if (s) {
        mt_layer_free(layer);
        return s;
    }
    nn_step *step = &model->steps[model->count];
    memset(step, 0, sizeof *step);
    step->layer = layer;
    layer->owned = true;
    if (layer->info.kind == MT_LAYER_RELU && model->count > 0 &&
        nn_fuses_relu(model->steps[model->count - 1].layer->info.kind)) {
        step->folded = true;
        model->steps[model->count - 1].fuse_relu = true;
    }
    model->count++;
    model->tail = next;
    model->planned_n = -1;
    return MT_OK;
}

int mt_sequential_count(const mt_sequential *model)
{
    return model ? model->count : 0;
}

const mt_layer *mt_sequential_layer(const mt_sequential *model, int i)
{
    return model && i >= 0 && i < model->count ? model->steps[i].layer : NULL;
}

/* ---- forward ------------------------------------------------------------------- */

/* The floats the outputs of every computing step take for a batch of n,
 * and (if allocate) their storage from the arena. */
static mt_status alloc_outputs(mt_sequential *m, int64_t n, bool allocate,
                               int64_t *floats)
{
    nn_shape shape = m->input, next;
    shape.dim[0] = n;
    *floats = 0;
    for (int i = 0; i < m->count; i++) {
        nn_step *step = &m->steps[i];
        mt_status s = step->layer->ops->infer(step->layer, &shape, &next,
                                              i ? "the previous layer" : "the input");
        if (s)
            return layer_error(s, i, step->layer, " ");
        step->buf = NULL;
        if (!step->layer->ops->is_view && !step->folded) {
            int64_t numel = 1;
            for (int d = 0; d < next.rank; d++)
                numel *= next.dim[d];
            *floats += numel;
            if (allocate &&
                (s = mt_arena_tensor(m->arena, MT_DTYPE_F32, next.rank, next.dim, &step->buf)))
                return s;
        }
        shape = next;
    }
    return MT_OK;
}

/* Size the arena for batch n: the step outputs for one pass of pass_rows
 * samples, and the whole output if n takes several passes. The arena fills
 * its blocks first-fit in a fixed order, so later passes at this size land
 * in the same places. */
static mt_status plan(mt_sequential *m, int64_t n)
{
    m->planned_n = -1;
    m->whole = NULL;
    mt_arena_reset(m->arena);
    int64_t sample_floats;
    mt_status s = alloc_outputs(m, 1, false, &sample_floats);
    if (s)
        return s;
    int64_t rows = PASS_BYTES / (int64_t)sizeof(float) / (sample_floats > 0 ? sample_floats : 1);
    m->pass_rows = rows < 1 ? 1 : rows < n ? rows : n;
    if ((s = alloc_outputs(m, m->pass_rows, true, &sample_floats)))
        return s;
    if (m->pass_rows < n) {
        nn_shape all = m->tail;
        all.dim[0] = n;
        if ((s = mt_arena_tensor(m->arena, MT_DTYPE_F32, all.rank, all.dim, &m->whole)))
            return s;
    }
    m->planned_n = n;
    return MT_OK;
}

static mt_status check_input(const mt_sequential *m, const mt_tensor *x)
{
    bool ok = x->rank == m->input.rank && x->shape[0] >= 0;
    for (int d = 1; ok && d < x->rank; d++)
        ok = x->shape[d] == m->input.dim[d];
    if (ok && x->dtype == MT_DTYPE_F32)
        return MT_OK;
    char xs[160], want[160] = "[N";
    size_t len = strlen(want);
    for (int d = 1; d < m->input.rank && len < sizeof want; d++)
        len += (size_t)snprintf(want + len, sizeof want - len, ",%lld",
                                (long long)m->input.dim[d]);
    mt_tensor_describe(x, xs, sizeof xs);
    if (!ok)
        return mt_fail(MT_ERR_SHAPE, "sequential: input is %s, expected %s]", xs, want);
    return mt_fail(MT_ERR_DTYPE, "sequential: input %s is %s, expected F32", xs,
                   mt_dtype_name(x->dtype));
}

/* One pass of x's samples (at most pass_rows) through the layers. */
static mt_status run_layers(mt_sequential *m, const mt_tensor *x, const mt_tensor **y)
{
    const mt_tensor *cur = x;
    for (int i = 0; i < m->count; i++) {
        nn_step *step = &m->steps[i];
        if (step->folded)
            continue;
        mt_tensor *out = &step->view;
        mt_status s = MT_OK;
        if (!step->layer->ops->is_view) {
            out = step->buf;
            if (x->shape[0] < out->shape[0]) { // the last, shorter pass
                s = mt_narrow_into(step->buf, 0, 0, x->shape[0], &step->part);
                out = &step->part;
            }
        }
        if (s || (s = step->layer->ops->forward(step->layer, cur, step->fuse_relu, out)))
            return layer_error(s, i, step->layer, ": ");
        cur = out;
    }
    *y = cur;
    return MT_OK;
}

mt_status mt_sequential_forward(mt_sequential *model, const mt_tensor *x,
                                const mt_tensor **y)
{
    if (!model || !x || !y)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential_forward: NULL argument");
    *y = NULL;
    if (model->count == 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "sequential: the model has no layers");
    mt_status s = check_input(model, x);
    if (s || (x->shape[0] != model->planned_n && (s = plan(model, x->shape[0]))))
        return s;
    if (!model->whole)
        return run_layers(model, x, y);
    const int64_t n = x->shape[0];
    for (int64_t r0 = 0; r0 < n; r0 += model->pass_rows) {
        const int64_t rows = n - r0 < model->pass_rows ? n - r0 : model->pass_rows;
        mt_tensor in, dst;
        const mt_tensor *out;
        if ((s = mt_narrow_into(x, 0, r0, rows, &in)) || (s = run_layers(model, &in, &out)) ||
            (s = mt_narrow_into(model->whole, 0, r0, rows, &dst)) ||
            (s = mt_tensor_copy_into(out, &dst)))
            return s;
    }
    *y = model->whole;
    return MT_OK;
}

mt_status mt_sequential_forward_u8(mt_sequential *model, const uint8_t *data,
                                   int64_t n, float scale, float *out,
                                   size_t out_len)
{
    enum { BATCH = 256 };
    const char *op = "sequential_forward_u8";
    if (!model || n < 0 || (n > 0 && (!data || !out)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument or negative count", op);
    if (model->tail.rank != 2)
        return mt_fail(MT_ERR_SHAPE, "%s: the model gives rank-%d outputs, expected "
                       "[batch, features]", op, model->tail.rank);
    int64_t features = model->tail.dim[1];
    if (features > 0 && (uint64_t)n > out_len / (uint64_t)features)
        return mt_fail(MT_ERR_SHAPE, "%s: out holds %zu floats, %lld samples of %lld "
                       "features need more", op, out_len, (long long)n,
                       (long long)features);
    if (n == 0)
        return MT_OK;
    nn_shape in = model->input;
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

void mt_sequential_free(mt_sequential *model)
{
    if (!model)
        return;
    for (int i = 0; i < model->count; i++)
        mt_layer_free(model->steps[i].layer);
    mt_dealloc(model->steps);
    mt_arena_free(model->arena);
    mt_dealloc(model);
}
