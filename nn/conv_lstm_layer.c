/* conv_lstm_layer.c — Keras' ConvLSTM1D/2D/3D (conv_lstm.h): per step, the
 * input conv (with the bias) and the recurrent conv into scratch, then
 * rnn_step.c's LSTM gates on each output pixel as a row of 4F. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "minitensor/conv_lstm.h"
#include "minitensor/view.h"
#include "rnn_internal.h"
#include "state_dict_internal.h"

typedef struct conv_lstm_state {
    int rank;                         /* spatial dims: 1, 2 or 3 */
    int dirs;                         /* 1, or 2: Keras' Bidirectional (forward, backward) */
    mt_rnn_merge merge;               /* how the two directions join */
    mt_tensor *kernel[2], *rkernel[2];  /* [k..., C, 4F], [k'..., F, 4F]; contiguous F32 */
    mt_tensor *bias[2];               /* [4F] or NULL */
    int64_t in_ch, filters;
    int64_t k[3], stride[3], dilation[3];
    mt_padding padding;
    mt_rnn_return output;
    bool go_backwards;
    mt_rnn_activation act, rec_act;   /* resolved: never DEFAULT */
} conv_lstm_state;

static void conv_lstm_release(void *state)
{
    conv_lstm_state *st = state;
    for (int d = 0; d < 2; d++) {
        mt_tensor_free(st->kernel[d]);
        mt_tensor_free(st->rkernel[d]);
        mt_tensor_free(st->bias[d]);
    }
}

/* ---- shapes ------------------------------------------------------------------ */

/* The input conv's output size o[0..rank-1] for spatial size s; false if a
 * window does not fit or a size overflows. */
static bool out_size(const conv_lstm_state *st, const int64_t *s, int64_t *o)
{
    for (int d = 0; d < st->rank; d++) {
        o[d] = mt_nn_window_len(s[d], st->k[d], st->stride[d], st->dilation[d], st->padding,
                                0, 0, false);
        if (o[d] < 1)
            return false;
    }
    return true;
}

/* Elements of [N, o..., F]: the state; -1 past SIZE_MAX / 64 (the scratch
 * is 40 bytes per element, and must stay countable in a 32-bit size_t). */
static int64_t state_elems(const conv_lstm_state *st, int64_t nb, const int64_t *o)
{
    const int64_t most = (uint64_t)SIZE_MAX < (uint64_t)INT64_MAX ? (int64_t)(SIZE_MAX / 64)
                                                                  : INT64_MAX / 64;
    int64_t e = st->filters;
    if (nb && e > most / nb)
        return -1;
    e *= nb;
    for (int d = 0; d < st->rank; d++) {
        if (o[d] && e > most / o[d])
            return -1;
        e *= o[d];
    }
    return e;
}

