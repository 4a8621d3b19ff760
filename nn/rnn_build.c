/* rnn_build.c — LSTM, GRU and RNN layers from weight sets (rnn.h's
 * constructors, and the loaders' common end): options and shapes checked,
 * the weights packed as (in, out) matrices in PyTorch's gate order with
 * the biases summed where the math allows. */
#include <stdio.h>

#include "rnn_internal.h"

static const char *const cell_names[] = {"lstm", "gru", "rnn"};
static const int64_t cell_gates[] = {4, 3, 1};
static const mt_layer_kind cell_kinds[] = {MT_LAYER_LSTM, MT_LAYER_GRU, MT_LAYER_RNN};
static const char *const merge_names[] = {"concat", "sum", "mul", "ave", "none"};

/* The source gate of packed gate g: Keras' GRU is z, r, h. */
static int64_t src_gate(bool keras, mt_nn_rnn_cell cell, int64_t g)
{
    return keras && cell == MT_NN_RNN_CELL_GRU && g < 2 ? 1 - g : g;
}

/* *dst [rows, G·H] from m: PyTorch [G·H, rows] or Keras [rows, G·H]. */
static mt_status pack_matrix(const mt_tensor *m, bool keras, mt_nn_rnn_cell cell,
                             int64_t gates, int64_t hid, int64_t rows, mt_tensor **dst)
{
    mt_tensor *f;
    int64_t gh = gates * hid;
    mt_status s = mt_nn_hold(m, true, &f);
    if (s)
        return s;
    if (!(s = mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){rows, gh}, dst))) {
        const float *a = f->data;
        float *o = (*dst)->data;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t g = 0; g < gates; g++) {
                int64_t sg = src_gate(keras, cell, g);
                for (int64_t j = 0; j < hid; j++)
                    o[r * gh + g * hid + j] = keras ? a[r * gh + sg * hid + j]
                                                    : a[(sg * hid + j) * rows + r];
            }
    }
    mt_tensor_free(f);
    return s;
}

/* o[g·H + j - g0·H] += b's gate g, for packed gates g0 <= g < g1. */
static mt_status add_bias(const mt_tensor *b, bool keras, mt_nn_rnn_cell cell, int64_t hid,
                          int64_t g0, int64_t g1, float *o)
{
    if (!b)
        return MT_OK;
    mt_tensor *f;
    mt_status s = mt_nn_hold(b, true, &f);
    if (s)
        return s;
    const float *a = f->data;
    for (int64_t g = g0; g < g1; g++)
        for (int64_t j = 0; j < hid; j++)
            o[(g - g0) * hid + j] += a[src_gate(keras, cell, g) * hid + j];
    mt_tensor_free(f);
    return MT_OK;
}

/* t is [d0, d1] (d1 < 0: 1-D [d0]); else an error naming it. */
static mt_status check_shape(const char *name, const char *role, const mt_tensor *t,
                             int64_t d0, int64_t d1, const char *what)
{
    char ts[160];
    if (t->rank == (d1 < 0 ? 1 : 2) && t->shape[0] == d0 && (d1 < 0 || t->shape[1] == d1))
        return MT_OK;
    if (d1 < 0)
        return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected [%lld] (%s)", name, role,
                       mt_tensor_describe(t, ts, sizeof ts), (long long)d0, what);
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected [%lld,%lld] (%s)", name, role,
                   mt_tensor_describe(t, ts, sizeof ts), (long long)d0, (long long)d1, what);
}

