/* rnn_build.c — LSTM, GRU and RNN layers from weight sets (rnn.h's
 * constructors, and the loaders' common end): options and shapes checked,
 * the weights packed as (in, out) matrices in PyTorch's gate order with
 * the biases summed where the math allows. */
#include <stdio.h>

#include "rnn_internal.h"

static const char *const cell_names[] = {"lstm", "gru", "rnn"};
static const int64_t cell_gates[] = {4, 3, 1};
static const mt_layer_kind cell_kinds[] = {MT_LAYER_LSTM, MT_LAYER_GRU, MT_LAYER_RNN};

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
         o->output != MT_RNN_RETURN_H_N && o->output != MT_RNN_RETURN_C_N))
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
                                                      "(leave act 0)");
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

/* Every weight set's shapes; the sizes F and H into *in, *hid (the
 * options' when given, so that the messages expect those). */
static mt_status check_weights(const char *name, mt_nn_rnn_cell cell, int n,
                               const mt_rnn_weights *w, bool keras, const mt_rnn_options *o,
                               int dirs, int64_t *in, int64_t *hid)
{
    static const char *const roles[2][4] = {{"w_ih", "w_hh", "b_ih", "b_hh"},
                                            {"kernel", "recurrent_kernel", "bias",
                                             "recurrent bias"}};
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
        const mt_tensor *const set[4] = {w[i].w_ih, w[i].w_hh, w[i].b_ih, w[i].b_hh};
        for (int k = 0; k < 4; k++) {
            const mt_tensor *t = set[k];
            // mt_tensor_to_f32 would take integers and BOOL by value: refuse them
            if (t && t->dtype != MT_DTYPE_F32 && t->dtype != MT_DTYPE_F16 &&
                t->dtype != MT_DTYPE_BF16 && t->dtype != MT_DTYPE_F64)
                return mt_fail(MT_ERR_DTYPE, "%s: %s %s is %s, expected a float dtype (F32, "
                               "F16, BF16 or F64)", name, role[k],
                               mt_tensor_describe(t, ts, sizeof ts), mt_dtype_name(t->dtype));
        }
    }
    *hid = o->hidden_size ? o->hidden_size : w[0].w_hh->shape[keras ? 0 : 1];
    *in = o->input_size ? o->input_size : w[0].w_ih->shape[keras ? 0 : 1];
    if (*hid < 1 || *in < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: %s %s and %s %s give input %lld and hidden %lld "
                       "(%s): both must be >= 1", name, role[0],
                       mt_tensor_describe(w[0].w_ih, ts, sizeof ts), role[1],
                       mt_tensor_describe(w[0].w_hh, what, sizeof what), (long long)*in,
                       (long long)*hid, mat);
    for (int i = 0; i < n; i++) {
        int64_t rows = i / dirs ? *hid * dirs : *in, gh = g * *hid;
        snprintf(what, sizeof what, "%s with %lld gates, input %lld, hidden %lld; layer %d%s",
                 mat, (long long)g, (long long)rows, (long long)*hid, i / dirs,
                 i % dirs ? " reverse" : "");
        mt_status s;
        // w_hh first: it defines H, so a wrong one is named rather than w_ih
        if ((s = check_shape(name, role[1], w[i].w_hh, keras ? *hid : gh, keras ? gh : *hid,
                             what)) ||
            (s = check_shape(name, role[0], w[i].w_ih, keras ? rows : gh, keras ? gh : rows,
                             what)) ||
            (w[i].b_ih && (s = check_shape(name, role[2], w[i].b_ih, gh, -1, what))) ||
            (w[i].b_hh && (s = check_shape(name, role[3], w[i].b_hh, gh, -1, what))))
            return s;
    }
    return MT_OK;
}

mt_status mt_nn_rnn_build(mt_nn_rnn_cell cell, const char *name, int n, const mt_rnn_weights *w,
                          bool keras, const mt_rnn_options *options, mt_layer **out)
{
    *out = NULL;
    mt_rnn_options o = options ? *options : (mt_rnn_options){0};
    int layers = o.num_layers ? o.num_layers : 1, dirs = o.bidirectional ? 2 : 1;
    int64_t in = 0, hid = 0, g = cell_gates[cell];
    mt_status s = check_options(name, cell, n, &o, layers, dirs);
    if (!s && !w)
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: weights is NULL", name);
    if (s || (s = check_weights(name, cell, n, w, keras, &o, dirs, &in, &hid)))
        return s;
    mt_layer *l = mt_nn_layer_alloc(cell_names[cell], &mt_nn_rnn_vtable, cell_kinds[cell], name,
                                    sizeof(rnn_state) + (size_t)n * sizeof(rnn_cell));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    rnn_state *st = l->state;
    *st = (rnn_state){.cell = cell, .gates = g, .in = in, .hidden = hid, .layers = layers,
                      .dirs = dirs, .output = o.output,
                      .relu = o.act == MT_ACTIVATION_RELU, .reset_before = o.reset_before,
                      .mask = o.mask, .mask_repeat = o.mask_repeat};
    bool split = cell == MT_NN_RNN_CELL_GRU && !o.reset_before;   // b_hn stays apart
    bool bias = false;
    for (int i = 0; !s && i < n; i++) {
        rnn_cell *c = &st->c[i];
        bias = bias || w[i].b_ih || w[i].b_hh;
        if ((s = pack_matrix(w[i].w_ih, keras, cell, g, hid, i / dirs ? hid * dirs : in,
                             &c->wx)) ||
            (s = pack_matrix(w[i].w_hh, keras, cell, g, hid, hid, &c->wh)) ||
            (s = mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){g * hid}, &c->bx)) ||
            (split && (s = mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){hid}, &c->bhn))) ||
            (s = add_bias(w[i].b_ih, keras, cell, hid, 0, g, c->bx->data)) ||
            (s = add_bias(w[i].b_hh, keras, cell, hid, 0, split ? 2 : g, c->bx->data)) ||
            (split && (s = add_bias(w[i].b_hh, keras, cell, hid, 2, 3, c->bhn->data))))
            break;
    }
    if (s) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = in;
    l->info.out_features = hid * dirs;
    l->info.has_bias = bias;
    l->info.act = cell == MT_NN_RNN_CELL_ELMAN && o.act == MT_ACTIVATION_RELU
                      ? MT_ACTIVATION_RELU : MT_ACTIVATION_TANH;
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
