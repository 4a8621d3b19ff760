/* swin_layers.c — the Swin Transformer's own layers on channels-last
 * activations [N,H,W,C], as torchvision 0.14 computes them:
 *   Roll                    torch.roll as a layer (any rank, not the batch);
 *   ShiftedWindowAttention  pad H, W to multiples of the window, roll by
 *                           -shift, windows folded into the batch, per-head
 *                           attention with the relative position bias (and
 *                           the -100 mask between regions the roll brought
 *                           together), windows back, roll by +shift, crop;
 *   PatchMerging            pad H, W to even, the 2×2 neighbours
 *                           concatenated (x0, x1, x2, x3 = (0,0), (1,0),
 *                           (0,1), (1,1)), LayerNorm, Linear without bias.
 * The shifted-window attention is one layer rather than roll, partition,
 * attention and reverse nodes: its padding, shift and mask depend on H and
 * W, which the layer only learns when the model is planned, and the mask
 * is per window while the windows are folded into the batch — as separate
 * nodes a user would have to build the mask per input size and rebuild
 * torchvision's window bookkeeping in the graph. The window tokens, q/k/v
 * and the mask live in the planner's scratch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minitensor/attention.h"
#include "swin_internal.h"
#include "minitensor/index.h"
#include "minitensor/norm.h"
#include "minitensor/view.h"

/* ---- Roll --------------------------------------------------------------------- */

typedef struct roll_state {
    int n;
    int64_t *shift;   /* n of each, after the struct */
    int *dim;
} roll_state;

static mt_status roll_infer(const mt_layer *l, int n, const mt_shape *in,
                            const char *const *from, mt_shape *out)
{
    (void)n;
    const roll_state *st = l->state;
    for (int i = 0; i < st->n; i++) {
        int d = st->dim[i] < 0 ? st->dim[i] + in->rank : st->dim[i];
        if (d < 1 || d >= in->rank)
            return mt_fail(MT_ERR_SHAPE, "expects a dim %d (not the batch), %s gives %d dims",
                           st->dim[i], from[0], in->rank);
    }
    *out = *in;
    return MT_OK;
}

static mt_status roll_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const roll_state *st = l->state;
    return mt_roll_into(in[0], st->n, st->shift, st->dim, out);
}

static const mt_layer_vtable roll_vtable = {
    .n_inputs = 1, .infer = roll_infer, .forward = roll_forward};

mt_status mt_roll_new(int n, const int64_t *shifts, const int *dims, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: out is NULL");
    *out = NULL;
    if (n < 1 || n > 64 || !shifts || !dims)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: shifts or dims is NULL or n %d is not "
                       "1..64 (a layer rolls along dims: the flattened roll would mix the "
                       "batch)", n);
    for (int i = 0; i < n; i++)
        if (dims[i] == 0 || dims[i] < -MT_MAX_RANK || dims[i] >= MT_MAX_RANK)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: dim %d is the batch or out of "
                           "range", dims[i]);
    char name[64];
    snprintf(name, sizeof name, "roll %lld along dim %d%s", (long long)shifts[0], dims[0],
             n > 1 ? ", ..." : "");
    // the shifts (8-byte aligned after the struct), then the dims
    size_t head = (sizeof(roll_state) + 7) / 8 * 8;
    mt_layer *l = mt_nn_layer_alloc("roll", &roll_vtable, MT_LAYER_ROLL, name,
                                    head + (size_t)n * (sizeof(int64_t) + sizeof(int)));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    roll_state *st = l->state;
    st->n = n;
    st->shift = (int64_t *)(void *)((char *)st + head);
    st->dim = (int *)(void *)(st->shift + n);
    memcpy(st->shift, shifts, (size_t)n * sizeof *shifts);
    memcpy(st->dim, dims, (size_t)n * sizeof *dims);
    *out = l;
    return MT_OK;
}

/* ---- ShiftedWindowAttention --------------------------------------------------- */

