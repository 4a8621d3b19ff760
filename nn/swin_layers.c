/* swin_layers.c — the Swin Transformer's ShiftedWindowAttention on
 * channels-last activations [N,H,W,C], as torchvision 0.14 computes it: pad
 * H, W to multiples of the window, roll by -shift, windows folded into the
 * batch, per-head attention with the relative position bias (and the -100
 * mask between regions the roll brought together), windows back, roll by
 * +shift, crop. With a per-head scale it is Swin V2's cosine attention
 * (swin_v2_layer.c makes its weights).
 * It is one layer rather than roll, partition, attention and reverse nodes:
 * its padding, shift and mask depend on H and W, which the layer only
 * learns when the model is planned, and the mask is per window while the
 * windows are folded into the batch — as separate nodes a user would have
 * to build the mask per input size and rebuild torchvision's window
 * bookkeeping in the graph. The window tokens, q/k/v and the mask live in
 * the planner's scratch. Roll (roll_layer.c) and PatchMerging
 * (patch_merging_layer.c) are the model's other own layers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minitensor/attention.h"
#include "minitensor/view.h"
#include "swin_internal.h"

/* t is [d0] (rank 1) or [d0, d1]; else a message naming it and `want`. */
mt_status mt_nn_check_shape(const char *name, const mt_tensor *t, int rank, int64_t d0,
                            int64_t d1, const char *want)
{
    mt_status s = mt_nn_check_weight(name, "tensor", t);   // valid, with data
    if (s)
        return s;
    if (t->rank == rank && t->shape[0] == d0 && (rank == 1 || t->shape[1] == d1))
        return MT_OK;
    char ts[160];
    return mt_fail(MT_ERR_SHAPE, "%s: %s, expected %s", name,
                   mt_tensor_describe(t, ts, sizeof ts), want);
}

/* w (a PyTorch (out, in) matrix) as an (in, out) view the layer owns. */
mt_status mt_nn_hold_transposed(const mt_tensor *w, mt_tensor **out)
{
    mt_tensor *held;
    mt_status s = mt_nn_hold(w, false, &held);
    if (!s) {
        s = mt_transpose(held, 0, 1, out);
        mt_tensor_free(held);
    }
    return s;
}

typedef struct swa_state {
    mt_tensor *qkv_w, *qkv_b;     /* (in, out) [C, 3C] view; [3C] or NULL */
    mt_tensor *proj_w, *proj_b;   /* [C, C] view; [C] or NULL */
    mt_tensor *bias;              /* relative position bias [heads, L, L], F32 */
    mt_tensor *cos_scale;         /* Swin V2's cosine attention: [heads], or NULL */
    int64_t c, heads, wh, ww, sh, sw;
    bool roll_before_pad;         /* timm's order: roll H, W, then pad */
} swa_state;

/* One input size's layout: padded size, the shift torchvision keeps (none
 * along a dim the window covers), windows. */
typedef struct swa_geom {
    int64_t n, h, w, ph, pw, sh, sw, nwh, nww, nw, l;
    bool masked;
} swa_geom;

static void swa_geometry(const swa_state *st, int64_t n, int64_t h, int64_t w, swa_geom *g)
{
    g->n = n, g->h = h, g->w = w;
    g->ph = (h + st->wh - 1) / st->wh * st->wh;
    g->pw = (w + st->ww - 1) / st->ww * st->ww;
    g->sh = st->wh >= g->ph ? 0 : st->sh;
    g->sw = st->ww >= g->pw ? 0 : st->sw;
    g->nwh = g->ph / st->wh, g->nww = g->pw / st->ww;
    g->nw = g->nwh * g->nww;
    g->l = st->wh * st->ww;
    g->masked = g->sh + g->sw > 0;
}

static mt_status swa_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)n;
    const swa_state *st = l->state;
    char got[160];
    // (H, W below 2^40: the padded sizes cannot overflow)
    if (in->dtype != MT_DTYPE_F32 || in->rank != 4 || in->dim[3] != st->c || in->dim[1] < 1 ||
        in->dim[2] < 1 || in->dim[1] > (int64_t)1 << 40 || in->dim[2] > (int64_t)1 << 40)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,H,W,%lld] (channels last, 1 <= H, W <= "
                       "2^40), %s gives %s %s", (long long)st->c, from[0],
                       mt_dtype_name(in->dtype), mt_nn_shape_text(in, got, sizeof got));
    *out = *in;
    return MT_OK;
}

