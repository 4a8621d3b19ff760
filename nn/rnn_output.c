/* rnn_output.c — where MT_RNN_RETURN_ALL packs a recurrent layer's outputs
 * (rnn_internal.h), and the view layers taking them out of it
 * (mt_rnn_output_new, rnn.h): one run of the layer gives PyTorch's out,
 * h_n and c_n, or Keras' sequences and states, each a view of its row. */
#include <stdio.h>

#include "rnn_internal.h"
#include "minitensor/view.h"

rnn_packing mt_nn_rnn_packing(bool lstm, int layers, int dirs, int64_t width, int64_t hidden,
                              mt_rnn_merge merge, int64_t len)
{
    int64_t ld = (int64_t)layers * dirs;
    bool merged = merge != MT_RNN_MERGE_CONCAT && dirs == 2;
    rnn_packing p = {.h_n = 0, .c_n = ld * width};
    p.merged = p.c_n + (lstm ? ld * hidden : 0);
    p.seq = p.merged + (merged ? width : 0);
    p.step = merged ? width : width * dirs;
    p.size = p.seq + len * p.step;
    return p;
}

/* ---- the view layer -------------------------------------------------------------- */

typedef struct out_state {
    bool lstm;
    int layers, dirs;
    int64_t width, hidden;
    mt_rnn_merge merge;
    mt_rnn_return output;
    mt_rnn_direction dir;
} out_state;

static const char *const output_names[] = {"sequences", "final_state", "last_step",
                                           "cell_state", "h_n", "c_n", "all"};

/* The view's sample shape (rank r, dims dim[1..r-1]) and its first float
 * in the row, for sequences of len steps. One direction's SEQUENCES is
 * every step's first (or second) W floats: the step width is then 2·W. */
static int64_t place(const out_state *st, int64_t len, int *r, int64_t *dim)
{
    rnn_packing p = mt_nn_rnn_packing(st->lstm, st->layers, st->dirs, st->width, st->hidden,
                                      st->merge, len);
    int64_t ld = (int64_t)st->layers * st->dirs, top = ld - st->dirs;   // the last layer's
    int64_t d = st->dir == MT_RNN_DIRECTION_BACKWARD ? 1 : 0;
    bool one = st->dir != MT_RNN_DIRECTION_BOTH;
    *r = 2;
    switch (st->output) {
    case MT_RNN_RETURN_SEQUENCES:
        *r = 3;
        dim[1] = len;
        dim[2] = one ? st->width : p.step;
        return p.seq + d * st->width;
    case MT_RNN_RETURN_LAST_STEP:
        dim[1] = one ? st->width : p.step;
        return p.seq + (len - 1) * p.step + d * st->width;
    case MT_RNN_RETURN_FINAL_STATE:
        if (!one && p.merged != p.seq) {   // the two directions' h merged
            dim[1] = st->width;
            return p.merged;
        }
        dim[1] = one ? st->width : st->width * st->dirs;
        return p.h_n + (top + d) * st->width;
    case MT_RNN_RETURN_CELL_STATE:
        dim[1] = one ? st->hidden : st->hidden * st->dirs;
        return p.c_n + (top + d) * st->hidden;
    case MT_RNN_RETURN_H_N:
    case MT_RNN_RETURN_C_N:
        *r = 3;
        dim[1] = ld;
        dim[2] = st->output == MT_RNN_RETURN_H_N ? st->width : st->hidden;
        return st->output == MT_RNN_RETURN_H_N ? p.h_n : p.c_n;
    case MT_RNN_RETURN_ALL:
        break;
    }
    return 0;   // not reached: the constructor refuses ALL
}

static mt_status out_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)n;
    const out_state *st = l->state;
    rnn_packing p = mt_nn_rnn_packing(st->lstm, st->layers, st->dirs, st->width, st->hidden,
                                      st->merge, 0);
    char got[160];
    bool fits = in->rank == 2 && in->dim[1] > p.size && (in->dim[1] - p.size) % p.step == 0;
    if (!fits || in->dtype != MT_DTYPE_F32)
        return mt_fail(fits ? MT_ERR_DTYPE : MT_ERR_SHAPE, "expects the F32 [N, %lld + L*%lld] "
                       "output of its recurrent layer with MT_RNN_RETURN_ALL (L >= 1 steps), "
                       "%s gives %s %s", (long long)p.size, (long long)p.step, from[0],
                       mt_dtype_name(in->dtype), mt_nn_shape_text(in, got, sizeof got));
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .dim = {in->dim[0]}};
    place(st, (in->dim[1] - p.size) / p.step, &out->rank, out->dim);
    return MT_OK;
}

