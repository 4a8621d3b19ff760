/* rnn_layer.c — LSTM, GRU and Elman RNN layers for inference (rnn.h), the
 * running half: per layer and direction, one fused matmul projects every
 * step's input (x·W + b for all N·L rows at once), then each step adds h·U
 * (one small matmul) and applies the cell's gates row by row (rnn_step.c).
 * The weights come packed (rnn_build.c); the projections, states and the
 * lower layers' sequences live in scratch. */
#include <stdint.h>
#include <string.h>

#include "rnn_internal.h"
#include "minitensor/view.h"

/* ---- scratch ----------------------------------------------------------------- */

typedef struct rnn_scratch {
    float *proj;      /* [N, L, G·H] one direction's input projections */
    float *rec;       /* [N, G·H] h·U of one step */
    float *h, *c;     /* [N, W] and [N, H] the state (W: h's width) */
    float *tmp;       /* [N, H] GRU reset before: r ⊙ h; LSTM with proj: o ⊙ act(c) */
    float *seq[2];    /* [N, L, W·D] the lower layers' outputs, alternating */
    float *keep;      /* [N, L] with a mask: 1 where the step counts, else 0 */
    float *hold;      /* [N, W + H] with a mask: masked rows' h (and c) across a step */
    float *seen;      /* [N] with a mask: 1 once the direction had a kept step */
    float *back;      /* [N, L, W] merged, not concatenated: the backward direction's */
} rnn_scratch;

enum { SCRATCH_PARTS = 11 };

/* Floats of scratch for a batch nb of length len (each part rounded to 64
 * bytes); with base, the parts' places in *sc. */
