/* rnn_load.c — LSTM, GRU and RNN layers by the names PyTorch's state_dict
 * ("rnn.weight_ih_l0", "rnn.bias_hh_l1_reverse"; a cell's "cell.weight_ih")
 * and Keras write ("lstm/lstm_cell/kernel", "bi/forward_gru/gru_cell/bias"),
 * each tensor read as the other state_dict loaders read theirs
 * (state_dict_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnn_internal.h"
#include "state_dict_internal.h"
#include "minitensor/view.h"

enum { MAX_LAYERS = 64 };

static const char *const kinds[] = {"lstm", "gru", "rnn"};
static const char *const keras_cells[] = {"lstm_cell", "gru_cell", "simple_rnn_cell"};

/* A weight set's tensors: w_ih, w_hh, b_ih, b_hh, w_hr. */
enum { SET = 5 };

static void free_sets(int n, mt_tensor *(*t)[SET])
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < SET; k++)
            mt_tensor_free(t[i][k]);
}

static mt_status build(mt_nn_rnn_cell cell, const mt_nn_loader *ld, int n, mt_tensor *(*t)[SET],
                       const mt_rnn_options *o, mt_layer **out)
{
    mt_rnn_weights w[2 * MAX_LAYERS];
    for (int i = 0; i < n; i++)
        w[i] = (mt_rnn_weights){t[i][0], t[i][1], t[i][2], t[i][3], t[i][4]};
    return mt_nn_rnn_build(cell, ld->layer, n, w, ld->keras, o, out);
}

/* ---- PyTorch ------------------------------------------------------------------- */

/* PyTorch's name of tensor `what` of layer k (reverse: the backward
 * direction's); k < 0: an nn.LSTMCell's / GRUCell's / RNNCell's, which
 * have no layer suffix. */
static void pt_key(char key[MT_NN_KEY_MAX], const char *prefix, const char *what, int k, bool rev)
{
    if (k < 0)
        snprintf(key, MT_NN_KEY_MAX, "%s%s%s", prefix, prefix[0] ? "." : "", what);
    else
        snprintf(key, MT_NN_KEY_MAX, "%s%s%s_l%d%s", prefix, prefix[0] ? "." : "", what, k,
                 rev ? "_reverse" : "");
}

/* A PyTorch tensor of p the layers found do not cover: one of layer k >=
 * layers (l0 and l2 without l1; l1 without weight_ih_l1; past the most
 * layers the loader takes) or, for one direction, a _reverse one. Loading
 * without it would silently drop it. */
static mt_status pt_stray(const mt_nn_loader *ld, const char *prefix, int layers, int dirs)
{
    static const char *const names[SET] = {"weight_ih_l", "weight_hh_l", "bias_ih_l",
                                           "bias_hh_l", "weight_hr_l"};
    size_t plen = strlen(prefix), pn = plen + (plen ? 1 : 0);   // "p." ("" without a prefix)
    size_t count = mt_safetensors_count(ld->sd->file);
    for (size_t i = 0; i < count; i++) {
        mt_safetensors_entry e;
        if (mt_safetensors_info(ld->sd->file, i, &e) || e.name_len <= pn ||
            memcmp(e.name, prefix, plen) || (plen && e.name[plen] != '.'))
            continue;
        const char *rest = e.name + pn, *end = e.name + e.name_len;
        for (int k = 0; k < SET; k++) {
            size_t kn = strlen(names[k]);
            if ((size_t)(end - rest) <= kn || memcmp(rest, names[k], kn))
                continue;
            const char *d = rest + kn;
            long layer = 0;
            for (; d < end && *d >= '0' && *d <= '9' && layer < 100000; d++)
                layer = layer * 10 + (*d - '0');
            bool rev = end - d == 8 && !memcmp(d, "_reverse", 8);
            if (d == rest + kn || (d != end && !rev) || (layer < layers && (!rev || dirs == 2)))
                continue;
            if (layers == MAX_LAYERS && layer >= MAX_LAYERS)   // not a gap: too many
                return mt_fail(MT_ERR_UNSUPPORTED, "%s: %.*s found: more than %d layers are "
                               "not supported", ld->layer, (int)e.name_len, e.name, MAX_LAYERS);
            char key[MT_NN_KEY_MAX];
            pt_key(key, prefix, "weight_ih", layer < layers ? 0 : layers, layer < layers);
            return mt_fail(MT_ERR_NOT_FOUND, "%s: no tensor %s, but %.*s is there (a layer "
                           "missing between the others?)", ld->layer, key, (int)e.name_len,
                           e.name);
        }
    }
    return MT_OK;
}

