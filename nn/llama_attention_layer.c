/* llama_attention_layer.c — causal self-attention with rotary position
 * embedding and grouped-query heads, as Hugging Face's LlamaAttention and
 * llama2.c's Attention compute it: project q, k, v, RMS-norm q and k where
 * the model does (Qwen3, OLMo2), turn q and k by RoPE (unless no_rope:
 * GPT-2's attention is this one without it),
 * attend (query head h reads key/value head h / (H/Hkv)), project out.
 * The projections live in the planner's scratch; the heads are views of
 * them, and grouped-query attention is a broadcast of k and v over each
 * group's query heads (scaled_dot_product_attention broadcasts its leading
 * dims), so no key/value head is copied H/Hkv times as repeat_kv does. */
#include <assert.h>
#include <math.h>
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/attention.h"
#include "minitensor/norm.h"
#include "minitensor/view.h"

typedef struct llama_state {
    mt_tensor *w[4];          /* q, k, v, out projections as (in, out) views */
    mt_tensor *b[4];          /* their biases, or NULL */
    mt_tensor *norm[2];       /* q's and k's RMSNorm weights, or NULL */
    bool norm_per_head[2];    /* [D] (each head) rather than the whole projection */
    float norm_eps;
    int64_t e, eo;            /* input and output widths */
    int64_t heads, kv_heads, head_dim;
    mt_rope_options rope;
    bool rotate;              /* false: no_rope (GPT-2: positions are in x) */
} llama_state;

static mt_status llama_infer(const mt_layer *l, int n, const mt_shape *in,
                             const char *const *from, mt_shape *out)
{
    const llama_state *st = l->state;
    if (n != 1)
        return mt_fail(MT_ERR_SHAPE, "expects 1 input (self-attention), given %d", n);
    if (in[0].dtype != MT_DTYPE_F32 || in[0].rank != 3 || in[0].dim[2] != st->e)
        return mt_fail(MT_ERR_SHAPE, "expects F32 [N,L,%lld], %s gives %s %d dims, last %lld",
                       (long long)st->e, from[0], mt_dtype_name(in[0].dtype), in[0].rank,
                       (long long)(in[0].rank ? in[0].dim[in[0].rank - 1] : 0));
    *out = in[0];
    out->dim[2] = st->eo;
    return MT_OK;
}

/* Q and the joined heads [N,L,H·D], K and V [N,L,Hkv·D]. */
static size_t llama_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const llama_state *st = l->state;
    double rows = (double)in[0].dim[0] * (double)in[0].dim[1];
    double floats = rows * 2.0 * (double)((st->heads + st->kv_heads) * st->head_dim);
    if (floats * sizeof(float) > (double)(SIZE_MAX / 2))
        return SIZE_MAX;
    return (size_t)floats * sizeof(float);
}

/* The contiguous [N, L, heads·D] block at p as [N, Hkv, G, L, D]: heads
 * split into Hkv groups of g (g = 1 for k and v: broadcast over G). */
static mt_status group_view(float *p, int64_t n, int64_t len, int64_t kv, int64_t g,
                            int64_t d, mt_tensor *flat, mt_tensor *out)
{
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 5, (int64_t[]){n, len, kv, g, d}, p, flat);
    return s ? s : mt_permute_into(flat, (const int[]){0, 2, 3, 1, 4}, out);
}

/* The layer on x [N, L, E] -> out, with the keys and values in k0, v0:
 * rows [Hkv·D] of which 0..pos-1 hold earlier positions' (read) and
 * pos..pos+L-1 get x's (written); positions pos.. turn by RoPE. q0 and a0:
 * N·L·H·D floats each. The whole-sequence forward passes pos 0 and
 * [N, L, Hkv·D] blocks; the decoder's step N = 1 and its cache. */