static mt_status conv_lstm_infer(const mt_layer *l, int n, const mt_shape *in,
                                 const char *const *from, mt_shape *out)
{
    const conv_lstm_state *st = l->state;
    int r = st->rank;
    char a[160];
    if (n != 1 && (n != 3 || st->dirs == 2))
        return mt_fail(MT_ERR_SHAPE, st->dirs == 2 ? "expects the sequence alone (a "
                       "Bidirectional takes no initial state here), given %d inputs"
                       : "expects the sequence, or it and initial h and c, given %d inputs",
                       n);
    if (in->dtype != MT_DTYPE_F32 || in->rank != r + 3 || in->dim[r + 2] != st->in_ch)
        return mt_fail(in->dtype == MT_DTYPE_F32 ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                       "expects F32 [N,T,%s%lld] (channels last, %d spatial dim%s), %s gives "
                       "%s %s", r == 1 ? "W," : r == 2 ? "H,W," : "D,H,W,",
                       (long long)st->in_ch, r, r > 1 ? "s" : "", from[0],
                       mt_dtype_name(in->dtype), mt_nn_shape_text(in, a, sizeof a));
    if (in->dim[1] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects at least one step, %s gives %s", from[0],
                       mt_nn_shape_text(in, a, sizeof a));
    int64_t o[3];
    if (!out_size(st, in->dim + 2, o))
        return mt_fail(MT_ERR_SHAPE, "a kernel of %lldx%lldx%lld (dilation %lldx%lldx%lld, "
                       "the last %d) with %s padding does not fit %s's %s", (long long)st->k[0],
                       (long long)st->k[1], (long long)st->k[2], (long long)st->dilation[0],
                       (long long)st->dilation[1], (long long)st->dilation[2], r,
                       st->padding == MT_PADDING_SAME ? "SAME" : "VALID", from[0],
                       mt_nn_shape_text(in, a, sizeof a));
    if (state_elems(st, in->dim[0], o) < 0)
        return mt_fail(MT_ERR_OVERFLOW, "the state for %s overflows", from[0]);
    mt_shape state = {.dtype = MT_DTYPE_F32, .rank = r + 2};
    state.dim[0] = in->dim[0];
    memcpy(state.dim + 1, o, (size_t)r * sizeof *o);
    state.dim[r + 1] = st->filters;
    for (int i = 1; i < n; i++) {
        bool ok = in[i].dtype == MT_DTYPE_F32 && in[i].rank == state.rank;
        for (int d = 0; ok && d < state.rank; d++)
            ok = in[i].dim[d] == state.dim[d];
        if (!ok) {
            char b[160];
            return mt_fail(in[i].dtype == MT_DTYPE_F32 ? MT_ERR_SHAPE : MT_ERR_DTYPE,
                           "expects initial %s as F32 %s (the state for %s), %s gives %s %s",
                           i == 1 ? "h" : "c", mt_nn_shape_text(&state, b, sizeof b), from[0],
                           from[i], mt_dtype_name(in[i].dtype),
                           mt_nn_shape_text(&in[i], a, sizeof a));
        }
    }
    *out = state;
    if (st->output == MT_RNN_RETURN_SEQUENCES) {   // [N, T, o..., F]
        out->rank = r + 3;
        memmove(out->dim + 2, state.dim + 1, (size_t)(r + 1) * sizeof *o);
        out->dim[1] = in->dim[1];
    }
    if (st->dirs == 2 && st->merge == MT_RNN_MERGE_CONCAT)   // both directions' F
        out->dim[out->rank - 1] *= 2;
    return MT_OK;
}

/* ---- running ------------------------------------------------------------------ */

typedef struct conv_lstm_scratch {
    float *xg, *hg;   /* [N, o..., 4F]: the step's input conv (+ bias), h's recurrent conv */
    float *h, *c;     /* [N, o..., F] */
} conv_lstm_scratch;

/* Bytes of scratch for state elements e (N·o·F), with base the parts. */
static size_t scratch_parts(int64_t e, char *base, conv_lstm_scratch *sc)
{
    size_t gates = ((size_t)e * 4 * sizeof(float) + 63) / 64 * 64;
    size_t state = ((size_t)e * sizeof(float) + 63) / 64 * 64;
    if (base) {
        sc->xg = (float *)base;
        sc->hg = (float *)(base + gates);
        sc->h = (float *)(base + 2 * gates);
        sc->c = (float *)(base + 2 * gates + state);
    }
    return 2 * gates + 2 * state;
}

static size_t conv_lstm_scratch_bytes(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const conv_lstm_state *st = l->state;
    int64_t o[3];
    if (!out_size(st, in->dim + 2, o))
        return 0;
    return scratch_parts(state_elems(st, in->dim[0], o), NULL, &(conv_lstm_scratch){0});
}

/* out = conv(x, k) (+ bias): x [N, s..., Cx] (a view), k [k..., Cx, 4F], out
 * [N, o..., 4F] contiguous. ConvLSTM1D runs conv2d over a height of 1. */
