/* einsum_layer.c — torch.einsum as a graph layer (mt_einsum_into, ops.h) of
 * 1 to 8 inputs: attention scores 'bhqd,bhkd->bhqk', a per-sample bilinear
 * form 'bi,ij,bj->b', a transpose. A graph may run a batch in passes of fewer samples,
 * so the batch (dim 0 of every input) must pass through untouched: it is
 * the ellipsis leading every term and the output, or one letter leading
 * every term and the output (not repeated, so never summed or a diagonal).
 * Keras' EinsumDense (a kernel and bias) is einsum_dense_layer.c. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/ops.h"

#define EQ_MAX 128
enum { INPUTS_MAX = 8 };

typedef struct einsum_state {
    char eq[EQ_MAX];           /* with the output written out */
    bool ell_batch;            /* the batch is the ellipsis's first dim */
    int letters[INPUTS_MAX];   /* letters in each input's term */
} einsum_state;

static mt_status einsum_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    const einsum_state *st = l->state;
    static float dummy;   /* the shapes are read, never the data */
    mt_tensor x[INPUTS_MAX];
    const mt_tensor *xs[INPUTS_MAX];
    char a[160], b[160];
    for (int k = 0; k < n; k++) {
        if (in[k].dtype != MT_DTYPE_F32)
            return mt_fail(MT_ERR_DTYPE, "expects F32 inputs, %s gives %s", from[k],
                           mt_dtype_name(in[k].dtype));
        mt_status s = mt_tensor_wrap_into(MT_DTYPE_F32, in[k].rank, in[k].dim, &dummy, &x[k]);
        if (s)
            return s;
        xs[k] = &x[k];
    }
    for (int k = 0; st->ell_batch && k < n; k++) {
        int e0 = in[0].rank - st->letters[0], ek = in[k].rank - st->letters[k];
        if (e0 < 1 || ek != e0)
            return mt_fail(MT_ERR_SHAPE, "'%s' batches over the ellipsis's first dim: the "
                           "inputs need as many dims under '...' (at least 1); %s gives %s%s%s%s%s",
                           st->eq, from[0], mt_nn_shape_text(&in[0], a, sizeof a),
                           k ? " and " : "", k ? from[k] : "", k ? " gives " : "",
                           k ? mt_nn_shape_text(&in[k], b, sizeof b) : "");
    }
    *out = (mt_shape){.dtype = MT_DTYPE_F32};
    return mt_einsum_shape(st->eq, n, xs, &out->rank, out->dim);
}

static mt_status einsum_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)scratch;
    const einsum_state *st = l->state;
    return mt_einsum_into(st->eq, n, in, out);
}

#define EINSUM_VT(k) {.n_inputs = k, .infer = einsum_infer, .forward = einsum_forward}
static const mt_layer_vtable einsum_vtable[INPUTS_MAX] = {
    EINSUM_VT(1), EINSUM_VT(2), EINSUM_VT(3), EINSUM_VT(4),
    EINSUM_VT(5), EINSUM_VT(6), EINSUM_VT(7), EINSUM_VT(8),
};

/* The term's first subscript: 1 for an ellipsis, the letter, or 0 if none;
 * *letters counts its letters, *seen each letter's uses. */
static int term_scan(const char *s, const char *end, int *letters, int *seen)
{
    int first = 0;
    *letters = 0;
    for (; s < end; s++) {
        if (*s == ' ')
            continue;
        if (*s == '.') {
            if (!first)
                first = 1;
            continue;
        }
        if (!first)
            first = (unsigned char)*s;
        ++*letters;
        seen[(unsigned char)*s]++;
    }
    return first;
}

mt_status mt_einsum_new(const char *equation, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum: out is NULL");
    *out = NULL;
    if (!equation)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum: equation is NULL");
    einsum_state st = {0};
    size_t len = strlen(equation);
    const char *arrow = strstr(equation, "->"), *lhs_end = arrow ? arrow : equation + len;
    for (const char *c = equation; *c; c++)
        if (!(*c == ' ' || *c == '.' || *c == ',' || *c == '-' || *c == '>' ||
              (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum '%.80s': invalid character '%c'",
                           equation, *c);
    int seen[256] = {0}, first[INPUTS_MAX], n = 0;
    for (const char *s = equation;; n++) {
        const char *comma = memchr(s, ',', (size_t)(lhs_end - s));
        const char *e = comma ? comma : lhs_end;
        if (n == INPUTS_MAX)
            return mt_fail(MT_ERR_UNSUPPORTED, "einsum '%.80s': a layer takes 1 to %d inputs",
                           equation, INPUTS_MAX);
        first[n] = term_scan(s, e, &st.letters[n], seen);
        if (!comma)
            break;
        s = comma + 1;
    }
    n++;
    /* the output, written out: torch's implicit one is the ellipsis (if
     * any) then the letters used once, in order (A-Z, then a-z) */
    char output[EQ_MAX];
    if (arrow) {
        snprintf(output, sizeof output, "%s", arrow + 2);
    } else {
        size_t k = 0;
        if (strstr(equation, "..."))
            k = (size_t)snprintf(output, sizeof output, "...");
        for (int c = 'A'; c <= 'z'; c++)
            if (seen[c] == 1 && k + 1 < sizeof output)
                output[k++] = (char)c;
        output[k] = 0;
    }
    int letters_out, seen_out[256] = {0};
    int out_first = term_scan(output, output + strlen(output), &letters_out, seen_out);
    bool same = first[0] != 0 && out_first == first[0];
    for (int k = 1; k < n; k++)
        same = same && first[k] == first[0];
    bool once = first[0] == 1 || seen[first[0]] == n;
    if (!same || !once)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum '%.80s': the batch (dim 0 of every "
                       "input) must pass through: the ellipsis or one letter, leading every "
                       "input and the output and not repeated ('bhqd,bhkd->bhqk', "
                       "'...ij,...jk->...ik')", equation);
    int w = snprintf(st.eq, sizeof st.eq, "%.*s->%s", (int)(lhs_end - equation), equation,
                     output);
    if (w < 0 || (size_t)w >= sizeof st.eq)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum: equation longer than %d characters",
                       EQ_MAX - 8);
    st.ell_batch = first[0] == 1;
    char name[64];
    snprintf(name, sizeof name, "einsum %.50s", st.eq);
    mt_layer *l = mt_nn_layer_alloc("einsum", &einsum_vtable[n - 1], MT_LAYER_EINSUM, name,
                                    sizeof st);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    memcpy(l->state, &st, sizeof st);
    *out = l;
    return MT_OK;
}