static mt_status load_pytorch(mt_nn_rnn_cell cell, const mt_nn_loader *ld, const char *prefix,
                              const mt_rnn_options *o, mt_layer **out)
{
    char key[MT_NN_KEY_MAX], other[MT_NN_KEY_MAX];
    if (o->reset_before && cell == MT_NN_RNN_CELL_GRU)   // Keras' other GRU
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: reset_before is Keras' "
                       "reset_after=False; a PyTorch GRU resets after U_n h (leave it false)",
                       ld->layer);
    pt_key(key, prefix, "weight_hr", 0, false);
    if (cell != MT_NN_RNN_CELL_LSTM && mt_nn_load_exists(ld, key))
        return mt_fail(MT_ERR_FORMAT, "%s: %s found: a projection (proj_size) is an LSTM's, "
                       "this is not a GRU's or RNN's state dict", ld->layer, key);
    int layers = 0;
    for (; layers < MAX_LAYERS; layers++) {
        pt_key(key, prefix, "weight_ih", layers, false);
        if (!mt_nn_load_exists(ld, key))
            break;
    }
    if (o->num_layers > MAX_LAYERS)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: num_layers %d, at most %d", ld->layer,
                       o->num_layers, MAX_LAYERS);
    pt_key(key, prefix, "weight_ih", -1, false);
    bool single = layers == 0 && mt_nn_load_exists(ld, key);   // a cell: one layer, one direction
    if (single && (o->num_layers > 1 || o->bidirectional))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is a cell's (nn.LSTMCell, "
                       "nn.GRUCell, nn.RNNCell): one layer, one direction", ld->layer, key);
    if (single)
        layers = 1;
    if (o->num_layers > 0 && o->num_layers < layers)
        return mt_fail(MT_ERR_SHAPE, "%s: the file holds %d layers (%s_l0 … l%d), "
                       "num_layers is %d", ld->layer, layers, "weight_ih", layers - 1,
                       o->num_layers);
    if (o->num_layers > layers || layers == 0) {   // names the first missing tensor
        mt_tensor *t;
        pt_key(key, prefix, "weight_ih", layers, false);
        return mt_nn_load_key(ld, key, true, &t);
    }
    pt_key(key, prefix, "weight_ih", 0, true);
    int dirs = o->bidirectional || (!single && mt_nn_load_exists(ld, key)) ? 2 : 1;
    int n = layers * dirs;
    mt_status s = single ? MT_OK : pt_stray(ld, prefix, layers, dirs);
    if (s)
        return s;
    mt_tensor *(*t)[SET] = calloc((size_t)n, sizeof *t);
    if (!t)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate %d weight sets", ld->layer, n);
    static const char *const names[SET] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                           "weight_hr"};
    for (int i = 0; !s && i < n; i++) {
        // weight_hr (proj_size) in every set if in the first (mt_nn_rnn_build checks
        // the rest): a missing one is named
        for (int k = 0; !s && k < SET; k++) {
            pt_key(key, prefix, names[k], single ? -1 : i / dirs, i % dirs);
            s = mt_nn_load_key(ld, key, k < 2 || (k == 4 && i > 0 && t[0][4]), &t[i][k]);
        }
        if (!s && !t[i][2] != !t[i][3]) {   // PyTorch writes both or neither
            pt_key(key, prefix, names[t[i][2] ? 3 : 2], single ? -1 : i / dirs, i % dirs);
            pt_key(other, prefix, names[t[i][2] ? 2 : 3], single ? -1 : i / dirs, i % dirs);
            s = mt_fail(MT_ERR_NOT_FOUND, "%s: no tensor %s, but %s is there (PyTorch "
                        "writes both biases or neither)", ld->layer, key, other);
        }
    }
    if (!s) {
        mt_rnn_options po = *o;
        po.num_layers = layers;
        po.bidirectional = dirs == 2;
        s = build(cell, ld, n, t, &po, out);
    }
    free_sets(n, t);
    free(t);
    return s;
}

/* ---- Keras --------------------------------------------------------------------- */

/* The path of one direction's variables under p into base: p/<cell> if
 * p/<cell>/kernel is in the file, else p if p/kernel is; false if neither. */
static bool keras_base(const mt_nn_loader *ld, mt_nn_rnn_cell cell, const char *p,
                       char base[MT_NN_KEY_MAX])
{
    char key[MT_NN_KEY_MAX];
    for (int i = 0; i < 2; i++) {
        int nb = snprintf(base, MT_NN_KEY_MAX, "%s%s%s", p, i ? "" : "/",
                          i ? "" : keras_cells[cell]);
        int nk = snprintf(key, MT_NN_KEY_MAX, "%s/kernel", base);
        if (nb < MT_NN_KEY_MAX && nk < MT_NN_KEY_MAX && mt_nn_load_exists(ld, key))
            return true;
    }
    return false;
}

