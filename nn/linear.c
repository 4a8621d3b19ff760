/* linear.c — the Linear layer: y = act(x·W + b) with W held as an [in,out]
 * view of the weight the user gave, whichever layout that is. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/view.h"

static const char *layout_text(mt_weight_layout layout)
{
    return layout == MT_LAYOUT_IN_OUT ? "Keras (in,out)" : "PyTorch (out,in)";
}

/* ---- layout: which reading of a [A,B] weight fits the bias and options ------ */

typedef struct fit {
    int64_t in, out;      /* the weight read in this layout */
    int64_t want_w[2];    /* the weight shape the options ask for */
    bool weight_ok, bias_ok;
} fit;

static fit fit_layout(mt_weight_layout layout, const int64_t ab[2],
                      int64_t bias_len, const mt_linear_options *o)
{
    bool in_out = layout == MT_LAYOUT_IN_OUT;
    fit f = {.in = in_out ? ab[0] : ab[1], .out = in_out ? ab[1] : ab[0]};
    int64_t in = o->in_features ? o->in_features : f.in;
    int64_t out = o->out_features ? o->out_features : f.out;
    f.want_w[0] = in_out ? in : out;
    f.want_w[1] = in_out ? out : in;
    f.weight_ok = in == f.in && out == f.out;
    f.bias_ok = bias_len < 0 || bias_len == f.out;
    return f;
}

/* The failure message when no layout fits (`layout` given, or AUTO). */
static mt_status explain_misfit(const char *name, const mt_tensor *w, const mt_tensor *b,
                                mt_weight_layout layout, const fit *k, const fit *p)
{
    char ws[160], bs[160];
    mt_tensor_describe(w, ws, sizeof ws);
    if (b)
        mt_tensor_describe(b, bs, sizeof bs);
    const fit *only = layout == MT_LAYOUT_IN_OUT ? k : layout == MT_LAYOUT_OUT_IN ? p : NULL;
    if (!only && k->weight_ok != p->weight_ok) {   /* AUTO: only one reading fits W */
        only = k->weight_ok ? k : p;
        layout = k->weight_ok ? MT_LAYOUT_IN_OUT : MT_LAYOUT_OUT_IN;
    }
    if (only && !only->weight_ok)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s, expected [%lld,%lld] (%s)", name, ws,
                       (long long)only->want_w[0], (long long)only->want_w[1],
                       layout_text(layout));
    if (only)
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out features of "
                       "weight %s read as %s)", name, bs, (long long)only->out, ws,
                       layout_text(layout));
    if (!k->weight_ok)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s, expected [%lld,%lld] (%s) or "
                       "[%lld,%lld] (%s)", name, ws, (long long)k->want_w[0],
                       (long long)k->want_w[1], layout_text(MT_LAYOUT_IN_OUT),
                       (long long)p->want_w[0], (long long)p->want_w[1],
                       layout_text(MT_LAYOUT_OUT_IN));
    return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (%s) or [%lld] (%s) for "
                   "weight %s", name, bs, (long long)k->out, layout_text(MT_LAYOUT_IN_OUT),
                   (long long)p->out, layout_text(MT_LAYOUT_OUT_IN), ws);
}

/* Settle the layout, or fail naming the tensors and shapes. */
static mt_status choose_layout(const char *name, const mt_tensor *w, const mt_tensor *b,
                               const mt_linear_options *o, mt_weight_layout *layout)
{
    int64_t bias_len = b ? b->shape[0] : -1;
    fit k = fit_layout(MT_LAYOUT_IN_OUT, w->shape, bias_len, o);
    fit p = fit_layout(MT_LAYOUT_OUT_IN, w->shape, bias_len, o);
    bool k_ok = k.weight_ok && k.bias_ok, p_ok = p.weight_ok && p.bias_ok;
    if (o->layout != MT_LAYOUT_AUTO) {
        if (!(o->layout == MT_LAYOUT_IN_OUT ? k_ok : p_ok))
            return explain_misfit(name, w, b, o->layout, &k, &p);
        *layout = o->layout;
        return MT_OK;
    }
    if (k_ok && p_ok) {
        char ws[160];
        mt_tensor_describe(w, ws, sizeof ws);
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s fits both Keras (in,out) and PyTorch "
                       "(out,in)%s: set the layout (MT_LAYOUT_IN_OUT or MT_LAYOUT_OUT_IN)",
                       name, ws, w->shape[0] == w->shape[1] ? " (it is square)"
                       : " (no bias or feature counts to tell them apart)");
    }
    if (!k_ok && !p_ok)
        return explain_misfit(name, w, b, MT_LAYOUT_AUTO, &k, &p);
    *layout = k_ok ? MT_LAYOUT_IN_OUT : MT_LAYOUT_OUT_IN;
    return MT_OK;
}