static size_t scratch_floats(const rnn_state *st, int64_t nb, int64_t len, float *base,
                             rnn_scratch *sc)
{
    int64_t gh = st->gates * st->hidden, w = st->width, wd = w * st->dirs, hid = st->hidden;
    bool m = st->mask != MT_MASK_MODE_NONE, merged = st->merge != MT_RNN_MERGE_CONCAT;
    const int64_t sizes[SCRATCH_PARTS] = {nb * len * gh, nb * gh, nb * w, nb * hid, nb * hid,
                                          st->layers > 1 ? nb * len * wd : 0,
                                          st->layers > 2 ? nb * len * wd : 0, m ? nb * len : 0,
                                          m ? nb * (w + hid) : 0, m ? nb : 0,
                                          merged ? nb * len * w : 0};
    float **parts[SCRATCH_PARTS] = {&sc->proj, &sc->rec, &sc->h, &sc->c, &sc->tmp,
                                    &sc->seq[0], &sc->seq[1], &sc->keep, &sc->hold,
                                    &sc->seen, &sc->back};
    size_t at = 0;
    for (int i = 0; i < SCRATCH_PARTS; i++) {
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

/* Initial state in[i] (h0 or c0) for batch nb: [N, layers·D, hid] or
 * [N, layers·D·hid] (hid: W for h, H for c). */
static mt_status check_state(const rnn_state *st, const mt_shape *in, const char *from,
                             int64_t nb, int64_t hid, const char *what)
{
    int64_t ld = st->layers * st->dirs;
    if (in->dtype == MT_DTYPE_F32 && in->dim[0] == nb &&
        ((in->rank == 3 && in->dim[1] == ld && in->dim[2] == hid) ||
         (in->rank == 2 && in->dim[1] == ld * hid)))
        return MT_OK;
    char dims[160];
    return mt_fail(in->dtype == MT_DTYPE_F32 ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                   "expects initial %s as F32 [N,%lld,%lld] or [N,%lld] (batch N = %lld, "
                   "layers x directions, hidden), %s gives %s %s", what,
                   (long long)ld, (long long)hid, (long long)(ld * hid), (long long)nb, from,
                   mt_dtype_name(in->dtype), mt_nn_shape_text(in, dims, sizeof dims));
}

/* The mask in[1] for x in[0]: [N, L], BOOL or an integer dtype. */
static mt_status check_mask(const mt_shape *in, const char *const *from)
{
    char a[160], b[160];
    if (in[1].rank == 2 && in[1].dim[0] == in[0].dim[0] && in[1].dim[1] == in[0].dim[1] &&
        (mt_nn_is_integer(in[1].dtype) || in[1].dtype == MT_DTYPE_BOOL))
        return MT_OK;
    bool shape_ok = in[1].rank == 2 && in[1].dim[0] == in[0].dim[0] &&
                    in[1].dim[1] == in[0].dim[1];
    return mt_fail(shape_ok ? MT_ERR_DTYPE : MT_ERR_SHAPE, "expects a mask [N,L] = [%lld,%lld] "
                   "of BOOL or an integer dtype (%s gives %s), %s gives %s %s",
                   (long long)in[0].dim[0], (long long)in[0].dim[1], from[0],
                   mt_nn_shape_text(&in[0], a, sizeof a), from[1], mt_dtype_name(in[1].dtype),
                   mt_nn_shape_text(&in[1], b, sizeof b));
}

static mt_status rnn_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    const rnn_state *st = l->state;
    int first = st->mask != MT_MASK_MODE_NONE ? 2 : 1;   // x (and the mask)
    if (n != first && n != first + n_states(st))
        return mt_fail(MT_ERR_SHAPE, "expects the sequence%s, or %s and %s, given %d inputs",
                       first == 2 ? " and its mask (options.mask is not NONE)" : "",
                       first == 2 ? "those" : "the sequence",
                       n_states(st) == 2 ? "initial h and c" : "an initial h", n);
    if (in->rank != 3 || in->dtype != MT_DTYPE_F32)
        return mt_fail(in->dtype == MT_DTYPE_F32 ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                       "expects F32 [N,L,F] input (batch first), %s gives %s "
                       "with %d dims", from[0], mt_dtype_name(in->dtype), in->rank);
    if (in->dim[2] != st->in)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input features (the last dim of [N,L,F]), "
                       "%s gives %lld", (long long)st->in, from[0], (long long)in->dim[2]);
    int64_t nb = in->dim[0], len = in->dim[1];
    if (len < 1)
        return mt_fail(MT_ERR_SHAPE, "expects at least one step, %s gives length 0", from[0]);
    if (first == 2) {
        mt_status s = check_mask(in, from);
        if (s)
            return s;
    }
    for (int i = first; i < n; i++) {
        mt_status s = check_state(st, &in[i], from[i], nb,
                                  i == first ? st->width : st->hidden, i == first ? "h" : "c");
        if (s)
            return s;
    }
    // scratch is about N·L·(G·H + 2·H·D) floats plus rows: keep it countable, also
    // in a 32-bit size_t (wasm32), where it would wrap to a small buffer
    const int64_t most = (uint64_t)SIZE_MAX < (uint64_t)INT64_MAX ? (int64_t)(SIZE_MAX / 64)
                                                                  : INT64_MAX / 64;
    int64_t per_step = st->gates * st->hidden + 3 * st->width * st->dirs + 16;
    if (nb > 0 && (len > most / nb || nb * len > most / per_step))
        return mt_fail(MT_ERR_OVERFLOW, "the batch and length %s gives overflow its scratch",
                       from[0]);
    *out = *in;
    // the outputs are h (W wide, one or both directions'), the states h or c
    int64_t wd = st->merge == MT_RNN_MERGE_CONCAT ? st->width * st->dirs : st->width;
    if (st->output == MT_RNN_RETURN_ALL) {
        out->rank = 2;
        out->dim[1] = mt_nn_rnn_packing(st->cell == MT_NN_RNN_CELL_LSTM, st->layers,
                                        st->dirs, st->width, st->hidden, st->merge, len).size;
    } else if (st->output == MT_RNN_RETURN_SEQUENCES) {
        out->dim[2] = wd;
    } else if (st->output == MT_RNN_RETURN_H_N || st->output == MT_RNN_RETURN_C_N) {
        out->dim[1] = st->layers * st->dirs;
        out->dim[2] = st->output == MT_RNN_RETURN_C_N ? st->hidden : st->width;
    } else {
        out->rank = 2;
        out->dim[0] = nb;
        out->dim[1] = st->output == MT_RNN_RETURN_CELL_STATE ? st->hidden * st->dirs : wd;
    }
    return MT_OK;
}

/* ---- forward ------------------------------------------------------------------- */

/* Where a direction writes: the sequence y (row n, step t at y + n·sn +
 * t·st, NULL for none) and the final states fin_h, fin_c (row n at + n·
 * fin_sn, NULL for none), after `steps` steps. */
typedef struct rnn_dest {
    float *y;
    int64_t sn, st;
    float *fin_h, *fin_c;   /* the final h and the LSTM's final c (each may be NULL) */
    int64_t fin_sn;
    bool fin_out;     /* fin_h is the output of the last step run (LAST_STEP), not h */
    int64_t steps;
} rnn_dest;

/* Row n of state t (h0 or c0, any strides, [N, layers·D, w] or
 * [N, layers·D·w]) for layer and direction idx into dst [N, w]. */
