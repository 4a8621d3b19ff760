/* rnn_step.c — one time step of the LSTM, GRU and Elman RNN cells, row by
 * row, after h·U (rnn_layer.c). Each cell has a loop for its default
 * activations (tanh and sigmoid; the RNN's tanh or relu), which every
 * PyTorch model and most Keras ones use, and one for any others (Keras'
 * activation= / recurrent_activation=), which sums the gates' inputs
 * into r first and applies each activation to a whole gate at a time. */
#include <math.h>

#include "rnn_internal.h"

static float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

/* v[0..n-1] = a(v) in place. */
static void activate(mt_rnn_activation a, float *v, int64_t n)
{
    switch (a) {
    case MT_RNN_ACTIVATION_DEFAULT:   // resolved at construction: never here
    case MT_RNN_ACTIVATION_TANH:
        for (int64_t i = 0; i < n; i++)
            v[i] = tanhf(v[i]);
        break;
    case MT_RNN_ACTIVATION_SIGMOID:
        for (int64_t i = 0; i < n; i++)
            v[i] = sigmoid(v[i]);
        break;
    case MT_RNN_ACTIVATION_HARD_SIGMOID:   // Keras 3: relu6(x + 3) / 6
        for (int64_t i = 0; i < n; i++) {
            float u = v[i] + 3.0f;
            v[i] = (u < 0.0f ? 0.0f : u > 6.0f ? 6.0f : u) / 6.0f;
        }
        break;
    case MT_RNN_ACTIVATION_RELU:
        for (int64_t i = 0; i < n; i++)   // NaN stays NaN, as PyTorch's and Keras' relu
            v[i] = v[i] < 0.0f ? 0.0f : v[i];
        break;
    case MT_RNN_ACTIVATION_LINEAR:
        break;
    }
}

/* r[0..n-1] += p[0..n-1]. */
static void add_to(float *r, const float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        r[i] += p[i];
}

void mt_nn_lstm_step(const rnn_state *st, int64_t nb, const float *p, int64_t p_sn, float *r,
                     float *h, float *c)
{
    int64_t hid = st->hidden;
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn;
        float *rn = r + n * 4 * hid, *hn = h + n * hid, *cn = c + n * hid;
        if (st->plain) {
            for (int64_t j = 0; j < hid; j++) {
                float i = sigmoid(pn[j] + rn[j]), f = sigmoid(pn[hid + j] + rn[hid + j]);
                float g = tanhf(pn[2 * hid + j] + rn[2 * hid + j]);
                float o = sigmoid(pn[3 * hid + j] + rn[3 * hid + j]);
                cn[j] = f * cn[j] + i * g;
                hn[j] = o * tanhf(cn[j]);
            }
            continue;
        }
        add_to(rn, pn, 4 * hid);
        activate(st->rec_act, rn, 2 * hid);   // i, f
        activate(st->act, rn + 2 * hid, hid);   // g
        activate(st->rec_act, rn + 3 * hid, hid);   // o
        float *a = rn + 2 * hid;   // g, once used, holds act(c)
        for (int64_t j = 0; j < hid; j++) {
            cn[j] = rn[hid + j] * cn[j] + rn[j] * a[j];
            a[j] = cn[j];
        }
        activate(st->act, a, hid);
        for (int64_t j = 0; j < hid; j++)
            hn[j] = rn[3 * hid + j] * a[j];
    }
}

/* PyTorch's GRU: n = act(p_n + r ⊙ (U_n h + b_hn)). */
void mt_nn_gru_step(const rnn_state *st, int64_t nb, const float *p, int64_t p_sn, float *r,
                    const float *bhn, float *h)
{
    int64_t hid = st->hidden;
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn;
        float *rn = r + n * 3 * hid, *hn = h + n * hid;
        if (st->plain) {
            for (int64_t j = 0; j < hid; j++) {
                float rs = sigmoid(pn[j] + rn[j]), z = sigmoid(pn[hid + j] + rn[hid + j]);
                float cand = tanhf(pn[2 * hid + j] + rs * (rn[2 * hid + j] + bhn[j]));
                hn[j] = (1.0f - z) * cand + z * hn[j];
            }
            continue;
        }
        add_to(rn, pn, 2 * hid);
        activate(st->rec_act, rn, 2 * hid);   // r, z
        float *cand = rn + 2 * hid;
        for (int64_t j = 0; j < hid; j++)
            cand[j] = pn[2 * hid + j] + rn[j] * (cand[j] + bhn[j]);
        activate(st->act, cand, hid);
        for (int64_t j = 0; j < hid; j++)
            hn[j] = (1.0f - rn[hid + j]) * cand[j] + rn[hid + j] * hn[j];
    }
}

/* Keras' reset_after=False, first half: r and z; z kept in r's z columns,
 * tmp = r ⊙ h for U_n. */
void mt_nn_gru_before_gates(const rnn_state *st, int64_t nb, const float *p, int64_t p_sn,
                            float *r, const float *h, float *tmp)
{
    int64_t hid = st->hidden;
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn, *hn = h + n * hid;
        float *rn = r + n * 3 * hid, *tn = tmp + n * hid;
        if (st->plain) {
            for (int64_t j = 0; j < hid; j++) {
                float rs = sigmoid(pn[j] + rn[j]);
                rn[hid + j] = sigmoid(pn[hid + j] + rn[hid + j]);
                tn[j] = rs * hn[j];
            }
            continue;
        }
        add_to(rn, pn, 2 * hid);
        activate(st->rec_act, rn, 2 * hid);
        for (int64_t j = 0; j < hid; j++)
            tn[j] = rn[j] * hn[j];
    }
}

/* Second half: n = act(p_n + U_n (r ⊙ h)), U_n (r ⊙ h) in r's n columns. */
void mt_nn_gru_before_update(const rnn_state *st, int64_t nb, const float *p, int64_t p_sn,
                             float *r, float *h)
{
    int64_t hid = st->hidden;
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn;
        float *rn = r + n * 3 * hid, *hn = h + n * hid, *cand = rn + 2 * hid;
        if (st->plain) {
            for (int64_t j = 0; j < hid; j++) {
                float z = rn[hid + j], cv = tanhf(pn[2 * hid + j] + cand[j]);
                hn[j] = (1.0f - z) * cv + z * hn[j];
            }
            continue;
        }
        add_to(cand, pn + 2 * hid, hid);
        activate(st->act, cand, hid);
        for (int64_t j = 0; j < hid; j++)
            hn[j] = (1.0f - rn[hid + j]) * cand[j] + rn[hid + j] * hn[j];
    }
}

void mt_nn_elman_step(const rnn_state *st, int64_t nb, const float *p, int64_t p_sn, float *r,
                      float *h)
{
    int64_t hid = st->hidden;
    for (int64_t n = 0; n < nb; n++) {
        const float *pn = p + n * p_sn;
        float *rn = r + n * hid, *hn = h + n * hid;
        if (st->plain) {
            for (int64_t j = 0; j < hid; j++) {
                float v = pn[j] + rn[j];
                hn[j] = st->relu ? (v < 0.0f ? 0.0f : v) : tanhf(v);   // NaN stays
            }
            continue;
        }
        for (int64_t j = 0; j < hid; j++)
            hn[j] = pn[j] + rn[j];
        activate(st->act, hn, hid);
    }
}