/* ---- checks ------------------------------------------------------------------ */

static mt_status check_args(const char *name, const mt_tensor *w, const mt_tensor *b,
                            const mt_linear_options *o)
{
    char s[160];
    if (w->rank != 2)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s, expected 2 dims", name,
                       mt_tensor_describe(w, s, sizeof s));
    if (b && b->rank != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected 1 dim", name,
                       mt_tensor_describe(b, s, sizeof s));
    if (w->dtype >= MT_DTYPE_COUNT || (b && b->dtype >= MT_DTYPE_COUNT))
        return mt_fail(MT_ERR_DTYPE, "%s: invalid dtype", name);
    if (o->in_features < 0 || o->out_features < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: negative feature count", name);
    if (o->layout != MT_LAYOUT_AUTO && o->layout != MT_LAYOUT_IN_OUT &&
        o->layout != MT_LAYOUT_OUT_IN)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown layout %d", name,
                       (int)o->layout);
    if (!mt_activation_name(o->act))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", name,
                       (int)o->act);
    return MT_OK;
}

/* ---- the layer --------------------------------------------------------------- */

typedef struct linear_state {
    mt_tensor *weight;    /* as given (or converted to F32); one reference */
    mt_tensor *bias;      /* [out] F32 or NULL; one reference */
    mt_tensor w;          /* [in,out] view of weight (transposed if OUT_IN) */
    mt_activation act;
    bool sparse;          /* frozen, weight finite: skip the zeros of the input */
} linear_state;

static mt_status linear_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)n;
    long long want = (long long)l->info.in_features;
    if (in->rank == 0)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input features, %s is a scalar", want,
                       from[0]);
    if (in->dim[in->rank - 1] != l->info.in_features)
        return mt_fail(MT_ERR_SHAPE, "expects %lld input features, %s gives %lld", want,
                       from[0], (long long)in->dim[in->rank - 1]);
    *out = *in;
    out->dtype = MT_DTYPE_F32;
    out->dim[out->rank - 1] = l->info.out_features;
    return MT_OK;
}

static mt_status linear_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const linear_state *st = l->state;
    if (st->sparse && in[0]->rank == 2)
        return mt_matmul_fused_sparse_into(in[0], &st->w, st->bias, st->act, out);
    return mt_matmul_fused_into(in[0], &st->w, st->bias, st->act, out);
}

/* A Linear applying e as it writes: a scale and shift become a new
 * weight w·diag(scale) and bias b·scale + shift (before any activation of
 * its own); an activation goes into the matmul's epilogue. */
static mt_status linear_absorb(const mt_layer *l, const mt_layer_epilogue *e,
                               mt_layer **fused)
{
    const linear_state *st = l->state;
    mt_linear_options o = {.layout = l->info.layout};
    if (mt_nn_compose_activation(st->act, e, &o.act))
        return MT_ERR_UNSUPPORTED;
    if (!e->scale && !e->shift)
        return mt_linear_new(st->weight, st->bias, &o, fused);
    mt_tensor *w = NULL, *b = NULL;
    o.layout = MT_LAYOUT_IN_OUT;   /* w·diag(scale) comes out [in,out] */
    mt_status s = MT_OK;
    if (e->scale)
        s = mt_mul(&st->w, e->scale, &w);
    else
        s = mt_tensor_contiguous(&st->w, &w);
    if (!s && st->bias)
        s = e->scale ? mt_mul(st->bias, e->scale, &b) : mt_tensor_contiguous(st->bias, &b);
    else if (!s)
        s = e->shift ? mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){l->info.out_features}, &b)
                     : MT_OK;
    if (!s && e->shift)
        s = mt_add_into(b, e->shift, b);
    if (!s) {
        mt_tensor_name_set(w, st->weight->name);
        s = mt_linear_new(w, b, &o, fused);
    }
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

static void linear_release(void *state)
{
    linear_state *st = state;
    mt_tensor_free(st->weight);
    mt_tensor_free(st->bias);
}

static mt_status linear_absorb_next(const mt_layer *l, const mt_layer *next,
                                    mt_layer **fused);
static mt_status linear_freeze(const mt_layer *l, mt_layer **frozen);

static const mt_layer_vtable linear_vtable = {
    .n_inputs = 1,
    .infer = linear_infer,
    .forward = linear_forward,
    .absorb = linear_absorb,
    .release = linear_release,
    .absorb_next = linear_absorb_next,
    .freeze = linear_freeze,
};