/* Floats of scratch: the window tokens X [B',L,C] (later the projected
 * output), qkv [B',L,3C], the heads' output A [B',L,C], and with a shift
 * the bias plus mask [nW,heads,L,L]; B' = N·nW. */
static size_t swa_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const swa_state *st = l->state;
    swa_geom g;
    swa_geometry(st, in->dim[0], in->dim[1], in->dim[2], &g);
    // in double first: a broadcast input can ask for more than size_t holds
    double bl = (double)g.n * (double)g.nw * (double)g.l;
    double floats = bl * 5.0 * (double)st->c +
                    (g.masked ? (double)g.nw * (double)st->heads * (double)g.l * (double)g.l
                              : 0.0);
    if (floats * sizeof(float) > (double)(SIZE_MAX / 2))
        return SIZE_MAX;
    return (size_t)floats * sizeof(float);
}

/* Which of torchvision's three mask regions (0, 1, 2) padded-and-rolled
 * row p of P falls in: [0, P-win), [P-win, P-s), [P-s, P). Without a shift
 * along this dim torchvision's last slice (-0:) covers every row, while
 * this splits rows at P-win: a window boundary, so no window sees the
 * difference. */
static int region(int64_t p, int64_t size, int64_t win, int64_t s)
{
    return p < size - win ? 0 : p < size - s ? 1 : 2;
}

/* m [nW,heads,L,L] = the relative position bias, -100 where the two tokens
 * of a window come from different regions. */
static void swa_mask(const swa_state *st, const swa_geom *g, float *m)
{
    const float *b = st->bias->data;
    int64_t l = g->l;
    for (int64_t wi = 0; wi < g->nwh; wi++)
        for (int64_t wj = 0; wj < g->nww; wj++) {
            float *mw = m + (wi * g->nww + wj) * st->heads * l * l;
            for (int64_t i = 0; i < l; i++) {
                int ri = 3 * region(wi * st->wh + i / st->ww, g->ph, st->wh, g->sh) +
                         region(wj * st->ww + i % st->ww, g->pw, st->ww, g->sw);
                for (int64_t j = 0; j < l; j++) {
                    int rj = 3 * region(wi * st->wh + j / st->ww, g->ph, st->wh, g->sh) +
                             region(wj * st->ww + j % st->ww, g->pw, st->ww, g->sw);
                    float add = ri == rj ? 0.0f : -100.0f;
                    for (int64_t h = 0; h < st->heads; h++)
                        mw[(h * l + i) * l + j] = b[(h * l + i) * l + j] + add;
                }
            }
        }
}

/* Token (a, b) of window (wi, wj) sits at padded-and-rolled (hp, wp); it
 * is x's (hp + sh, wp + sw) modulo the padded size, a padding zero past
 * H, W (timm's order: a padding zero at hp >= H or wp >= W, else x's
 * (hp + sh, wp + sw) modulo H, W). X [N·nW, L, C] contiguous. */
static void swa_gather(const swa_state *st, const swa_geom *g, const mt_tensor *x, float *xw)
{
    const float *xd = x->data;
    const int64_t *xs = x->stride;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t hp = 0; hp < g->ph; hp++)
            for (int64_t wp = 0; wp < g->pw; wp++) {
                int64_t h = (hp + g->sh) % g->ph, w = (wp + g->sw) % g->pw;
                if (st->roll_before_pad) {
                    h = hp < g->h ? (hp + g->sh) % g->h : g->h;
                    w = wp < g->w ? (wp + g->sw) % g->w : g->w;
                }
                int64_t win = n * g->nw + (hp / st->wh) * g->nww + wp / st->ww;
                float *dst = xw + (win * g->l + (hp % st->wh) * st->ww + wp % st->ww) * st->c;
                if (h >= g->h || w >= g->w) {
                    memset(dst, 0, (size_t)st->c * sizeof *dst);
                    continue;
                }
                const float *src = xd + n * xs[0] + h * xs[1] + w * xs[2];
                for (int64_t c = 0; c < st->c; c++)
                    dst[c] = src[c * xs[3]];
            }
}