/* The options' values in range for `cell`, n = layers·dirs. */
static mt_status check_options(const char *name, mt_nn_rnn_cell cell, int n,
                               const mt_rnn_options *o, int layers, int dirs)
{
    const int64_t most = (int64_t)1 << 40;   // keeps gates·H·D and the scratch countable
    if (o->num_layers < 0 || o->input_size < 0 || o->hidden_size < 0 ||
        o->input_size > most || o->hidden_size > most || o->num_layers > 4096 ||
        (o->output != MT_RNN_RETURN_SEQUENCES && o->output != MT_RNN_RETURN_FINAL_STATE &&
         o->output != MT_RNN_RETURN_LAST_STEP && o->output != MT_RNN_RETURN_CELL_STATE &&
         o->output != MT_RNN_RETURN_H_N && o->output != MT_RNN_RETURN_C_N &&
         o->output != MT_RNN_RETURN_ALL))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: options out of range (num_layers %d, "
                       "input_size %lld, hidden_size %lld: >= 0 and not huge; output %d)", name,
                       o->num_layers, (long long)o->input_size, (long long)o->hidden_size,
                       (int)o->output);
    if (cell == MT_NN_RNN_CELL_ELMAN ? o->act != MT_ACTIVATION_NONE &&
                                           o->act != MT_ACTIVATION_TANH &&
                                           o->act != MT_ACTIVATION_RELU
                                     : o->act != MT_ACTIVATION_NONE)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: activation %s: %s", name,
                       mt_activation_name(o->act) ? mt_activation_name(o->act) : "(unknown)",
                       cell == MT_NN_RNN_CELL_ELMAN ? "an RNN takes tanh or relu"
                                                    : "LSTM and GRU use tanh and sigmoid "
                                                      "(leave act 0; .activation and "
                                                      ".recurrent_activation choose others)");
    if ((unsigned)o->activation > MT_RNN_ACTIVATION_LINEAR ||
        (unsigned)o->recurrent_activation > MT_RNN_ACTIVATION_LINEAR)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: activation %d, recurrent_activation %d: "
                       "not an mt_rnn_activation", name, (int)o->activation,
                       (int)o->recurrent_activation);
    if (o->act != MT_ACTIVATION_NONE && o->activation != MT_RNN_ACTIVATION_DEFAULT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: both act and activation are set: set "
                       "one", name);
    if (cell == MT_NN_RNN_CELL_ELMAN && o->recurrent_activation != MT_RNN_ACTIVATION_DEFAULT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: recurrent_activation: an RNN has no "
                       "gates (its activation is .activation)", name);
    if ((unsigned)o->merge > MT_RNN_MERGE_NONE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: merge %d is not an mt_rnn_merge", name,
                       (int)o->merge);
    if (o->merge == MT_RNN_MERGE_NONE)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: merge NONE (Keras' merge_mode=None) gives two "
                       "outputs and a layer has one: load with MT_RNN_MERGE_CONCAT and split "
                       "its last dim with mt_narrow_new(-1, 0, H) and mt_narrow_new(-1, H, H) "
                       "(or, with MT_RNN_RETURN_ALL, take SEQUENCES with mt_rnn_output_new's "
                       "MT_RNN_DIRECTION_FORWARD and _BACKWARD)", name);
    if (o->merge != MT_RNN_MERGE_CONCAT && dirs == 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: merge mode %s needs two directions (a "
                       "bidirectional layer)", name, merge_names[o->merge]);
    if (o->merge != MT_RNN_MERGE_CONCAT &&
        (o->output == MT_RNN_RETURN_CELL_STATE || o->output == MT_RNN_RETURN_H_N ||
         o->output == MT_RNN_RETURN_C_N))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: merge mode %s with a state output (%s): "
                       "Keras returns a Bidirectional's states apart, never merged; load the "
                       "states with MT_RNN_MERGE_CONCAT, or take them from MT_RNN_RETURN_ALL",
                       name, merge_names[o->merge], o->output == MT_RNN_RETURN_CELL_STATE ? "CELL_STATE"
                       : o->output == MT_RNN_RETURN_H_N      ? "H_N" : "C_N");
    if (o->go_backwards && dirs == 2)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: go_backwards with two directions: Keras "
                       "refuses a Bidirectional around a go_backwards layer (a backward_layer= "
                       "reading forwards is not supported)", name);
    if ((o->output == MT_RNN_RETURN_CELL_STATE || o->output == MT_RNN_RETURN_C_N) &&
        cell != MT_NN_RNN_CELL_LSTM)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s: only an LSTM has a cell state", name,
                       o->output == MT_RNN_RETURN_C_N ? "MT_RNN_RETURN_C_N"
                                                      : "MT_RNN_RETURN_CELL_STATE");
    if (o->reset_before && cell != MT_NN_RNN_CELL_GRU)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: reset_before is a GRU option", name);
    if (o->mask != MT_MASK_MODE_NONE && o->mask != MT_MASK_MODE_KEEP &&
        o->mask != MT_MASK_MODE_IGNORE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: mask mode %d is not NONE, KEEP or IGNORE",
                       name, (int)o->mask);
    if (o->mask_repeat && o->mask == MT_MASK_MODE_NONE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: mask_repeat without a mask (mask is "
                       "MT_MASK_MODE_NONE)", name);
    if (n != layers * dirs)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d weight sets, expected num_layers %d "
                       "x %d direction%s = %d", name, n, layers, dirs, dirs > 1 ? "s" : "",
                       layers * dirs);
    return MT_OK;
}