/* ---- two Linear layers as one ---------------------------------------------------
 * y = act2(act1(x·w1 + b1)·w2 + b2) through mt_matmul_fused2, which keeps
 * the hidden activations in cache. A model builds it when one Linear's
 * output feeds only the next (graph_plan.c). */

typedef struct linear2_state {
    mt_tensor *w1, *b1, *w2, *b2;   /* views of the two layers' [in,out] weights
                                     * (frozen: private contiguous copies) */
    mt_activation act1, act2;
    bool sparse;                    /* frozen, w1 finite: skip the zeros of x */
} linear2_state;

static mt_status linear2_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n;
    const linear2_state *st = l->state;
    if (in[0]->rank == 2 && st->sparse)
        return mt_matmul_fused2_sparse_into(in[0], st->w1, st->b1, st->act1, st->w2,
                                            st->b2, st->act2, out);
    if (in[0]->rank == 2)
        return mt_matmul_fused2_into(in[0], st->w1, st->b1, st->act1, st->w2, st->b2,
                                     st->act2, out);
    /* [..., in] with more dims: the two products through scratch */
    mt_tensor hidden;
    int64_t shape[MT_MAX_RANK];
    memcpy(shape, in[0]->shape, sizeof shape);
    shape[in[0]->rank - 1] = st->w1->shape[1];
    mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, in[0]->rank, shape, scratch, &hidden);
    if (!s)
        s = mt_matmul_fused_into(in[0], st->w1, st->b1, st->act1, &hidden);
    return s ? s : mt_matmul_fused_into(&hidden, st->w2, st->b2, st->act2, out);
}

// the hidden activations when the input is not a matrix
static size_t linear2_scratch_bytes(const mt_layer *l, int n, const mt_shape *in)
{
    (void)n;
    const linear2_state *st = l->state;
    if (in->rank == 2)
        return 0;
    /* in double first, as mha_scratch (attention_layer.c): past size_t is
     * SIZE_MAX, which is refused, not a wrapped small block */
    double bytes = (double)st->w1->shape[1] * sizeof(float);
    for (int d = 0; d + 1 < in->rank; d++)
        bytes *= (double)in->dim[d];
    if (bytes > (double)(SIZE_MAX / 2))
        return SIZE_MAX;
    size_t rows = 1;
    for (int d = 0; d + 1 < in->rank; d++)
        rows *= (size_t)in->dim[d];
    return rows * (size_t)st->w1->shape[1] * sizeof(float);
}

static void linear2_release(void *state)
{
    linear2_state *st = state;
    mt_tensor_free(st->w1);
    mt_tensor_free(st->b1);
    mt_tensor_free(st->w2);
    mt_tensor_free(st->b2);
}

static mt_status linear2_freeze(const mt_layer *l, mt_layer **frozen);

static const mt_layer_vtable linear2_vtable = {
    .n_inputs = 1,
    .infer = linear_infer,   /* info: the first's in features, the second's out */
    .forward = linear2_forward,
    .scratch_bytes = linear2_scratch_bytes,
    .release = linear2_release,
    .freeze = linear2_freeze,
};

/* A heap [in,out] view of l's weight (keeping the weight alive). */
static mt_status weight_view(const mt_layer *l, mt_tensor **out)
{
    const linear_state *st = l->state;
    if (l->info.layout == MT_LAYOUT_OUT_IN)
        return mt_transpose(st->weight, 0, 1, out);
    return mt_view(st->weight, 2, st->weight->shape, out);
}

static mt_status linear_absorb_next(const mt_layer *l, const mt_layer *next,
                                    mt_layer **fused)
{
    if (next->vt != &linear_vtable)
        return MT_ERR_UNSUPPORTED;
    const linear_state *a = l->state, *b = next->state;
    char name[2 * MT_NAME_MAX + 40];
    snprintf(name, sizeof name, "%s + %s", l->name, next->name);
    mt_layer *f = mt_nn_layer_alloc("linear", &linear2_vtable, MT_LAYER_LINEAR, name,
                                    sizeof(linear2_state));
    if (!f)
        return MT_ERR_OUT_OF_MEMORY;
    linear2_state *st = f->state;
    mt_status s;
    if ((s = weight_view(l, &st->w1)) || (s = weight_view(next, &st->w2)) ||
        (a->bias && (s = mt_view(a->bias, 1, a->bias->shape, &st->b1))) ||
        (b->bias && (s = mt_view(b->bias, 1, b->bias->shape, &st->b2)))) {
        mt_layer_free(f);
        return s;
    }
    st->act1 = a->act;
    st->act2 = b->act;
    f->info = l->info;
    f->info.name = f->name;
    f->info.out_features = next->info.out_features;
    f->info.act = b->act;
    *fused = f;
    return MT_OK;
}