static mt_status attend(const llama_state *st, const mt_tensor *x, float *q0, float *a0,
                        float *k0, float *v0, int64_t pos, mt_tensor *out)
{
    int64_t b = x->shape[0], len = x->shape[1], d = st->head_dim;
    int64_t h = st->heads, kv = st->kv_heads, g = h / kv, seen = pos + len;
    assert(b == 1 || pos == 0);   /* samples' keys follow each other only without a cache */
    float *k_new = k0 + pos * kv * d, *v_new = v0 + pos * kv * d;
    mt_tensor q, k, v, a, q4, k4, flat[4], qh, kh, vh, ah;
    mt_status s;
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, len, h * d}, q0, &q)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, len, kv * d}, k_new, &k)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, len, kv * d}, v_new, &v)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){b, len, h * d}, a0, &a)) ||
        (s = mt_matmul_fused_into(x, st->w[0], st->b[0], MT_ACTIVATION_NONE, &q)) ||
        (s = mt_matmul_fused_into(x, st->w[1], st->b[1], MT_ACTIVATION_NONE, &k)) ||
        (s = mt_matmul_fused_into(x, st->w[2], st->b[2], MT_ACTIVATION_NONE, &v)))
        return s;
    // the norms and RoPE in place on [N, L, heads, D] (positions along dim 1)
    if ((s = mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){b, len, h, d}, q0, &q4)) ||
        (s = mt_tensor_wrap_into(MT_DTYPE_F32, 4, (int64_t[]){b, len, kv, d}, k_new, &k4)))
        return s;
    mt_tensor *norm_of[2][2] = {{&q, &q4}, {&k, &k4}};
    for (int i = 0; i < 2; i++) {
        mt_tensor *t = norm_of[i][st->norm_per_head[i]];
        if (st->norm[i] && (s = mt_rms_norm_into(t, 1, st->norm[i], st->norm_eps, t)))
            return s;
    }
    mt_rope_options rope = st->rope;
    rope.offset = pos;
    if (st->rotate && ((s = mt_rotary_embedding_into(&q4, 1, &rope, &q4)) ||
                       (s = mt_rotary_embedding_into(&k4, 1, &rope, &k4))))
        return s;
    // bottom-right causal: query i (position pos + i) sees keys 0..pos+i
    if ((s = group_view(q0, b, len, kv, g, d, &flat[0], &qh)) ||
        (s = group_view(k0, b, seen, kv, 1, d, &flat[1], &kh)) ||
        (s = group_view(v0, b, seen, kv, 1, d, &flat[2], &vh)) ||
        (s = group_view(a0, b, len, kv, g, d, &flat[3], &ah)) ||
        (s = mt_scaled_dot_product_attention_into(&qh, &kh, &vh, NULL, true, 0.0f, &ah)))
        return s;
    return mt_matmul_fused_into(&a, st->w[3], st->b[3], MT_ACTIVATION_NONE, out);
}

static mt_status llama_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                               void *scratch, mt_tensor *out)
{
    (void)n;
    const llama_state *st = l->state;
    const mt_tensor *x = in[0];
    int64_t b = x->shape[0], len = x->shape[1], hd = st->heads * st->head_dim;
    int64_t kvd = st->kv_heads * st->head_dim;
    // no rows (N or L is 0): nothing to write, and no scratch (NULL, which
    // the offsets below must not be applied to)
    if (b * len == 0)
        return MT_OK;
    float *q0 = scratch, *k0 = q0 + b * len * hd, *v0 = k0 + b * len * kvd,
          *a0 = v0 + b * len * kvd;
    return attend(st, x, q0, a0, k0, v0, 0, out);
}

mt_status mt_nn_llama_attention_step(const mt_layer *l, const mt_tensor *x, float *k_cache,
                                     float *v_cache, int64_t pos, float *scratch,
                                     mt_tensor *out)
{
    const llama_state *st = l->state;
    float *a0 = scratch + x->shape[1] * st->heads * st->head_dim;
    return attend(st, x, scratch, a0, k_cache, v_cache, pos, out);
}

void mt_nn_llama_attention_widths(const mt_layer *l, int64_t *q_width, int64_t *kv_width)
{
    const llama_state *st = l->state;
    *q_width = st->heads * st->head_dim;
    *kv_width = st->kv_heads * st->head_dim;
}

static void llama_release(void *state)
{
    llama_state *st = state;
    for (int i = 0; i < 4; i++) {
        mt_tensor_free(st->w[i]);
        mt_tensor_free(st->b[i]);
    }
    mt_tensor_free(st->norm[0]);
    mt_tensor_free(st->norm[1]);
}

static const mt_layer_vtable llama_vtable = {
    .n_inputs = 1,
    .infer = llama_infer,
    .forward = llama_forward,
    .scratch_bytes = llama_scratch,
    .release = llama_release,
};

/* The PyTorch (out, in) matrix w (any dtype, any view) as an F32 (in, out)
 * view the layer owns; bias likewise (NULL stays NULL). A failure names
 * the layer and the projection (role: "q", "k", "v" or "o"). */
static mt_status hold(const char *layer, const char *role, const mt_tensor *w,
                      const mt_tensor *bias, mt_tensor **wt, mt_tensor **bt)
{
    char what[16];
    snprintf(what, sizeof what, "%s weight", role);
    mt_tensor *f = NULL;
    mt_status s = mt_nn_hold_for(layer, what, w, false, &f);
    if (!s) {
        s = mt_transpose(f, 0, 1, wt);
        mt_tensor_free(f);
    }
    snprintf(what, sizeof what, "%s bias", role);
    if (!s && bias)
        s = mt_nn_hold_for(layer, what, bias, false, bt);
    return s;
}

/* w (name what) is a matrix [rows, cols] (0: any size >= 1), described as
 * `want`. */