typedef struct swa_state {
    mt_tensor *qkv_w, *qkv_b;     /* (in, out) [C, 3C] view; [3C] or NULL */
    mt_tensor *proj_w, *proj_b;   /* [C, C] view; [C] or NULL */
    mt_tensor *bias;              /* relative position bias [heads, L, L], F32 */
    mt_tensor *cos_scale;         /* Swin V2's cosine attention: [heads], or NULL */
    int64_t c, heads, wh, ww, sh, sw;
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
    if (in->dtype != MT_DTYPE_F32 || in->rank != 4 || in->dim[3] != st->c || in->dim[1] < 1 ||
        in->dim[2] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,H,W,%lld] (channels last, H, W >= 1), "
                       "%s gives %s %s", (long long)st->c, from[0],
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
 * H, W. X [N·nW, L, C] contiguous. */
static void swa_gather(const swa_state *st, const swa_geom *g, const mt_tensor *x, float *xw)
{
    const float *xd = x->data;
    const int64_t *xs = x->stride;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t hp = 0; hp < g->ph; hp++)
            for (int64_t wp = 0; wp < g->pw; wp++) {
                int64_t h = (hp + g->sh) % g->ph, w = (wp + g->sw) % g->pw;
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
 * modulo the padded size: the reverse roll, padding cropped. */
static void swa_scatter(const swa_state *st, const swa_geom *g, const float *yw,
                        mt_tensor *out)
{
    float *od = out->data;
    const int64_t *os = out->stride;
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t h = 0; h < g->h; h++)
            for (int64_t w = 0; w < g->w; w++) {
                int64_t hp = (h - g->sh + g->ph) % g->ph, wp = (w - g->sw + g->pw) % g->pw;
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

/* t is [d0] (rank 1) or [d0, d1]; else a message naming it and `want`. */
static mt_status check_shape(const char *name, const mt_tensor *t, int rank, int64_t d0,
                             int64_t d1, const char *want)
{
    if (t->rank == rank && t->shape[0] == d0 && (rank == 1 || t->shape[1] == d1))
        return MT_OK;
    char ts[160];
    return mt_fail(MT_ERR_SHAPE, "%s: %s, expected %s", name,
                   mt_tensor_describe(t, ts, sizeof ts), want);
}

/* The bias [heads, L, L]: table[index[i·L + j], h]; the index given (any
 * rank, L·L entries, I32 or I64) or torchvision's
 * (ai - aj + wh - 1)·(2ww - 1) + (bi - bj + ww - 1). */
static mt_status relative_bias(const char *name, const mt_tensor *table,
                               const mt_tensor *index, int64_t wh, int64_t ww,
                               mt_tensor **out)
{
    int64_t l = wh * ww, rows = table->shape[0], hd = table->shape[1];
    char ts[160];
    if (index && ((index->dtype != MT_DTYPE_I32 && index->dtype != MT_DTYPE_I64) ||
                  mt_tensor_numel(index) != l * l))
        return mt_fail(MT_ERR_SHAPE, "%s: relative_position_index %s, expected %lld I32 or "
                       "I64 entries (window %lldx%lld, squared)", name,
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

/* w (a PyTorch (out, in) matrix) as an (in, out) view the layer owns. */
static mt_status hold_transposed(const mt_tensor *w, mt_tensor **out)
{
    mt_tensor *held;
    mt_status s = mt_nn_hold(w, false, &held);
    if (!s) {
        s = mt_transpose(held, 0, 1, out);
        mt_tensor_free(held);
    }
    return s;
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
    mt_status s = c >= 1 && c % hd == 0 ? check_shape(name, qw, 2, 3 * c, c, want)
                                        : check_shape(name, qw, 0, -1, 0, want);
    snprintf(want, sizeof want, "[%lld, %lld] ((2·%lld-1)·(2·%lld-1) rows, heads)",
             (long long)rows, (long long)hd, (long long)o->window_h, (long long)o->window_w);
    if (!s)
        s = check_shape(name, w->relative_position_bias_table, 2, rows, hd, want);
    snprintf(want, sizeof want, "[%lld, %lld] (C, C)", (long long)c, (long long)c);
    if (!s)
        s = check_shape(name, w->proj_weight, 2, c, c, want);
    snprintf(want, sizeof want, "[%lld] (3C)", (long long)(3 * c));
    if (!s && w->qkv_bias)
        s = check_shape(name, w->qkv_bias, 1, 3 * c, 0, want);
    snprintf(want, sizeof want, "[%lld] (C)", (long long)c);
    if (!s && w->proj_bias)
        s = check_shape(name, w->proj_bias, 1, c, 0, want);
    if (s)
        return s;
    mt_layer *l = mt_nn_layer_alloc(kind, &swa_vtable,
                                    MT_LAYER_SHIFTED_WINDOW_ATTENTION, name, sizeof(swa_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    swa_state *st = l->state;
    st->c = c, st->heads = hd;
    st->wh = o->window_h, st->ww = o->window_w, st->sh = o->shift_h, st->sw = o->shift_w;
    if ((s = hold_transposed(qw, &st->qkv_w)) ||
        (s = hold_transposed(w->proj_weight, &st->proj_w)) ||
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

/* ---- PatchMerging ------------------------------------------------------------- */

typedef struct merge_state {
    mt_tensor *norm_w, *norm_b;   /* [4C] or NULL */
    mt_tensor *red_w;             /* (in, out) [4C, out] view */
    float eps;
    int64_t c, co;
    bool post_norm;               /* Swin V2: the norm [out] after the reduction */
} merge_state;

static mt_status merge_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    (void)n;
    const merge_state *st = l->state;
    char got[160];
    if (in->dtype != MT_DTYPE_F32 || in->rank != 4 || in->dim[3] != st->c)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,H,W,%lld] (channels last), %s gives "
                       "%s %s", (long long)st->c, from[0], mt_dtype_name(in->dtype),
                       mt_nn_shape_text(in, got, sizeof got));
    *out = *in;
    out->dim[1] = (in->dim[1] + 1) / 2;
    out->dim[2] = (in->dim[2] + 1) / 2;
    out->dim[3] = st->co;
    return MT_OK;
}

/* the merged [N, H/2, W/2, 4C] */
static size_t merge_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const merge_state *st = l->state;
    mt_shape s = *in;
    s.dim[1] = (in->dim[1] + 1) / 2;
    s.dim[2] = (in->dim[2] + 1) / 2;
    s.dim[3] = 4 * st->c;
    return mt_nn_shape_bytes(&s);
}

static mt_status merge_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n;
    const merge_state *st = l->state;
    const mt_tensor *x = in[0];
    int64_t b = x->shape[0], h = x->shape[1], w = x->shape[2], c = st->c;
    int64_t h2 = (h + 1) / 2, w2 = (w + 1) / 2;
    const int64_t *xs = x->stride;
    const float *xd = x->data;
    float *z = scratch;
    // torchvision's order: x0 = (0,0), x1 = (1,0), x2 = (0,1), x3 = (1,1)
    static const int64_t dh[4] = {0, 1, 0, 1}, dw[4] = {0, 0, 1, 1};
    for (int64_t i = 0; i < b * h2 * w2; i++) {
        int64_t bn = i / (h2 * w2), y = 2 * (i / w2 % h2), xx = 2 * (i % w2);
        for (int q = 0; q < 4; q++) {
            float *dst = z + (i * 4 + q) * c;
            int64_t hy = y + dh[q], wx = xx + dw[q];
            if (hy >= h || wx >= w) {   /* the zero padding to even H, W */
                memset(dst, 0, (size_t)c * sizeof *dst);
                continue;
            }
            const float *src = xd + bn * xs[0] + hy * xs[1] + wx * xs[2];
            for (int64_t k = 0; k < c; k++)
                dst[k] = src[k * xs[3]];
        }
    }
    mt_tensor tz, o2;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 2, (int64_t[]){b * h2 * w2, 4 * c}, z, &tz)) ||
        (s = mt_view_into(out, 2, (int64_t[]){b * h2 * w2, st->co}, &o2)) ||
        (!st->post_norm && (s = mt_layer_norm_into(&tz, 1, st->norm_w, st->norm_b, st->eps,
                                                   &tz))) ||
        (s = mt_matmul_fused_into(&tz, st->red_w, NULL, MT_ACTIVATION_NONE, &o2)))
        return s;
    return st->post_norm ? mt_layer_norm_into(&o2, 1, st->norm_w, st->norm_b, st->eps, &o2)
                         : MT_OK;
}

static void merge_release(void *state)
{
    merge_state *st = state;
    mt_tensor_free(st->norm_w);
    mt_tensor_free(st->norm_b);
    mt_tensor_free(st->red_w);
}

static const mt_layer_vtable merge_vtable = {
    .n_inputs = 1,
    .infer = merge_infer,
    .forward = merge_forward,
    .scratch_bytes = merge_scratch,
    .release = merge_release,
};

/* PatchMerging, or with post_norm Swin V2's PatchMergingV2. */
static mt_status merge_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                           const mt_tensor *reduction_weight, const mt_norm_options *options,
                           bool post_norm, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "patch_merging: out is NULL");
    *out = NULL;
    if (!reduction_weight)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "patch_merging: reduction_weight is NULL");
    char name[MT_NAME_MAX + 32];
    snprintf(name, sizeof name, "patch_merging%s%s", reduction_weight->name[0] ? " " : "",
             reduction_weight->name);
    const mt_tensor *rw = reduction_weight;
    char ts[160];
    if (rw->rank != 2 || rw->shape[0] < 1 || rw->shape[1] < 4 || rw->shape[1] % 4)
        return mt_fail(MT_ERR_SHAPE, "%s: reduction weight %s, expected [out, 4C] (PyTorch's "
                       "(out, in))", name, mt_tensor_describe(rw, ts, sizeof ts));
    int64_t c4 = rw->shape[1], cn = post_norm ? rw->shape[0] : c4;
    char want[64];
    snprintf(want, sizeof want, "[%lld] (%s)", (long long)cn,
             post_norm ? "the reduction's outputs" : "4C, the reduction's inputs");
    mt_status s = MT_OK;
    if (norm_weight)
        s = check_shape(name, norm_weight, 1, cn, 0, want);
    if (!s && norm_bias)
        s = check_shape(name, norm_bias, 1, cn, 0, want);
    mt_norm_options o = options ? *options : (mt_norm_options){0};
    if (!s && (!(o.eps >= 0.0f && isfinite(o.eps)) || o.normalized_rank < 0 ||
               o.normalized_rank > 1))
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: eps %g (>= 0, finite) or normalized rank "
                    "%d (0 or 1) out of range", name, (double)o.eps, o.normalized_rank);
    if (s)
        return s;
    mt_layer *l = mt_nn_layer_alloc("patch_merging", &merge_vtable, MT_LAYER_PATCH_MERGING,
                                    name, sizeof(merge_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    merge_state *st = l->state;
    st->c = c4 / 4, st->co = rw->shape[0], st->eps = o.eps > 0.0f ? o.eps : 1e-5f;
    st->post_norm = post_norm;
    if ((s = hold_transposed(rw, &st->red_w)) ||
        (norm_weight && (s = mt_nn_hold(norm_weight, true, &st->norm_w))) ||
        (norm_bias && (s = mt_nn_hold(norm_bias, true, &st->norm_b)))) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = st->c;
    l->info.out_features = st->co;
    *out = l;
    return MT_OK;
}

mt_status mt_patch_merging_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                               const mt_tensor *reduction_weight,
                               const mt_norm_options *options, mt_layer **out)
{
    return merge_new(norm_weight, norm_bias, reduction_weight, options, false, out);
}

mt_status mt_patch_merging_v2_new(const mt_tensor *norm_weight, const mt_tensor *norm_bias,
                                  const mt_tensor *reduction_weight,
                                  const mt_norm_options *options, mt_layer **out)
{
    return merge_new(norm_weight, norm_bias, reduction_weight, options, true, out);
}
