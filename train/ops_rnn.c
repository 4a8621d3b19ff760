/* ops_rnn.c — recurrent layers on a tape: torch.nn.RNN / LSTM / GRU with
 * batch_first=True, one layer, one direction per call.
 *
 * A call records three things:
 *   - the input projection of every step at once, gx = x·weight_ihᵀ + bias_ih
 *     ([N·L, F] -> [N·L, G·H], one tape_linear: its backward is two GEMMs
 *     over the whole sequence);
 *   - the small things the recurrence reads (bias_hh, h0, c0), packed into
 *     one vector by tape_concat, so the fused node has three inputs;
 *   - one fused node that runs the recurrence step by step (one [N,H]·[H,G·H]
 *     GEMM per step) and keeps its activated gates. Its backward is
 *     backpropagation through time over the saved gates, one [N,G·H]·[G·H,H]
 *     GEMM per step, then d weight_hh as one GEMM over all steps.
 * The output, h_n and c_n are views of the fused node's output. */
#include <math.h>
#include <string.h>

#include "tape_ops_internal.h"

typedef enum rnn_mode { RNN_TANH, RNN_RELU, RNN_LSTM, RNN_GRU } rnn_mode;

static const struct {
    const char *op;
    int gates;
    const char *gate_names;
} rnn_kinds[] = {
    [RNN_TANH] = {"tape_rnn", 1, "h"},
    [RNN_RELU] = {"tape_rnn", 1, "h"},
    [RNN_LSTM] = {"tape_lstm", 4, "i,f,g,o"},
    [RNN_GRU] = {"tape_gru", 3, "r,z,n"},
};

/* node->i: the mode in the low two bits, then which parts the pack holds */
enum { PACK_BIAS = 4, PACK_H0 = 8, PACK_C0 = 16 };

/* One run of the recurrence: sizes and the buffers it reads and writes. */
typedef struct rnn_run {
    rnn_mode mode;
    int64_t n, l, h, g;   /* batch, steps, hidden size, gates·hidden */
    const float *gx;      /* [N, L, G·H] x·weight_ihᵀ + bias_ih */
    const mt_tensor *w;   /* weight_hh [G·H, H], any strides */
    const float *bias;    /* bias_hh [G·H], or NULL */
    const float *h0, *c0; /* [N, H], or NULL: zeros */
    float *hs;            /* [N, L, H] the hidden states (the output) */
    float *gates;         /* [N, L, G·H] activated gates (LSTM, GRU) */
    float *extra;         /* LSTM: the cells [N, L, H]; GRU: W_hn·h + b_hn [N, L, H] */
    float *cn;            /* LSTM: the last cell [N, H] (in the output) */
} rnn_run;

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* A [rows, cols] view over data whose rows are row_stride floats apart. */
static void rows_view(mt_tensor *t, const float *data, int64_t rows, int64_t cols,
                      int64_t row_stride)
{
    mt_tensor_init_contiguous(t, MT_DTYPE_F32, 2, (int64_t[]){rows, cols}, (void *)data);
    t->stride[0] = row_stride;
}

/* The hidden state before step t as rows h[n] = p + n·*stride, or NULL for
 * a zero h0. */
static const float *h_before(const rnn_run *r, int64_t t, int64_t *stride)
{
    *stride = t ? r->l * r->h : r->h;
    return t ? r->hs + (t - 1) * r->h : r->h0;
}

/* The same for the LSTM's cell state. */
static const float *c_before(const rnn_run *r, int64_t t, int64_t *stride)
{
    *stride = t ? r->l * r->h : r->h;
    return t ? r->extra + (t - 1) * r->h : r->c0;
}

/* gh [N, G·H] = h_{t-1}·weight_hhᵀ + bias_hh */
static mt_status hidden_projection(const rnn_run *r, int64_t t, float *gh)
{
    int64_t hstride;
    const float *hp = h_before(r, t, &hstride);
    if (hp) {
        mt_tensor a, wt, out;
        rows_view(&a, hp, r->n, r->h, hstride);
        rows_view(&out, gh, r->n, r->g, r->g);
        mt_status s = mt_transpose_into(r->w, 0, 1, &wt);
        if (s || (s = mt_matmul_into(&a, &wt, &out)))
            return s;
    } else {
        memset(gh, 0, (size_t)(r->n * r->g) * sizeof *gh);
    }
    if (r->bias)
        for (int64_t i = 0; i < r->n; i++)
            for (int64_t j = 0; j < r->g; j++)
                gh[i * r->g + j] += r->bias[j];
    return MT_OK;
}