static mt_status check_matrix(const char *name, const char *what, const mt_tensor *w,
                              int64_t rows, int64_t cols, const char *want)
{
    char ts[160], r[24] = "rows", c[24] = "cols";
    if (!w)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is missing", name, what);
    if (w->rank == 2 && w->shape[0] >= 1 && w->shape[1] >= 1 &&
        (!rows || w->shape[0] == rows) && (!cols || w->shape[1] == cols))
        return MT_OK;
    if (rows)
        snprintf(r, sizeof r, "%lld", (long long)rows);
    if (cols)
        snprintf(c, sizeof c, "%lld", (long long)cols);
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected %s = [%s,%s], each >= 1 (PyTorch's "
                   "(out, in))", name, what, mt_tensor_describe(w, ts, sizeof ts), want, r, c);
}

static mt_status check_bias(const char *name, const char *what, const mt_tensor *b,
                            int64_t len)
{
    char ts[160];
    if (!b || (b->rank == 1 && b->shape[0] == len))
        return MT_OK;
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected [%lld]", name, what,
                   mt_tensor_describe(b, ts, sizeof ts), (long long)len);
}

/* A norm weight (NULL: none) is [D], each head's, or [heads·D], the
 * projection's. */
static mt_status check_norm(const char *name, const char *what, const mt_tensor *w,
                            int64_t heads, int64_t d)
{
    char ts[160];
    if (!w || (w->rank == 1 && (w->shape[0] == d || w->shape[0] == heads * d)))
        return MT_OK;
    return mt_fail(MT_ERR_SHAPE, "%s: %s %s, expected [%lld] (each head) or [%lld] (the "
                   "whole projection)", name, what, mt_tensor_describe(w, ts, sizeof ts),
                   (long long)d, (long long)(heads * d));
}

/* The rope options checked now as RoPE checks them at every pass, on an
 * empty [0, 1, D] tensor (no work): the message names the layer. */
static mt_status check_rope(const char *name, const mt_rope_options *rope, int64_t d)
{
    static float none;
    mt_tensor empty;
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, 3, (int64_t[]){0, 1, d}, &none, &empty);
    if (!s && !(s = mt_rotary_embedding_into(&empty, 1, rope, &empty)))
        return MT_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", mt_last_error());
    return mt_fail(s, "%s: rope: %s", name, why);
}

/* The heads, kv heads and head dim from the weights and options. */
static mt_status check_weights(const char *name, const mt_attention_weights *w,
                               const mt_llama_attention_options *o, int64_t *kv, int64_t *d)
{
    char ts[160];
    const mt_tensor *const all[10] = {w->q_weight, w->k_weight, w->v_weight, w->out_weight,
                                      w->q_bias, w->k_bias, w->v_bias, w->out_bias,
                                      w->q_norm_weight, w->k_norm_weight};
    static const char *const roles[10] = {"q_weight", "k_weight", "v_weight", "out_weight",
                                          "q_bias", "k_bias", "v_bias", "out_bias",
                                          "q_norm_weight", "k_norm_weight"};
    for (int i = 0; i < 10; i++) {   // each a valid tensor (or NULL) before its shape is read
        mt_status s = mt_nn_check_weight(name, roles[i], all[i]);
        if (s)
            return s;
    }
    if (w->in_proj_weight || w->in_proj_bias)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: in_proj_weight/in_proj_bias given: "
                       "give q_weight, k_weight, v_weight", name);
    if (o->n_heads < 1 || o->n_kv_heads < 0 || o->n_kv_heads > o->n_heads)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: n_heads %lld, n_kv_heads %lld (need "
                       "n_heads >= 1, 0 <= n_kv_heads <= n_heads)", name,
                       (long long)o->n_heads, (long long)o->n_kv_heads);
    const mt_tensor *wq = w->q_weight, *wk = w->k_weight;
    mt_status s = check_matrix(name, "q_weight", wq, 0, 0, "[H·D, E]");
    if (!s && wq->shape[0] % o->n_heads)
        s = mt_fail(MT_ERR_SHAPE, "%s: q_weight %s: %lld rows do not split into n_heads %lld",
                    name, mt_tensor_describe(wq, ts, sizeof ts), (long long)wq->shape[0],
                    (long long)o->n_heads);
    if (s)
        return s;
    *d = wq->shape[0] / o->n_heads;
    int64_t e = wq->shape[1];
    if ((s = check_matrix(name, "k_weight", wk, 0, e, "[Hkv·D, E]")))
        return s;
    *kv = o->n_kv_heads ? o->n_kv_heads : wk->shape[0] / *d;
    if (wk->shape[0] != *kv * *d || o->n_heads % *kv)
        return mt_fail(MT_ERR_SHAPE, "%s: k_weight %s is not [Hkv·D, E] with head dim D = %lld "
                       "(q_weight's rows / %lld heads) and Hkv %s%lld dividing the heads", name,
                       mt_tensor_describe(wk, ts, sizeof ts), (long long)*d,
                       (long long)o->n_heads, o->n_kv_heads ? "= n_kv_heads " : "",
                       (long long)*kv);
    if (!o->no_rope && o->rope.offset)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rope offset %lld: must be 0 (the layer's "
                       "positions start at 0)", name, (long long)o->rope.offset);
    if (!o->no_rope && !o->rope.rotary_dim && *d % 2)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: head dim %lld (q_weight's rows / %lld "
                       "heads) is odd: RoPE turns pairs (set rope.rotary_dim to an even part)",
                       name, (long long)*d, (long long)o->n_heads);
    int64_t rd = o->no_rope ? 0 : o->rope.rotary_dim;
    if (rd && (rd < 0 || rd % 2 || rd > *d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rope rotary_dim %lld (head dim %lld) "
                       "must be even and at most the head dim", name, (long long)rd,
                       (long long)*d);
    if ((s = check_matrix(name, "v_weight", w->v_weight, *kv * *d, e, "[Hkv·D, E]")) ||
        (s = check_matrix(name, "out_weight", w->out_weight, 0, o->n_heads * *d,
                          "[Eo, H·D]")))
        return s;
    if ((s = check_bias(name, "q_bias", w->q_bias, o->n_heads * *d)) ||
        (s = check_bias(name, "k_bias", w->k_bias, *kv * *d)) ||
        (s = check_bias(name, "v_bias", w->v_bias, *kv * *d)) ||
        (s = check_bias(name, "out_bias", w->out_bias, w->out_weight->shape[0])) ||
        (s = check_norm(name, "q_norm_weight", w->q_norm_weight, o->n_heads, *d)) ||
        (s = check_norm(name, "k_norm_weight", w->k_norm_weight, *kv, *d)))
        return s;
    if (!(o->qk_norm_eps >= 0.0f) || isinf(o->qk_norm_eps))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: qk_norm_eps %g must be finite and >= 0",
                       name, (double)o->qk_norm_eps);
    return o->no_rope ? MT_OK : check_rope(name, &o->rope, *d);
}

