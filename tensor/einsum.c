/* einsum.c — torch.einsum for one or two operands (three or more:
 * einsum_chain.c, pairwise).
 *
 * The equation is parsed into labels: letters (A-Z then a-z, torch's order
 * for the implicit output) and the ellipsis's dims, right-aligned across
 * operands as broadcasting aligns them. Each operand is first a view with
 * one dim per label (a repeated letter is a diagonal: one dim whose stride
 * is the sum), its size-1 dims expanded (stride 0) to the other operand's
 * size. One operand: the labels not in the output are summed straight into
 * the output, else it is copied. Two operands: labels only one operand has
 * and the output lacks are summed first; then the operands are permuted to
 * [batch, free_a, contracted] and [batch, contracted, free_b], each group
 * merged into one dim (a view when the strides allow it, else a copy), and
 * mt_matmul writes [batch, M, N] into the output viewed in that order (or
 * into a temporary copied out when the output's strides cannot be merged).
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "minitensor/ops.h"
#include "minitensor/reduce.h"
#include "einsum_chain.h"
#include "internal.h"

#define N_LETTERS 52
#define N_LABELS (N_LETTERS + MT_MAX_RANK) /* letters, then the ellipsis's dims */

typedef struct einsum_term {
    int n;                  /* letters */
    int8_t letter[MT_MAX_RANK];
    int ell;                /* position of the ellipsis among the letters, -1: none */
} einsum_term;

typedef struct einsum_plan {
    char op[96];            /* "einsum 'ij,jk->ik'" for messages */
    int n;                  /* operands */
    int lab[2][MT_MAX_RANK];/* label of each dim of each operand */
    int out_rank;
    int out_lab[MT_MAX_RANK];
    int64_t out_shape[MT_MAX_RANK];
    int64_t size[N_LABELS]; /* broadcast size of each label, -1 unused */
    bool in_out[N_LABELS];
} einsum_plan;

static int letter_label(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return 26 + c - 'a';
    return -1;
}

/* "subscript i" or "ellipsis dim 0" */
static const char *label_text(int l, char *buf, size_t size)
{
    if (l < N_LETTERS)
        snprintf(buf, size, "subscript %c", l < 26 ? 'A' + l : 'a' + l - 26);
    else
        snprintf(buf, size, "ellipsis dim %d", l - N_LETTERS);
    return buf;
}

/* One term [p, end) of the equation (spaces skipped); `what` names it. */
static mt_status parse_term(const einsum_plan *p, const char *what, const char *s,
                            const char *end, einsum_term *t)
{
    t->n = 0;
    t->ell = -1;
    for (; s < end; s++) {
        if (*s == ' ')
            continue;
        if (*s == '.') {
            if (end - s < 3 || s[1] != '.' || s[2] != '.')
                return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: found '.' in %s that is not "
                               "part of an ellipsis", p->op, what);
            if (t->ell >= 0)
                return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s has a second ellipsis",
                               p->op, what);
            t->ell = t->n;
            s += 2;
            continue;
        }
        int l = letter_label(*s);
        if (l < 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: invalid character '%c' in %s "
                           "(subscripts are letters a-z, A-Z; '...' and one '->')",
                           p->op, *s, what);
        if (t->n == MT_MAX_RANK)
            return mt_fail(MT_ERR_SHAPE, "%s: %s has more than %d subscripts", p->op, what,
                           MT_MAX_RANK);
        t->letter[t->n++] = (int8_t)l;
    }
    return MT_OK;
}

/* Dim d of operand k has label l: record its size, or check it against
 * the size seen before (equal, or one of them 1: broadcast). */