/* One step of torch's cell for every row, given gh (hidden projection). */
static void cell_forward(const rnn_run *r, int64_t t, const float *gh)
{
    const int64_t H = r->h, G = r->g;
    int64_t hstride, cstride = 0;
    const float *hp = h_before(r, t, &hstride);
    const float *cp = r->mode == RNN_LSTM ? c_before(r, t, &cstride) : NULL;
    for (int64_t n = 0; n < r->n; n++) {
        const int64_t row = n * r->l + t;
        const float *a = r->gx + row * G, *b = gh + n * G;
        float *h = r->hs + row * H;
        if (r->mode == RNN_TANH || r->mode == RNN_RELU) {
            for (int64_t j = 0; j < H; j++) {
                float z = a[j] + b[j];
                h[j] = r->mode == RNN_TANH ? tanhf(z) : (z > 0.0f ? z : 0.0f);
            }
        } else if (r->mode == RNN_LSTM) {
            float *gt = r->gates + row * G, *c = r->extra + row * H;
            for (int64_t j = 0; j < H; j++) {
                float i = sigmoid(a[j] + b[j]), f = sigmoid(a[H + j] + b[H + j]);
                float g = tanhf(a[2 * H + j] + b[2 * H + j]);
                float o = sigmoid(a[3 * H + j] + b[3 * H + j]);
                float c_prev = cp ? cp[n * cstride + j] : 0.0f;
                c[j] = f * c_prev + i * g;
                h[j] = o * tanhf(c[j]);
                gt[j] = i, gt[H + j] = f, gt[2 * H + j] = g, gt[3 * H + j] = o;
            }
        } else {   /* GRU: n = tanh(W_in x + b_in + r·(W_hn h + b_hn)) */
            float *gt = r->gates + row * G, *hn = r->extra + row * H;
            for (int64_t j = 0; j < H; j++) {
                float rg = sigmoid(a[j] + b[j]), z = sigmoid(a[H + j] + b[H + j]);
                hn[j] = b[2 * H + j];
                float nn = tanhf(a[2 * H + j] + rg * hn[j]);
                float h_prev = hp ? hp[n * hstride + j] : 0.0f;
                h[j] = (1.0f - z) * nn + z * h_prev;
                gt[j] = rg, gt[H + j] = z, gt[2 * H + j] = nn;
            }
        }
    }
}

static mt_status rnn_forward(const rnn_run *r, float *gh)
{
    for (int64_t t = 0; t < r->l; t++) {
        mt_status s = hidden_projection(r, t, gh);
        if (s)
            return s;
        cell_forward(r, t, gh);
    }
    if (r->mode == RNN_LSTM)
        for (int64_t n = 0; n < r->n; n++)
            memcpy(r->cn + n * r->h, r->extra + (n * r->l + r->l - 1) * r->h,
                   (size_t)r->h * sizeof *r->cn);
    return MT_OK;
}

/* ---- backpropagation through time --------------------------------------------- */

/* The gradients one backward pass produces (NULL where not wanted). */
typedef struct rnn_grads {
    const float *gout;   /* d loss / d hs [N, L, H] */
    float *dgx;          /* [N, L, G·H] d gx */
    float *dgh;          /* [N, L, G·H] d gh (the GRU's differs from d gx in n) */
    float *dh;           /* [N, H] d h_{t-1} carried back; d h0 at the end */
    float *dc;           /* [N, H] LSTM: d c_{t-1} carried back; d c0 at the end */
    float *direct;       /* [N, H] GRU: the z·dh part of d h_{t-1} */
} rnn_grads;

/* d gx, d gh of step t from dh (+ the output's gradient) and dc; updates dc
 * to d c_{t-1} and, for the GRU, direct to the z·dh term of d h_{t-1}. */
