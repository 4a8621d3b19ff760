/* rnn_layer.c — LSTM, GRU and Elman RNN layers for inference (rnn.h): per
 * layer and direction, one fused matmul projects every step's input
 * (x·W + b for all N·L rows at once), then each step adds h·U (one small
 * matmul) and applies the cell's gates row by row. Weights are packed at
 * construction as (in, out) matrices in PyTorch's gate order; the
 * projections, states and the lower layers' sequences live in scratch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rnn_internal.h"
#include "minitensor/view.h"

static const char *const cell_names[] = {"lstm", "gru", "rnn"};
static const int64_t cell_gates[] = {4, 3, 1};
static const mt_layer_kind cell_kinds[] = {MT_LAYER_LSTM, MT_LAYER_GRU, MT_LAYER_RNN};

/* One layer and direction, packed. */
typedef struct rnn_cell {
    mt_tensor *wx;    /* [in, G·H] */
    mt_tensor *wh;    /* [H, G·H] */
    mt_tensor *bx;    /* [G·H]: b_ih + b_hh, except GRU's b_hn when reset after */
    mt_tensor *bhn;   /* [H]: that b_hn (GRU, reset after U_n h); else NULL */
} rnn_cell;

typedef struct rnn_state {
    mt_nn_rnn_cell cell;
    int64_t gates, in, hidden;
    int layers, dirs;
    mt_rnn_return output;
    bool relu, reset_before;
    rnn_cell c[];     /* layers·dirs, layer-major */
} rnn_state;

/* ---- scratch ----------------------------------------------------------------- */

typedef struct rnn_scratch {
    float *proj;      /* [N, L, G·H] one direction's input projections */
    float *rec;       /* [N, G·H] h·U of one step */
    float *h, *c;     /* [N, H] the state */
    float *tmp;       /* [N, H] GRU reset before: r ⊙ h */
    float *seq[2];    /* [N, L, H·D] the lower layers' outputs, alternating */
} rnn_scratch;

/* Floats of scratch for a batch nb of length len (each part rounded to 64
 * bytes); with base, the parts' places in *sc. */
static size_t scratch_floats(const rnn_state *st, int64_t nb, int64_t len, float *base,
                             rnn_scratch *sc)
{
    int64_t gh = st->gates * st->hidden, hd = st->hidden * st->dirs;
    const int64_t sizes[7] = {nb * len * gh, nb * gh, nb * st->hidden, nb * st->hidden,
                              nb * st->hidden, st->layers > 1 ? nb * len * hd : 0,
                              st->layers > 2 ? nb * len * hd : 0};
    float **parts[7] = {&sc->proj, &sc->rec, &sc->h, &sc->c, &sc->tmp, &sc->seq[0],
                        &sc->seq[1]};
    size_t at = 0;
    for (int i = 0; i < 7; i++) {
        if (base)
            *parts[i] = base + at;
        at += ((size_t)sizes[i] + 15) / 16 * 16;
    }
    return at;
}

static size_t rnn_scratch_bytes(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const rnn_state *st = l->state;
    return scratch_floats(st, in->dim[0], in->dim[1], NULL, &(rnn_scratch){0}) *
           sizeof(float);
}

/* ---- shapes ------------------------------------------------------------------ */

/* The states a layer starts from: h (and c for an LSTM). */
static int n_states(const rnn_state *st) { return st->cell == MT_NN_RNN_CELL_LSTM ? 2 : 1; }

/* Initial state in[i] (h0 or c0) for batch nb: [N, layers·D, H] or
 * [N, layers·D·H]. */
static mt_status check_state(const rnn_state *st, const mt_shape *in, const char *from,
                             int64_t nb, const char *what)
{
    int64_t ld = st->layers * st->dirs, hid = st->hidden;
    if (in->dtype == MT_DTYPE_F32 && in->dim[0] == nb &&
        ((in->rank == 3 && in->dim[1] == ld && in->dim[2] == hid) ||
         (in->rank == 2 && in->dim[1] == ld * hid)))
        return MT_OK;
    char dims[96] = "";
    for (int i = 0, at = 0; i < in->rank && at < (int)sizeof dims - 24; i++)
        at += snprintf(dims + at, sizeof dims - (size_t)at, "%s%lld", i ? "," : "",
                       (long long)in->dim[i]);
    return mt_fail(MT_ERR_SHAPE, "expects initial %s as F32 [N,%lld,%lld] or [N,%lld] (batch "
                   "N = %lld, layers x directions, hidden), %s gives %s [%s]", what,
                   (long long)ld, (long long)hid, (long long)(ld * hid), (long long)nb, from,
                   mt_dtype_name(in->dtype), dims);
}

