/* einsum_dense_layer.c — Keras' EinsumDense for the equations that are a
 * Dense over several dims: "abc,cde->abde" (MultiHeadAttention's
 * projections), "abde,def->abf", "abc,cd->abd", "ab,bc->ac", "...b,bc->...c".
 * The input's last dims (the letters it shares with the kernel) are
 * merged into one, a Linear maps them to the kernel's other dims, merged
 * too, and the output is viewed with those dims split again. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/view.h"

typedef struct ed_state {
    mt_layer *linear;                /* [.., prod(c)] -> [.., prod(o)]; owned */
    int batch;                       /* the input's other dims, -1 for "..." */
    int nc, no;                      /* contracted dims, the kernel's others */
    int64_t c[MT_MAX_RANK], o[MT_MAX_RANK];
} ed_state;

/* in with its last nc dims as one (their product); false if it overflows */
static bool fold(const mt_shape *in, int nc, mt_shape *folded)
{
    *folded = (mt_shape){.dtype = in->dtype, .rank = in->rank - nc + 1};
    memcpy(folded->dim, in->dim, (size_t)(in->rank - nc) * sizeof *in->dim);
    int64_t n = 1;
    for (int d = in->rank - nc; d < in->rank; d++) {
        if (in->dim[d] && n > INT64_MAX / in->dim[d])
            return false;
        n *= in->dim[d];
    }
    folded->dim[folded->rank - 1] = n;
    return true;
}

static mt_status ed_infer(const mt_layer *l, int n, const mt_shape *in,
                          const char *const *from, mt_shape *out)
{
    const ed_state *st = l->state;
    char is[96];
    bool fits = st->batch < 0 ? in->rank >= st->nc + 1 : in->rank == st->batch + st->nc;
    for (int d = 0; fits && d < st->nc; d++)
        fits = in->dim[in->rank - st->nc + d] == st->c[d];
    if (!fits || in->dtype != MT_DTYPE_F32 || in->rank - st->nc + st->no > MT_MAX_RANK) {
        mt_shape want = {.rank = st->nc};
        memcpy(want.dim, st->c, (size_t)st->nc * sizeof *st->c);
        char ws[96];
        return mt_fail(MT_ERR_SHAPE, "expects F32 input of %s%d dims ending in the kernel's "
                       "%s, %s gives %s %s", st->batch < 0 ? "at least " : "",
                       st->batch < 0 ? st->nc + 1 : st->batch + st->nc,
                       mt_nn_shape_text(&want, ws, sizeof ws), from[0],
                       mt_dtype_name(in->dtype), mt_nn_shape_text(in, is, sizeof is));
    }
    mt_shape folded, y;
    if (!fold(in, st->nc, &folded))
        return mt_fail(MT_ERR_OVERFLOW, "the size of %s %s overflows", from[0],
                       mt_nn_shape_text(in, is, sizeof is));
    mt_status s = st->linear->vt->infer(st->linear, n, &folded, from, &y);
    if (s)
        return s;
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = in->rank - st->nc + st->no};
    memcpy(out->dim, in->dim, (size_t)(in->rank - st->nc) * sizeof *in->dim);
    memcpy(out->dim + in->rank - st->nc, st->o, (size_t)st->no * sizeof *st->o);
    return MT_OK;
}

/* The input's copy if its last dims cannot be merged in place, then the
 * Linear's scratch (mt_nn_forward_as). */
static size_t ed_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    const ed_state *st = l->state;
    mt_shape folded;
    fold(in, st->nc, &folded);   /* infer checked it */
    return mt_nn_forward_as_scratch(st->linear, n, in, &folded);
}

static mt_status ed_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                            void *scratch, mt_tensor *out)
{
    const ed_state *st = l->state;
    const mt_tensor *x = in[0];
    mt_shape xs = {.dtype = x->dtype, .rank = x->rank}, folded;
    memcpy(xs.dim, x->shape, (size_t)x->rank * sizeof *x->shape);
    fold(&xs, st->nc, &folded);
    // the output [.., o...] as [.., prod(o)]
    mt_shape ys = {.rank = x->rank - st->nc + 1};
    memcpy(ys.dim, x->shape, (size_t)(ys.rank - 1) * sizeof *ys.dim);
    ys.dim[ys.rank - 1] = 1;
    for (int d = 0; d < st->no; d++)
        ys.dim[ys.rank - 1] *= st->o[d];
    return mt_nn_forward_as(st->linear, n, x, &folded, &ys, scratch, out);
}

static void ed_release(void *state)
{
    mt_layer_free(((ed_state *)state)->linear);
}

static const mt_layer_vtable ed_vtable = {
    .n_inputs = 1,
    .infer = ed_infer,
    .forward = ed_forward,
    .scratch_bytes = ed_scratch,
    .release = ed_release,
};

/* The equation's three terms into in, ker, out (each at most MT_MAX_RANK
 * letters, "..." leading in and out); whether it has that form. */