static mt_status conv(const conv_lstm_state *st, const mt_tensor *x, const mt_tensor *k,
                      const mt_tensor *b, bool recurrent, mt_tensor *out)
{
    int64_t one[3] = {1, 1, 1};
    const int64_t *stride = recurrent ? one : st->stride, *dil = recurrent ? one : st->dilation;
    mt_padding pad = recurrent ? MT_PADDING_SAME : st->padding;
    if (st->rank == 3)
        return mt_conv3d_into(x, k, b, &(mt_conv3d_params){
                .kernel_layout = MT_KERNEL_HWIO, .padding = pad, .stride_d = stride[0],
                .stride_h = stride[1], .stride_w = stride[2], .dilation_d = dil[0],
                .dilation_h = dil[1], .dilation_w = dil[2]}, out);
    mt_conv2d_params p = {.kernel_layout = MT_KERNEL_HWIO, .padding = pad};
    if (st->rank == 2) {
        p.stride_h = stride[0], p.stride_w = stride[1];
        p.dilation_h = dil[0], p.dilation_w = dil[1];
        return mt_conv2d_into(x, k, b, &p, out);
    }
    p.stride_w = stride[0], p.dilation_w = dil[0];
    mt_tensor x2, k2, o2;
    mt_status s;
    if ((s = mt_unsqueeze_into(x, 1, &x2)) || (s = mt_unsqueeze_into(k, 0, &k2)) ||
        (s = mt_unsqueeze_into(out, 1, &o2)))
        return s;
    return mt_conv2d_into(&x2, &k2, b, &p, &o2);
}

/* Direction d's h (or c) v into dst, a step of out: all of it with one
 * direction; with two, its half for CONCAT, else the forward direction's
 * copied and the backward one's merged in (Keras' Bidirectional). */
static mt_status place(const conv_lstm_state *st, int d, mt_tensor *dst, const mt_tensor *v)
{
    if (st->dirs == 1 || (st->merge != MT_RNN_MERGE_CONCAT && d == 0))
        return mt_tensor_copy_into(v, dst);
    mt_tensor half;
    mt_status s;
    switch (st->merge) {
    case MT_RNN_MERGE_SUM:
        return mt_add_into(dst, v, dst);
    case MT_RNN_MERGE_MUL:
        return mt_mul_into(dst, v, dst);
    case MT_RNN_MERGE_AVE:
        return (s = mt_add_into(dst, v, dst)) ? s : mt_mul_scalar_into(dst, 0.5f, dst);
    default:
        return (s = mt_narrow_into(dst, dst->rank - 1, d * st->filters, st->filters, &half))
                   ? s : mt_tensor_copy_into(v, &half);
    }
}