static mt_status size_label(einsum_plan *p, const mt_tensor *const *x, int k, int d,
                            int *seen_from)
{
    int l = p->lab[k][d];
    int64_t n = x[k]->shape[d];
    char lt[32];
    for (int e = 0; e < d; e++)   /* a letter repeated within one operand: a diagonal */
        if (p->lab[k][e] == l && x[k]->shape[e] != n)
            return mt_fail(MT_ERR_SHAPE, "%s: %s is repeated in operand %d %s with sizes "
                           "%lld and %lld", p->op, label_text(l, lt, sizeof lt), k,
                           MT_SHAPE(x[k]), (long long)x[k]->shape[e], (long long)n);
    if (p->size[l] < 0 || p->size[l] == n) {
        if (p->size[l] < 0)
            seen_from[l] = k;
        p->size[l] = n;
        return MT_OK;
    }
    int j = seen_from[l];
    if (n == 1)
        return MT_OK;
    if (p->size[l] == 1) {
        p->size[l] = n;
        return MT_OK;
    }
    return mt_fail(MT_ERR_SHAPE, "%s: %s is %lld in operand %d %s but %lld in operand %d %s",
                   p->op, label_text(l, lt, sizeof lt), (long long)p->size[l], j,
                   MT_SHAPE(x[j]), (long long)n, k, MT_SHAPE(x[k]));
}

/* Labels of operand k's dims from its term, with `ell_rank` dims under the
 * ellipsis (the last of `total` ellipsis labels). */
static void label_dims(einsum_plan *p, int k, const einsum_term *t, int ell_rank, int total)
{
    int d = 0;
    for (int i = 0; i <= t->n; i++) {
        if (i == t->ell)
            for (int e = 0; e < ell_rank; e++)
                p->lab[k][d++] = N_LETTERS + total - ell_rank + e;
        if (i < t->n)
            p->lab[k][d++] = t->letter[i];
    }
}

/* The output's labels: the explicit term, or torch's implicit order (the
 * ellipsis, then the letters seen once, alphabetically). */
static mt_status plan_output(einsum_plan *p, const char *arrow, const char *end,
                             int ell_total, const int *count)
{
    p->out_rank = 0;
    int labs[N_LABELS], n = 0;
    if (!arrow) {
        for (int e = 0; e < ell_total; e++)
            labs[n++] = N_LETTERS + e;
        for (int l = 0; l < N_LETTERS; l++)
            if (count[l] == 1)
                labs[n++] = l;
    } else {
        einsum_term t;
        mt_status s = parse_term(p, "the output", arrow + 2, end, &t);
        if (s)
            return s;
        char lt[32];
        for (int i = 0; i <= t.n; i++) {
            if (i == t.ell)
                for (int e = 0; e < ell_total; e++)
                    labs[n++] = N_LETTERS + e;
            if (i == t.n)
                break;
            int l = t.letter[i];
            if (count[l] == 0)
                return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output %s does not appear in "
                               "any operand", p->op, label_text(l, lt, sizeof lt));
            for (int j = 0; j < i; j++)
                if (t.letter[j] == l)
                    return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output %s appears more "
                                   "than once", p->op, label_text(l, lt, sizeof lt));
            labs[n++] = l;
        }
    }
    if (n > MT_MAX_RANK)
        return mt_fail(MT_ERR_SHAPE, "%s: the result would have %d dims, more than %d",
                       p->op, n, MT_MAX_RANK);
    for (int i = 0; i < n; i++) {
        p->out_lab[i] = labs[i];
        p->out_shape[i] = p->size[labs[i]];
        p->in_out[labs[i]] = true;
    }
    p->out_rank = n;
    return MT_OK;
}

mt_status mt_einsum_check_operands(const char *op, int n, const mt_tensor *const *x)
{
    for (int k = 0; k < n; k++) {
        char what[24];
        snprintf(what, sizeof what, "operand %d", k);
        mt_status s = mt_tensor_check(op, what, x[k]);
        if (s)
            return s;
        if (x[k]->dtype != MT_DTYPE_F32)
            return mt_fail(MT_ERR_DTYPE, "%s: %s %s has dtype %s, not F32 (convert with "
                           "mt_tensor_to_f32)", op, what, MT_SHAPE(x[k]),
                           mt_dtype_name(x[k]->dtype));
    }
    return MT_OK;
}