static mt_status rnn_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    const rnn_state *st = l->state;
    if (n != 1 && n != 1 + n_states(st))
        return mt_fail(MT_ERR_SHAPE, "expects the sequence, or the sequence and %s, given %d "
                       "inputs", n_states(st) == 2 ? "initial h and c" : "an initial h", n);
    if (in->rank != 3 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,L,F] input (batch first), %s gives %s "
                       "with %d dims", from[0], mt_dtype_name(in->dtype), in->rank);
    if (in->dim[2] != st->in)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input features (the last dim of [N,L,F]), "
                       "%s gives %lld", (long long)st->in, from[0], (long long)in->dim[2]);
    int64_t nb = in->dim[0], len = in->dim[1];
    if (len < 1)
        return mt_fail(MT_ERR_SHAPE, "expects at least one step, %s gives length 0", from[0]);
    for (int i = 1; i < n; i++) {
        mt_status s = check_state(st, &in[i], from[i], nb, i == 1 ? "h" : "c");
        if (s)
            return s;
    }
    // scratch is about N·L·(G·H + 2·H·D) floats plus rows: keep it countable
    int64_t per_step = st->gates * st->hidden + 2 * st->hidden * st->dirs + 16;
    if (nb > 0 && (len > INT64_MAX / 64 / nb || nb * len > INT64_MAX / 64 / per_step))
        return mt_fail(MT_ERR_OVERFLOW, "the batch and length %s gives overflow its scratch",
                       from[0]);
    *out = *in;
    int64_t hd = st->hidden * st->dirs;
    if (st->output == MT_RNN_RETURN_SEQUENCES) {
        out->dim[2] = hd;
    } else if (st->output == MT_RNN_RETURN_H_N || st->output == MT_RNN_RETURN_C_N) {
        out->dim[1] = st->layers * st->dirs;
        out->dim[2] = st->hidden;
    } else {
        out->rank = 2;
        out->dim[0] = nb;
        out->dim[1] = hd;
    }
    return MT_OK;
}

/* ---- one step of each cell, row by row ---------------------------------------- */

static float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

/* p: the step's projections (row stride p_sn), r: h·U [N, 4H]. */
static void lstm_step(int64_t nb, int64_t hid, const float *p, int64_t p_sn, const float *r,
                      float *h, float *c)
{
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn, *rn = r + n * 4 * hid;
        float *hn = h + n * hid, *cn = c + n * hid;
        for (int64_t j = 0; j < hid; j++) {
            float i = sigmoid(pn[j] + rn[j]), f = sigmoid(pn[hid + j] + rn[hid + j]);
            float g = tanhf(pn[2 * hid + j] + rn[2 * hid + j]);
            float o = sigmoid(pn[3 * hid + j] + rn[3 * hid + j]);
            cn[j] = f * cn[j] + i * g;
            hn[j] = o * tanhf(cn[j]);
        }
    }
}

/* PyTorch's GRU: n = tanh(p_n + r ⊙ (U_n h + b_hn)). */
static void gru_step(int64_t nb, int64_t hid, const float *p, int64_t p_sn, const float *r,
                     const float *bhn, float *h)
{
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn, *rn = r + n * 3 * hid;
        float *hn = h + n * hid;
        for (int64_t j = 0; j < hid; j++) {
            float rs = sigmoid(pn[j] + rn[j]), z = sigmoid(pn[hid + j] + rn[hid + j]);
            float cand = tanhf(pn[2 * hid + j] + rs * (rn[2 * hid + j] + bhn[j]));
            hn[j] = (1.0f - z) * cand + z * hn[j];
        }
    }
}

/* Keras' reset_after=False, first half: r and z; z kept in r's z columns,
 * tmp = r ⊙ h for U_n. */
static void gru_before_gates(int64_t nb, int64_t hid, const float *p, int64_t p_sn, float *r,
                             const float *h, float *tmp)
{
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn, *hn = h + n * hid;
        float *rn = r + n * 3 * hid, *tn = tmp + n * hid;
        for (int64_t j = 0; j < hid; j++) {
            float rs = sigmoid(pn[j] + rn[j]);
            rn[hid + j] = sigmoid(pn[hid + j] + rn[hid + j]);
            tn[j] = rs * hn[j];
        }
    }
}

/* Second half: n = tanh(p_n + U_n (r ⊙ h)), U_n (r ⊙ h) in r's n columns. */
static void gru_before_update(int64_t nb, int64_t hid, const float *p, int64_t p_sn,
                              const float *r, float *h)
{
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn, *rn = r + n * 3 * hid;
        float *hn = h + n * hid;
        for (int64_t j = 0; j < hid; j++) {
            float z = rn[hid + j], cand = tanhf(pn[2 * hid + j] + rn[2 * hid + j]);
            hn[j] = (1.0f - z) * cand + z * hn[j];
        }
    }
}