static mt_status conv_lstm_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                   void *scratch, mt_tensor *out)
{
    const conv_lstm_state *st = l->state;
    const mt_tensor *x = in[0];
    int r = st->rank;
    int64_t nb = x->shape[0], steps = x->shape[1], o[3];
    if (!out_size(st, x->shape + 2, o))   // infer checked it
        return mt_fail(MT_ERR_SHAPE, "conv_lstm: input does not fit the kernel");
    int64_t e = state_elems(st, nb, o), pixels = e / st->filters;
    if (e == 0)   // an empty batch: an empty output
        return MT_OK;
    conv_lstm_scratch sc = {0};
    scratch_parts(e, scratch, &sc);
    rnn_state cell = {.cell = MT_NN_RNN_CELL_LSTM, .gates = 4, .hidden = st->filters,
                      .width = st->filters, .act = st->act, .rec_act = st->rec_act,
                      .plain = st->act == MT_RNN_ACTIVATION_TANH &&
                               st->rec_act == MT_RNN_ACTIVATION_SIGMOID};
    int64_t sdim[MT_MAX_RANK], gdim[MT_MAX_RANK];
    sdim[0] = gdim[0] = nb;
    memcpy(sdim + 1, o, (size_t)r * sizeof *o);
    memcpy(gdim + 1, o, (size_t)r * sizeof *o);
    sdim[r + 1] = st->filters;
    gdim[r + 1] = 4 * st->filters;
    mt_tensor h, c, xg, hg, step, xt;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, r + 2, sdim, sc.h, &h)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, r + 2, sdim, sc.c, &c)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, r + 2, gdim, sc.xg, &xg)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, r + 2, gdim, sc.hg, &hg)))
        return s;
    for (int d = 0; d < st->dirs; d++) {
        /* the backward direction runs the other way; Keras' Bidirectional
         * turns its sequence back into time order */
        const bool back = st->go_backwards != (d == 1);
        if (n == 3) {
            if ((s = mt_tensor_copy_into(in[1], &h)) || (s = mt_tensor_copy_into(in[2], &c)))
                return s;
        } else {
            memset(sc.h, 0, (size_t)e * sizeof(float));
            memset(sc.c, 0, (size_t)e * sizeof(float));
        }
        for (int64_t i = 0; i < steps; i++) {
            int64_t t = back ? steps - 1 - i : i;
            if ((s = mt_narrow_into(x, 1, t, 1, &step)) || (s = mt_squeeze_into(&step, 1, &xt)) ||
                (s = conv(st, &xt, st->kernel[d], st->bias[d], false, &xg)) ||
                (s = conv(st, &h, st->rkernel[d], NULL, true, &hg)))
                return s;
            mt_nn_lstm_step(&cell, pixels, sc.xg, 4 * st->filters, sc.hg, sc.h, sc.c);
            if (st->output == MT_RNN_RETURN_SEQUENCES &&
                ((s = mt_narrow_into(out, 1, d == 1 ? steps - 1 - i : i, 1, &step)) ||
                 (s = mt_squeeze_into(&step, 1, &xt)) || (s = place(st, d, &xt, &h))))
                return s;
        }
        if (st->output != MT_RNN_RETURN_SEQUENCES &&
            (s = place(st, d, out, st->output == MT_RNN_RETURN_CELL_STATE ? &c : &h)))
            return s;
    }
    return MT_OK;
}

static const mt_layer_vtable conv_lstm_vtable = {
    .n_inputs = 0,
    .infer = conv_lstm_infer,
    .forward = conv_lstm_forward,
    .scratch_bytes = conv_lstm_scratch_bytes,
    .release = conv_lstm_release,
};

/* ---- construction ------------------------------------------------------------- */

static bool is_float(mt_dtype d)
{
    return d == MT_DTYPE_F32 || d == MT_DTYPE_F16 || d == MT_DTYPE_BF16 || d == MT_DTYPE_F64;
}