static mt_status einsum_plan_make(const char *eq, int n, const mt_tensor *const *x,
                                  einsum_plan *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->op, sizeof p->op, "einsum '%.80s'", eq ? eq : "(null)");
    if (!eq || !x)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum: equation or operands is NULL");
    if (n < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d operands, expected at least 1",
                       p->op, n);
    mt_status checked = mt_einsum_check_operands(p->op, n, x);
    if (checked)
        return checked;
    char what[24];
    p->n = n;
    const char *end = eq + strlen(eq), *arrow = strstr(eq, "->");
    const char *lhs_end = arrow ? arrow : end;
    /* the operand terms, split at commas */
    einsum_term t[2];
    int terms = 0;
    for (const char *s = eq;; terms++) {
        const char *comma = memchr(s, ',', (size_t)(lhs_end - s));
        const char *e = comma ? comma : lhs_end;
        if (terms < n) {
            snprintf(what, sizeof what, "operand %d", terms);
            mt_status st = parse_term(p, what, s, e, &t[terms]);
            if (st)
                return st;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    if (++terms != n)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the equation has %d operands but %d "
                       "%s given", p->op, terms, n, n == 1 ? "is" : "are");
    int ell_total = 0, ell_rank[2];
    for (int k = 0; k < n; k++) {
        if (t[k].n > x[k]->rank || (t[k].ell < 0 && t[k].n != x[k]->rank))
            return mt_fail(MT_ERR_SHAPE, "%s: operand %d %s has %d dims but its term has "
                           "%d subscripts%s", p->op, k, MT_SHAPE(x[k]), x[k]->rank, t[k].n,
                           t[k].ell < 0 ? " and no ellipsis" : "");
        ell_rank[k] = t[k].ell < 0 ? 0 : x[k]->rank - t[k].n;
        if (ell_rank[k] > ell_total)
            ell_total = ell_rank[k];
    }
    for (int l = 0; l < N_LABELS; l++)
        p->size[l] = -1;
    int count[N_LABELS] = {0};
    int seen_from[N_LABELS];
    for (int k = 0; k < n; k++) {
        label_dims(p, k, &t[k], ell_rank[k], ell_total);
        for (int d = 0; d < x[k]->rank; d++) {
            mt_status s = size_label(p, x, k, d, seen_from);
            if (s)
                return s;
            count[p->lab[k][d]]++;
        }
    }
    /* every group the matmul sees is a product of label sizes: broadcast
     * (stride-0) operands may hold sizes whose product passes int64 (a
     * size 0 elsewhere does not save a group without it) */
    int64_t all = 1;
    bool over = false;
    for (int l = 0; l < N_LABELS && !over; l++) {
        if (p->size[l] > 0 && all > INT64_MAX / p->size[l])
            over = true;
        else if (p->size[l] > 0)
            all *= p->size[l];
    }
    if (over)
        return mt_fail(MT_ERR_OVERFLOW, "%s: the subscripts' sizes multiply past 2^63 (%s x "
                       "%s)", p->op, MT_SHAPE(x[0]), MT_SHAPE(x[n - 1]));
    if (arrow && strstr(arrow + 2, "->"))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: more than one '->'", p->op);
    return plan_output(p, arrow, end, ell_total, count);
}

/* ---- running ---------------------------------------------------------- */

/* Operand k as a view with one dim per label (lab: the labels of its
 * dims), a repeated letter's dims as one diagonal, size-1 dims broadcast
 * to the label's size. */