static bool split(const char *eq, char in[16], char ker[16], char out[16], bool *ellipsis)
{
    const char *comma = strchr(eq, ','), *arrow = strstr(eq, "->");
    if (!comma || !arrow || arrow < comma)
        return false;
    size_t ni = (size_t)(comma - eq), nk = (size_t)(arrow - comma - 1), no = strlen(arrow + 2);
    if (ni > 15 || nk > 15 || no > 15)
        return false;
    memcpy(in, eq, ni), in[ni] = '\0';
    memcpy(ker, comma + 1, nk), ker[nk] = '\0';
    memcpy(out, arrow + 2, no + 1);
    *ellipsis = !strncmp(in, "...", 3);
    if (*ellipsis != !strncmp(out, "...", 3))
        return false;
    const char *terms[3] = {in + (*ellipsis ? 3 : 0), ker, out + (*ellipsis ? 3 : 0)};
    for (int t = 0; t < 3; t++) {
        size_t len = strlen(terms[t]);
        if (len > MT_MAX_RANK)
            return false;
        for (size_t i = 0; i < len; i++) {
            char ch = terms[t][i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) ||
                strchr(terms[t] + i + 1, ch))
                return false;
        }
    }
    return true;
}

mt_status mt_einsum_dense_new(const mt_tensor *kernel, const mt_tensor *bias,
                              const char *equation, mt_activation act, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum_dense: out is NULL");
    *out = NULL;
    if (!kernel || !equation)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum_dense: %s is NULL",
                       kernel ? "equation" : "kernel");
    char name[MT_NAME_MAX + 16], ks[160], bs[160];
    snprintf(name, sizeof name, "einsum_dense%s%s", kernel->name[0] ? " " : "", kernel->name);
    mt_status s;
    if ((s = mt_nn_check_weight(name, "kernel", kernel)) ||
        (s = mt_nn_check_weight(name, "bias", bias)))
        return s;
    mt_tensor_describe(kernel, ks, sizeof ks);
    if ((unsigned)act >= MT_ACTIVATION_COUNT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", name, (int)act);
    char in[16], ker[16], res[16];
    bool ell;
    if (!split(equation, in, ker, res, &ell))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: equation \"%s\": expected "
                       "\"<input>,<kernel>-><output>\" of letters, each once per term, "
                       "\"...\" leading the input and the output or neither", name,
                       equation);
    // contracted: the kernel's leading letters found in the input, which
    // must end it; the output: the input's other letters, then the kernel's
    size_t nk = strlen(ker), ni = strlen(in), nc = 0;
    while (nc < nk && strchr(in, ker[nc]))
        nc++;
    char want[40];
    snprintf(want, sizeof want, "%.*s%s", (int)(ni >= nc ? ni - nc : 0), in, ker + nc);
    bool ok = nc >= 1 && ni >= nc + (ell ? 3 : 1) &&
              !strncmp(in + ni - nc, ker, nc) && !strcmp(res, want);
    for (size_t i = nc; ok && i < nk; i++)
        ok = !strchr(in, ker[i]);
    if (!ok)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: equation \"%s\": only a Dense over the "
                       "input's last dims is supported (\"abc,cde->abde\": the kernel's "
                       "first letters end the input, the output is the input's others "
                       "then the kernel's)", name, equation);
    if (kernel->rank != (int)nk || mt_tensor_numel(kernel) < 1)
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s for \"%s\": expected %zu dims, none 0",
                       name, ks, ker, nk);
    mt_layer *l = mt_nn_layer_alloc("einsum_dense", &ed_vtable, MT_LAYER_EINSUM_DENSE, name,
                                    sizeof(ed_state));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    ed_state *st = l->state;
    st->batch = ell ? -1 : (int)(ni - nc);
    st->nc = (int)nc;
    st->no = (int)(nk - nc);
    int64_t pc = 1, po = 1;   /* no dim 0: the products fit, as the kernel's size does */
    for (size_t d = 0; d < nk; d++) {
        if (d < nc)
            pc *= (st->c[d] = kernel->shape[d]);
        else
            po *= (st->o[d - nc] = kernel->shape[d]);
    }
    mt_tensor *k2 = NULL, *bx = NULL, *bc = NULL, *b1 = NULL;
    /* a view of the kernel, or a copy of one whose strides cannot merge
     * (transposed, sliced) */
    s = mt_reshape(kernel, 2, (int64_t[]){pc, po}, &k2);
    if (!s)
        s = mt_tensor_name_set(k2, kernel->name);
    // Keras' bias covers the output from its first bias axis on, with 1 on
    // the others (bias_axes "d" of "de" is [d,1]): broadcast to the
    // kernel's output dims
    if (!s && bias) {
        s = bias->rank <= st->no ? mt_expand(bias, st->no, st->o, &bx) : MT_ERR_SHAPE;
        if (s && s != MT_ERR_OUT_OF_MEMORY)
            s = mt_fail(MT_ERR_SHAPE, "%s: bias %s does not broadcast to the kernel's "
                        "output dims %s of kernel %s (bias_axes over the input's dims are "
                        "not supported)", name, mt_tensor_describe(bias, bs, sizeof bs),
                        ker + nc, ks);
    }
    if (!s && bx && !(s = mt_tensor_contiguous(bx, &bc)) &&
        !(s = mt_view(bc, 1, (int64_t[]){po}, &b1)))
        s = mt_tensor_name_set(b1, bias->name);
    if (!s)
        s = mt_linear_new(k2, b1, &(mt_linear_options){.layout = MT_LAYOUT_IN_OUT, .act = act},
                          &st->linear);
    mt_tensor_free(b1);
    mt_tensor_free(bc);
    mt_tensor_free(bx);
    mt_tensor_free(k2);
    if (s) {
        mt_layer_free(l);
        return s;
    }
    l->info.in_features = pc;
    l->info.out_features = po;
    l->info.has_bias = bias != NULL;
    l->info.act = act;
    *out = l;
    return MT_OK;
}