static void cell_backward(const rnn_run *r, int64_t t, const rnn_grads *d)
{
    const int64_t H = r->h, G = r->g;
    int64_t hstride, cstride = 0;
    const float *hp = h_before(r, t, &hstride);
    const float *cp = r->mode == RNN_LSTM ? c_before(r, t, &cstride) : NULL;
    for (int64_t n = 0; n < r->n; n++) {
        const int64_t row = n * r->l + t;
        const float *go = d->gout + row * H, *h = r->hs + row * H;
        float *dx = d->dgx + row * G, *dhn = d->dh + n * H;
        if (r->mode == RNN_TANH || r->mode == RNN_RELU) {
            for (int64_t j = 0; j < H; j++) {
                float dh = go[j] + dhn[j];
                dx[j] = r->mode == RNN_TANH ? dh * (1.0f - h[j] * h[j])
                                            : (h[j] > 0.0f ? dh : 0.0f);
            }
        } else if (r->mode == RNN_LSTM) {
            const float *gt = r->gates + row * G, *c = r->extra + row * H;
            float *dcn = d->dc + n * H;
            for (int64_t j = 0; j < H; j++) {
                float i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
                float dh = go[j] + dhn[j], tc = tanhf(c[j]);
                float dc = dcn[j] + dh * o * (1.0f - tc * tc);
                float c_prev = cp ? cp[n * cstride + j] : 0.0f;
                dx[j] = dc * g * i * (1.0f - i);
                dx[H + j] = dc * c_prev * f * (1.0f - f);
                dx[2 * H + j] = dc * i * (1.0f - g * g);
                dx[3 * H + j] = dh * tc * o * (1.0f - o);
                dcn[j] = dc * f;
            }
        } else {
            const float *gt = r->gates + row * G, *hn = r->extra + row * H;
            float *dhh = d->dgh + row * G, *direct = d->direct + n * H;
            for (int64_t j = 0; j < H; j++) {
                float rg = gt[j], z = gt[H + j], nn = gt[2 * H + j];
                float dh = go[j] + dhn[j];
                float h_prev = hp ? hp[n * hstride + j] : 0.0f;
                float dn = dh * (1.0f - z) * (1.0f - nn * nn);   /* d (n's pre-activation) */
                dx[j] = dn * hn[j] * rg * (1.0f - rg);
                dx[H + j] = dh * (h_prev - nn) * z * (1.0f - z);
                dx[2 * H + j] = dn;
                dhh[j] = dx[j], dhh[H + j] = dx[H + j];
                dhh[2 * H + j] = dn * rg;   /* gh_n enters n through r·gh_n */
                direct[j] = dh * z;
            }
        }
    }
}

/* d gx and d gh for every step, and dh/dc holding d h0/d c0 at the end
 * (d h0 only when want_h0: the last step's GEMM is skipped otherwise). */
static mt_status rnn_backward(const rnn_run *r, const rnn_grads *d, bool want_h0)
{
    for (int64_t t = r->l; t-- > 0;) {
        cell_backward(r, t, d);
        if (t == 0 && !want_h0)
            break;
        /* dh_{t-1} = dgh_t · weight_hh (+ the GRU's direct z·dh) */
        mt_tensor a, out;
        rows_view(&a, d->dgh + t * r->g, r->n, r->g, r->l * r->g);
        rows_view(&out, d->dh, r->n, r->h, r->h);
        mt_status s = mt_matmul_into(&a, r->w, &out);
        if (s)
            return s;
        if (r->mode == RNN_GRU)
            for (int64_t i = 0; i < r->n * r->h; i++)
                d->dh[i] += d->direct[i];
    }
    return MT_OK;
}

/* Points r's bias, h0 and c0 into the pack (those flags say it holds, in
 * that order); *off_h0, *off_c0 get their offsets, -1 where absent. */
static void pack_layout(int flags, const float *pack, rnn_run *r, int64_t *off_h0,
                        int64_t *off_c0)
{
    int64_t off = 0;
    *off_h0 = *off_c0 = -1;
    if (flags & PACK_BIAS)
        r->bias = pack, off = r->g;
    if (flags & PACK_H0)
        r->h0 = pack + off, *off_h0 = off, off += r->n * r->h;
    if (flags & PACK_C0)
        r->c0 = pack + off, *off_c0 = off;
}

/* d weight_hh = Σ_t dgh_tᵀ · h_{t-1}: one GEMM over the N·L rows, the
 * states before each step gathered first. */