static void elman_step(int64_t nb, int64_t hid, const float *p, int64_t p_sn, const float *r,
                       bool relu, float *h)
{
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn, *rn = r + n * hid;
        float *hn = h + n * hid;
        for (int64_t j = 0; j < hid; j++) {
            float v = pn[j] + rn[j];
            hn[j] = relu ? (v > 0.0f ? v : 0.0f) : tanhf(v);
        }
    }
}

/* ---- forward ------------------------------------------------------------------- */

/* Where a direction writes: the sequence y (row n, step t at y + n·sn +
 * t·st, NULL for none) and the final state fin (row n at fin + n·fin_sn,
 * NULL for none), after `steps` steps. */
typedef struct rnn_dest {
    float *y;
    int64_t sn, st;
    float *fin;
    int64_t fin_sn;
    bool fin_c;       /* fin is the LSTM's cell state c, not h */
    int64_t steps;
} rnn_dest;

/* Row n of state t (h0 or c0, any strides, [N, layers·D, H] or
 * [N, layers·D·H]) for layer and direction idx into dst [N, H]. */
static void load_state(const mt_tensor *t, int64_t idx, int64_t hid, float *dst)
{
    const float *a = t->data;
    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t j = 0; j < hid; j++)
            dst[n * hid + j] = t->rank == 3 ? a[n * t->stride[0] + idx * t->stride[1] +
                                                j * t->stride[2]]
                                            : a[n * t->stride[0] + (idx * hid + j) *
                                                                       t->stride[1]];
}

/* h·U (or, when `zero`, at a first step from h = 0: zeros) into rec, a
 * view of sc->rec. */
static mt_status recur(const mt_tensor *h, const mt_tensor *u, bool zero, mt_tensor *rec)
{
    if (!zero)
        return mt_matmul_into(h, u, rec);
    for (int64_t n = 0; n < rec->shape[0]; n++)
        memset((float *)rec->data + n * rec->stride[0], 0,
               (size_t)rec->shape[1] * sizeof(float));
    return MT_OK;
}

/* One layer and direction over x [N, L, in] (any strides), from the
 * states init[0] (h) and init[1] (c) at idx (NULL: zeros). */
static mt_status run_direction(const rnn_state *st, const rnn_cell *c, const mt_tensor *x,
                               const mt_tensor *const *init, int64_t idx, bool reverse,
                               const rnn_scratch *sc, const rnn_dest *d)
{
    int64_t nb = x->shape[0], len = x->shape[1], hid = st->hidden, gh = st->gates * hid;
    mt_tensor proj, rec, h, tmp, u_rz, u_n, rec_rz, rec_n;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){nb, len, gh}, sc->proj,
                                 &proj)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){nb, gh}, sc->rec, &rec)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){nb, hid}, sc->h, &h)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){nb, hid}, sc->tmp, &tmp)) ||
        (s = mt_matmul_fused_into(x, c->wx, c->bx, MT_ACTIVATION_NONE, &proj)))
        return s;
    bool before = st->cell == MT_NN_RNN_CELL_GRU && st->reset_before;
    if (before && ((s = mt_narrow_into(c->wh, 1, 0, 2 * hid, &u_rz)) ||
                   (s = mt_narrow_into(c->wh, 1, 2 * hid, hid, &u_n)) ||
                   (s = mt_narrow_into(&rec, 1, 0, 2 * hid, &rec_rz)) ||
                   (s = mt_narrow_into(&rec, 1, 2 * hid, hid, &rec_n))))
        return s;
    memset(sc->h, 0, (size_t)(nb * hid) * sizeof(float));
    memset(sc->c, 0, (size_t)(nb * hid) * sizeof(float));
    if (init) {
        load_state(init[0], idx, hid, sc->h);
        if (st->cell == MT_NN_RNN_CELL_LSTM)
            load_state(init[1], idx, hid, sc->c);
    }
    for (int64_t i = 0; i < d->steps; i++) {
        int64_t t = reverse ? len - 1 - i : i;
        bool zero = i == 0 && !init;
        const float *p = sc->proj + t * gh;
        switch (st->cell) {
        case MT_NN_RNN_CELL_LSTM:
            if ((s = recur(&h, c->wh, zero, &rec)))
                return s;
            lstm_step(nb, hid, p, len * gh, sc->rec, sc->h, sc->c);
            break;
        case MT_NN_RNN_CELL_GRU:
            if (!before) {
                if ((s = recur(&h, c->wh, zero, &rec)))
                    return s;
                gru_step(nb, hid, p, len * gh, sc->rec, c->bhn->data, sc->h);
                break;
            }
            if ((s = recur(&h, &u_rz, zero, &rec_rz)))
                return s;
            gru_before_gates(nb, hid, p, len * gh, sc->rec, sc->h, sc->tmp);
            if ((s = recur(&tmp, &u_n, zero, &rec_n)))
                return s;
            gru_before_update(nb, hid, p, len * gh, sc->rec, sc->h);
            break;
        case MT_NN_RNN_CELL_ELMAN:
            if ((s = recur(&h, c->wh, zero, &rec)))
                return s;
            elman_step(nb, hid, p, len * gh, sc->rec, st->relu, sc->h);
            break;
        }
        for (int64_t n = 0; d->y && n < nb; n++)
            memcpy(d->y + n * d->sn + t * d->st, sc->h + n * hid,
                   (size_t)hid * sizeof(float));
    }
    for (int64_t n = 0; d->fin && n < nb; n++)
        memcpy(d->fin + n * d->fin_sn, (d->fin_c ? sc->c : sc->h) + n * hid,
               (size_t)hid * sizeof(float));
    return MT_OK;
}