/* Every weight set's shapes; the sizes F, H and h's width (P with
 * proj_size, else H) into *in, *hid, *width (the options' when given, so
 * that the messages expect those). */
static mt_status check_weights(const char *name, mt_nn_rnn_cell cell, int n,
                               const mt_rnn_weights *w, bool keras, const mt_rnn_options *o,
                               int dirs, int64_t *in, int64_t *hid, int64_t *width)
{
    static const char *const roles[2][5] = {{"w_ih", "w_hh", "b_ih", "b_hh", "w_hr"},
                                            {"kernel", "recurrent_kernel", "bias",
                                             "recurrent bias", "projection"}};
    const char *const *role = roles[keras];
    int64_t g = cell_gates[cell];
    const char *mat = keras ? "Keras (input or units, gates*units)"
                            : "PyTorch (gates*hidden, input or hidden)";
    char ts[160], what[200];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const mt_tensor *t = k ? w[i].w_hh : w[i].w_ih;
            if (!t)
                return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: weight set %d: %s is NULL", name,
                               i, role[k]);
            if (t->rank != 2)
                return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected 2 dims: %s", name, role[k],
                               mt_tensor_describe(t, ts, sizeof ts), mat);
        }
    for (int i = 0; i < n; i++) {
        const mt_tensor *const set[5] = {w[i].w_ih, w[i].w_hh, w[i].b_ih, w[i].b_hh,
                                         w[i].w_hr};
        for (int k = 0; k < 5; k++) {
            const mt_tensor *t = set[k];
            // mt_tensor_to_f32 would take integers and BOOL by value: refuse them
            if (t && t->dtype != MT_DTYPE_F32 && t->dtype != MT_DTYPE_F16 &&
                t->dtype != MT_DTYPE_BF16 && t->dtype != MT_DTYPE_F64)
                return mt_fail(MT_ERR_DTYPE, "%s: %s %s is %s, expected a float dtype (F32, "
                               "F16, BF16 or F64)", name, role[k],
                               mt_tensor_describe(t, ts, sizeof ts), mt_dtype_name(t->dtype));
        }
        // proj_size: an LSTM's, PyTorch's, in every set or none
        if (w[i].w_hr && (cell != MT_NN_RNN_CELL_LSTM || keras))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s %s: only a PyTorch LSTM has a "
                           "projection (proj_size)", name, role[4],
                           mt_tensor_describe(w[i].w_hr, ts, sizeof ts));
        if (!w[i].w_hr != !w[0].w_hr)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: weight set %d %s w_hr and set 0 %s: "
                           "proj_size is every layer's and direction's or none's", name, i,
                           w[i].w_hr ? "has" : "has no", w[0].w_hr ? "has" : "has none");
        if (w[i].w_hr && w[i].w_hr->rank != 2)
            return mt_fail(MT_ERR_SHAPE, "%s: w_hr %s, expected 2 dims: PyTorch (proj_size, "
                           "hidden)", name, mt_tensor_describe(w[i].w_hr, ts, sizeof ts));
    }
    const mt_tensor *hr = w[0].w_hr;   // with it, H is w_hr's (w_hh is [G·H, P])
    *hid = o->hidden_size ? o->hidden_size
           : hr           ? hr->shape[1] : w[0].w_hh->shape[keras ? 0 : 1];
    *width = hr ? hr->shape[0] : *hid;
    *in = o->input_size ? o->input_size : w[0].w_ih->shape[keras ? 0 : 1];
    // a broadcast view (stride 0) may claim any size: gates·H must stay countable
    const int64_t most = (int64_t)1 << 40;
    if (*hid > most || *in > most || *width > most)
        return mt_fail(MT_ERR_SHAPE, "%s: %s %s and %s %s give input %lld and hidden %lld "
                       "(%s): more than 2^40", name, role[0],
                       mt_tensor_describe(w[0].w_ih, ts, sizeof ts), role[hr ? 4 : 1],
                       mt_tensor_describe(hr ? hr : w[0].w_hh, what, sizeof what),
                       (long long)*in, (long long)(hr ? *width : *hid), mat);
    if (*hid < 1 || *in < 1 || *width < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: %s %s and %s %s give input %lld and hidden %lld "
                       "(%s): both must be >= 1", name, role[0],
                       mt_tensor_describe(w[0].w_ih, ts, sizeof ts), role[hr ? 4 : 1],
                       mt_tensor_describe(hr ? hr : w[0].w_hh, what, sizeof what),
                       (long long)*in, (long long)(hr ? *width : *hid), mat);
    for (int i = 0; i < n; i++) {
        int64_t rows = i / dirs ? *width * dirs : *in, gh = g * *hid;
        int np = snprintf(what, sizeof what, "%s with %lld gates, input %lld, hidden %lld",
                          mat, (long long)g, (long long)rows, (long long)*hid);
        if (hr && np > 0 && (size_t)np < sizeof what)
            np += snprintf(what + np, sizeof what - (size_t)np, ", proj_size %lld",
                           (long long)*width);
        if (np > 0 && (size_t)np < sizeof what)
            snprintf(what + np, sizeof what - (size_t)np, "; layer %d%s", i / dirs,
                     i % dirs ? " reverse" : "");
        mt_status s;
        // w_hr, then w_hh first: they define H, so a wrong one is named rather than w_ih
        if ((hr && (s = check_shape(name, role[4], w[i].w_hr, *width, *hid, what))) ||
            (s = check_shape(name, role[1], w[i].w_hh, keras ? *width : gh,
                             keras ? gh : *width, what)) ||
            (s = check_shape(name, role[0], w[i].w_ih, keras ? rows : gh, keras ? gh : rows,
                             what)) ||
            (w[i].b_ih && (s = check_shape(name, role[2], w[i].b_ih, gh, -1, what))) ||
            (w[i].b_hh && (s = check_shape(name, role[3], w[i].b_hh, gh, -1, what))))
            return s;
    }
    return MT_OK;
}