static mt_status weight_hh_backward(mt_tape *tape, const char *op, const rnn_run *r,
                                    const rnn_grads *d, mt_value *w)
{
    mt_tensor *dw, *hprev;
    mt_status s = mt_grad_target(tape, w, &dw);
    if (s || !dw || (s = mt_tape_scratch(tape, op, 2, (int64_t[]){r->n * r->l, r->h}, &hprev)))
        return s;
    float *hpv = hprev->data;
    for (int64_t n = 0; n < r->n; n++)
        for (int64_t t = 0; t < r->l; t++) {
            int64_t stride;
            const float *src = h_before(r, t, &stride);
            if (src)   /* else a zero h0: the scratch is zeroed */
                memcpy(hpv + (n * r->l + t) * r->h, src + n * stride,
                       (size_t)r->h * sizeof *hpv);
        }
    mt_tensor a, at;
    rows_view(&a, d->dgh, r->n * r->l, r->g, r->g);
    if ((s = mt_transpose_into(&a, 0, 1, &at)) || (s = mt_matmul_into(&at, hprev, dw)))
        return s;
    return mt_grad_commit(tape, w, dw);
}

/* The pack's gradient: d bias_hh (the column sums of dgh), d h0, d c0. */
static mt_status pack_backward(mt_tape *tape, const rnn_run *r, const rnn_grads *d,
                               mt_value *pack, int flags, int64_t off_h0, int64_t off_c0)
{
    mt_tensor *dp;
    mt_status s = mt_grad_target(tape, pack, &dp);
    if (s || !dp)
        return s;
    float *p = dp->data;
    const size_t nh = (size_t)(r->n * r->h);
    if (flags & PACK_BIAS) {
        memset(p, 0, (size_t)r->g * sizeof *p);
        for (int64_t i = 0; i < r->n * r->l * r->g; i += r->g)
            for (int64_t j = 0; j < r->g; j++)
                p[j] += d->dgh[i + j];
    }
    if (off_h0 >= 0)
        memcpy(p + off_h0, d->dh, nh * sizeof *p);
    if (off_c0 >= 0)
        memcpy(p + off_c0, d->dc, nh * sizeof *p);
    return mt_grad_commit(tape, pack, dp);
}

/* The fused node's backward: in = {gx, weight_hh, pack or NULL}. */
static mt_status recurrence_backward(mt_tape *tape, const tape_node *node)
{
    mt_value *gx = node->in[0], *w = node->in[1], *pack = node->in[2];
    const int flags = (int)node->i;
    const char *op = node->op;
    rnn_run r = {.mode = (rnn_mode)(flags & 3), .n = gx->data->shape[0],
                 .l = gx->data->shape[1], .g = gx->data->shape[2], .h = w->data->shape[1],
                 .gx = gx->data->data, .w = w->data, .hs = node->out->data->data,
                 .gates = node->saved ? node->saved->data : NULL,
                 .extra = node->saved2 ? node->saved2->data : NULL};
    int64_t off_h0, off_c0;
    pack_layout(flags, pack ? pack->data->data : NULL, &r, &off_h0, &off_c0);

    /* d gx goes straight into gx's gradient when gx needs one */
    const int64_t state[2] = {r.n, r.h};
    mt_tensor *dgx_t, *dgh_t = NULL, *dh_t, *dc_t = NULL, *direct_t = NULL;
    mt_status s = mt_grad_target(tape, gx, &dgx_t);
    if (s || (!dgx_t && (s = mt_tape_scratch(tape, op, 3, gx->data->shape, &dgx_t))) ||
        (s = mt_tape_scratch(tape, op, 2, state, &dh_t)))
        return s;
    if (r.mode == RNN_GRU && ((s = mt_tape_scratch(tape, op, 3, gx->data->shape, &dgh_t)) ||
                              (s = mt_tape_scratch(tape, op, 2, state, &direct_t))))
        return s;
    if (r.mode == RNN_LSTM && (s = mt_tape_scratch(tape, op, 2, state, &dc_t)))
        return s;
    const float *g = node->out->grad->data;
    rnn_grads d = {.gout = g, .dgx = dgx_t->data, .dgh = dgh_t ? dgh_t->data : dgx_t->data,
                   .dh = dh_t->data, .dc = dc_t ? dc_t->data : NULL,
                   .direct = direct_t ? direct_t->data : NULL};
    if (r.mode == RNN_LSTM)   /* c_n's gradient follows the sequence's in the output */
        memcpy(d.dc, g + r.n * r.l * r.h, (size_t)(r.n * r.h) * sizeof *d.dc);
    const bool want_pack = pack && pack->requires_grad;
    if ((s = rnn_backward(&r, &d, want_pack && off_h0 >= 0)) ||
        (s = mt_grad_commit(tape, gx, gx->requires_grad ? dgx_t : NULL)) ||
        (s = weight_hh_backward(tape, op, &r, &d, w)))
        return s;
    return want_pack ? pack_backward(tape, &r, &d, pack, flags, off_h0, off_c0) : MT_OK;
}