mt_status mt_llama_attention_new(const mt_attention_weights *weights,
                                 const mt_llama_attention_options *options, mt_layer **out)
{
    if (!weights || !options || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "llama_attention: NULL argument");
    *out = NULL;
    const mt_tensor *ow = weights->out_weight;
    char name[MT_NAME_MAX + 32];
    snprintf(name, sizeof name, "llama_attention%s%s", ow && ow->name[0] ? " " : "",
             ow ? ow->name : "");
    int64_t kv = 0, d = 0;
    mt_status s = check_weights(name, weights, options, &kv, &d);
    if (s)
        return s;
    const mt_tensor *w[4] = {weights->q_weight, weights->k_weight, weights->v_weight, ow};
    const mt_tensor *bias[4] = {weights->q_bias, weights->k_bias, weights->v_bias,
                                weights->out_bias};
    static const char *const role[4] = {"q", "k", "v", "o"};
    const mt_tensor *norm[2] = {weights->q_norm_weight, weights->k_norm_weight};
    mt_tensor *t[10] = {0};
    for (int i = 0; !s && i < 4; i++)
        s = hold(name, role[i], w[i], bias[i], &t[i], &t[4 + i]);
    for (int i = 0; !s && i < 2; i++)
        if (norm[i])
            s = mt_nn_hold_for(name, i ? "k norm weight" : "q norm weight", norm[i], false,
                               &t[8 + i]);
    mt_layer *l = s ? NULL : mt_nn_layer_alloc("llama_attention", &llama_vtable,
                                               MT_LAYER_MULTIHEAD_ATTENTION, name,
                                               sizeof(llama_state));
    if (!l) {
        for (int i = 0; i < 10; i++)
            mt_tensor_free(t[i]);
        return s ? s : MT_ERR_OUT_OF_MEMORY;
    }
    llama_state *st = l->state;
    for (int i = 0; i < 4; i++) {
        st->w[i] = t[i];
        st->b[i] = t[4 + i];
    }
    for (int i = 0; i < 2; i++) {
        st->norm[i] = t[8 + i];
        st->norm_per_head[i] = norm[i] && norm[i]->shape[0] == d;
    }
    st->norm_eps = options->qk_norm_eps > 0.0f ? options->qk_norm_eps : 1e-6f;
    st->e = w[0]->shape[1];
    st->eo = ow->shape[0];
    st->heads = options->n_heads;
    st->kv_heads = kv;
    st->head_dim = d;
    st->rope = options->rope;
    st->rotate = !options->no_rope;
    l->info.in_features = st->e;
    l->info.out_features = st->eo;
    l->info.has_bias = t[7] != NULL;
    *out = l;
    return MT_OK;
}