/* A Bidirectional "p": its two layers' variable paths p/<seg>/<cell>
 * into fwd (seg forward_<name>) and bwd (seg backward_<name>, else the one
 * other layer: Keras' backward_layer= keeps its own name). False without
 * a forward layer; bwd "" without a backward one. */
static bool keras_bidirectional(const mt_nn_loader *ld, mt_nn_rnn_cell cell, const char *p,
                                char fwd[MT_NN_KEY_MAX], char bwd[MT_NN_KEY_MAX])
{
    char tail[MT_NN_KEY_MAX], other[MT_NN_KEY_MAX] = "";
    size_t pn = strlen(p);
    int tn = snprintf(tail, sizeof tail, "/%s/kernel", keras_cells[cell]), others = 0;
    size_t count = mt_safetensors_count(ld->sd->file);
    fwd[0] = bwd[0] = '\0';
    for (int pass = 0; pass < 2; pass++)   // the forward layer first, then its partner
        for (size_t i = 0; i < count; i++) {
            mt_safetensors_entry e;
            if (mt_safetensors_info(ld->sd->file, i, &e))
                continue;
            size_t len = e.name_len;
            if (len >= 2 && !memcmp(e.name + len - 2, ":0", 2))
                len -= 2;
            if (len <= pn + 1 + (size_t)tn || len >= MT_NN_KEY_MAX || memcmp(e.name, p, pn) ||
                e.name[pn] != '/' || memcmp(e.name + len - (size_t)tn, tail, (size_t)tn))
                continue;
            const char *seg = e.name + pn + 1;
            int seg_len = (int)(len - pn - 1 - (size_t)tn);
            if (memchr(seg, '/', (size_t)seg_len))
                continue;
            bool is_fwd = seg_len > 8 && !memcmp(seg, "forward_", 8);
            if (pass == 0 && is_fwd && !fwd[0]) {
                snprintf(fwd, MT_NN_KEY_MAX, "%s/%.*s/%s", p, seg_len, seg, keras_cells[cell]);
            } else if (pass == 1 && fwd[0] && !is_fwd) {
                const char *name = fwd + pn + 1 + 8;   // after "p/forward_"
                size_t name_len = strlen(name) - strlen(keras_cells[cell]) - 1;
                if (seg_len > 9 && !memcmp(seg, "backward_", 9) &&
                    (size_t)seg_len - 9 == name_len && !memcmp(seg + 9, name, name_len)) {
                    snprintf(bwd, MT_NN_KEY_MAX, "%s/%.*s/%s", p, seg_len, seg, keras_cells[cell]);
                    return true;
                }
                others++;
                snprintf(other, sizeof other, "%s/%.*s/%s", p, seg_len, seg,
                         keras_cells[cell]);
            }
        }
    if (fwd[0] && others == 1)
        snprintf(bwd, MT_NN_KEY_MAX, "%s", other);
    return fwd[0] != '\0';
}