static void operand_view(const einsum_plan *p, const mt_tensor *x, int k, mt_tensor *v,
                         int *lab)
{
    mt_view_init(v, x);
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        int l = p->lab[k][d], j = 0;
        while (j < r && lab[j] != l)
            j++;
        if (j == r) {
            lab[r] = l;
            v->shape[r] = x->shape[d];
            v->stride[r++] = x->stride[d];
        } else {
            v->stride[j] += x->stride[d];
        }
    }
    for (int d = 0; d < r; d++)
        if (v->shape[d] != p->size[lab[d]]) {   /* 1, broadcast */
            v->shape[d] = p->size[lab[d]];
            v->stride[d] = 0;
        }
    v->rank = r;
    for (int d = r; d < MT_MAX_RANK; d++)
        v->shape[d] = v->stride[d] = 0;
}

static int find_label(const int *lab, int n, int l)
{
    for (int i = 0; i < n; i++)
        if (lab[i] == l)
            return i;
    return -1;
}

/* v = t's dims taken in order as `ng` groups of len[g] dims (0: a new dim
 * of size 1), each merged into one dim; false if t's strides cannot
 * express a group as one stride (PyTorch's view rule). */
static bool merge_groups(const mt_tensor *t, int ng, const int *len, mt_tensor *v)
{
    mt_view_init(v, t);
    int d = 0;
    for (int g = 0; g < ng; g++) {
        int64_t size = 1, stride = 1, next = 0;
        bool any = false;
        for (int i = d; i < d + len[g]; i++)
            size *= t->shape[i];
        for (int i = d + len[g] - 1; i >= d && size > 1; i--) {
            if (t->shape[i] == 1)
                continue;
            if (!any)
                stride = t->stride[i];
            else if (t->stride[i] != next)
                return false;
            any = true;
            next = t->stride[i] * t->shape[i];
        }
        v->shape[g] = size;
        v->stride[g] = stride;
        d += len[g];
    }
    v->rank = ng;
    for (int g = ng; g < MT_MAX_RANK; g++)
        v->shape[g] = v->stride[g] = 0;
    return true;
}

/* merge_groups of t, through a contiguous copy (*copy, to free) if t's
 * strides do not allow the view. */
static mt_status merge_or_copy(const mt_tensor *t, int ng, const int *len, mt_tensor *v,
                               mt_tensor **copy)
{
    if (merge_groups(t, ng, len, v))
        return MT_OK;
    mt_status s = mt_tensor_contiguous(t, copy);
    if (s)
        return s;
    bool ok = merge_groups(*copy, ng, len, v);
    assert(ok);
    (void)ok;
    return MT_OK;
}

/* t permuted: dim i of v is dim perm[i] of t. */
static void permute_view(const mt_tensor *t, int n, const int *perm, mt_tensor *v)
{
    mt_view_init(v, t);
    for (int i = 0; i < n; i++) {
        v->shape[i] = t->shape[perm[i]];
        v->stride[i] = t->stride[perm[i]];
    }
    v->rank = n;
}

/* The labels of v (lab, *n) that no other operand has and the output
 * lacks, summed: v becomes *sum (to free) when there are any. */
static mt_status sum_own_labels(const einsum_plan *p, const int *other, int n_other,
                                mt_tensor *v, int *lab, mt_tensor **sum)
{
    int dims[MT_MAX_RANK], nd = 0, keep = 0;
    for (int d = 0; d < v->rank; d++) {
        if (!p->in_out[lab[d]] && find_label(other, n_other, lab[d]) < 0)
            dims[nd++] = d;
        else
            lab[keep++] = lab[d];
    }
    if (nd == 0)
        return MT_OK;
    mt_status s = mt_sum_dims(v, dims, nd, false, sum);
    if (s)
        return s;
    mt_view_init(v, *sum);
    return MT_OK;
}

