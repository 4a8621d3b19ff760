/* unary.c — every unary op and activation, generated from MT_UNARY_OPS. */
#include <assert.h>

#include "map.h"
#include "unary_ops.h"

/* ---- the row loops: one per op, its scalar function inlined ---------------- */

#define ROW_LOOP(name, params, kind, act, fn)                                           \
    static void row_##name(int64_t n, const float *x, int64_t sx, float *y, int64_t sy, \
                           float p, float q)                                            \
    {                                                                                   \
        if (sx == 1 && sy == 1) {                                                       \
            for (int64_t i = 0; i < n; i++)                                             \
                y[i] = fn(x[i], p, q);                                                  \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++)                                             \
                y[i * sy] = fn(x[i * sx], p, q);                                        \
        }                                                                               \
    }
MT_UNARY_OPS(ROW_LOOP)

/* ---- activations: the rows of kind ACT, by mt_activation value ------------------- */

#define ACT_ROW(name, params, kind, act, fn) ACT_ROW_##kind(name, act)
#define ACT_ROW_ACT(name, act) [MT_ACTIVATION_##act] = row_##name,
#define ACT_ROW_OP(name, act)
static const mt_unary_row_fn activation_rows[MT_ACTIVATION_COUNT] = {MT_UNARY_OPS(ACT_ROW)};

#define ACT_NAME(name, params, kind, act, fn) ACT_NAME_##kind(name, act)
#define ACT_NAME_ACT(name, act) [MT_ACTIVATION_##act] = #name,
#define ACT_NAME_OP(name, act)
static const char *const activation_names[MT_ACTIVATION_COUNT] = {
    [MT_ACTIVATION_NONE] = "none", MT_UNARY_OPS(ACT_NAME)};

/* Every activation but NONE has exactly one row: as many ACT rows as values,
 * and their bits (1 << value) add up to bits 1..COUNT-1 — with the count
 * fixed, only distinct values can. */
#define ACT_COUNT(name, params, kind, act, fn) ACT_COUNT_##kind(act)
#define ACT_COUNT_ACT(act) +1
#define ACT_COUNT_OP(act)
#define ACT_BIT(name, params, kind, act, fn) ACT_BIT_##kind(act)
#define ACT_BIT_ACT(act) +(1ull << MT_ACTIVATION_##act)
#define ACT_BIT_OP(act)
static_assert(0 MT_UNARY_OPS(ACT_COUNT) == MT_ACTIVATION_COUNT - 1,
              "mt_activation and MT_UNARY_OPS disagree on the number of activations");
static_assert((0 MT_UNARY_OPS(ACT_BIT)) == (1ull << MT_ACTIVATION_COUNT) - 2,
              "each mt_activation value needs exactly one ACT row in MT_UNARY_OPS");

static bool activation_valid(mt_activation act)
{
    return act >= MT_ACTIVATION_NONE && act < MT_ACTIVATION_COUNT;
}

mt_unary_row_fn mt_activation_row(mt_activation act)
{
    return activation_valid(act) ? activation_rows[act] : NULL;
}

const char *mt_activation_name(mt_activation act)
{
    return activation_valid(act) ? activation_names[act] : NULL;
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

#define UNARY_OP(name, params, kind, act, fn)                                          \
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

#define DEFINE_0(name)                                              \
    mt_status mt_##name(const mt_tensor *x, mt_tensor **out)        \
    { return run_new(&op_##name, row_##name, x, 0.0f, 0.0f, out); } \
    mt_status mt_##name##_into(const mt_tensor *x, mt_tensor *out)  \
    { return run_into(&op_##name, row_##name, x, 0.0f, 0.0f, out); }
#define DEFINE_1(name)                                                      \
    mt_status mt_##name(const mt_tensor *x, float p, mt_tensor **out)       \
    { return run_new(&op_##name, row_##name, x, p, 0.0f, out); }            \
    mt_status mt_##name##_into(const mt_tensor *x, float p, mt_tensor *out) \
    { return run_into(&op_##name, row_##name, x, p, 0.0f, out); }
#define DEFINE_2(name)                                                               \
    mt_status mt_##name(const mt_tensor *x, float p, float q, mt_tensor **out)       \
    { return run_new(&op_##name, row_##name, x, p, q, out); }                        \
    mt_status mt_##name##_into(const mt_tensor *x, float p, float q, mt_tensor *out) \
    { return run_into(&op_##name, row_##name, x, p, q, out); }
#define DEFINE(name, params, kind, act, fn) DEFINE_##params(name)
MT_UNARY_OPS(DEFINE)

/* ---- mt_activation_apply ---------------------------------------------------------- */

static inline float u_identity(float x, float p, float q) { (void)p, (void)q; return x; }
ROW_LOOP(identity, 0, OP, _, u_identity)

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