/* The cell's activations resolved from the options (DEFAULT: tanh and
 * sigmoid; an RNN's .act RELU is relu). */
static void resolve_activations(mt_nn_rnn_cell cell, const mt_rnn_options *o, rnn_state *st)
{
    st->act = o->activation != MT_RNN_ACTIVATION_DEFAULT ? o->activation
              : o->act == MT_ACTIVATION_RELU            ? MT_RNN_ACTIVATION_RELU
                                                        : MT_RNN_ACTIVATION_TANH;
    st->rec_act = o->recurrent_activation != MT_RNN_ACTIVATION_DEFAULT
                      ? o->recurrent_activation : MT_RNN_ACTIVATION_SIGMOID;
    st->relu = st->act == MT_RNN_ACTIVATION_RELU;
    st->plain = cell == MT_NN_RNN_CELL_ELMAN
                    ? st->act == MT_RNN_ACTIVATION_TANH || st->relu
                    : st->act == MT_RNN_ACTIVATION_TANH &&
                          st->rec_act == MT_RNN_ACTIVATION_SIGMOID;
}

mt_status mt_nn_rnn_build(mt_nn_rnn_cell cell, const char *name, int n, const mt_rnn_weights *w,
                          bool keras, const mt_rnn_options *options, mt_layer **out)
{
    *out = NULL;
    mt_rnn_options o = options ? *options : (mt_rnn_options){0};
    int layers = o.num_layers ? o.num_layers : 1, dirs = o.bidirectional ? 2 : 1;
    int64_t in = 0, hid = 0, width = 0, g = cell_gates[cell];
    mt_status s = check_options(name, cell, n, &o, layers, dirs);
    if (!s && !w)
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: weights is NULL", name);
    if (s || (s = check_weights(name, cell, n, w, keras, &o, dirs, &in, &hid, &width)))
        return s;
    mt_layer *l = mt_nn_layer_alloc(cell_names[cell], &mt_nn_rnn_vtable, cell_kinds[cell], name,
                                    sizeof(rnn_state) + (size_t)n * sizeof(rnn_cell));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    rnn_state *st = l->state;
    *st = (rnn_state){.cell = cell, .gates = g, .in = in, .hidden = hid, .width = width,
                      .layers = layers, .dirs = dirs, .output = o.output,
                      .reset_before = o.reset_before, .mask = o.mask,
                      .mask_repeat = o.mask_repeat, .merge = o.merge,
                      .go_backwards = o.go_backwards};
    resolve_activations(cell, &o, st);
    bool split = cell == MT_NN_RNN_CELL_GRU && !o.reset_before;   // b_hn stays apart
    bool bias = false;
    for (int i = 0; !s && i < n; i++) {
        rnn_cell *c = &st->c[i];
        bias = bias || w[i].b_ih || w[i].b_hh;
        if ((s = pack_matrix(w[i].w_ih, keras, cell, g, hid, i / dirs ? width * dirs : in,
                             &c->wx)) ||
            (s = pack_matrix(w[i].w_hh, keras, cell, g, hid, width, &c->wh)) ||
            // w_hr [P, H] as [H, P]: one "gate" P wide over H rows
            (w[i].w_hr && (s = pack_matrix(w[i].w_hr, false, cell, 1, width, hid, &c->wr))) ||
            (s = mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){g * hid}, &c->bx)) ||
            (split && (s = mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){hid}, &c->bhn))) ||
            (s = add_bias(w[i].b_ih, keras, cell, hid, 0, g, c->bx->data)) ||
            (s = add_bias(w[i].b_hh, keras, cell, hid, 0, split ? 2 : g, c->bx->data)) ||
            (split && (s = add_bias(w[i].b_hh, keras, cell, hid, 2, 3, c->bhn->data))))
            break;
        c->wh_finite = mt_tensor_check_finite(c->wh) == MT_OK;
        mt_clear_error();
    }
    if (s) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = in;
    l->info.out_features = o.merge == MT_RNN_MERGE_CONCAT ? width * dirs : width;
    l->info.has_bias = bias;
    l->info.act = st->act == MT_RNN_ACTIVATION_RELU      ? MT_ACTIVATION_RELU
                  : st->act == MT_RNN_ACTIVATION_SIGMOID ? MT_ACTIVATION_SIGMOID
                  : st->act == MT_RNN_ACTIVATION_TANH    ? MT_ACTIVATION_TANH
                                                         : MT_ACTIVATION_NONE;
    *out = l;
    return MT_OK;
}