static mt_status einsum_one(const einsum_plan *p, const mt_tensor *x, mt_tensor *out)
{
    mt_tensor v, o;
    int lab[MT_MAX_RANK], dims[MT_MAX_RANK], perm[MT_MAX_RANK], nd = 0, keep = 0;
    operand_view(p, x, 0, &v, lab);
    /* out permuted into the order of v's kept dims */
    for (int d = 0; d < v.rank; d++) {
        if (p->in_out[lab[d]])
            perm[keep++] = find_label(p->out_lab, p->out_rank, lab[d]);
        else
            dims[nd++] = d;
    }
    permute_view(out, keep, perm, &o);
    if (nd == 0)
        return mt_tensor_copy_into(&v, &o);
    return mt_sum_dims_into(&v, dims, nd, false, &o);
}

/* The labels of the matmul's groups: batch, free_a, free_b (output order),
 * contracted (a's order). */
typedef struct einsum_groups {
    int batch[MT_MAX_RANK], fa[MT_MAX_RANK], fb[MT_MAX_RANK], con[MT_MAX_RANK];
    int nb, nfa, nfb, ncon;
} einsum_groups;

static void classify(const einsum_plan *p, const int *la, int na, const int *lb, int nb,
                     einsum_groups *g)
{
    g->nb = g->nfa = g->nfb = g->ncon = 0;
    for (int i = 0; i < p->out_rank; i++) {
        int l = p->out_lab[i];
        bool ia = find_label(la, na, l) >= 0, ib = find_label(lb, nb, l) >= 0;
        if (ia && ib)
            g->batch[g->nb++] = l;
        else if (ia)
            g->fa[g->nfa++] = l;
        else
            g->fb[g->nfb++] = l;
    }
    for (int d = 0; d < na; d++)
        if (!p->in_out[la[d]])
            g->con[g->ncon++] = la[d];
}

/* Positions in lab (n) of the labels of the lists given, in order. */
static int positions(const int *lab, int n, int *perm, int k, const int *a, int na,
                     const int *b, int nb, const int *c, int nc)
{
    for (int i = 0; i < na; i++)
        perm[k++] = find_label(lab, n, a[i]);
    for (int i = 0; i < nb; i++)
        perm[k++] = find_label(lab, n, b[i]);
    for (int i = 0; i < nc; i++)
        perm[k++] = find_label(lab, n, c[i]);
    return k;
}

static mt_status einsum_two(const einsum_plan *p, const mt_tensor *const *x, mt_tensor *out)
{
    mt_tensor va, vb, pa, pb, po, ma, mb, mo;
    mt_tensor *sa = NULL, *sb = NULL, *ca = NULL, *cb = NULL, *c = NULL;
    int la[MT_MAX_RANK], lb[MT_MAX_RANK], perm[MT_MAX_RANK];
    operand_view(p, x[0], 0, &va, la);
    operand_view(p, x[1], 1, &vb, lb);
    mt_status s = sum_own_labels(p, lb, vb.rank, &va, la, &sa);
    if (!s)
        s = sum_own_labels(p, la, va.rank, &vb, lb, &sb);
    if (s)
        goto done;
    einsum_groups g;
    classify(p, la, va.rank, lb, vb.rank, &g);
    /* each batch dim its own (matmul broadcasts them), or all one if the
     * rank would pass MT_MAX_RANK */
    int ng = 0, len_a[MT_MAX_RANK], len_b[MT_MAX_RANK], len_o[MT_MAX_RANK];
    if (g.nb + 2 <= MT_MAX_RANK)
        for (; ng < g.nb; ng++)
            len_a[ng] = 1;
    else
        len_a[ng++] = g.nb;
    memcpy(len_b, len_a, sizeof len_a);
    memcpy(len_o, len_a, sizeof len_a);
    len_a[ng] = g.nfa, len_a[ng + 1] = g.ncon;
    len_b[ng] = g.ncon, len_b[ng + 1] = g.nfb;
    len_o[ng] = g.nfa, len_o[ng + 1] = g.nfb;
    int n = positions(la, va.rank, perm, 0, g.batch, g.nb, g.fa, g.nfa, g.con, g.ncon);
    permute_view(&va, n, perm, &pa);
    n = positions(lb, vb.rank, perm, 0, g.batch, g.nb, g.con, g.ncon, g.fb, g.nfb);
    permute_view(&vb, n, perm, &pb);
    n = positions(p->out_lab, p->out_rank, perm, 0, g.batch, g.nb, g.fa, g.nfa, g.fb, g.nfb);
    permute_view(out, n, perm, &po);
    s = merge_or_copy(&pa, ng + 2, len_a, &ma, &ca);
    if (!s)
        s = merge_or_copy(&pb, ng + 2, len_b, &mb, &cb);
    if (s)
        goto done;
    if (merge_groups(&po, ng + 2, len_o, &mo)) {
        s = mt_matmul_into(&ma, &mb, &mo);
    } else {   /* the output's strides do not merge: a contiguous result, copied */
        mt_tensor cv;
        s = mt_matmul(&ma, &mb, &c);
        if (!s) {
            mt_view_init(&cv, c);
            cv.rank = po.rank;
            memcpy(cv.shape, po.shape, sizeof cv.shape);
            int64_t st64 = 1;
            for (int d = po.rank - 1; d >= 0; d--) {
                cv.stride[d] = st64;
                st64 *= po.shape[d];
            }
            s = mt_tensor_copy_into(&cv, &po);
        }
    }
done:
    mt_tensor_free(sa);
    mt_tensor_free(sb);
    mt_tensor_free(ca);
    mt_tensor_free(cb);
    mt_tensor_free(c);
    return s;
}