/* out (h, w) = the windows' output at padded-and-rolled (h - sh, w - sw)
 * modulo the padded size: the reverse roll, padding cropped (timm's order:
 * modulo H, W, after the crop). */
static void swa_scatter(const swa_state *st, const swa_geom *g, const float *yw,
                        mt_tensor *out)
{
    float *od = out->data;
    const int64_t *os = out->stride;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t h = 0; h < g->h; h++)
            for (int64_t w = 0; w < g->w; w++) {
                int64_t ph = st->roll_before_pad ? g->h : g->ph;
                int64_t pw = st->roll_before_pad ? g->w : g->pw;
                int64_t hp = (h - g->sh + ph) % ph, wp = (w - g->sw + pw) % pw;
                int64_t win = n * g->nw + (hp / st->wh) * g->nww + wp / st->ww;
                const float *src =
                    yw + (win * g->l + (hp % st->wh) * st->ww + wp % st->ww) * st->c;
                float *dst = od + n * os[0] + h * os[1] + w * os[2];
                for (int64_t c = 0; c < st->c; c++)
                    dst[c * os[3]] = src[c];
            }
}

/* Swin V2: each head's q and k (in qkv [rows, 3C]) divided by their norm
 * (F.normalize: at least 1e-12), q also multiplied by the head's scale, so
 * that q·kᵀ is the scaled cosine. */
static void cosine_qk(const swa_state *st, float *qkv, int64_t rows)
{
    int64_t c = st->c, d = c / st->heads;
    const float *scale = st->cos_scale->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t part = 0; part < 2; part++)
            for (int64_t h = 0; h < st->heads; h++) {
                float *v = qkv + r * 3 * c + part * c + h * d;
                double ss = 0.0;
                for (int64_t i = 0; i < d; i++)
                    ss += (double)v[i] * v[i];
                double norm = sqrt(ss);
                float k = (float)((part ? 1.0 : (double)scale[h]) / (norm > 1e-12 ? norm : 1e-12));
                for (int64_t i = 0; i < d; i++)
                    v[i] *= k;
            }
}

static mt_status swa_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)n;
    const swa_state *st = l->state;
    const mt_tensor *x = in[0];
    swa_geom g;
    swa_geometry(st, x->shape[0], x->shape[1], x->shape[2], &g);
    if (mt_tensor_numel(x) == 0)
        return MT_OK;
    int64_t c = st->c, hd = st->heads, d = c / hd, bl = g.n * g.nw * g.l;
    float *xw = scratch, *qkv = xw + bl * c, *a = qkv + bl * 3 * c, *m = a + bl * c;
    swa_gather(st, &g, x, xw);
    if (g.masked)
        swa_mask(st, &g, m);
    mt_tensor tx, tqkv, ta, split, perm, t3[3], qkvh[3], tm, split_a, ah;
    mt_status s;
    // qkv [N·nW·L, 3C] as [N, nW, L, 3, heads, D] -> [3, N, nW, heads, L, D]
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){bl, c}, xw, &tx)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){bl, 3 * c}, qkv, &tqkv)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){bl, c}, a, &ta)) ||
        (s = mt_matmul_fused_into(&tx, st->qkv_w, st->qkv_b, MT_ACTIVATION_NONE, &tqkv)))
        return s;
    if (st->cos_scale)
        cosine_qk(st, qkv, bl);
    if ((s = mt_view_into(&tqkv, 6, (int64_t[]){g.n, g.nw, g.l, 3, hd, d}, &split)) ||
        (s = mt_permute_into(&split, (const int[]){3, 0, 1, 4, 2, 5}, &perm)))
        return s;
    for (int i = 0; i < 3; i++)
        if ((s = mt_narrow_into(&perm, 0, i, 1, &t3[i])) ||
            (s = mt_view_into(&t3[i], 5, (int64_t[]){g.n, g.nw, hd, g.l, d}, &qkvh[i])))
            return s;
    // the heads' output [N·nW·L, C] as [N, nW, L, heads, D] -> [N, nW, heads, L, D]
    if ((s = mt_view_into(&ta, 5, (int64_t[]){g.n, g.nw, g.l, hd, d}, &split_a)) ||
        (s = mt_permute_into(&split_a, (const int[]){0, 1, 3, 2, 4}, &ah)) ||
        (g.masked &&
         (s = mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){g.nw, hd, g.l, g.l}, m, &tm))) ||
        (s = mt_scaled_dot_product_attention_into(&qkvh[0], &qkvh[1], &qkvh[2],
                                                  g.masked ? &tm : st->bias, false,
                                                  st->cos_scale ? 1.0f : 0.0f, &ah)) ||
        (s = mt_matmul_fused_into(&ta, st->proj_w, st->proj_b, MT_ACTIVATION_NONE, &tx)))
        return s;
    swa_scatter(st, &g, xw, out);
    return MT_OK;
}