static mt_status create(mt_nn_rnn_cell cell, int n, const mt_rnn_weights *w,
                        const mt_rnn_options *o, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_new: out is NULL", cell_names[cell]);
    *out = NULL;
    if (!w || n < 1 || !w[0].w_ih)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_new: %s", cell_names[cell],
                       !w ? "weights is NULL" : n < 1 ? "no weight sets (n < 1)"
                                                      : "weights[0].w_ih is NULL");
    char name[MT_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s%s%s", cell_names[cell], w[0].w_ih->name[0] ? " " : "",
             w[0].w_ih->name);
    return mt_nn_rnn_build(cell, name, n, w, false, o, out);
}

mt_status mt_lstm_new(int n, const mt_rnn_weights *weights, const mt_rnn_options *options,
                      mt_layer **out)
{
    return create(MT_NN_RNN_CELL_LSTM, n, weights, options, out);
}

mt_status mt_gru_new(int n, const mt_rnn_weights *weights, const mt_rnn_options *options,
                     mt_layer **out)
{
    return create(MT_NN_RNN_CELL_GRU, n, weights, options, out);
}

mt_status mt_rnn_new(int n, const mt_rnn_weights *weights, const mt_rnn_options *options,
                     mt_layer **out)
{
    return create(MT_NN_RNN_CELL_ELMAN, n, weights, options, out);
}
