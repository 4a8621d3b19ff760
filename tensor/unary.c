/* unary.c — every unary op and activation, generated from MT_UNARY_OPS. */
#include <assert.h>

#include "map.h"
#include "unary_ops.h"

/* ---- the row loops: one per op, its scalar function inlined ---------------- */

#define ROW_LOOP(name, params, act, fn)                                              \
    static void row_##name(int64_t n, const float *x, int64_t sx, float *y, int64_t sy, \
                           float p, float q)                                         \
    {                                                                                \
        if (sx == 1 && sy == 1) {                                                    \
            for (int64_t i = 0; i < n; i++)                                          \
                y[i] = fn(x[i], p, q);                                               \
        } else {                                                                     \
            for (int64_t i = 0; i < n; i++)                                          \
                y[i * sy] = fn(x[i * sx], p, q);                                     \
        }                                                                            \
    }
MT_UNARY_OPS(ROW_LOOP)

/* ---- the table --------------------------------------------------------------- */

typedef struct unary_row {
    const char *name;
    int act;
    mt_unary_row_fn row;
} unary_row;

#define TABLE_ROW(name, params, act, fn) {#name, act, row_##name},
static const unary_row table[] = {MT_UNARY_OPS(TABLE_ROW)};

/* Every activation but NONE has exactly one row: as many rows with an
 * activation as values, and their bits (1 << act) cover 1..COUNT-1 — with
 * the count fixed, only distinct values can add up to that. */
#define ACT_COUNT(name, params, act, fn) +((act) >= 0)
#define ACT_BIT(name, params, act, fn) +((act) >= 0 ? 1ull << ((act) & 63) : 0ull)
static_assert(0 MT_UNARY_OPS(ACT_COUNT) == MT_ACTIVATION_COUNT - 1,
              "mt_activation and MT_UNARY_OPS disagree on the number of activations");
static_assert((0 MT_UNARY_OPS(ACT_BIT)) == (1ull << MT_ACTIVATION_COUNT) - 2,
              "each mt_activation value needs exactly one MT_UNARY_OPS row");

/* ---- activations ----------------------------------------------------------------- */

static const unary_row *activation_entry(mt_activation act)
{
    if (act <= MT_ACTIVATION_NONE || act >= MT_ACTIVATION_COUNT)
        return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].act == (int)act)
            return &table[i];
    return NULL;
}

mt_unary_row_fn mt_activation_row(mt_activation act)
{
    const unary_row *e = activation_entry(act);
    return e ? e->row : NULL;
}

const char *mt_activation_name(mt_activation act)
{
    if (act == MT_ACTIVATION_NONE)
        return "none";
    const unary_row *e = activation_entry(act);
    return e ? e->name : NULL;
}

mt_status mt_activation_check(const char *op, mt_activation act)
{
    if (!mt_activation_name(act))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown activation %d", op, (int)act);
    return MT_OK;
}

void mt_activation_rows(mt_activation act, float *c, int64_t m, int64_t n, int64_t rs,
                        int64_t cs)
{
    mt_unary_row_fn row = mt_activation_row(act);
    if (!row)
        return;
    for (int64_t i = 0; i < m; i++)
        row(n, c + i * rs, cs, c + i * rs, cs, 0.0f, 0.0f);
}

/* ---- the public functions ----------------------------------------------------------- */

/* The driver's row: calls the op's row loop with its parameters. */
typedef struct unary_call {
    mt_unary_row_fn row;
    float p, q;
} unary_call;

static void map_row(int64_t n, void *const *ptr, const int64_t *s, const void *ctx)
{
    const unary_call *c = ctx;
    c->row(n, ptr[0], s[0], ptr[1], s[1], c->p, c->q);
}

#define UNARY_OP(name, params, act, fn)                                              \
    static const mt_map_op op_##name = {#name, 1, {"x"}, {MT_DTYPE_F32}, MT_DTYPE_F32, \
                                        map_row};
MT_UNARY_OPS(UNARY_OP)

static mt_status run_new(const mt_map_op *op, mt_unary_row_fn row, const mt_tensor *x,
                         float p, float q, mt_tensor **out)
{
    unary_call c = {row, p, q};
    return mt_map_new(op, &x, &c, out);
}

static mt_status run_into(const mt_map_op *op, mt_unary_row_fn row, const mt_tensor *x,
                          float p, float q, mt_tensor *out)
{
    unary_call c = {row, p, q};
    return mt_map_into(op, &x, &c, out);
}

#define DEFINE_0(name)                                                                 \
    mt_status mt_##name(const mt_tensor *x, mt_tensor **out)                           \
    { return run_new(&op_##name, row_##name, x, 0.0f, 0.0f, out); }                    \
    mt_status mt_##name##_into(const mt_tensor *x, mt_tensor *out)                     \
    { return run_into(&op_##name, row_##name, x, 0.0f, 0.0f, out); }
#define DEFINE_1(name)                                                                 \
    mt_status mt_##name(const mt_tensor *x, float p, mt_tensor **out)                  \
    { return run_new(&op_##name, row_##name, x, p, 0.0f, out); }                       \
    mt_status mt_##name##_into(const mt_tensor *x, float p, mt_tensor *out)            \
    { return run_into(&op_##name, row_##name, x, p, 0.0f, out); }
#define DEFINE_2(name)                                                                 \
    mt_status mt_##name(const mt_tensor *x, float p, float q, mt_tensor **out)         \
    { return run_new(&op_##name, row_##name, x, p, q, out); }                          \
    mt_status mt_##name##_into(const mt_tensor *x, float p, float q, mt_tensor *out)   \
    { return run_into(&op_##name, row_##name, x, p, q, out); }
#define DEFINE(name, params, act, fn) DEFINE_##params(name)
MT_UNARY_OPS(DEFINE)

/* ---- mt_activation_apply ---------------------------------------------------------- */

static inline float u_identity(float x, float p, float q) { (void)p, (void)q; return x; }
ROW_LOOP(identity, 0, NOT_ACTIVATION, u_identity)

static const mt_map_op op_activation_apply = {"activation_apply", 1, {"x"}, {MT_DTYPE_F32},
                                              MT_DTYPE_F32, map_row};

static mt_unary_row_fn apply_row(mt_activation act)
{
    return act == MT_ACTIVATION_NONE ? row_identity : mt_activation_row(act);
}

mt_status mt_activation_apply(const mt_tensor *x, mt_activation act, mt_tensor **out)
{
    mt_status s = mt_activation_check(op_activation_apply.name, act);
    return s ? s : run_new(&op_activation_apply, apply_row(act), x, 0.0f, 0.0f, out);
}

mt_status mt_activation_apply_into(const mt_tensor *x, mt_activation act, mt_tensor *out)
{
    mt_status s = mt_activation_check(op_activation_apply.name, act);
    return s ? s : run_into(&op_activation_apply, apply_row(act), x, 0.0f, 0.0f, out);
}