static mt_status out_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const out_state *st = l->state;
    const mt_tensor *x = in[0];
    rnn_packing p = mt_nn_rnn_packing(st->lstm, st->layers, st->dirs, st->width, st->hidden,
                                      st->merge, 0);
    int r;
    int64_t len = (x->shape[1] - p.size) / p.step, dim[3] = {x->shape[0]};
    int64_t at = place(st, len, &r, dim);
    mt_tensor part, steps;
    mt_status s;
    if (st->output == MT_RNN_RETURN_SEQUENCES && dim[2] != p.step) {   // [N, L, 2·W] narrowed
        if ((s = mt_narrow_into(x, 1, p.seq, len * p.step, &part)) ||
            (s = mt_view_into(&part, 3, (int64_t[]){dim[0], len, p.step}, &steps)))
            return s;
        return mt_narrow_into(&steps, 2, at - p.seq, dim[2], out);
    }
    // the row's floats at..at+count, seen as the sample shape
    s = mt_narrow_into(x, 1, at, r == 3 ? dim[1] * dim[2] : dim[1], &part);
    return s ? s : mt_view_into(&part, r, dim, out);
}

static const mt_layer_vtable out_vtable = {
    .n_inputs = 1,
    .flags = MT_LAYER_FLAG_VIEW,
    .infer = out_infer,
    .forward = out_forward,
};

mt_status mt_rnn_output_new(const mt_layer *rnn, mt_rnn_return output,
                            mt_rnn_direction direction, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "rnn_output: out is NULL");
    *out = NULL;
    if (!rnn || rnn->vt != &mt_nn_rnn_vtable)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "rnn_output: %s is not a recurrent layer "
                       "(mt_lstm_*, mt_gru_*, mt_rnn_new or _load)",
                       rnn ? rnn->name : "the layer (NULL)");
    const rnn_state *r = rnn->state;
    const char *why = NULL;
    if (r->output != MT_RNN_RETURN_ALL)
        why = "the layer's output is not MT_RNN_RETURN_ALL (load it with .output = "
              "MT_RNN_RETURN_ALL)";
    else if ((unsigned)output >= MT_RNN_RETURN_ALL)
        why = "the output is not one of SEQUENCES, FINAL_STATE, LAST_STEP, CELL_STATE, H_N "
              "and C_N";
    else if ((unsigned)direction > MT_RNN_DIRECTION_BACKWARD)
        why = "the direction is not BOTH, FORWARD or BACKWARD";
    else if (direction != MT_RNN_DIRECTION_BOTH &&
             (output == MT_RNN_RETURN_H_N || output == MT_RNN_RETURN_C_N))
        why = "H_N and C_N hold both directions (BOTH)";
    else if (direction != MT_RNN_DIRECTION_BOTH && r->merge != MT_RNN_MERGE_CONCAT &&
             (output == MT_RNN_RETURN_SEQUENCES || output == MT_RNN_RETURN_LAST_STEP))
        why = "the layer merges its directions' outputs (a merge other than CONCAT)";
    else if (direction == MT_RNN_DIRECTION_BACKWARD && r->dirs == 1)
        why = "BACKWARD of a layer with one direction";
    else if ((output == MT_RNN_RETURN_CELL_STATE || output == MT_RNN_RETURN_C_N) &&
             r->cell != MT_NN_RNN_CELL_LSTM)
        why = "only an LSTM has a cell state";
    if (why)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "rnn_output: output %s (%d), direction %d "
                       "of %s: %s", (unsigned)output <= MT_RNN_RETURN_ALL
                                        ? output_names[output] : "(unknown)",
                       (int)output, (int)direction, rnn->name, why);
    char name[sizeof rnn->name + 32];   // cut to MT_NAME_MAX by the layer
    snprintf(name, sizeof name, "%s %s%s", rnn->name, output_names[output],
             direction == MT_RNN_DIRECTION_FORWARD    ? " forward"
             : direction == MT_RNN_DIRECTION_BACKWARD ? " backward" : "");
    mt_layer *l = mt_nn_layer_alloc("rnn_output", &out_vtable, MT_LAYER_RNN_OUTPUT, name,
                                    sizeof(out_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    *(out_state *)l->state = (out_state){
        .lstm = r->cell == MT_NN_RNN_CELL_LSTM, .layers = r->layers, .dirs = r->dirs,
        .width = r->width, .hidden = r->hidden, .merge = r->merge, .output = output,
        .dir = direction};
    *out = l;
    return MT_OK;
}