/* The options, resolved into st (strides and dilations of 0 are 1). */
static mt_status check_options(const char *name, const mt_conv_lstm_options *o,
                               conv_lstm_state *st)
{
    if (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: padding %d, expected VALID or SAME "
                       "(Keras' 'valid' or 'same')", name, (int)o->padding);
    if (o->output != MT_RNN_RETURN_SEQUENCES && o->output != MT_RNN_RETURN_FINAL_STATE &&
        o->output != MT_RNN_RETURN_LAST_STEP && o->output != MT_RNN_RETURN_CELL_STATE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output %d, expected SEQUENCES, "
                       "FINAL_STATE, LAST_STEP or CELL_STATE", name, (int)o->output);
    if ((unsigned)o->activation > MT_RNN_ACTIVATION_LINEAR ||
        (unsigned)o->recurrent_activation > MT_RNN_ACTIVATION_LINEAR)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: activation %d or recurrent_activation "
                       "%d is not an mt_rnn_activation", name, (int)o->activation,
                       (int)o->recurrent_activation);
    for (int d = 0; d < 3; d++) {
        if (o->stride[d] < 0 || o->dilation[d] < 0 ||
            (d >= st->rank && (o->stride[d] > 1 || o->dilation[d] > 1)))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: stride %lld or dilation %lld of "
                           "dim %d: expected >= 1 (0 means 1) within the %d spatial dim%s",
                           name, (long long)o->stride[d], (long long)o->dilation[d], d,
                           st->rank, st->rank > 1 ? "s" : "");
        st->stride[d] = o->stride[d] ? o->stride[d] : 1;
        st->dilation[d] = o->dilation[d] ? o->dilation[d] : 1;
    }
    // a one-way layer does not read merge, but a value of no merge is a bug
    if ((unsigned)o->merge > MT_RNN_MERGE_NONE)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: merge %d is not a mt_rnn_merge", name,
                       (int)o->merge);
    if (st->dirs == 2 && ((unsigned)o->merge > MT_RNN_MERGE_AVE ||
                          o->output == MT_RNN_RETURN_CELL_STATE))
        return mt_fail(o->merge == MT_RNN_MERGE_NONE || o->output == MT_RNN_RETURN_CELL_STATE
                           ? MT_ERR_UNSUPPORTED : MT_ERR_INVALID_ARGUMENT,
                       "%s: a Bidirectional with merge %d and output %d: the merge must "
                       "be CONCAT, SUM, MUL or AVE (merge_mode=None's two outputs are not "
                       "supported), the output SEQUENCES, LAST_STEP or FINAL_STATE (Keras "
                       "returns its states unmerged)", name, (int)o->merge, (int)o->output);
    st->merge = o->merge;
    st->padding = o->padding;
    st->output = o->output;
    st->go_backwards = o->go_backwards;
    st->act = o->activation ? o->activation : MT_RNN_ACTIVATION_TANH;
    st->rec_act = o->recurrent_activation ? o->recurrent_activation : MT_RNN_ACTIVATION_SIGMOID;
    return MT_OK;
}

/* The kernels' and bias' shapes, into st's rank, sizes and channels. */
static mt_status check_tensors(const char *name, const mt_tensor *k, const mt_tensor *u,
                               const mt_tensor *b, conv_lstm_state *st)
{
    char ks[160], us[160], bs[160];
    mt_tensor_describe(k, ks, sizeof ks);
    mt_tensor_describe(u, us, sizeof us);
    if (!is_float(k->dtype) || !is_float(u->dtype) || (b && !is_float(b->dtype)))
        return mt_fail(MT_ERR_DTYPE, "%s: kernel %s, recurrent kernel %s%s%s: expected "
                       "float weights", name, ks, us, b ? ", bias " : "",
                       b ? mt_tensor_describe(b, bs, sizeof bs) : "");
    int r = k->rank - 2;
    const int64_t *kd = k->shape, *ud = u->shape;
    bool ok = r >= 1 && r <= 3 && u->rank == k->rank && kd[r + 1] >= 4 && kd[r + 1] % 4 == 0 &&
              kd[r] >= 1 && ud[r + 1] == kd[r + 1] && ud[r] == kd[r + 1] / 4;
    for (int d = 0; ok && d < r; d++)
        ok = kd[d] >= 1 && ud[d] >= 1;
    if (!ok)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s and recurrent kernel %s, expected Keras' "
                       "[k..., C, 4F] and [k..., F, 4F] with 1 to 3 spatial dims", name, ks,
                       us);
    if (b && (b->rank != 1 || b->shape[0] != kd[r + 1]))
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (4F of kernel %s)", name,
                       mt_tensor_describe(b, bs, sizeof bs), (long long)kd[r + 1], ks);
    st->rank = r;
    for (int d = 0; d < 3; d++)
        st->k[d] = d < r ? kd[d] : 1;
    st->in_ch = kd[r];
    st->filters = kd[r + 1] / 4;
    return MT_OK;
}