/* ---- recording ----------------------------------------------------------------- */

typedef struct rnn_args {
    mt_value *x;
    const mt_tape_rnn_weights *w;
    mt_value *h0, *c0;
} rnn_args;

/* v (named `name`) is F32 of one of the given shapes ([N, H] or [1, N, H]
 * for a state); a NULL optional v passes. */
static mt_status check_state(const char *op, const mt_tape *tape, const mt_value *v,
                             const char *name, int64_t n, int64_t h)
{
    if (!v)
        return MT_OK;
    if (!v->data)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s has no data", op, name);
    mt_status s = mt_tape_owns(op, tape, v, name);
    if (s || (s = mt_check_f32(op, v->data)))
        return s;
    const mt_tensor *t = v->data;
    bool ok = (t->rank == 2 && t->shape[0] == n && t->shape[1] == h) ||
              (t->rank == 3 && t->shape[0] == 1 && t->shape[1] == n && t->shape[2] == h);
    if (!ok)
        return mt_fail(MT_ERR_SHAPE, "%s: %s %s must be [N, H] = [%lld, %lld] (or [1, N, H])",
                       op, name, MT_SHAPE(t), (long long)n, (long long)h);
    return MT_OK;
}

/* A value that needs a parameter slot: present, of this tape, F32. */
static mt_status check_weight(const char *op, const mt_tape *tape, const mt_value *v,
                              const char *name, bool optional)
{
    if (!v && optional)
        return MT_OK;
    if (!v || !v->data)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, name);
    mt_status s = mt_tape_owns(op, tape, v, name);
    return s ? s : mt_check_f32(op, v->data);
}

static mt_status check_args(rnn_mode mode, mt_tape *tape, const rnn_args *a, mt_value **out,
                            int64_t *dims)
{
    const char *op = rnn_kinds[mode].op;
    const int gates = rnn_kinds[mode].gates;
    mt_status s = mt_tape_check(op, tape, NULL, 0, out);
    if (s)
        return s;
    if (!a->x || !a->x->data)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: x is NULL", op);
    if (!a->w)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: weights is NULL", op);
    if ((s = mt_tape_owns(op, tape, a->x, "x")) || (s = mt_check_f32(op, a->x->data)) ||
        (s = check_weight(op, tape, a->w->weight_ih, "weight_ih", false)) ||
        (s = check_weight(op, tape, a->w->weight_hh, "weight_hh", false)) ||
        (s = check_weight(op, tape, a->w->bias_ih, "bias_ih", true)) ||
        (s = check_weight(op, tape, a->w->bias_hh, "bias_hh", true)))
        return s;
    const mt_tensor *x = a->x->data, *wi = a->w->weight_ih->data, *wh = a->w->weight_hh->data;
    if (x->rank != 3 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: x %s must be [N, L, F] (batch_first) with N, L, "
                       "F >= 1", op, MT_SHAPE(x));
    const int64_t n = x->shape[0], l = x->shape[1], f = x->shape[2];
    if (wi->rank != 2 || wi->shape[0] < gates || wi->shape[0] % gates || wi->shape[1] != f)
        return mt_fail(MT_ERR_SHAPE, "%s: weight_ih %s must be [%d·H, F] = [%d·H, %lld] "
                       "(gates %s) for x %s", op, MT_SHAPE(wi), gates, gates, (long long)f,
                       rnn_kinds[mode].gate_names, MT_SHAPE(x));
    const int64_t h = wi->shape[0] / gates, g = wi->shape[0];
    if (wh->rank != 2 || wh->shape[0] != g || wh->shape[1] != h)
        return mt_fail(MT_ERR_SHAPE, "%s: weight_hh %s must be [%d·H, H] = [%lld, %lld]: the "
                       "hidden size H = %lld comes from weight_ih %s", op, MT_SHAPE(wh), gates,
                       (long long)g, (long long)h, (long long)h, MT_SHAPE(wi));
    const mt_value *biases[2] = {a->w->bias_ih, a->w->bias_hh};
    for (int k = 0; k < 2; k++) {
        const mt_tensor *b = biases[k] ? biases[k]->data : NULL;
        if (b && (b->rank != 1 || b->shape[0] != g))
            return mt_fail(MT_ERR_SHAPE, "%s: %s %s must be [%d·H] = [%lld]", op,
                           k ? "bias_hh" : "bias_ih", MT_SHAPE(b), gates, (long long)g);
    }
    if ((s = check_state(op, tape, a->h0, "h0", n, h)) ||
        (s = check_state(op, tape, a->c0, "c0", n, h)))
        return s;
    dims[0] = n, dims[1] = l, dims[2] = f, dims[3] = h;
    return MT_OK;
}