static void load_state(const mt_tensor *t, int64_t idx, int64_t w, float *dst)
{
    const float *a = t->data;
    for (int64_t n = 0; n < t->shape[0]; n++)
        for (int64_t j = 0; j < w; j++)
            dst[n * w + j] = t->rank == 3 ? a[n * t->stride[0] + idx * t->stride[1] +
                                              j * t->stride[2]]
                                          : a[n * t->stride[0] + (idx * w + j) * t->stride[1]];
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

/* Row n's output of a step into dst: h, or at a masked step (*keep 0)
 * zeros, or h (still the last output) if mask_repeat and a step was kept. */
static void put_output(const rnn_state *st, const rnn_scratch *sc, const float *keep,
                       int64_t n, float *dst)
{
    int64_t w = st->width;
    if (!keep || *keep != 0.0f || (st->mask_repeat && sc->seen[n] != 0.0f))
        memcpy(dst, sc->h + n * w, (size_t)w * sizeof(float));
    else
        memset(dst, 0, (size_t)w * sizeof(float));
}

/* A masked row's state must come through a step unchanged: before the
 * step (!back) set it aside, after it (back) put it back; c only for an
 * LSTM, the one cell with a c. */
static void hold_state(const rnn_state *st, const rnn_scratch *sc, const float *keep,
                       int64_t nb, bool back)
{
    int64_t w = st->width, hid = st->hidden, rw = w + hid;
    bool lstm = st->cell == MT_NN_RNN_CELL_LSTM;
    for (int64_t n = 0; n < nb; n++) {
        if (keep[n] != 0.0f)
            continue;
        float *h = sc->h + n * w, *c = sc->c + n * hid, *hold = sc->hold + n * rw;
        memcpy(back ? h : hold, back ? hold : h, (size_t)w * sizeof(float));
        if (lstm)
            memcpy(back ? c : hold + w, back ? hold + w : c, (size_t)hid * sizeof(float));
    }
}

/* One layer and direction over x [N, L, in] (any strides), from the
 * states init[0] (h) and init[1] (c) at idx (NULL: zeros). flip_x: x's
 * step t is the layer's step L-1-t (go_backwards, first layer). */
static mt_status run_direction(const rnn_state *st, const rnn_cell *c, const mt_tensor *x,
                               const mt_tensor *const *init, int64_t idx, bool reverse,
                               bool flip_x, const rnn_scratch *sc, const rnn_dest *d)
{
    int64_t nb = x->shape[0], len = x->shape[1], hid = st->hidden, gh = st->gates * hid;
    int64_t w = st->width;
    mt_tensor proj, rec, h, tmp, u_rz, u_n, rec_rz, rec_n;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){nb, len, gh}, sc->proj,
                                 &proj)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){nb, gh}, sc->rec, &rec)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){nb, w}, sc->h, &h)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){nb, hid}, sc->tmp, &tmp)) ||
        (s = mt_matmul_fused_into(x, c->wx, c->bx, MT_ACTIVATION_NONE, &proj)))
        return s;
    bool before = st->cell == MT_NN_RNN_CELL_GRU && st->reset_before;
    if (before && ((s = mt_narrow_into(c->wh, 1, 0, 2 * hid, &u_rz)) ||
                   (s = mt_narrow_into(c->wh, 1, 2 * hid, hid, &u_n)) ||
                   (s = mt_narrow_into(&rec, 1, 0, 2 * hid, &rec_rz)) ||
                   (s = mt_narrow_into(&rec, 1, 2 * hid, hid, &rec_n))))
        return s;
    bool lstm = st->cell == MT_NN_RNN_CELL_LSTM;
    memset(sc->h, 0, (size_t)(nb * w) * sizeof(float));
    if (lstm)
        memset(sc->c, 0, (size_t)(nb * hid) * sizeof(float));
    if (init) {
        load_state(init[0], idx, w, sc->h);
        if (lstm)
            load_state(init[1], idx, hid, sc->c);
    }
    const float *keep = st->mask != MT_MASK_MODE_NONE ? sc->keep : NULL;
    if (keep)
        memset(sc->seen, 0, (size_t)nb * sizeof(float));
    int64_t t = 0;
    for (int64_t i = 0; i < d->steps; i++) {
        t = reverse ? len - 1 - i : i;
        // from zero states h·U is 0, unless U holds an inf or NaN (0·inf is NaN)
        bool zero = i == 0 && !init && c->wh_finite;
        const float *p = sc->proj + (flip_x ? len - 1 - t : t) * gh;
        // keep is [L, N] (transposed by rnn_forward): step t's rows in a row
        if (keep)
            hold_state(st, sc, keep + t * nb, nb, false);
        switch (st->cell) {
        case MT_NN_RNN_CELL_LSTM:
            if ((s = recur(&h, c->wh, zero, &rec)))
                return s;
            // with proj_size, h = (o ⊙ act(c))·w_hr
            mt_nn_lstm_step(st, nb, p, len * gh, sc->rec, c->wr ? sc->tmp : sc->h, sc->c);
            if (c->wr && (s = mt_matmul_into(&tmp, c->wr, &h)))
                return s;
            break;
        case MT_NN_RNN_CELL_GRU:
            if (!before) {
                if ((s = recur(&h, c->wh, zero, &rec)))
                    return s;
                mt_nn_gru_step(st, nb, p, len * gh, sc->rec, c->bhn->data, sc->h);
                break;
            }
            if ((s = recur(&h, &u_rz, zero, &rec_rz)))
                return s;
            mt_nn_gru_before_gates(st, nb, p, len * gh, sc->rec, sc->h, sc->tmp);
            if ((s = recur(&tmp, &u_n, zero, &rec_n)))
                return s;
            mt_nn_gru_before_update(st, nb, p, len * gh, sc->rec, sc->h);
            break;
        case MT_NN_RNN_CELL_ELMAN:
            if ((s = recur(&h, c->wh, zero, &rec)))
                return s;
            mt_nn_elman_step(st, nb, p, len * gh, sc->rec, sc->h);
            break;
        }
        if (keep) {
            hold_state(st, sc, keep + t * nb, nb, true);
            for (int64_t n = 0; n < nb; n++)
                if (keep[t * nb + n] != 0.0f)
                    sc->seen[n] = 1.0f;
        }
        for (int64_t n = 0; d->y && n < nb; n++)
            put_output(st, sc, keep ? keep + t * nb + n : NULL, n, d->y + n * d->sn + t * d->st);
    }
    for (int64_t n = 0; d->fin_h && n < nb; n++) {
        float *f = d->fin_h + n * d->fin_sn;
        if (d->fin_out)
            put_output(st, sc, keep ? keep + t * nb + n : NULL, n, f);
        else
            memcpy(f, sc->h + n * w, (size_t)w * sizeof(float));
    }
    for (int64_t n = 0; d->fin_c && n < nb; n++)
        memcpy(d->fin_c + n * d->fin_sn, sc->c + n * hid, (size_t)hid * sizeof(float));
    return MT_OK;
}

