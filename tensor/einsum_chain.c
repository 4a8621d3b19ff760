/* einsum_chain.c — torch.einsum for three or more operands, as pairwise
 * contractions left to right (what torch does without opt_einsum, which
 * Debian's python3-torch runs without): ((x0·x1)·x2)·…, each step one
 * two-operand einsum (einsum.c) whose result keeps only the subscripts a
 * later operand or the output still needs.
 *
 * The equation is rewritten term by term: "ij,jk,kl->il" runs as
 * "ij,jk->ik" then "ik,kl->il". The implicit output (no "->") is torch's:
 * an ellipsis first if any operand has one, then the subscripts that occur
 * once in the whole equation, in alphabetical order (A-Z, then a-z).
 */
#include <stdio.h>
#include <string.h>

#include "minitensor/ops.h"
#include "einsum_chain.h"
#include "internal.h"

enum { TERM_MAX = 64 }; /* characters of one rewritten term, ellipsis included */

typedef struct chain_term {
    char s[TERM_MAX];   /* letters, "..." where the ellipsis is */
    bool ell;
} chain_term;

/* One term [s, end): its letters and ellipsis, spaces dropped; false if it
 * holds anything else or is too long (the two-operand parser then names
 * the problem). */
static bool term_of(const char *s, const char *end, chain_term *t)
{
    size_t n = 0;
    t->ell = false;
    for (; s < end; s++) {
        if (*s == ' ')
            continue;
        if (n + 4 > sizeof t->s)
            return false;
        if (*s == '.' && end - s >= 3 && s[1] == '.' && s[2] == '.' && !t->ell) {
            memcpy(t->s + n, "...", 3);
            n += 3;
            t->ell = true;
            s += 2;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
            t->s[n++] = *s;
        } else {
            return false;
        }
    }
    t->s[n] = '\0';
    return true;
}

static bool has_letter(const chain_term *t, char c) { return strchr(t->s, c) != NULL; }

/* The steps' terms: term[0..n) the operands', term[n] the output's. */
typedef struct chain_plan {
    char op[96];
    int n;
    chain_term term[MT_EINSUM_MAX_OPERANDS + 1];
} chain_plan;

static mt_status plan_chain(const char *eq, int n, chain_plan *p)
{
    p->n = n;
    const char *end = eq + strlen(eq), *arrow = strstr(eq, "->");
    const char *lhs_end = arrow ? arrow : end;
    int terms = 0;
    for (const char *s = eq;; terms++) {
        const char *comma = memchr(s, ',', (size_t)(lhs_end - s));
        const char *e = comma ? comma : lhs_end;
        if (terms < n && !term_of(s, e, &p->term[terms]))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: operand %d's term is not letters "
                           "and at most one '...' (or is longer than %d)", p->op, terms,
                           TERM_MAX - 4);
        if (!comma)
            break;
        s = comma + 1;
    }
    if (++terms != n)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the equation has %d operands but %d are "
                       "given", p->op, terms, n);
    chain_term *out = &p->term[n];
    if (arrow) {
        if (!term_of(arrow + 2, end, out))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the output is not letters and at "
                           "most one '...'", p->op);
        return MT_OK;
    }
    /* torch's implicit output */
    int count[128] = {0};
    bool ell = false;
    for (int k = 0; k < n; k++) {
        ell |= p->term[k].ell;
        for (const char *c = p->term[k].s; *c; c++)
            count[(unsigned char)*c]++;
    }
    size_t len = 0;
    if (ell)
        memcpy(out->s, "...", (len = 3));
    out->ell = ell;
    for (int c = 'A'; c <= 'z'; c++)
        if (count[c] == 1 && len + 1 < sizeof out->s)
            out->s[len++] = (char)c;
    out->s[len] = '\0';
    return MT_OK;
}

/* The result of contracting the running term `acc` with operand i: the
 * subscripts of either that operand i+1.. or the output still has, in
 * order of appearance, and the ellipsis if one of them has it and a later
 * term keeps it. */
static void step_result(const chain_plan *p, const chain_term *acc, int i, chain_term *r)
{
    const chain_term *x = &p->term[i];
    bool later_ell = false;
    for (int k = i + 1; k <= p->n; k++)
        later_ell |= p->term[k].ell;
    size_t len = 0;
    r->ell = (acc->ell || x->ell) && later_ell;
    if (r->ell)
        memcpy(r->s, "...", (len = 3));
    const char *both[2] = {acc->s, x->s};
    for (int side = 0; side < 2; side++)
        for (const char *c = both[side]; *c; c++) {
            if (*c == '.' || memchr(r->s, *c, len))
                continue;
            bool needed = false;
            for (int k = i + 1; k <= p->n && !needed; k++)
                needed = has_letter(&p->term[k], *c);
            if (needed)
                r->s[len++] = *c;
        }
    r->s[len] = '\0';
}

