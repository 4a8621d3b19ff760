/* elementwise.c — binary ops, comparisons and where, with NumPy
 * broadcasting (the driver is map.c; unary ops are unary.c). */
#include <math.h>

#include "map.h"

/* ---- binary F32 ops: X(name, scalar) ---------------------------------------- */

#define BINARY_FN static inline float

BINARY_FN b_add(float a, float b) { return a + b; }
BINARY_FN b_sub(float a, float b) { return a - b; }
BINARY_FN b_mul(float a, float b) { return a * b; }
BINARY_FN b_div(float a, float b) { return a / b; }
BINARY_FN b_pow(float a, float b) { return powf(a, b); }
/* torch.maximum / minimum: a NaN in either input gives NaN. */
BINARY_FN b_maximum(float a, float b) { return a != a ? a : b != b ? b : a > b ? a : b; }
BINARY_FN b_minimum(float a, float b) { return a != a ? a : b != b ? b : a < b ? a : b; }

#define BINARY_OPS(X)     \
    X(add, b_add)         \
    X(sub, b_sub)         \
    X(mul, b_mul)         \
    X(div, b_div)         \
    X(maximum, b_maximum) \
    X(minimum, b_minimum) \
    X(pow, b_pow)

// the unit-stride case separately: the compiler vectorises it
#define BINARY_ROW(name, fn)                                                          \
    static void row_##name(int64_t n, void *const *p, const int64_t *s, const void *ctx) \
    {                                                                                 \
        (void)ctx;                                                                    \
        const float *a = p[0], *b = p[1];                                             \
        float *o = p[2];                                                              \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                    \
            for (int64_t i = 0; i < n; i++)                                           \
                o[i] = fn(a[i], b[i]);                                                \
        } else {                                                                      \
            for (int64_t i = 0; i < n; i++)                                           \
                o[i * s[2]] = fn(a[i * s[0]], b[i * s[1]]);                           \
        }                                                                             \
    }                                                                                 \
    static const mt_map_op op_##name = {#name, 2, {"a", "b"},                         \
                                        {MT_DTYPE_F32, MT_DTYPE_F32}, MT_DTYPE_F32,   \
                                        row_##name};                                  \
    mt_status mt_##name(const mt_tensor *a, const mt_tensor *b, mt_tensor **out)      \
    { return mt_map_new(&op_##name, (const mt_tensor *const[]){a, b}, NULL, out); }   \
    mt_status mt_##name##_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out) \
    { return mt_map_into(&op_##name, (const mt_tensor *const[]){a, b}, NULL, out); }
BINARY_OPS(BINARY_ROW)

/* ---- comparisons: F32, F32 -> BOOL (0/1), IEEE (NaN: only ne is true) ------- */

#define COMPARE_OPS(X) \
    X(eq, ==)          \
    X(ne, !=)          \
    X(lt, <)           \
    X(le, <=)          \
    X(gt, >)           \
    X(ge, >=)

#define COMPARE_ROW(name, cmp)                                                        \
    static void row_##name(int64_t n, void *const *p, const int64_t *s, const void *ctx) \
    {                                                                                 \
        (void)ctx;                                                                    \
        const float *a = p[0], *b = p[1];                                             \
        uint8_t *o = p[2];                                                            \
        for (int64_t i = 0; i < n; i++)                                               \
            o[i * s[2]] = a[i * s[0]] cmp b[i * s[1]];                                \
    }                                                                                 \
    static const mt_map_op op_##name = {#name, 2, {"a", "b"},                         \
                                        {MT_DTYPE_F32, MT_DTYPE_F32}, MT_DTYPE_BOOL,  \
                                        row_##name};                                  \
    mt_status mt_##name(const mt_tensor *a, const mt_tensor *b, mt_tensor **out)      \
    { return mt_map_new(&op_##name, (const mt_tensor *const[]){a, b}, NULL, out); }   \
    mt_status mt_##name##_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out) \
    { return mt_map_into(&op_##name, (const mt_tensor *const[]){a, b}, NULL, out); }
COMPARE_OPS(COMPARE_ROW)

/* ---- where ------------------------------------------------------------------- */

static void row_where(int64_t n, void *const *p, const int64_t *s, const void *ctx)
{
    (void)ctx;
    const uint8_t *c = p[0];
    const float *a = p[1], *b = p[2];
    float *o = p[3];
    for (int64_t i = 0; i < n; i++)
        o[i * s[3]] = c[i * s[0]] ? a[i * s[1]] : b[i * s[2]];
}

static const mt_map_op op_where = {"where", 3, {"cond", "a", "b"},
                                   {MT_DTYPE_BOOL, MT_DTYPE_F32, MT_DTYPE_F32},
                                   MT_DTYPE_F32, row_where};

mt_status mt_where(const mt_tensor *cond, const mt_tensor *a, const mt_tensor *b,
                   mt_tensor **out)
{
    return mt_map_new(&op_where, (const mt_tensor *const[]){cond, a, b}, NULL, out);
}

mt_status mt_where_into(const mt_tensor *cond, const mt_tensor *a, const mt_tensor *b,
                        mt_tensor *out)
{
    return mt_map_into(&op_where, (const mt_tensor *const[]){cond, a, b}, NULL, out);
}