static mt_status rnn_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    const rnn_state *st = l->state;
    const mt_tensor *const *init = n > 1 ? in + 1 : NULL;
    mt_tensor seq;
    const mt_tensor *x = in[0];
    mt_status s;
    int64_t nb = x->shape[0], len = x->shape[1], hid = st->hidden, hd = hid * st->dirs;
    if (nb == 0)
        return MT_OK;
    rnn_scratch sc;
    scratch_floats(st, nb, len, scratch, &sc);
    float *o = out->data;
    // h_n / c_n: every layer's final states [N, layers·D, H]
    bool all = st->output == MT_RNN_RETURN_H_N || st->output == MT_RNN_RETURN_C_N;
    for (int k = 0; k < st->layers; k++) {
        bool last = k == st->layers - 1;
        rnn_dest d = {.sn = len * hd, .st = hd, .steps = len};
        if (!last)
            d.y = sc.seq[k % 2];
        else if (st->output == MT_RNN_RETURN_SEQUENCES)
            d.y = o;
        for (int dir = 0; dir < st->dirs; dir++) {
            rnn_dest dd = d;
            if (d.y)
                dd.y = d.y + dir * hid;
            if (all) {
                dd.fin = o + (k * st->dirs + dir) * hid;
                dd.fin_sn = st->layers * hd;
                dd.fin_c = st->output == MT_RNN_RETURN_C_N;
            } else if (!d.y) {
                dd.fin = o + dir * hid;
                dd.fin_sn = hd;
                dd.fin_c = st->output == MT_RNN_RETURN_CELL_STATE;
                // out[:, -1] of the backward direction: its first step
                if (dir == 1 && st->output == MT_RNN_RETURN_LAST_STEP)
                    dd.steps = 1;
            }
            if ((s = run_direction(st, &st->c[k * st->dirs + dir], x, init,
                                   k * st->dirs + dir, dir == 1, &sc, &dd)))
                return s;
        }
        if (!last) {
            if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){nb, len, hd},
                                         sc.seq[k % 2], &seq)))
                return s;
            x = &seq;
        }
    }
    return MT_OK;
}

static void rnn_release(void *state)
{
    rnn_state *st = state;
    for (int i = 0; i < st->layers * st->dirs; i++) {
        mt_tensor_free(st->c[i].wx);
        mt_tensor_free(st->c[i].wh);
        mt_tensor_free(st->c[i].bx);
        mt_tensor_free(st->c[i].bhn);
    }
}

static const mt_layer_vtable rnn_vtable = {
    .n_inputs = 0,   /* the sequence, and optionally the initial states */
    .infer = rnn_infer,
    .forward = rnn_forward,
    .scratch_bytes = rnn_scratch_bytes,
    .release = rnn_release,
};

/* ---- construction ---------------------------------------------------------------- */

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
    mt_layer *l = mt_nn_layer_alloc(cell_names[cell], &rnn_vtable, cell_kinds[cell], name,
                                    sizeof(rnn_state) + (size_t)n * sizeof(rnn_cell));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    rnn_state *st = l->state;
    *st = (rnn_state){.cell = cell, .gates = g, .in = in, .hidden = hid, .layers = layers,
                      .dirs = dirs, .output = o.output,
                      .relu = o.act == MT_ACTIVATION_RELU, .reset_before = o.reset_before};
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
