/* einsum_chain.c — torch.einsum for three or more operands, as pairwise
 * contractions left to right (what torch does without opt_einsum, which
 * Debian's python3-torch runs without): ((x0·x1)·x2)·…, each step one
 * two-operand einsum (einsum.c) whose result keeps only the subscripts a
 * later operand or the output still needs.
 *
 * The equation is rewritten term by term: "ij,jk,kl->il" runs as
 * "ij,jk->ik" then "ik,kl->il". Where left to right would need an
 * intermediate of more than MT_MAX_RANK dims (torch's tensors have up to
 * 64), another order of pairs is searched for (plan_order): the same sum
 * in another order, so the same result up to rounding. The implicit output (no "->") is torch's:
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
/* The pairs, a[k] with b[k] at step k (plan_order). */
typedef struct chain_order {
    int a[MT_EINSUM_MAX_OPERANDS], b[MT_EINSUM_MAX_OPERANDS];
    bool reordered;
} chain_order;

typedef struct chain_plan {
    char op[96];
    int n;
    chain_term term[MT_EINSUM_MAX_OPERANDS + 1];
    chain_order order;
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

/* The slots of a chain: the operands at first; each step contracts slot b
 * into slot a (a < b), and b is gone. */
typedef struct chain_slots {
    chain_term term[MT_EINSUM_MAX_OPERANDS];
    int ell_dims[MT_EINSUM_MAX_OPERANDS]; /* dims the ellipsis stands for */
    bool live[MT_EINSUM_MAX_OPERANDS];
} chain_slots;

static bool kept_by_others(const chain_plan *p, const chain_slots *sl, int a, int b, char c)
{
    for (int k = 0; k < p->n; k++)
        if (sl->live[k] && k != a && k != b &&
            (c == '.' ? sl->term[k].ell : has_letter(&sl->term[k], c)))
            return true;
    return c == '.' ? p->term[p->n].ell : has_letter(&p->term[p->n], c);
}

/* The result of contracting slots a and b: the output's term at the last
 * step, else the subscripts of either that another live slot or the
 * output still has, in order of appearance, and the ellipsis if one of
 * them has it and another term keeps it. Returns its number of dims. */
static int pair_result(const chain_plan *p, const chain_slots *sl, int a, int b, bool last,
                       chain_term *r, int *ell_dims)
{
    const chain_term *x = &sl->term[a], *y = &sl->term[b];
    const int ea = x->ell ? sl->ell_dims[a] : 0, eb = y->ell ? sl->ell_dims[b] : 0;
    if (last) {
        *r = p->term[p->n];
    } else {
        size_t len = 0;
        r->ell = (x->ell || y->ell) && kept_by_others(p, sl, a, b, '.');
        if (r->ell)
            memcpy(r->s, "...", (len = 3));
        const char *both[2] = {x->s, y->s};
        for (int side = 0; side < 2; side++)
            for (const char *c = both[side]; *c; c++)
                if (*c != '.' && !memchr(r->s, *c, len) && kept_by_others(p, sl, a, b, *c))
                    r->s[len++] = *c;
        r->s[len] = '\0';
    }
    *ell_dims = r->ell ? (ea > eb ? ea : eb) : 0;
    int dims = *ell_dims;
    for (const char *c = r->s; *c; c++)
        dims += *c != '.';
    return dims;
}

/* Slot b contracted into slot a, with result r. */
static void slots_apply(chain_slots *sl, int a, int b, const chain_term *r, int ell_dims)
{
    sl->term[a] = *r;
    sl->ell_dims[a] = ell_dims;
    sl->live[b] = false;
}

static void slots_start(const chain_plan *p, const mt_tensor *const *x, chain_slots *sl)
{
    for (int k = 0; k < p->n; k++) {
        sl->term[k] = p->term[k];
        int letters = 0;
        for (const char *c = p->term[k].s; *c; c++)
            letters += *c != '.';
        sl->ell_dims[k] = p->term[k].ell ? x[k]->rank - letters : 0;
        sl->live[k] = true;
    }
}

/* The pairs, a[k] with b[k] at step k: left to right (0 with k + 1) if no
 * intermediate then has more than MT_MAX_RANK dims, else the first order
 * found depth first, trying at each step the pairs with the fewest result
 * dims first (so the greedy order when it fits), within SEARCH_BUDGET pair
 * evaluations. Where none is found, left to right: its step reports the
 * rank. */
enum { SEARCH_BUDGET = 50000 };

static bool order_fits(const chain_plan *p, const mt_tensor *const *x, const chain_order *o)
{
    chain_slots sl;
    slots_start(p, x, &sl);
    for (int k = 0; k + 1 < p->n; k++) {
        chain_term r;
        int ell;
        if (pair_result(p, &sl, o->a[k], o->b[k], k + 2 == p->n, &r, &ell) > MT_MAX_RANK)
            return false;
        slots_apply(&sl, o->a[k], o->b[k], &r, ell);
    }
    return true;
}

typedef struct order_search {
    const chain_plan *p;
    chain_slots sl;
    chain_order o;
    long budget;
} order_search;

static bool search_from(order_search *st, int k)
{
    const chain_plan *p = st->p;
    if (k + 1 == p->n)
        return true;
    chain_slots *sl = &st->sl;
    for (int want = 0; want <= MT_MAX_RANK; want++)
        for (int a = 0; a < p->n; a++)
            for (int b = a + 1; b < p->n && sl->live[a]; b++) {
                if (!sl->live[b])
                    continue;
                if (--st->budget < 0)
                    return false;
                chain_term r;
                int ell;
                if (pair_result(p, sl, a, b, k + 2 == p->n, &r, &ell) != want)
                    continue;
                const chain_term saved = sl->term[a];
                const int saved_ell = sl->ell_dims[a];
                slots_apply(sl, a, b, &r, ell);
                st->o.a[k] = a;
                st->o.b[k] = b;
                if (search_from(st, k + 1))
                    return true;
                sl->term[a] = saved;   // undo
                sl->ell_dims[a] = saved_ell;
                sl->live[b] = true;
            }
    return false;
}

static void plan_order(chain_plan *p, const mt_tensor *const *x)
{
    chain_order *o = &p->order;
    o->reordered = false;
    for (int k = 0; k + 1 < p->n; k++)
        o->a[k] = 0, o->b[k] = k + 1;
    if (order_fits(p, x, o))
        return;
    order_search st = {.p = p, .o = {.reordered = true}, .budget = SEARCH_BUDGET};
    slots_start(p, x, &st.sl);
    if (search_from(&st, 0))
        *o = st.o;
}

/* Runs the chain in p's order; with shape_only, the shapes alone (no data
 * read: each step's result is a shape with a stand-in data pointer). The
 * last step writes into out when it is given, else *result gets a new
 * tensor (or, shape_only, *rank and shape). */
static mt_status run_chain(const chain_plan *p, const mt_tensor *const *x, mt_tensor *out,
                           mt_tensor **result, bool shape_only, int *rank, int64_t *shape)
{
    const chain_order *order = &p->order;
    static float stand_in; /* data of a shape-only step result: never read */
    const mt_tensor *slot[MT_EINSUM_MAX_OPERANDS];
    mt_tensor *owned[MT_EINSUM_MAX_OPERANDS] = {0}, held[MT_EINSUM_MAX_OPERANDS];
    chain_slots sl;
    slots_start(p, x, &sl);
    for (int k = 0; k < p->n; k++)
        slot[k] = x[k];
    mt_status s = MT_OK;
    for (int k = 0; k + 1 < p->n && !s; k++) {
        const int a = order->a[k], b = order->b[k];
        const bool last = k + 2 == p->n;
        chain_term r;
        int ell;
        pair_result(p, &sl, a, b, last, &r, &ell);
        char step[3 * TERM_MAX + 8];
        snprintf(step, sizeof step, "%s,%s->%s", sl.term[a].s, sl.term[b].s, r.s);
        const mt_tensor *pair[2] = {slot[a], slot[b]};
        mt_tensor *next = NULL;
        if (shape_only) {
            int rk = 0;
            int64_t sh[MT_MAX_RANK];
            s = mt_einsum_shape(step, 2, pair, &rk, sh);
            if (!s && last) {
                *rank = rk;
                memcpy(shape, sh, (size_t)rk * sizeof *sh);
            } else if (!s) {
                mt_tensor_init_contiguous(&held[a], MT_DTYPE_F32, rk, sh, &stand_in);
                slot[a] = &held[a];
            }
        } else if (last && out) {
            s = mt_einsum_into(step, 2, pair, out);
        } else {
            s = mt_einsum(step, 2, pair, &next);
        }
        if (s) {
            char why[512];
            snprintf(why, sizeof why, "%s", mt_last_error());
            // the pair's own message numbers its two operands 0 and 1
            if (order->reordered)
                s = mt_fail(s, "%s: at step %d of %d, the pair '%s' (its operands 0 and 1 "
                            "below): %s", p->op, k + 1, p->n - 1, step, why);
            else
                s = mt_fail(s, "%s: at operand %d, the pair '%s' (it is operand 1 below): %s",
                            p->op, b, step, why);
        } else if (!shape_only) {
            mt_tensor_free(owned[a]);
            mt_tensor_free(owned[b]);
            owned[b] = NULL;
            owned[a] = next;
            slot[a] = next;
        }
        slots_apply(&sl, a, b, &r, ell);
    }
    if (!s && result)
        *result = owned[0];
    else
        for (int k = 0; k < p->n; k++)
            mt_tensor_free(owned[k]);
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
    if (!s && !(s = plan_chain(eq, n, p)))
        plan_order(p, x);
    return s;
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