/* v (any view) seen as `shape`: a view when its strides allow, else a copy. */
static mt_status as_shape(mt_tape *tape, mt_value *v, int rank, const int64_t *shape,
                          mt_value **out)
{
    if (mt_tensor_is_contiguous(v->data))
        return mt_tape_reshape(tape, v, rank, shape, out);
    mt_value *c;
    mt_status s = mt_tape_contiguous(tape, v, &c);
    return s ? s : mt_tape_reshape(tape, c, rank, shape, out);
}

/* bias_hh, h0 and c0 (those given) in one vector; NULL if none is. */
static mt_status pack_state(mt_tape *tape, const rnn_args *a, int64_t nh, int *flags,
                            mt_value **pack)
{
    mt_value *parts[3];
    int k = 0;
    mt_status s;
    *pack = NULL;
    if (a->w->bias_hh)
        parts[k++] = a->w->bias_hh, *flags |= PACK_BIAS;
    mt_value *const states[2] = {a->h0, a->c0};
    for (int i = 0; i < 2; i++) {
        if (!states[i])
            continue;
        if ((s = as_shape(tape, states[i], 1, (int64_t[]){nh}, &parts[k++])))
            return s;
        *flags |= i ? PACK_C0 : PACK_H0;
    }
    return k ? mt_tape_concat(tape, parts, k, 0, pack) : MT_OK;
}