/* Runs the chain; with shape_only, the shapes alone (no data read: each
 * step's result is a shape with a stand-in data pointer). The last step
 * writes into out when it is given, else *result gets a new tensor (or,
 * shape_only, *rank and shape). */
static mt_status run_chain(const chain_plan *p, const mt_tensor *const *x, mt_tensor *out,
                           mt_tensor **result, bool shape_only, int *rank, int64_t *shape)
{
    static float stand_in; /* data of a shape-only step result: never read */
    mt_tensor *acc = NULL, held;
    const mt_tensor *left = x[0];
    chain_term acc_term = p->term[0];
    mt_status s = MT_OK;
    for (int i = 1; i < p->n && !s; i++) {
        chain_term r;
        if (i == p->n - 1)
            r = p->term[p->n];
        else
            step_result(p, &acc_term, i, &r);
        char step[3 * TERM_MAX + 8];
        snprintf(step, sizeof step, "%s,%s->%s", acc_term.s, p->term[i].s, r.s);
        const mt_tensor *pair[2] = {left, x[i]};
        mt_tensor *next = NULL;
        if (shape_only) {
            int rk = 0;
            int64_t sh[MT_MAX_RANK];
            s = mt_einsum_shape(step, 2, pair, &rk, sh);
            if (!s && i == p->n - 1) {
                *rank = rk;
                memcpy(shape, sh, (size_t)rk * sizeof *sh);
            } else if (!s) {
                mt_tensor_init_contiguous(&held, MT_DTYPE_F32, rk, sh, &stand_in);
                left = &held;
            }
        } else if (i == p->n - 1 && out) {
            s = mt_einsum_into(step, 2, pair, out);
        } else {
            s = mt_einsum(step, 2, pair, &next);
        }
        if (s) {
            char why[512];
            snprintf(why, sizeof why, "%s", mt_last_error());
            s = mt_fail(s, "%s: at operand %d: %s", p->op, i, why);
        } else if (!shape_only) {
            mt_tensor_free(acc);
            acc = next;
            left = next;
        }
        acc_term = r;
    }
    if (!s && result)
        *result = acc;
    else
        mt_tensor_free(acc);
    return s;
}

static mt_status chain_plan_make(const char *eq, int n, const mt_tensor *const *x,
                                 chain_plan *p)
{
    snprintf(p->op, sizeof p->op, "einsum '%.80s'", eq ? eq : "(null)");
    if (!eq || !x)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "einsum: equation or operands is NULL");
    if (n > MT_EINSUM_MAX_OPERANDS)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d operands, at most %d", p->op, n,
                       MT_EINSUM_MAX_OPERANDS);
    mt_status s = mt_einsum_check_operands(p->op, n, x);
    return s ? s : plan_chain(eq, n, p);
}

mt_status mt_einsum_chain(const char *eq, int n, const mt_tensor *const *x, mt_tensor **out)
{
    chain_plan p;
    mt_status s = chain_plan_make(eq, n, x, &p);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", p.op);
    return run_chain(&p, x, NULL, out, false, NULL, NULL);
}

mt_status mt_einsum_chain_into(const char *eq, int n, const mt_tensor *const *x,
                               mt_tensor *out)
{
    chain_plan p;
    mt_status s = chain_plan_make(eq, n, x, &p);
    if (s)
        return s;
    /* the whole chain's shape first: a wrong out fails before any work */
    int rank = 0;
    int64_t shape[MT_MAX_RANK];
    if ((s = run_chain(&p, x, NULL, NULL, true, &rank, shape)) ||
        (s = mt_check_out(p.op, out, MT_DTYPE_F32, rank, shape)))
        return s;
    for (int k = 0; k < n; k++)
        if (mt_tensors_overlap(out, x[k]))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps operand %d %s",
                           p.op, MT_SHAPE(out), k, MT_SHAPE(x[k]));
    return run_chain(&p, x, out, NULL, false, NULL, NULL);
}

mt_status mt_einsum_chain_shape(const char *eq, int n, const mt_tensor *const *x, int *rank,
                                int64_t *shape)
{
    chain_plan p;
    mt_status s = chain_plan_make(eq, n, x, &p);
    if (s)
        return s;
    if (!rank || !shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rank or shape is NULL", p.op);
    return run_chain(&p, x, NULL, NULL, true, rank, shape);
}