/* The layer over dirs directions' weights k[d], u[d], b[d]. */
static mt_status conv_lstm_make(const mt_tensor *const *k, const mt_tensor *const *u,
                                const mt_tensor *const *b, int dirs,
                                const mt_conv_lstm_options *options, mt_layer **out)
{
    char name[MT_NAME_MAX + 16];
    snprintf(name, sizeof name, "conv_lstm%s%s", k[0]->name[0] ? " " : "", k[0]->name);
    conv_lstm_state st = {.dirs = dirs}, other = {0};
    mt_status s = MT_OK;
    for (int d = 0; d < dirs && !s; d++)
        if (!(s = mt_nn_check_weight(name, "kernel", k[d])) &&
            !(s = mt_nn_check_weight(name, "recurrent kernel", u[d])) &&
            !(s = mt_nn_check_weight(name, "bias", b[d])))
            s = check_tensors(name, k[d], u[d], b[d], d ? &other : &st);
    if (s || (s = check_options(name, options ? options : &(mt_conv_lstm_options){0}, &st)))
        return s;
    if (dirs == 2 && (other.rank != st.rank || other.in_ch != st.in_ch ||
                      other.filters != st.filters || memcmp(other.k, st.k, sizeof st.k) ||
                      !b[0] != !b[1])) {
        char a[160], c[160];
        return mt_fail(MT_ERR_SHAPE, "%s: the backward direction's kernel %s differs from "
                       "the forward one's %s (or only one has a bias)", name,
                       mt_tensor_describe(k[1], a, sizeof a),
                       mt_tensor_describe(k[0], c, sizeof c));
    }
    mt_layer *l = mt_nn_layer_alloc("conv_lstm", &conv_lstm_vtable, MT_LAYER_CONV_LSTM, name,
                                    sizeof st);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    conv_lstm_state *held = l->state;
    *held = st;
    for (int d = 0; d < dirs && !s; d++)
        if (!(s = mt_nn_hold_for(name, "kernel", k[d], true, &held->kernel[d])) &&
            !(s = mt_nn_hold_for(name, "recurrent kernel", u[d], true, &held->rkernel[d])) &&
            b[d])
            s = mt_nn_hold_for(name, "bias", b[d], false, &held->bias[d]);
    if (s) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_channels = st.in_ch;
    l->info.out_channels = st.filters * (dirs == 2 && st.merge == MT_RNN_MERGE_CONCAT ? 2 : 1);
    l->info.has_bias = b[0] != NULL;
    *out = l;
    return MT_OK;
}

mt_status mt_conv_lstm_new(const mt_tensor *kernel, const mt_tensor *recurrent_kernel,
                           const mt_tensor *bias, const mt_conv_lstm_options *options,
                           mt_layer **out)
{
    if (out)
        *out = NULL;
    if (!kernel || !recurrent_kernel || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv_lstm: %s is NULL",
                       !out ? "out" : !kernel ? "kernel" : "recurrent_kernel");
    return conv_lstm_make(&kernel, &recurrent_kernel, &bias, 1, options, out);
}

/* Keras' Bidirectional "p": the forward layer's variables under
 * p/forward_<name>/ into fwd, and bwd = p/backward_<name>; *found false
 * without a forward layer. Two forward layers under p (two wrappers'
 * variables, or a prefix above them) are refused: which one was meant? */