static mt_status einsum_run(const einsum_plan *p, const mt_tensor *const *x, mt_tensor *out)
{
    return p->n == 1 ? einsum_one(p, x[0], out) : einsum_two(p, x, out);
}

mt_status mt_einsum(const char *equation, int n_operands, const mt_tensor *const *operands,
                    mt_tensor **out)
{
    if (n_operands > 2)
        return mt_einsum_chain(equation, n_operands, operands, out);
    einsum_plan p;
    mt_status s = einsum_plan_make(equation, n_operands, operands, &p);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", p.op);
    mt_tensor *o;
    s = mt_tensor_alloc(p.op, MT_DTYPE_F32, p.out_rank, p.out_shape, &o);
    if (s)
        return s;
    s = einsum_run(&p, operands, o);
    if (s) {
        mt_tensor_free(o);
        return s;
    }
    *out = o;
    return MT_OK;
}

mt_status mt_einsum_shape(const char *equation, int n_operands,
                          const mt_tensor *const *operands, int *rank, int64_t *shape)
{
    if (n_operands > 2)
        return mt_einsum_chain_shape(equation, n_operands, operands, rank, shape);
    einsum_plan p;
    mt_status s = einsum_plan_make(equation, n_operands, operands, &p);
    if (s)
        return s;
    if (!rank || !shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rank or shape is NULL", p.op);
    *rank = p.out_rank;
    memcpy(shape, p.out_shape, (size_t)p.out_rank * sizeof *shape);
    return MT_OK;
}

mt_status mt_einsum_into(const char *equation, int n_operands,
                         const mt_tensor *const *operands, mt_tensor *out)
{
    if (n_operands > 2)
        return mt_einsum_chain_into(equation, n_operands, operands, out);
    einsum_plan p;
    mt_status s = einsum_plan_make(equation, n_operands, operands, &p);
    if (s)
        return s;
    s = mt_check_out(p.op, out, MT_DTYPE_F32, p.out_rank, p.out_shape);
    if (s)
        return s;
    for (int k = 0; k < n_operands; k++)
        if (mt_tensors_overlap(out, operands[k]))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps operand %d %s",
                           p.op, MT_SHAPE(out), k, MT_SHAPE(operands[k]));
    return einsum_run(&p, operands, out);
}