static mt_status load_keras(mt_nn_rnn_cell cell, const mt_nn_loader *ld, const char *prefix,
                            const mt_rnn_options *o, mt_layer **out)
{
    if (o->num_layers > 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: num_layers %d: a Keras model stacks "
                       "recurrent layers one by one, load each by its own prefix",
                       ld->layer, o->num_layers);
    const char *cname = keras_cells[cell];
    char dir[2][MT_NN_KEY_MAX], key[MT_NN_KEY_MAX];
    int dirs = 1;
    if (keras_base(ld, cell, prefix, dir[0])) {
        if (o->bidirectional)
            return mt_fail(MT_ERR_NOT_FOUND, "%s: bidirectional, but %s holds one direction "
                           "(%s/kernel), no %s/forward_*/%s/kernel", ld->layer, prefix,
                           dir[0], prefix, cname);
    } else if (keras_bidirectional(ld, cell, prefix, dir[0], dir[1])) {
        dirs = 2;
        if (!dir[1][0])
            return mt_fail(MT_ERR_NOT_FOUND, "%s: %s/kernel found, but no %s/backward_%s/"
                           "kernel nor one other %s/*/%s/kernel (the backward layer of a "
                           "Bidirectional)", ld->layer, dir[0], prefix,
                           dir[0] + strlen(prefix) + 1 + 8, prefix, cname);
    } else {
        return mt_fail(MT_ERR_NOT_FOUND, "%s: no tensor %s/%s/kernel (Keras), %s/kernel, nor "
                       "%s/forward_*/%s/kernel (Bidirectional) in the file", ld->layer,
                       prefix, cname, prefix, prefix, cname);
    }
    mt_tensor *t[2][SET] = {{NULL}};
    mt_tensor rows[2][2];   // a GRU's bias [2, 3H] (reset_after=True) as two views
    mt_status s = MT_OK;
    bool before = o->reset_before;
    static const char *const names[3] = {"kernel", "recurrent_kernel", "bias"};
    for (int d = 0; !s && d < dirs; d++) {
        for (int k = 0; !s && k < 3; k++) {
            snprintf(key, sizeof key, "%s/%s", dir[d], names[k]);
            s = mt_nn_load_key(ld, key, k < 2, &t[d][k]);
        }
        mt_tensor *b = t[d][2];
        if (s || cell != MT_NN_RNN_CELL_GRU || !b)
            continue;
        if (d == 1 && t[0][2] && t[0][2]->rank != b->rank) {   // one reset_after per layer
            char b0[160], b1[160];
            s = mt_fail(MT_ERR_SHAPE, "%s: forward bias %s and backward bias %s: one is a "
                        "reset_after=True GRU's [2, 3H], the other a reset_after=False one's "
                        "[3H]", ld->layer, mt_tensor_describe(t[0][2], b0, sizeof b0),
                        mt_tensor_describe(b, b1, sizeof b1));
        } else if (b->rank == 1) {
            before = true;   // Keras writes [3H] for reset_after=False only
        } else if (b->rank == 2 && b->shape[0] == 2 && o->reset_before) {
            char bs[160];
            s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: reset_before, but bias %s is a "
                        "reset_after=True GRU's [2, 3H]", ld->layer,
                        mt_tensor_describe(b, bs, sizeof bs));
        } else if (b->rank == 2 && b->shape[0] == 2) {
            for (int r = 0; !s && r < 2; r++) {
                mt_tensor row;
                if (!(s = mt_narrow_into(b, 0, r, 1, &row)) &&
                    !(s = mt_view_into(&row, 1, (int64_t[]){b->shape[1]}, &rows[d][r]))) {
                    char nm[MT_NAME_MAX + 8];
                    snprintf(nm, sizeof nm, "%.*s[%d]", MT_NAME_MAX - 8, b->name, r);
                    mt_tensor_name_set(&rows[d][r], nm);
                }
            }
        }
    }
    if (!s) {
        mt_rnn_weights w[2];
        for (int d = 0; d < dirs; d++) {
            bool split = cell == MT_NN_RNN_CELL_GRU && t[d][2] && t[d][2]->rank == 2 &&
                         t[d][2]->shape[0] == 2;
            w[d] = (mt_rnn_weights){t[d][0], t[d][1], split ? &rows[d][0] : t[d][2],
                                    split ? &rows[d][1] : NULL, NULL};
        }
        mt_rnn_options ko = *o;
        ko.num_layers = 1;
        ko.bidirectional = dirs == 2;
        ko.reset_before = before;
        s = mt_nn_rnn_build(cell, ld->layer, dirs, w, true, &ko, out);
    }
    free_sets(2, t);
    return s;
}

static mt_status load(mt_nn_rnn_cell cell, const mt_state_dict *sd, const char *prefix,
                      const mt_rnn_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin(kinds[cell], sd, prefix, out, &ld);
    if (s)
        return s;
    if (options && options->num_layers < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: num_layers %d is negative",
                       kinds[cell], prefix, options->num_layers);
    const mt_rnn_options o = options ? *options : (mt_rnn_options){0};
    return ld.keras ? load_keras(cell, &ld, prefix, &o, out)
                    : load_pytorch(cell, &ld, prefix, &o, out);
}

mt_status mt_lstm_load(const mt_state_dict *weights, const char *prefix,
                       const mt_rnn_options *options, mt_layer **out)
{
    return load(MT_NN_RNN_CELL_LSTM, weights, prefix, options, out);
}

mt_status mt_gru_load(const mt_state_dict *weights, const char *prefix,
                      const mt_rnn_options *options, mt_layer **out)
{
    return load(MT_NN_RNN_CELL_GRU, weights, prefix, options, out);
}

mt_status mt_rnn_load(const mt_state_dict *weights, const char *prefix,
                      const mt_rnn_options *options, mt_layer **out)
{
    return load(MT_NN_RNN_CELL_ELMAN, weights, prefix, options, out);
}