/* ---- frozen: private copies, checked once ----------------------------------------
 * The weights copied contiguous [in,out] (a PyTorch [out,in] weight is
 * transposed once here, not read through a transpose in every pass). A
 * finite first weight lets the layer skip the zeros of its input: with a
 * NaN or infinity in it the dense product is the only exact one. */

// NULL for NULL; the copy keeps t's name for messages
static mt_status private_copy(const mt_tensor *t, mt_tensor **out)
{
    *out = NULL;
    mt_status s = t ? mt_tensor_contiguous(t, out) : MT_OK;
    if (!s && t)
        mt_tensor_name_set(*out, t->name);
    return s;
}

static bool all_finite(const mt_tensor *t)
{
    if (mt_tensor_check_finite(t) == MT_OK)
        return true;
    mt_clear_error(); // a question here, not a failure
    return false;
}

static mt_status linear_freeze(const mt_layer *l, mt_layer **frozen)
{
    const linear_state *st = l->state;
    mt_tensor *w, *b = NULL;
    mt_status s = private_copy(&st->w, &w);
    if (!s)
        s = private_copy(st->bias, &b);
    if (!s)
        s = mt_linear_new(w, b, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT,
                                                     .act = st->act}, frozen);
    if (!s) {
        linear_state *fz = (*frozen)->state;
        fz->sparse = all_finite(w);
        snprintf((*frozen)->name, sizeof (*frozen)->name, "%s", l->name);
        (*frozen)->info = l->info;
        (*frozen)->info.name = (*frozen)->name;
        (*frozen)->info.layout = MT_LAYOUT_IN_OUT; // what it holds now
    }
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

static mt_status linear2_freeze(const mt_layer *l, mt_layer **frozen)
{
    const linear2_state *st = l->state;
    mt_layer *f = mt_nn_layer_alloc("linear", &linear2_vtable, MT_LAYER_LINEAR, l->name,
                                    sizeof(linear2_state));
    if (!f)
        return MT_ERR_OUT_OF_MEMORY;
    linear2_state *fz = f->state;
    mt_status s;
    if ((s = private_copy(st->w1, &fz->w1)) || (s = private_copy(st->b1, &fz->b1)) ||
        (s = private_copy(st->w2, &fz->w2)) || (s = private_copy(st->b2, &fz->b2))) {
        mt_layer_free(f);
        return s;
    }
    fz->act1 = st->act1;
    fz->act2 = st->act2;
    fz->sparse = all_finite(fz->w1);
    f->info = l->info;
    f->info.name = f->name;
    *frozen = f;
    return MT_OK;
}

mt_status mt_linear_new(const mt_tensor *weight, const mt_tensor *bias,
                        const mt_linear_options *options, mt_layer **out)
{
    if (!weight || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "linear: %s is NULL",
                       weight ? "out" : "weight");
    *out = NULL;
    const mt_linear_options o = options ? *options : (mt_linear_options){0};
    char name[MT_NAME_MAX + 16];
    snprintf(name, sizeof name, "linear%s%s", weight->name[0] ? " " : "", weight->name);
    mt_weight_layout layout = MT_LAYOUT_AUTO;
    mt_status s;
    if ((s = mt_nn_check_weight(name, "weight", weight)) ||
        (s = mt_nn_check_weight(name, "bias", bias)) || (s = check_args(name, weight, bias, &o)) ||
        (s = choose_layout(name, weight, bias, &o, &layout)))
        return s;
    mt_layer *l = mt_nn_layer_alloc("linear", &linear_vtable, MT_LAYER_LINEAR, name,
                                    sizeof(linear_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    linear_state *lin = l->state;
    if ((s = mt_nn_hold_for(name, "weight", weight, false, &lin->weight)) ||
        (bias && (s = mt_nn_hold_for(name, "bias", bias, false, &lin->bias)))) {
        mt_layer_free(l);
        return s;
    }
    if (layout == MT_LAYOUT_OUT_IN)
        s = mt_transpose_into(lin->weight, 0, 1, &lin->w);
    else
        s = mt_view_into(lin->weight, 2, lin->weight->shape, &lin->w);
    if (s) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = lin->w.shape[0];
    l->info.out_features = lin->w.shape[1];
    l->info.layout = layout;
    l->info.has_bias = bias != NULL;
    l->info.act = o.act;
    lin->act = o.act;
    *out = l;
    return MT_OK;
}