static void swa_release(void *state)
{
    swa_state *st = state;
    mt_tensor_free(st->qkv_w);
    mt_tensor_free(st->qkv_b);
    mt_tensor_free(st->proj_w);
    mt_tensor_free(st->proj_b);
    mt_tensor_free(st->bias);
    mt_tensor_free(st->cos_scale);
}

static const mt_layer_vtable swa_vtable = {
    .n_inputs = 1,
    .infer = swa_infer,
    .forward = swa_forward,
    .scratch_bytes = swa_scratch,
    .release = swa_release,
};

/* The bias [heads, L, L]: table[index[i·L + j], h]; the index given (any
 * rank, L·L entries, I32 or I64) or torchvision's
 * (ai - aj + wh - 1)·(2ww - 1) + (bi - bj + ww - 1). */
static mt_status relative_bias(const char *name, const mt_tensor *table,
                               const mt_tensor *index, int64_t wh, int64_t ww,
                               mt_tensor **out)
{
    int64_t l = wh * ww, rows = table->shape[0], hd = table->shape[1];
    char ts[160];
    if (index && index->dtype != MT_DTYPE_I32 && index->dtype != MT_DTYPE_I64)
        return mt_fail(MT_ERR_DTYPE, "%s: relative_position_index %s has dtype %s, expected "
                       "I32 or I64", name, mt_tensor_describe(index, ts, sizeof ts),
                       mt_dtype_name(index->dtype));
    if (index && mt_tensor_numel(index) != l * l)
        return mt_fail(MT_ERR_SHAPE, "%s: relative_position_index %s, expected %lld entries "
                       "(window %lldx%lld, squared)", name,
                       mt_tensor_describe(index, ts, sizeof ts), (long long)(l * l),
                       (long long)wh, (long long)ww);
    mt_tensor *tab = NULL, *ix = NULL, *b = NULL;
    mt_status s = mt_tensor_to_f32(table, &tab);
    if (s || (index && (s = mt_tensor_contiguous(index, &ix))) ||
        (s = mt_tensor_zeros(MT_DTYPE_F32, 3, (int64_t[]){hd, l, l}, &b))) {
        mt_tensor_free(tab);
        mt_tensor_free(ix);
        return s;
    }
    const float *td = tab->data;
    float *bd = b->data;
    for (int64_t i = 0; i < l; i++)
        for (int64_t j = 0; j < l; j++) {
            int64_t r = (i / ww - j / ww + wh - 1) * (2 * ww - 1) + (i % ww - j % ww + ww - 1);
            if (ix)
                r = ix->dtype == MT_DTYPE_I32 ? ((const int32_t *)ix->data)[i * l + j]
                                              : ((const int64_t *)ix->data)[i * l + j];
            if (r < 0 || r >= rows) {
                mt_tensor_free(tab);
                mt_tensor_free(ix);
                mt_tensor_free(b);
                return mt_fail(MT_ERR_SHAPE, "%s: relative_position_index entry %lld is %lld, "
                               "outside relative_position_bias_table's %lld rows", name,
                               (long long)(i * l + j), (long long)r, (long long)rows);
            }
            for (int64_t h = 0; h < hd; h++)
                bd[(h * l + i) * l + j] = td[r * hd + h];
        }
    mt_tensor_free(tab);
    mt_tensor_free(ix);
    *out = b;
    return MT_OK;
}