static mt_status bidirectional_prefixes(const mt_nn_loader *ld, const char *p,
                                        char fwd[MT_NN_KEY_MAX], char bwd[MT_NN_KEY_MAX],
                                        bool *found)
{
    const size_t pn = strlen(p), count = mt_safetensors_count(ld->sd->file);
    const char *first = NULL;
    int first_len = 0;
    *found = false;
    for (size_t i = 0; i < count; i++) {
        mt_safetensors_entry e;
        if (mt_safetensors_info(ld->sd->file, i, &e) || e.name_len <= pn + 9 ||
            memcmp(e.name, p, pn) || memcmp(e.name + pn, "/forward_", 9))
            continue;
        const char *seg = e.name + pn + 9, *end = memchr(seg, '/', e.name_len - pn - 9);
        if (!end || end == seg)
            continue;
        int len = (int)(end - seg);
        if (first && (len != first_len || memcmp(seg, first, (size_t)len)))
            return mt_fail(MT_ERR_FORMAT, "%s: %s/forward_%.*s and %s/forward_%.*s: two "
                           "Bidirectional forward layers under one prefix (give the prefix of "
                           "one wrapper)", ld->layer, p, first_len, first, p, len, seg);
        first = seg;
        first_len = len;
    }
    // (names too long for a key are no layer of ours: fwd and bwd untouched)
    if (!first || pn + 10 + (size_t)first_len >= MT_NN_KEY_MAX)
        return MT_OK;
    snprintf(fwd, MT_NN_KEY_MAX, "%s/forward_%.*s", p, first_len, first);
    snprintf(bwd, MT_NN_KEY_MAX, "%s/backward_%.*s", p, first_len, first);
    *found = true;
    return MT_OK;
}

/* One direction's kernel, recurrent kernel and bias under prefix: Keras 3
 * nests them (p/conv_lstm_cell/kernel); p/kernel is taken too. */
static mt_status load_direction(const mt_state_dict *weights, const char *prefix,
                                mt_tensor **kt, mt_tensor **ut, mt_tensor **bt)
{
    mt_nn_loader ld;
    mt_layer *unused;
    mt_status s = mt_nn_load_begin("conv_lstm", weights, prefix, &unused, &ld);
    if (s)
        return s;
    char k[MT_NN_KEY_MAX];
    const char *cell = mt_nn_load_resolve(&ld, "conv_lstm_cell/kernel", k) ? "conv_lstm_cell/"
                                                                           : "";
    char kn[64], un[64], bn[64];
    snprintf(kn, sizeof kn, "%skernel", cell);
    snprintf(un, sizeof un, "%srecurrent_kernel", cell);
    snprintf(bn, sizeof bn, "%sbias", cell);
    if ((s = mt_nn_load_pair(&ld, kn, true, un, true, kt, ut)))
        return s;
    if ((s = mt_nn_load_fetch(&ld, bn, false, bt))) {
        mt_tensor_free(*kt);
        mt_tensor_free(*ut);
        *kt = *ut = NULL;
    }
    return s;
}

mt_status mt_conv_lstm_load(const mt_state_dict *weights, const char *prefix,
                            const mt_conv_lstm_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv_lstm", weights, prefix, out, &ld);
    if (s)
        return s;
    if (!ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv_lstm_load %s: reads Keras' ConvLSTM "
                       "variables; PyTorch has no ConvLSTM layer (build one from its "
                       "tensors with mt_conv_lstm_new)", prefix);
    char k[MT_NN_KEY_MAX], dir[2][MT_NN_KEY_MAX];
    int dirs = 1;
    snprintf(dir[0], sizeof dir[0], "%s", prefix);
    bool bidi = false;
    if (!mt_nn_load_resolve(&ld, "conv_lstm_cell/kernel", k) &&
        !mt_nn_load_resolve(&ld, "kernel", k) &&
        (s = bidirectional_prefixes(&ld, prefix, dir[0], dir[1], &bidi)))
        return s;
    if (bidi)
        dirs = 2;
    mt_tensor *kt[2] = {NULL}, *ut[2] = {NULL}, *bt[2] = {NULL};
    for (int d = 0; d < dirs && !s; d++)
        s = load_direction(weights, dir[d], &kt[d], &ut[d], &bt[d]);
    if (!s)
        s = conv_lstm_make((const mt_tensor *const *)kt, (const mt_tensor *const *)ut,
                           (const mt_tensor *const *)bt, dirs, options, out);
    for (int d = 0; d < 2; d++) {
        mt_tensor_free(kt[d]);
        mt_tensor_free(ut[d]);
        mt_tensor_free(bt[d]);
    }
    return s;
}