static mt_status rnn_record_steps(rnn_mode mode, mt_tape *tape, const rnn_args *a,
                                  const int64_t *dims, mt_value **out, mt_value **h_n,
                                  mt_value **c_n)
{
    const char *op = rnn_kinds[mode].op;
    const int64_t n = dims[0], l = dims[1], f = dims[2], h = dims[3];
    const int64_t g = h * rnn_kinds[mode].gates, nlh = n * l * h;
    mt_value *x2, *wt, *proj, *gx, *pack, *seq, *last;
    int flags = (int)mode;
    mt_status s;
    if ((s = as_shape(tape, a->x, 2, (int64_t[]){n * l, f}, &x2)) ||
        (s = mt_tape_transpose(tape, a->w->weight_ih, 0, 1, &wt)) ||
        (s = mt_tape_linear(tape, x2, wt, a->w->bias_ih, MT_ACTIVATION_NONE, &proj)) ||
        (s = mt_tape_reshape(tape, proj, 3, (int64_t[]){n, l, g}, &gx)) ||
        (s = pack_state(tape, a, n * h, &flags, &pack)))
        return s;

    /* the fused node's output: the hidden states [N, L, H], then (LSTM) c_n [N, H] */
    mt_value *v;
    mt_tensor *gates = NULL, *extra = NULL, *gh;
    if (mode == RNN_LSTM)
        s = mt_tape_value(tape, op, 1, (int64_t[]){nlh + n * h}, &v);
    else
        s = mt_tape_value(tape, op, 3, (int64_t[]){n, l, h}, &v);
    if (s || (s = mt_tape_scratch(tape, op, 2, (int64_t[]){n, g}, &gh)))
        return s;
    if ((mode == RNN_LSTM || mode == RNN_GRU) &&
        ((s = mt_tape_scratch(tape, op, 3, (int64_t[]){n, l, g}, &gates)) ||
         (s = mt_tape_scratch(tape, op, 3, (int64_t[]){n, l, h}, &extra))))
        return s;
    rnn_run r = {.mode = mode, .n = n, .l = l, .h = h, .g = g, .gx = gx->data->data,
                 .w = a->w->weight_hh->data, .hs = v->data->data,
                 .gates = gates ? gates->data : NULL, .extra = extra ? extra->data : NULL,
                 .cn = (float *)v->data->data + nlh};
    int64_t off_h0, off_c0;
    pack_layout(flags, pack ? pack->data->data : NULL, &r, &off_h0, &off_c0);
    if ((s = rnn_forward(&r, gh->data)))
        return s;
    tape_node node = {.op = op, .backward = recurrence_backward, .out = v,
                      .in = {gx, a->w->weight_hh, pack}, .saved = gates, .saved2 = extra,
                      .i = flags};
    if ((s = mt_tape_record(tape, &node)))
        return s;

    seq = v;
    mt_value *cell = NULL;
    if (mode == RNN_LSTM) {
        mt_value *part;
        if ((s = mt_tape_narrow(tape, v, 0, 0, nlh, &part)) ||
            (s = mt_tape_reshape(tape, part, 3, (int64_t[]){n, l, h}, &seq)))
            return s;
        if (c_n && ((s = mt_tape_narrow(tape, v, 0, nlh, n * h, &part)) ||
                    (s = mt_tape_reshape(tape, part, 2, (int64_t[]){n, h}, &cell))))
            return s;
    }
    mt_value *hidden = NULL;
    if (h_n && ((s = mt_tape_narrow(tape, seq, 1, l - 1, 1, &last)) ||
                (s = mt_tape_squeeze(tape, last, 1, &hidden))))
        return s;
    *out = seq;
    if (h_n)
        *h_n = hidden;
    if (c_n)
        *c_n = cell;
    return MT_OK;
}

/* Checks everything, then records; a failure part-way (out of memory) drops
 * the nodes recorded so far, so a failed call leaves the tape as it was. */
static mt_status rnn_record(rnn_mode mode, mt_tape *tape, const rnn_args *a, mt_value **out,
                            mt_value **h_n, mt_value **c_n)
{
    int64_t dims[4];
    mt_status s = check_args(mode, tape, a, out, dims);
    if (s)
        return s;
    const size_t recorded = tape->n_nodes;
    if ((s = rnn_record_steps(mode, tape, a, dims, out, h_n, c_n)))
        tape->n_nodes = recorded;
    return s;
}

mt_status mt_tape_rnn(mt_tape *tape, mt_value *x, const mt_tape_rnn_weights *weights,
                      mt_value *h0, mt_activation nonlinearity, mt_value **out,
                      mt_value **h_n)
{
    if (nonlinearity != MT_ACTIVATION_TANH && nonlinearity != MT_ACTIVATION_RELU)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tape_rnn: nonlinearity %d must be "
                       "MT_ACTIVATION_TANH or MT_ACTIVATION_RELU (torch's 'tanh', 'relu')",
                       (int)nonlinearity);
    rnn_args a = {.x = x, .w = weights, .h0 = h0};
    return rnn_record(nonlinearity == MT_ACTIVATION_TANH ? RNN_TANH : RNN_RELU, tape, &a, out,
                      h_n, NULL);
}

mt_status mt_tape_lstm(mt_tape *tape, mt_value *x, const mt_tape_rnn_weights *weights,
                       mt_value *h0, mt_value *c0, mt_value **out, mt_value **h_n,
                       mt_value **c_n)
{
    rnn_args a = {.x = x, .w = weights, .h0 = h0, .c0 = c0};
    return rnn_record(RNN_LSTM, tape, &a, out, h_n, c_n);
}

mt_status mt_tape_gru(mt_tape *tape, mt_value *x, const mt_tape_rnn_weights *weights,
                      mt_value *h0, mt_value **out, mt_value **h_n)
{
    rnn_args a = {.x = x, .w = weights, .h0 = h0};
    return rnn_record(RNN_GRU, tape, &a, out, h_n, NULL);
}