mt_status mt_shifted_window_attention_new(const mt_window_attention_weights *w,
                                          const mt_window_attention_options *options,
                                          mt_layer **out)
{
    return mt_nn_swa_new(w, options, NULL, "shifted_window_attention", out);
}

mt_status mt_nn_swa_new(const mt_window_attention_weights *w,
                        const mt_window_attention_options *options, const mt_tensor *cos_scale,
                        const char *kind, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", kind);
    *out = NULL;
    if (!w || !options || !w->qkv_weight || !w->proj_weight || !w->relative_position_bias_table)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: weights, options, qkv_weight, proj_weight "
                       "or relative_position_bias_table is NULL", kind);
    const mt_window_attention_options *o = options;
    char name[MT_NAME_MAX + 40];
    snprintf(name, sizeof name, "%s%s%s", kind, w->qkv_weight->name[0] ? " " : "",
             w->qkv_weight->name);
    if (o->window_h < 1 || o->window_w < 1 || o->shift_h < 0 || o->shift_h >= o->window_h ||
        o->shift_w < 0 || o->shift_w >= o->window_w || o->num_heads < 1 ||
        o->window_h > 1024 || o->window_w > 1024)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: window %lldx%lld (1..1024), shift "
                       "%lldx%lld (0 <= shift < window), %lld heads (>= 1)", name,
                       (long long)o->window_h, (long long)o->window_w, (long long)o->shift_h,
                       (long long)o->shift_w, (long long)o->num_heads);
    const mt_tensor *qw = w->qkv_weight;
    int64_t c = qw->rank == 2 ? qw->shape[1] : 0, hd = o->num_heads;
    int64_t rows = (2 * o->window_h - 1) * (2 * o->window_w - 1);
    char want[96];
    snprintf(want, sizeof want, "[3C, C] with C >= 1 divisible by %lld heads", (long long)hd);
    mt_status s = c >= 1 && c % hd == 0 ? mt_nn_check_shape(name, qw, 2, 3 * c, c, want)
                                        : mt_nn_check_shape(name, qw, 0, -1, 0, want);
    snprintf(want, sizeof want, "[%lld, %lld] ((2·%lld-1)·(2·%lld-1) rows, heads)",
             (long long)rows, (long long)hd, (long long)o->window_h, (long long)o->window_w);
    if (!s)
        s = mt_nn_check_shape(name, w->relative_position_bias_table, 2, rows, hd, want);
    snprintf(want, sizeof want, "[%lld, %lld] (C, C)", (long long)c, (long long)c);
    if (!s)
        s = mt_nn_check_shape(name, w->proj_weight, 2, c, c, want);
    snprintf(want, sizeof want, "[%lld] (3C)", (long long)(3 * c));
    if (!s && w->qkv_bias)
        s = mt_nn_check_shape(name, w->qkv_bias, 1, 3 * c, 0, want);
    snprintf(want, sizeof want, "[%lld] (C)", (long long)c);
    if (!s && w->proj_bias)
        s = mt_nn_check_shape(name, w->proj_bias, 1, c, 0, want);
    if (s)
        return s;
    mt_layer *l = mt_nn_layer_alloc(kind, &swa_vtable,
                                    MT_LAYER_SHIFTED_WINDOW_ATTENTION, name, sizeof(swa_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    swa_state *st = l->state;
    st->c = c, st->heads = hd;
    st->wh = o->window_h, st->ww = o->window_w, st->sh = o->shift_h, st->sw = o->shift_w;
    st->roll_before_pad = o->roll_before_pad;
    if ((s = mt_nn_hold_transposed(qw, &st->qkv_w)) ||
        (s = mt_nn_hold_transposed(w->proj_weight, &st->proj_w)) ||
        (w->qkv_bias && (s = mt_nn_hold(w->qkv_bias, false, &st->qkv_b))) ||
        (w->proj_bias && (s = mt_nn_hold(w->proj_bias, false, &st->proj_b))) ||
        (s = relative_bias(name, w->relative_position_bias_table,
                           w->relative_position_index, st->wh, st->ww, &st->bias)) ||
        (cos_scale && (s = mt_nn_hold(cos_scale, true, &st->cos_scale)))) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = c;
    l->info.out_features = c;
    l->info.has_bias = w->proj_bias != NULL;
    *out = l;
    return MT_OK;
}
