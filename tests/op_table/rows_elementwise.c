/* rows_elementwise.c — unary, parameterised, binary, comparison, where and
 * activation_apply rows of the op table (cases in cases_elementwise.py). */
#include <string.h>

#include "op_table.h"

/* ---- one row per op, from lists ---------------------------------------------- */

#define UNARY_OPS(X)                                                                   \
    X(neg) X(abs) X(exp) X(log) X(sqrt) X(rsqrt) X(square) X(reciprocal) X(tanh)       \
    X(sigmoid) X(gelu) X(gelu_tanh) X(silu) X(softplus) X(hardswish) X(relu) X(sin)       \
    X(cos) X(erf) X(log1p) X(expm1) X(floor) X(ceil) X(round) X(trunc) X(sign)

#define BINARY_OPS(X) \
    X(add) X(sub) X(mul) X(div) X(maximum) X(minimum) X(pow) X(eq) X(ne) X(lt) X(le) X(gt) X(ge)

#define UNARY_RUN(name)                                                                \
    static mt_status name##_new(const op_case *c, mt_tensor **out)                     \
    { return mt_##name(op_in(c, 0), out); }                                            \
    static mt_status name##_into(const op_case *c, mt_tensor *out)                     \
    { return mt_##name##_into(op_in(c, 0), out); }
UNARY_OPS(UNARY_RUN)

#define BINARY_RUN(name)                                                               \
    static mt_status name##_new(const op_case *c, mt_tensor **out)                     \
    { return mt_##name(op_in(c, 0), op_in(c, 1), out); }                               \
    static mt_status name##_into(const op_case *c, mt_tensor *out)                     \
    { return mt_##name##_into(op_in(c, 0), op_in(c, 1), out); }
BINARY_OPS(BINARY_RUN)

/* ---- parameterised unary ops: X(name, key of the parameter) ---------------------- */

#define PARAM_OPS(X) X(leaky_relu, "slope") X(elu, "alpha") X(add_scalar, "s") \
    X(mul_scalar, "s") X(pow_scalar, "e")

#define PARAM_RUN(name, key)                                                           \
    static mt_status name##_new(const op_case *c, mt_tensor **out)                     \
    { return mt_##name(op_in(c, 0), (float)op_float(c, key, 0), out); }                \
    static mt_status name##_into(const op_case *c, mt_tensor *out)                     \
    { return mt_##name##_into(op_in(c, 0), (float)op_float(c, key, 0), out); }
PARAM_OPS(PARAM_RUN)

static mt_status clamp_new(const op_case *c, mt_tensor **out)
{
    return mt_clamp(op_in(c, 0), (float)op_float(c, "min", 0), (float)op_float(c, "max", 0),
                    out);
}
static mt_status clamp_into(const op_case *c, mt_tensor *out)
{
    return mt_clamp_into(op_in(c, 0), (float)op_float(c, "min", 0),
                         (float)op_float(c, "max", 0), out);
}

static mt_status where_new(const op_case *c, mt_tensor **out)
{ return mt_where(op_in(c, 0), op_in(c, 1), op_in(c, 2), out); }
static mt_status where_into(const op_case *c, mt_tensor *out)
{ return mt_where_into(op_in(c, 0), op_in(c, 1), op_in(c, 2), out); }

/* act=<name> as mt_activation_name spells it; an unknown name stays invalid
 * (MT_ACTIVATION_COUNT) so the call fails and the case with it. */
static mt_activation activation_of(const op_case *c)
{
    const char *name = op_str(c, "act", "none");
    for (int a = 0; a < MT_ACTIVATION_COUNT; a++)
        if (strcmp(mt_activation_name((mt_activation)a), name) == 0)
            return (mt_activation)a;
    return MT_ACTIVATION_COUNT;
}
static mt_status activation_new(const op_case *c, mt_tensor **out)
{ return mt_activation_apply(op_in(c, 0), activation_of(c), out); }
static mt_status activation_into(const op_case *c, mt_tensor *out)
{ return mt_activation_apply_into(op_in(c, 0), activation_of(c), out); }

#define ROW(name) {#name, name##_new, name##_into, 0, 0},
#define PARAM_ROW(name, key) ROW(name)

const op_row op_rows_elementwise[] = {
    UNARY_OPS(ROW)
    PARAM_OPS(PARAM_ROW)
    BINARY_OPS(ROW)
    ROW(clamp)
    ROW(where)
    {"activation_apply", activation_new, activation_into, 0, 0},
    {0},
};