/* The mask [N, L] (any integer dtype or BOOL, any strides) into keep
 * [L, N] as 1 where the step counts (nonzero if keep_nonzero, else zero),
 * 0 where not; flip: keep's step t is the mask's L-1-t (go_backwards). tmp
 * [N·L] is scratch. */
static mt_status mask_keep(const mt_tensor *mask, bool keep_nonzero, bool flip, float *tmp,
                           float *keep)
{
    mt_status s = mt_nn_mask_f32(mask, tmp);
    if (s)
        return s;
    int64_t nb = mask->shape[0], len = mask->shape[1];
    for (int64_t n = 0; n < nb; n++)
        for (int64_t t = 0; t < len; t++)
            keep[(flip ? len - 1 - t : t) * nb + n] =
                (tmp[n * len + t] != 0.0f) == keep_nonzero ? 1.0f : 0.0f;
    return MT_OK;
}

/* a = merge(a, b) elementwise over n floats (SUM, MUL or AVE). */
static void merge_into(mt_rnn_merge m, float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        a[i] = m == MT_RNN_MERGE_SUM   ? a[i] + b[i]
               : m == MT_RNN_MERGE_MUL ? a[i] * b[i]
                                       : (a[i] + b[i]) / 2.0f;
}

static mt_status rnn_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    const rnn_state *st = l->state;
    int first = st->mask != MT_MASK_MODE_NONE ? 2 : 1;
    const mt_tensor *const *init = n > first ? in + first : NULL;
    mt_tensor seq;
    const mt_tensor *x = in[0];
    mt_status s;
    int64_t nb = x->shape[0], len = x->shape[1], w = st->width, wd = w * st->dirs;
    int64_t hid = st->hidden, ld = st->layers * st->dirs;
    if (nb == 0)
        return MT_OK;
    rnn_scratch sc;
    scratch_floats(st, nb, len, scratch, &sc);
    // the mask as [L, N] in the layer's step order; proj is free until the first run
    if (first == 2 && (s = mask_keep(in[1], st->mask == MT_MASK_MODE_KEEP, st->go_backwards,
                                     sc.proj, sc.keep)))
        return s;
    float *o = out->data;
    const mt_rnn_return what = st->output;
    bool lstm = st->cell == MT_NN_RNN_CELL_LSTM;
    // ALL: every output of one run, packed per sample (rnn_internal.h)
    bool every = what == MT_RNN_RETURN_ALL;
    const rnn_packing pk = mt_nn_rnn_packing(lstm, st->layers, st->dirs, w, hid, st->merge, len);
    // h_n / c_n: every layer's final states [N, layers·D, W or H]
    bool all = what == MT_RNN_RETURN_H_N || what == MT_RNN_RETURN_C_N;
    bool cell_out = what == MT_RNN_RETURN_C_N || what == MT_RNN_RETURN_CELL_STATE;
    int64_t fw = cell_out ? hid : w;   // a state's width
    // SUM / MUL / AVE: the forward direction writes the output, the backward
    // one sc.back, merged into it at the end
    bool merged = st->merge != MT_RNN_MERGE_CONCAT;
    for (int k = 0; k < st->layers; k++) {
        bool last = k == st->layers - 1;
        int64_t ow = last && merged ? w : wd;   // the width of a step's output row
        rnn_dest d = {.sn = len * ow, .st = ow, .steps = len};
        if (!last)
            d.y = sc.seq[k % 2];
        else if (what == MT_RNN_RETURN_SEQUENCES)
            d.y = o;
        else if (every)
            d = (rnn_dest){.y = o + pk.seq, .sn = pk.size, .st = ow, .steps = len};
        for (int dir = 0; dir < st->dirs; dir++) {
            rnn_dest dd = d;
            bool apart = last && merged && dir == 1;
            int64_t idx = k * st->dirs + dir;
            if (d.y) {
                dd.y = apart ? sc.back : d.y + dir * w;
                dd.sn = apart ? len * w : d.sn;
            }
            if (every) {
                dd.fin_h = o + pk.h_n + idx * w;
                dd.fin_c = lstm ? o + pk.c_n + idx * hid : NULL;
                dd.fin_sn = pk.size;
            } else if (all) {
                float *f = o + idx * fw;
                dd.fin_h = what == MT_RNN_RETURN_H_N ? f : NULL;
                dd.fin_c = what == MT_RNN_RETURN_C_N ? f : NULL;
                dd.fin_sn = ld * fw;
            } else if (!d.y) {
                float *f = apart ? sc.back : o + dir * fw;
                dd.fin_h = what == MT_RNN_RETURN_CELL_STATE ? NULL : f;
                dd.fin_c = what == MT_RNN_RETURN_CELL_STATE ? f : NULL;
                dd.fin_sn = merged ? w : fw * st->dirs;
                // out[:, -1]: the output at step L-1 (a masked step's is not the state);
                // the backward direction's first step
                dd.fin_out = what == MT_RNN_RETURN_LAST_STEP;
                if (dir == 1 && what == MT_RNN_RETURN_LAST_STEP)
                    dd.steps = 1;
            }
            if ((s = run_direction(st, &st->c[idx], x, init, idx, dir == 1,
                                   k == 0 && st->go_backwards, &sc, &dd)))
                return s;
        }
        if (!last) {
            if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){nb, len, wd},
                                         sc.seq[k % 2], &seq)))
                return s;
            x = &seq;
        }
    }
    if (!merged || st->dirs == 1)
        return MT_OK;
    if (!every) {
        merge_into(st->merge, o, sc.back, what == MT_RNN_RETURN_SEQUENCES ? nb * len * w
                                                                          : nb * w);
        return MT_OK;
    }
    // each sample's sequence, and the last layer's two final h merged
    for (int64_t r = 0; r < nb; r++) {
        float *row = o + r * pk.size, *m = row + pk.merged;
        const float *fin = row + pk.h_n + (ld - 2) * w;
        merge_into(st->merge, row + pk.seq, sc.back + r * len * w, len * w);
        memcpy(m, fin, (size_t)w * sizeof(float));
        merge_into(st->merge, m, fin + w, w);
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
        mt_tensor_free(st->c[i].wr);
    }
}

const mt_layer_vtable mt_nn_rnn_vtable = {
    .n_inputs = 0,   /* the sequence, and optionally the initial states */
    .infer = rnn_infer,
    .forward = rnn_forward,
    .scratch_bytes = rnn_scratch_bytes,
    .release = rnn_release,
};

